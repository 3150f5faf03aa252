"""``fieldreport premises add/list/show/update/import/due`` and the top-level ``due``."""

from __future__ import annotations

import sys

import typer

from ..errors import FieldReportError
from ..i18n import _
from .common import emit_json, env, handle


def register(app: typer.Typer) -> None:
    ex = _("Example:")
    grp = typer.Typer(help=_("Key premises to inspect: hotels, internet cafés, rental housing and the rest.") +
                      "\n\n" + ex + " fieldreport premises add --name 东村旅社 --type hotel --address 东村3组8号",
                      no_args_is_help=True)
    grp.command("add", help=_("Record one premises (queued for the hub).") + "\n\n" + ex +
                " fieldreport premises add --name 东村旅社 --type 旅馆业 --address 东村3组8号 --contact 李明 "
                "--phone 13812345678 --risk orange")(add)
    grp.command("list", help=_("List premises with their last inspection and open hazards.") + "\n\n" + ex +
                " fieldreport premises list --type hotel")(list_)
    grp.command("show", help=_("Show one premises, its inspections and open hazards.") + "\n\n" + ex +
                " fieldreport premises show P-0001")(show)
    grp.command("update", help=_("Change fields of one premises; each change is queued for the hub.") + "\n\n" + ex +
                " fieldreport premises update P-0001 --risk red --interval-days 30")(update)
    grp.command("import", help=_("Import premises from a CSV file (UTF-8, with or without BOM; Chinese headers such "
                                 "as 名称,类型,地址 accepted). A bad row imports nothing unless --skip-bad.") + "\n\n" +
                ex + " fieldreport premises import examples/premises.csv")(import_)
    grp.command("due", help=_("Premises whose inspection is overdue or due soon, and open hazards past their "
                              "rectification deadline.") + "\n\n" + ex + " fieldreport premises due --days 14")(due)
    app.add_typer(grp, name="premises")
    app.command("due", help=_("What is due: premises to inspect and hazards to re-inspect (same as `premises due`).")
                + "\n\n" + ex + " fieldreport due --days 7")(due)


_FIELD_HELP = {
    "name": _("Name of the premises."),
    "type": _("hotel internet_cafe rental_housing small_venue petrol_station hazchem_storage school parcel_logistics "
              "entertainment elderly_care other (Chinese names accepted)."),
    "address": _("Address."),
    "area": _("Community or village."),
    "grid": _("Grid."),
    "contact": _("Contact person."),
    "phone": _("Contact phone."),
    "licence": _("Licence number."),
    "risk": _("Risk level: red, orange, yellow or blue (红/橙/黄/蓝)."),
    "interval_days": _("Inspection interval in days (default by risk: 30/60/90/180)."),
    "notes": _("Notes."),
}


def add(
    name: str = typer.Option(None, "--name", help=_FIELD_HELP["name"]),
    type_: str = typer.Option(None, "--type", help=_FIELD_HELP["type"]),
    address: str = typer.Option(None, "--address", help=_FIELD_HELP["address"]),
    area: str = typer.Option(None, "--area", help=_FIELD_HELP["area"]),
    grid: str = typer.Option(None, "--grid", help=_FIELD_HELP["grid"]),
    contact: str = typer.Option(None, "--contact", help=_FIELD_HELP["contact"]),
    phone: str = typer.Option(None, "--phone", help=_FIELD_HELP["phone"]),
    licence: str = typer.Option(None, "--licence", help=_FIELD_HELP["licence"]),
    risk: str = typer.Option(None, "--risk", help=_FIELD_HELP["risk"]),
    interval_days: str = typer.Option(None, "--interval-days", help=_FIELD_HELP["interval_days"]),
    notes: str = typer.Option(None, "--notes", help=_FIELD_HELP["notes"]),
    as_json: bool = typer.Option(False, "--json", help=_("Print the result as JSON.")),
):
    from ..checklist import premises as pm

    e = env()
    data = {k: v for k, v in dict(name=name, type=type_, address=address, area=area, grid=grid, contact=contact,
                                  phone=phone, licence=licence, risk=risk, interval_days=interval_days,
                                  notes=notes).items() if v is not None}
    try:
        e.profile
        with e.store() as store:
            res = pm.add(store, data)
    except FieldReportError as exc:
        handle(exc)
    if as_json:
        emit_json({"id": res["id"], "ref": res["ref"]})
        return
    sys.stdout.write(_("Recorded premises {ref} ({id}) — queued for the hub").format(ref=res["ref"], id=res["id"]) + "\n")


def list_(
    type_: str = typer.Option(None, "--type", help=_("Only this premises type.")),
    search: str = typer.Option(None, "--search", "-q", help=_("Text in the name or address.")),
    as_json: bool = typer.Option(False, "--json", help=_("Print as JSON.")),
    reveal: bool = typer.Option(False, "--reveal", help=_("Show phone numbers unmasked.")),
):
    from .. import taxonomy as tx
    from ..errors import InputError
    from ..store import checklist_store as cs
    from ..validate import mask_phone

    e = env()
    try:
        t = None
        if type_:
            t = tx.resolve(tx.PREMISES_TYPES, type_)
            if t is None:
                raise InputError(_("type: unknown premises type {value!r}; choose one of: {choices}").format(
                    value=type_, choices=" ".join(tx.PREMISES_TYPES)), "type")
        with e.store() as store:
            rows = cs.list_premises(store, type_=t, search=search)
    except FieldReportError as exc:
        handle(exc)
    if not reveal:
        for r in rows:
            r["phone"] = mask_phone(r["phone"])
    if as_json:
        emit_json(rows)
        return
    from . import render_checklist as rc

    rc.premises_table(rows)


def show(
    premises: str = typer.Argument(..., help=_("P-0001, an id prefix or the exact name.")),
    as_json: bool = typer.Option(False, "--json", help=_("Print as JSON.")),
):
    from ..store import checklist_store as cs

    e = env()
    try:
        with e.store() as store:
            pid = cs.resolve_premises(store, premises)
            p = cs.premises(store, pid)
            p["inspections"] = cs.list_inspections(store, premises_id=pid)
            p["open_hazards"] = cs.open_hazards(store, pid)
    except FieldReportError as exc:
        handle(exc)
    from ..validate import mask_phone

    p["phone"] = mask_phone(p["phone"])
    if as_json:
        emit_json(p)
        return
    from . import render_checklist as rc

    rc.premises_detail(p)


def update(
    premises: str = typer.Argument(..., help=_("P-0001, an id prefix or the exact name.")),
    name: str = typer.Option(None, "--name", help=_FIELD_HELP["name"]),
    type_: str = typer.Option(None, "--type", help=_FIELD_HELP["type"]),
    address: str = typer.Option(None, "--address", help=_FIELD_HELP["address"]),
    area: str = typer.Option(None, "--area", help=_FIELD_HELP["area"]),
    grid: str = typer.Option(None, "--grid", help=_FIELD_HELP["grid"]),
    contact: str = typer.Option(None, "--contact", help=_FIELD_HELP["contact"]),
    phone: str = typer.Option(None, "--phone", help=_FIELD_HELP["phone"]),
    licence: str = typer.Option(None, "--licence", help=_FIELD_HELP["licence"]),
    risk: str = typer.Option(None, "--risk", help=_FIELD_HELP["risk"]),
    interval_days: str = typer.Option(None, "--interval-days", help=_FIELD_HELP["interval_days"]),
    notes: str = typer.Option(None, "--notes", help=_FIELD_HELP["notes"]),
    as_json: bool = typer.Option(False, "--json", help=_("Print the result as JSON.")),
):
    from ..checklist import premises as pm

    e = env()
    data = {k: v for k, v in dict(name=name, type=type_, address=address, area=area, grid=grid, contact=contact,
                                  phone=phone, licence=licence, risk=risk, interval_days=interval_days,
                                  notes=notes).items() if v is not None}
    try:
        with e.store() as store:
            res = pm.update(store, premises, data)
    except FieldReportError as exc:
        handle(exc)
    if as_json:
        emit_json(res)
        return
    sys.stdout.write(_("Updated premises: {n} change(s) queued for the hub").format(n=len(res["ops"])) + "\n")


def import_(
    file: str = typer.Argument(..., help=_("CSV file, UTF-8.")),
    skip_bad: bool = typer.Option(False, "--skip-bad", help=_("Import the good rows and list the bad ones.")),
    as_json: bool = typer.Option(False, "--json", help=_("Print the result as JSON.")),
):
    from ..checklist import premises as pm

    e = env()
    try:
        e.profile
        with e.store() as store:
            res = pm.import_csv(store, file, skip_bad=skip_bad)
    except FieldReportError as exc:
        handle(exc)
    if as_json:
        emit_json(res)
        return
    sys.stdout.write(_("Imported {n} premises").format(n=len(res["imported"])) + "\n")
    for b in res["skipped"]:
        sys.stderr.write(_("skipped: {error}").format(error=b["error"]) + "\n")


def due(
    days: int = typer.Option(7, "--days", "-d", help=_("Also list inspections due within this many days.")),
    as_json: bool = typer.Option(False, "--json", help=_("Print as JSON.")),
):
    from ..checklist import premises as pm
    from ..errors import InputError

    e = env()
    try:
        if days < 0:
            raise InputError(_("days: must be 0 or more"), "days")
        with e.store() as store:
            res = pm.due(store, within_days=days)
    except FieldReportError as exc:
        handle(exc)
    if as_json:
        emit_json(res)
        return
    from . import render_checklist as rc

    rc.due(res)
