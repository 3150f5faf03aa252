"""``fieldreport init`` and ``fieldreport status``."""

from __future__ import annotations

import typer

from ..errors import FieldReportError, InputError
from ..i18n import _
from .common import emit_json, env, fail, handle, is_interactive


def register(app: typer.Typer) -> None:
    app.command("init", help=_("Set up or change this laptop's profile (who you are, your station and area, "
                               "the hub).") + "\n\n" + _("Example:") + " fieldreport init --name 王芳 --officer-id "
                "A1024 --role auxiliary-police --station 城关派出所 --area 东村 --lang zh")(init)
    app.command("status", help=_("What is queued for the hub, what was rejected, the last sync, the store. "
                                 "Like `git status`.") + "\n\n" + _("Example:") + " fieldreport status --json")(status)


def init(
    name: str = typer.Option(None, "--name", help=_("Your display name.")),
    officer_id: str = typer.Option(None, "--officer-id", help=_("Officer or badge id.")),
    role: str = typer.Option(None, "--role", help=_("community-police, auxiliary-police, grid-member, cadre or volunteer.")),
    station: str = typer.Option(None, "--station", help=_("Your police station.")),
    area: str = typer.Option(None, "--area", help=_("Your community or village.")),
    grid: str = typer.Option(None, "--grid", help=_("Your grid (optional).")),
    lang: str = typer.Option(None, "--lang", help=_("Interface language: zh or en.")),
    hub: str = typer.Option(None, "--hub", help=_("The hub's URL (optional; can be set later).")),
    code: str = typer.Option(None, "--code", help=_("Enrollment code from the station (enrolls with --hub).")),
    retention_days: int = typer.Option(None, "--retention-days", help=_("Days to keep local copies the hub confirmed.")),
    encrypt: bool = typer.Option(False, "--encrypt", help=_("Encrypt the store and photos with a passphrase.")),
    no_input: bool = typer.Option(False, "--no-input", help=_("Never prompt; fail if something is missing.")),
    as_json: bool = typer.Option(False, "--json", help=_("Print the profile as JSON.")),
):
    from .. import ids, profile as prof
    from . import render

    e = env()
    try:
        existing = prof.load_or_none(e.paths)
        given = {k: v for k, v in dict(name=name, officer_id=officer_id, role=role, station=station, area=area,
                                      grid=grid, lang=lang, hub_url=hub, retention_days=retention_days).items()
                 if v is not None}
        given = prof.check(given)
        values = existing.to_json() if existing else {}
        values.update(given)
        required = ("name", "officer_id", "role", "station", "area")
        missing = [f for f in required if not values.get(f)]
        if existing and not given and is_interactive(no_input) and not missing:
            render.profile(existing)
            if not render.confirm(_("Change it?"), default=False):
                return
            missing = list(required) + ["grid", "lang", "hub_url"]
        if missing:
            if not is_interactive(no_input):
                raise InputError(_("missing: {fields}; give them as flags (see `fieldreport init --help`)").format(
                    fields=", ".join("--" + f.replace("_", "-") for f in missing)))
            values.update(prof.check(render.ask_profile(missing, values)))
        if not values.get("device_id"):
            values["device_id"] = ids.uuid7()
            values["created_at"] = ids.now_iso()
        values.setdefault("lang", "zh")
        p = prof.Profile(**{k: v for k, v in values.items() if k in prof.Profile.__dataclass_fields__})
        prof.save(e.paths, p)
        with e.store(create=True) as store:
            with store.write() as c:
                cur = store.meta("device_id")
                if cur and cur != p.device_id:
                    raise InputError(_("the store belongs to device {dev}; the profile says {other}").format(
                        dev=cur, other=p.device_id))
                store.set_meta("device_id", p.device_id, c)
        if encrypt:
            from . import privacy  # issue 6: encrypt the fresh store and photo folder

            privacy.init_encrypt(e)
        if code:
            if not p.hub_url:
                raise InputError(_("--code needs --hub URL"), "code")
            from .. import enroll

            enroll.login(e.paths, p, p.hub_url, code)
    except FieldReportError as exc:
        handle(exc)
    if as_json:
        emit_json(p.to_json())
    else:
        render.saved_profile(p, e.paths)


def status(as_json: bool = typer.Option(False, "--json", help=_("Print as JSON."))):
    from ..status import summary
    from . import render

    e = env()
    try:
        with e.store() as store:
            s = summary(store, e.paths, e.profile)
    except FieldReportError as exc:
        handle(exc)
    if as_json:
        emit_json(s)
    else:
        render.status(s)
