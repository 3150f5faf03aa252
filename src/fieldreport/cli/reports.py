"""``fieldreport add / list / show / update``."""

from __future__ import annotations

import sys
from typing import List, Optional

import typer

from ..errors import FieldReportError, InputError
from ..i18n import _
from .common import emit_json, env, handle, is_interactive


def register(app: typer.Typer) -> None:
    ex = _("Example:")
    app.command("add", help=_("Record one report offline (or many with --from). It is queued for the hub.") + "\n\n" +
                ex + " fieldreport add --kind hazard --category ebike --level orange --title 楼道电动车充电 "
                "--place 东村3组12号 --dept fire_rescue --photo 楼道.jpg")(add)
    app.command("list", help=_("List reports, newest first. ID and phone numbers are masked.") + "\n\n" + ex +
                " fieldreport list --kind hazard --search 电动车 --unsynced")(list_)
    app.command("show", help=_("Show one report with its whole history. REF is R-0001, a case code or an id prefix.") +
                "\n\n" + ex + " fieldreport show R-0001 --reveal")(show)
    app.command("update", help=_("Change a report: status (along the workflow), note, level, department, photo, "
                                 "deadline, archive. Reports are never deleted.") + "\n\n" + ex +
                " fieldreport update R-0001 --status routed --dept housing --note 已通知住建所")(update)


def add(
    kind: str = typer.Option(None, "--kind", "-k", help=_("dispute, hazard, sentiment or zero (Chinese names accepted).")),
    category: str = typer.Option(None, "--category", "-c", help=_("Category within the kind, e.g. fire, ebike, neighbour.")),
    level: str = typer.Option(None, "--level", "-l", help=_("red, orange, yellow, blue; hazards also general, major.")),
    title: str = typer.Option(None, "--title", "-t", help=_("A short title.")),
    details: str = typer.Option(None, "--details", "-d", help=_("What you saw or heard.")),
    place: str = typer.Option(None, "--place", help=_("Where (free text).")),
    lat: float = typer.Option(None, "--lat", help=_("Latitude (WGS 84).")),
    lon: float = typer.Option(None, "--lon", help=_("Longitude (WGS 84).")),
    premises: str = typer.Option(None, "--premises", help=_("The premises this is about (id or ref).")),
    dept: str = typer.Option(None, "--dept", help=_("Department to route to, e.g. fire_rescue, judicial_mediation.")),
    party: Optional[List[str]] = typer.Option(None, "--party", help=_("A party to a dispute: \"name=张三;role=applicant;id=…;phone=…\". Repeatable.")),
    photo: Optional[List[str]] = typer.Option(None, "--photo", help=_("A photo file. Repeatable.")),
    deadline: str = typer.Option(None, "--deadline", help=_("Rectification deadline: YYYY-MM-DD or e.g. 7d.")),
    from_: str = typer.Option(None, "--from", help=_("Read one report or a list of reports as JSON from FILE, or - for stdin.")),
    allow_unverified_id: bool = typer.Option(False, "--allow-unverified-id", help=_("Record an ID number that fails the check, flagged.")),
    no_input: bool = typer.Option(False, "--no-input", help=_("Never prompt; fail if a required field is missing.")),
    location_from_photo: bool = typer.Option(False, "--location-from-photo", help=_(
        "Without --lat/--lon, take the coordinates from the first photo's GPS (EXIF); on a terminal you are asked.")),
    as_json: bool = typer.Option(False, "--json", help=_("Print the result as JSON.")),
):
    from .. import reports

    e = env()
    try:
        prof = e.profile
        if from_ is not None:
            records = _read_from(from_)
            with e.store() as store:
                done = reports.add_many(store, e.blobs(), records, author=prof.officer_id,
                                        allow_unverified_id=allow_unverified_id)
        else:
            data = {k: v for k, v in dict(kind=kind, category=category, level=level, title=title, details=details,
                                          place=place, lat=lat, lon=lon, premises=premises, dept=dept,
                                          parties=party or [], photos=photo or [], deadline=deadline).items()
                    if v is not None and v != []}
            from ..fields import missing_fields

            missing = missing_fields(data)
            if missing:
                if not is_interactive(no_input):
                    raise InputError(_("missing required fields: {fields}; give them as flags or use --from FILE").format(
                        fields=", ".join("--" + f for f in missing)), missing[0])
                from . import render

                data = render.ask_report(data, missing)
            with e.store() as store:
                loc = location_from_photo or (_offer_location if photo and is_interactive(no_input) else False)
                done = [reports.add(store, e.blobs(), data, author=prof.officer_id,
                                    allow_unverified_id=allow_unverified_id, location_from_photo=loc)]
    except FieldReportError as exc:
        handle(exc)
    if as_json:
        emit_json(done if from_ is not None else done[0])
        return
    for d in done:
        sys.stdout.write(_("Recorded {ref}  ({id}) — queued for the hub").format(ref=d["ref"], id=d["id"]) + "\n")
        for n in d.get("photo_notes", ()):
            sys.stderr.write(f"fieldreport: {n}\n")


def _offer_location(photo: dict) -> bool:
    """On a terminal: offer the photo's GPS position for a report without coordinates."""
    from . import render

    return render.confirm(_("The report has no coordinates. Use those of photo {name} ({lat}, {lon})?").format(
        name=photo.get("name") or photo["sha256"][:12], lat=photo["gps"]["lat"], lon=photo["gps"]["lon"]), default=True)


def _read_from(src: str):
    import json

    try:
        raw = sys.stdin.buffer.read() if src == "-" else open(src, "rb").read()
    except OSError as e:
        raise InputError(_("from: cannot read {src}: {err}").format(src=src, err=e.strerror), "from") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(_("from: the input is not UTF-8 (byte {pos}); save it as UTF-8").format(pos=e.start),
                         "from") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(_("from: malformed JSON at line {line} column {col}: {msg}").format(
            line=e.lineno, col=e.colno, msg=e.msg), "from") from None
    if isinstance(data, dict) and "reports" in data and isinstance(data["reports"], list):
        data = data["reports"]
    records = data if isinstance(data, list) else [data]
    if not records:
        raise InputError(_("from: no reports in the input"), "from")
    return records


def list_(
    kind: str = typer.Option(None, "--kind", "-k", help=_("Only this kind.")),
    status: str = typer.Option(None, "--status", "-s", help=_("Only this status.")),
    level: str = typer.Option(None, "--level", "-l", help=_("Only this level.")),
    since: str = typer.Option(None, "--since", help=_("Only reports since a date or an age such as 7d.")),
    unsynced: bool = typer.Option(False, "--unsynced", help=_("Only reports with changes the hub has not confirmed.")),
    search: str = typer.Option(None, "--search", "-q", help=_("Text to find in title, details or place (Chinese works).")),
    archived: bool = typer.Option(False, "--archived", help=_("Include archived reports.")),
    limit: int = typer.Option(50, "--limit", "-n", help=_("At most this many (0 for all).")),
    as_json: bool = typer.Option(False, "--json", help=_("Print as JSON (the --from schema plus id, ref, status, times).")),
    reveal: bool = typer.Option(False, "--reveal", help=_("Show ID and phone numbers unmasked (recorded in the audit log).")),
):
    from .. import reports, taxonomy as tx
    from ..privacy import mask_report, record_reveal

    e = env()
    try:
        k = _code("kind", kind)
        lv = _code("level", level)
        st = None
        if status:
            st = tx.resolve(tx.STATUSES, status)
            if st is None:
                raise InputError(_("status: unknown status {status!r}; choose one of: {choices}").format(
                    status=status, choices=" ".join(tx.STATUSES)), "status")
        since_iso = reports.parse_since(since) if since else None
        if limit < 0:
            raise InputError(_("limit: must be 0 or more"), "limit")
        with e.store() as store:
            rows = store.list_reports(kind=k, status=st, level=lv, since=since_iso, unsynced=unsynced, search=search,
                                      archived=None if archived else False, limit=limit or None)
        if reveal:
            record_reveal(e.paths, e.profile, "list", [r["id"] for r in rows])
        else:
            rows = [mask_report(r) for r in rows]
    except FieldReportError as exc:
        handle(exc)
    if as_json:
        emit_json([_public(r) for r in rows])
        return
    from . import render

    render.report_table(rows)


def _code(field, value):
    from .. import taxonomy as tx

    if not value:
        return None
    code = tx.resolve_field(field, value)
    if code is None:
        choices = tx.codes(field, "hazard") if field == "level" else tx.codes(field)
        raise InputError(_("{field}: unknown {field} {value!r}; choose one of: {choices}").format(
            field=field, value=value, choices=" ".join(choices)), field)
    return code


_PUBLIC = ("id", "ref", "kind", "category", "level", "title", "details", "place", "lat", "lon", "premises_id",
           "inspection_id", "item_id", "dept", "parties", "photos", "deadline", "status", "case_code", "assigned_to",
           "archived", "author", "created_at", "updated_at", "unsynced")


def _public(r):
    out = {k: r.get(k) for k in _PUBLIC}
    out["synced"] = not r.get("unsynced")
    return out


def show(
    ref: str = typer.Argument(..., help=_("R-0001, a case code, or an id prefix.")),
    as_json: bool = typer.Option(False, "--json", help=_("Print as JSON.")),
    reveal: bool = typer.Option(False, "--reveal", help=_("Show personal data unmasked (recorded in the audit log).")),
):
    from ..privacy import mask_history, mask_report, record_reveal

    e = env()
    try:
        with e.store() as store:
            rid = store.resolve_ref(ref)
            rep = store.report(rid)
            hist = store.history(rid)
        if reveal:
            record_reveal(e.paths, e.profile, "show", [rid])
        else:
            rep = mask_report(rep)
            hist = mask_history(hist)
    except FieldReportError as exc:
        handle(exc)
    if as_json:
        out = _public(rep)
        out["notes"] = rep["notes"]
        out["history"] = hist
        emit_json(out)
        return
    from . import render

    render.report_detail(rep, hist)


def update(
    ref: str = typer.Argument(..., help=_("R-0001, a case code, or an id prefix.")),
    status: str = typer.Option(None, "--status", "-s", help=_("New status along the workflow.")),
    note: str = typer.Option(None, "--note", "-m", help=_("A note to add.")),
    level: str = typer.Option(None, "--level", "-l", help=_("New level.")),
    dept: str = typer.Option(None, "--dept", help=_("Department in charge.")),
    photo: Optional[List[str]] = typer.Option(None, "--photo", help=_("A photo to attach. Repeatable.")),
    deadline: str = typer.Option(None, "--deadline", help=_("Rectification deadline: YYYY-MM-DD or e.g. 7d.")),
    archive: bool = typer.Option(None, "--archive/--unarchive", help=_("Archive (hide from lists) or bring back.")),
    as_json: bool = typer.Option(False, "--json", help=_("Print the result as JSON.")),
):
    from .. import reports

    e = env()
    try:
        prof = e.profile
        with e.store() as store:
            res = reports.update(store, e.blobs(), ref, status=status, note=note, level=level, dept=dept,
                                 photos=photo or [], deadline=deadline, archive=archive, author=prof.officer_id)
            rep = store.report(res["id"])
    except FieldReportError as exc:
        handle(exc)
    if as_json:
        emit_json({"id": rep["id"], "ref": rep["ref"], "status": rep["status"], "ops": res["ops"]})
        return
    sys.stdout.write(_("Updated {ref}: {n} change(s) queued for the hub").format(ref=rep["ref"], n=len(res["ops"])) + "\n")
    for n in res.get("photo_notes", ()):
        sys.stderr.write(f"fieldreport: {n}\n")
