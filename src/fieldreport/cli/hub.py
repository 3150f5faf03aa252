"""``fieldreport hub …``: run the station's hub and make the station's decisions on it."""

from __future__ import annotations

from typing import Optional

import typer

from ..errors import FieldReportError
from ..i18n import _
from .common import emit_json, handle


def _data():
    return typer.Option(None, "--data", help=_("The hub's folder (default: FIELDREPORT_HUB_HOME, else hub/ in "
                                               "the data folder)."))


def _db():
    return typer.Option(None, "--db", help=_("Database URL: sqlite:///FILE or postgresql://user@host/db "
                                             "(default: as set by hub init)."))


def _json_opt():
    return typer.Option(False, "--json", help=_("Print as JSON."))


def register(app: typer.Typer) -> None:
    hub = typer.Typer(help=_("The station's hub: the server laptops sync to, and the station's decisions on "
                             "reports.") + "\n\n" + _("Example:") + " fieldreport hub serve --port 8765",
                      no_args_is_help=True)
    ex = _("Example:")
    cmds = (
        ("init", init, _("Create the hub's database (SQLite by default, or PostgreSQL) and its epoch."),
         "fieldreport hub init --db postgresql://fieldreport@127.0.0.1/hub --prefix HB"),
        ("serve", serve, _("Serve the hub until interrupted: HTTPS with --cert and --key, else plain HTTP (keep "
                           "that to loopback, or put a TLS proxy in front)."),
         "fieldreport hub serve --host 0.0.0.0 --port 8443 --cert hub.pem --key hub.key"),
        ("enroll", enroll, _("Issue a one-time enrollment code for an officer's laptop (valid 72 hours by "
                             "default). Same as `hub device add`."),
         "fieldreport hub enroll --officer-id A1024 --name 王芳 --area 东村"),
        ("devices", devices, _("List the enrolled laptops, their officer and how far each is acknowledged. Same "
                               "as `hub device list`."), "fieldreport hub devices --json"),
        ("revoke", revoke, _("Revoke a laptop's token (lost or stolen laptop). It can enroll again with a new "
                             "code. Same as `hub device revoke`."),
         "fieldreport hub revoke 0193a9c0-1111-7000-8000-000000000001"),
        ("reports", reports, _("List the reports the hub holds, newest first, with the laptop's id and ref, the "
                               "case code, the device and when the hub received each. ID and phone numbers are "
                               "masked."), "fieldreport hub reports --area 东村 --status registered --csv"),
        ("show", show, _("Show one report on the hub with its notes and history. REF is a case code or an id."),
         "fieldreport hub show HB-2026-000001"),
        ("route", route, _("Route a report to a department (a waiting report moves to routed). The laptops get "
                           "it at their next sync."), "fieldreport hub route HB-2026-000001 --dept fire_rescue"),
        ("assign", assign, _("Assign a report to an officer; their laptops get it at their next sync."),
         "fieldreport hub assign HB-2026-000001 --to A1024"),
        ("update", update, _("Move a report along the workflow and/or add a note for the field."),
         "fieldreport hub update HB-2026-000001 --status handling --note 已通知消防"),
        ("decide", decide, _("Record the station's decision on a report: route it to a department, assign an "
                             "officer, move its status, add a note — all at once. The laptops get it at their "
                             "next sync."),
         "fieldreport hub decide HB-2026-000001 --dept fire_rescue --assign A1024 --note 已通知消防"),
        ("template", template, _("Publish a checklist template (a JSON file with id and version) to every laptop."),
         "fieldreport hub template hotel.json"),
        ("backup", backup, _("Write a consistent copy of a SQLite hub's database to FILE (safe while serving)."),
         "fieldreport hub backup /backups/hub-2026-12-03.db"),
        ("restore", restore, _("Restore a SQLite hub from a backup FILE (stop the hub first), or after a "
                               "pg_restore run it without FILE. The hub gets a new epoch and every laptop re-sends "
                               "what the hub may have lost."), "fieldreport hub restore /backups/hub-2026-12-03.db"),
        ("request-original", request_original, _("Ask the laptop that took a report's photos to send their full "
                                                  "originals at its next sync (it sends small copies first)."),
         "fieldreport hub request-original HB-2026-000001"),
    )
    for name, fn, text, example in cmds:
        hub.command(name, help=text + "\n\n" + ex + " " + example)(fn)
    device = typer.Typer(help=_("The laptops enrolled with this hub: add (a one-time code), list, revoke.") + "\n\n"
                         + ex + " fieldreport hub device add --officer-id A1024 --name 王芳 --area 东村",
                         no_args_is_help=True)
    for name, fn, text, example in (
        ("add", enroll, _("Issue a one-time enrollment code for an officer's laptop: three groups of four letters "
                          "and digits, valid 72 hours by default."),
         "fieldreport hub device add --officer-id A1024 --name 王芳 --area 东村"),
        ("list", devices, _("List the enrolled laptops, their officer and how far each is acknowledged."),
         "fieldreport hub device list --json"),
        ("revoke", revoke, _("Revoke a laptop's token (lost or stolen laptop); it gets 401 at once."),
         "fieldreport hub device revoke 0193a9c0-1111-7000-8000-000000000001"),
    ):
        device.command(name, help=text + "\n\n" + ex + " " + example)(fn)
    hub.add_typer(device, name="device")
    from . import bundle, export

    for extra in (bundle, export):  # station commands of other features: import-bundle, bundle-for, export
        extra.register_hub(hub)
    app.add_typer(hub, name="hub")
    app.command("login", help=_("Enroll this laptop with the station's hub using the one-time code the station "
                                "gave you. The token is kept in the config folder (mode 600).") + "\n\n" + ex +
                " fieldreport login https://hub.example.org K7QF-2MXD-9TPA")(login)


def _run(call, render: str | None, as_json: bool = False, *, reveal: bool | None = None,
         audit: tuple[str, str | None] | None = None) -> None:
    """Make the one library call; print its error as one line, or its answer as JSON or
    through ``render_hub.<render>``. For report(s): masked unless ``reveal``, and a reveal is
    recorded in the hub's audit log (``audit`` = (command, data folder)) before it is shown."""
    from . import render_hub

    try:
        out = call()
        if reveal:
            from ..hub import station

            rows = out if isinstance(out, list) else [out]
            station.record_reveal(audit[0], [r["id"] for r in rows], audit[1])
    except FieldReportError as exc:
        handle(exc)
    except OSError as exc:
        handle(FieldReportError(_("cannot write the audit log ({error}); nothing was shown").format(
            error=exc.strerror)))
    if reveal is False:
        from ..privacy import mask_report

        out = [mask_report(r) for r in out] if isinstance(out, list) else mask_report(out)
    if as_json:
        emit_json(out)
    elif render:
        getattr(render_hub, render)(out)


def login(
    hub_url: str = typer.Argument(..., help=_("The hub's URL.")),
    code: str = typer.Argument(..., help=_("The enrollment code from the station.")),
    ca_bundle: str = typer.Option(None, "--ca-bundle", help=_("The station's own certificate (PEM), if it has one.")),
    as_json: bool = _json_opt(),
):
    from .. import enroll
    from .common import env

    e = env()
    _run(lambda: enroll.login(e.paths, e.profile, hub_url, code, ca_bundle=ca_bundle), "logged_in", as_json)


def init(
    data: str = _data(), db: str = _db(),
    prefix: str = typer.Option("HB", "--prefix", help=_("Letters that start every case code, e.g. HB.")),
    as_json: bool = _json_opt(),
):
    from ..hub import station

    _run(lambda: station.init(data, db, prefix), "initialised", as_json)


def serve(
    data: str = _data(), db: str = _db(),
    host: str = typer.Option("127.0.0.1", "--host", help=_("Address to listen on.")),
    port: int = typer.Option(8765, "--port", help=_("TCP port to listen on.")),
    log_level: str = typer.Option("info", "--log-level", help=_("debug, info, warning or error.")),
    cert: str = typer.Option(None, "--cert", help=_("TLS certificate (PEM) to serve HTTPS with; needs --key.")),
    key: str = typer.Option(None, "--key", help=_("The certificate's private key (PEM).")),
    workers: int = typer.Option(1, "--workers", help=_("Processes serving the hub (each checks the pushes it "
                                                        "receives; writes still take turns). 2 on a 2-core machine "
                                                        "roughly doubles what one takes in.")),
):
    from ..hub import station

    _run(lambda: station.serve(data, db, host=host, port=port, log_level=log_level, cert=cert, key=key,
                               workers=workers), None)


def enroll(
    officer_id: str = typer.Option(..., "--officer-id", help=_("The officer's id or badge number.")),
    name: str = typer.Option(..., "--name", help=_("The officer's name.")),
    area: str = typer.Option(None, "--area", help=_("The community or village the officer covers.")),
    role: str = typer.Option(None, "--role", help=_("community-police, auxiliary-police, grid-member, cadre or "
                                                    "volunteer.")),
    ttl: float = typer.Option(72, "--ttl", help=_("Hours the code stays valid.")),
    data: str = _data(), db: str = _db(), as_json: bool = _json_opt(),
):
    from ..hub import station

    _run(lambda: station.enroll_code(officer_id, name, area, role, ttl, data, db), "code", as_json)


def devices(data: str = _data(), db: str = _db(), as_json: bool = _json_opt()):
    from ..hub import station

    _run(lambda: station.devices(data, db), "devices", as_json)


def revoke(device_id: str = typer.Argument(..., help=_("The laptop's device id.")), data: str = _data(),
           db: str = _db()):
    from ..hub import station

    _run(lambda: station.revoke(device_id, data, db), "revoked")


def reports(
    area: str = typer.Option(None, "--area", help=_("Only this community or village.")),
    status: str = typer.Option(None, "--status", help=_("Only this status, e.g. registered.")),
    kind: str = typer.Option(None, "--kind", help=_("Only this kind: dispute, hazard, sentiment or zero.")),
    level: str = typer.Option(None, "--level", help=_("Only this level, e.g. orange.")),
    dept: str = typer.Option(None, "--dept", "--department", help=_("Only reports routed to this department.")),
    device: str = typer.Option(None, "--device", help=_("Only reports sent by this laptop (device id).")),
    limit: int = typer.Option(100, "--limit", min=1, max=10000, help=_("At most this many.")),
    reveal: bool = typer.Option(False, "--reveal", help=_("Show ID and phone numbers unmasked.")),
    as_csv: bool = typer.Option(False, "--csv", help=_("Print as CSV (UTF-8, one row per report).")),
    data: str = _data(), db: str = _db(), as_json: bool = _json_opt(),
):
    from ..hub import station

    _run(lambda: station.reports(area=area, status=status, kind=kind, level=level, dept=dept, device=device,
                                 limit=limit, data=data, db=db), "reports_csv" if as_csv and not as_json else "reports",
         as_json, reveal=reveal, audit=("hub reports --reveal", data))


def show(
    ref: str = typer.Argument(..., help=_("Case code or report id.")),
    reveal: bool = typer.Option(False, "--reveal", help=_("Show names, ID and phone numbers unmasked.")),
    data: str = _data(), db: str = _db(), as_json: bool = _json_opt(),
):
    from ..hub import station

    _run(lambda: station.report(ref, data, db), "report", as_json, reveal=reveal, audit=("hub show --reveal", data))


def decide(
    ref: str = typer.Argument(..., help=_("Case code or report id.")),
    status: str = typer.Option(None, "--status", help=_("Move to this status (along the workflow).")),
    dept: str = typer.Option(None, "--dept", help=_("Route to this department, e.g. fire_rescue.")),
    assign: str = typer.Option(None, "--assign", help=_("Assign to this officer id.")),
    note: Optional[str] = typer.Option(None, "--note", help=_("A note for the field.")),
    by: str = typer.Option(None, "--by", help=_("Who decides (name or officer id), recorded with the decision.")),
    data: str = _data(), db: str = _db(), as_json: bool = _json_opt(),
):
    from ..hub import station

    _run(lambda: station.decide(ref, status=status, dept=dept, assign=assign, note=note, by=by, data=data, db=db),
         "decided", as_json)


def route(
    ref: str = typer.Argument(..., help=_("Case code or report id.")),
    dept: str = typer.Option(..., "--dept", "--department", help=_("The department, e.g. fire_rescue.")),
    note: Optional[str] = typer.Option(None, "--note", help=_("A note for the field.")),
    by: str = typer.Option(None, "--by", help=_("Who decides (name or officer id), recorded with the decision.")),
    data: str = _data(), db: str = _db(), as_json: bool = _json_opt(),
):
    from ..hub import station

    _run(lambda: station.decide(ref, dept=dept, note=note, by=by, data=data, db=db), "decided", as_json)


def assign(
    ref: str = typer.Argument(..., help=_("Case code or report id.")),
    to: str = typer.Option(..., "--to", help=_("The officer id to assign the report to.")),
    note: Optional[str] = typer.Option(None, "--note", help=_("A note for the field.")),
    by: str = typer.Option(None, "--by", help=_("Who decides (name or officer id), recorded with the decision.")),
    data: str = _data(), db: str = _db(), as_json: bool = _json_opt(),
):
    from ..hub import station

    _run(lambda: station.decide(ref, assign=to.strip(), note=note, by=by, data=data, db=db), "decided", as_json)


def update(
    ref: str = typer.Argument(..., help=_("Case code or report id.")),
    status: str = typer.Option(None, "--status", help=_("Move to this status (along the workflow).")),
    note: Optional[str] = typer.Option(None, "--note", help=_("A note for the field.")),
    by: str = typer.Option(None, "--by", help=_("Who decides (name or officer id), recorded with the decision.")),
    data: str = _data(), db: str = _db(), as_json: bool = _json_opt(),
):
    from ..hub import station

    _run(lambda: station.decide(ref, status=status, note=note, by=by, data=data, db=db), "decided", as_json)


def template(file: str = typer.Argument(..., help=_("The template's JSON file.")), data: str = _data(),
             db: str = _db(), as_json: bool = _json_opt()):
    from ..hub import station

    _run(lambda: station.publish_template(file, data, db), "published", as_json)


def backup(file: str = typer.Argument(..., help=_("Where to write the copy (a new file).")), data: str = _data(),
           db: str = _db(), as_json: bool = _json_opt()):
    from ..hub import station

    _run(lambda: station.backup(file, data, db), "backed_up", as_json)


def restore(file: str = typer.Argument(None, help=_("The backup file (SQLite); omit after a pg_restore.")),
            data: str = _data(), db: str = _db(), as_json: bool = _json_opt()):
    from ..hub import station

    _run(lambda: station.restore(file, data, db), "restored", as_json)


def request_original(
    ref: str = typer.Argument(..., help=_("Case code or report id.")),
    photo: str = typer.Option(None, "--photo", help=_("Only the photo whose hash starts with this.")),
    data: str = _data(), db: str = _db(), as_json: bool = _json_opt(),
):
    import sys

    from ..hub.originals import request_original as request

    try:
        out = request(ref, photo=photo, data=data, db=db)
    except FieldReportError as exc:
        handle(exc)
    if as_json:
        emit_json(out)
    elif out["requested"]:
        sys.stdout.write(_("{code}: asked the laptop for {n} original(s); they come at its next sync.").format(
            code=out["case_code"], n=len(out["requested"])) + "\n")
    else:
        sys.stdout.write(_("{code}: the hub already holds every original.").format(code=out["case_code"]) + "\n")
