"""``fieldreport bundle create / receipt / apply`` (laptop) and ``fieldreport hub import-bundle /
bundle-for`` (station): sync by USB stick, with no network at all."""

from __future__ import annotations

import sys

import typer

from ..errors import FieldReportError
from ..i18n import _
from .common import emit_json, env, handle


def register(app: typer.Typer) -> None:
    ex = _("Example:")
    b = typer.Typer(help=_("Sync by USB stick when there is no signal: carry a bundle to the station, bring its "
                           "receipt and a bundle back.") + "\n\n" + ex + " fieldreport bundle create --out /media/usb/",
                    no_args_is_help=True)
    b.command("create", help=_("Write everything the hub has not acknowledged (entries and their photos) to one "
                               "signed bundle file. Nothing is marked sent until a receipt comes back.") + "\n\n" +
              ex + " fieldreport bundle create --out /media/usb/")(create)
    b.command("receipt", help=_("Mark the entries a hub receipt confirms as acknowledged (from `fieldreport hub "
                                "import-bundle`).") + "\n\n" + ex +
              " fieldreport bundle receipt /media/usb/fieldreport-push-0193a9c0-1-42.receipt.json")(receipt)
    b.command("apply", help=_("Apply a bundle from the station (`fieldreport hub bundle-for`): case codes, "
                              "decisions, assignments. Applying it twice is harmless.") + "\n\n" + ex +
              " fieldreport bundle apply /media/usb/fieldreport-pull-0193a9c0-0-812.tar")(apply)
    app.add_typer(b, name="bundle")


def register_hub(hub: typer.Typer) -> None:
    """Station commands on the ``hub`` sub-app (called by cli/hub.py when it builds it)."""
    ex = _("Example:")
    hub.command("import-bundle", help=_("Apply a laptop's bundle exactly as a push would (idempotent), after "
                                        "checking its hashes and signature; write a receipt for the laptop.") +
                "\n\n" + ex + " fieldreport hub import-bundle /media/usb/fieldreport-push-0193a9c0-1-42.tar")(
        import_bundle)
    hub.command("bundle-for", help=_("Write what a laptop would pull (case codes, decisions, assignments, "
                                     "templates) to a bundle it can apply offline.") + "\n\n" + ex +
                " fieldreport hub bundle-for 0193a9c0-1111-7000-8000-000000000001 --out /media/usb/")(bundle_for)


def create(
    out: str = typer.Option(None, "--out", "-o", help=_("Bundle FILE or folder (default: the current folder).")),
    as_json: bool = typer.Option(False, "--json", help=_("Print the result as JSON.")),
):
    from .. import bundle

    e = env()
    try:
        with e.store() as store:
            res = bundle.create(store, e.paths, e.blobs(), out=out)
    except FieldReportError as exc:
        handle(exc)
    if as_json:
        emit_json(res)
        return
    sys.stdout.write(_("Bundle written to {out}: {ops} entries, {photos} photo(s). Carry it to the station; the "
                       "entries count as sent once you apply its receipt.").format(
        out=res["out"], ops=res["ops"], photos=res["photos"]) + "\n")
    if res["missing_photos"]:
        sys.stderr.write(_("{n} photo(s) are missing from this laptop and were not included; run `fieldreport "
                           "doctor`").format(n=len(res["missing_photos"])) + "\n")


def receipt(
    file: str = typer.Argument(..., help=_("The receipt file from the station.")),
    as_json: bool = typer.Option(False, "--json", help=_("Print the result as JSON.")),
):
    from .. import bundle

    e = env()
    try:
        with e.store() as store:
            res = bundle.receipt(store, e.paths, file)
    except FieldReportError as exc:
        handle(exc)
    if as_json:
        emit_json(res)
        return
    sys.stdout.write(_("Receipt applied: {marked} entries acknowledged ({already} already were), {rejected} "
                       "rejected, {conflicts} conflicts").format(marked=res["marked"], already=res["already_marked"],
                                                                 rejected=res["rejected"],
                                                                 conflicts=res["conflicts"]) + "\n")


def apply(
    file: str = typer.Argument(..., help=_("The bundle file from the station.")),
    as_json: bool = typer.Option(False, "--json", help=_("Print the result as JSON.")),
):
    from .. import bundle

    e = env()
    try:
        with e.store() as store:
            res = bundle.apply(store, e.paths, file)
    except FieldReportError as exc:
        handle(exc)
    if as_json:
        emit_json(res)
        return
    if res["already_applied"]:
        sys.stdout.write(_("Nothing new: this laptop already holds everything in the bundle.") + "\n")
    else:
        sys.stdout.write(_("Applied {n} change(s) from the station ({c} conflicts to review)").format(
            n=res["changes"], c=res["conflicts"]) + "\n")


def _data():
    return typer.Option(None, "--data", help=_("The hub's folder (default: FIELDREPORT_HUB_HOME, else hub/ in "
                                               "the data folder)."))


def _db():
    return typer.Option(None, "--db", help=_("Database URL (sqlite:///FILE or postgresql://…) or a SQLite file "
                                             "(default: as set by hub init)."))


def import_bundle(
    file: str = typer.Argument(..., help=_("The laptop's bundle file.")),
    receipt_out: str = typer.Option(None, "--receipt", help=_("Where to write the receipt (default: next to the "
                                                              "bundle, .receipt.json).")),
    data: str = _data(), db: str = _db(),
    as_json: bool = typer.Option(False, "--json", help=_("Print the receipt as JSON.")),
):
    from ..hub import bundles

    try:
        res = bundles.import_bundle(file, receipt=receipt_out, data=data, db=db)
    except FieldReportError as exc:
        handle(exc)
    if as_json:
        emit_json(res)
        return
    c = res["counts"]
    sys.stdout.write(_("Imported {ops} entries from device {dev}: {applied} applied, {dup} already held, {rej} "
                       "rejected, {conf} conflicts. Receipt: {receipt}").format(
        ops=res["bundle"]["ops"], dev=res["device_id"], applied=c.get("applied", 0), dup=c.get("duplicate", 0),
        rej=c.get("rejected", 0), conf=c.get("conflict", 0), receipt=res["receipt"]) + "\n")
    sys.stdout.write(_("For the way back: fieldreport hub bundle-for {dev} --cursor {cursor} --out FILE").format(
        dev=res["device_id"], cursor=res.get("laptop_pull_cursor") or 0) + "\n")


def bundle_for(
    device: str = typer.Argument(..., help=_("The laptop's device id (see `fieldreport hub devices`).")),
    out: str = typer.Option(None, "--out", "-o", help=_("Bundle FILE or folder (default: the current folder).")),
    cursor: int = typer.Option(0, "--cursor", help=_("Only changes after this hub cursor (the laptop's, printed by "
                                                     "import-bundle); 0 for everything.")),
    data: str = _data(), db: str = _db(),
    as_json: bool = typer.Option(False, "--json", help=_("Print the result as JSON.")),
):
    from ..hub import bundles

    try:
        res = bundles.bundle_for(device, out=out, cursor=cursor, data=data, db=db)
    except FieldReportError as exc:
        handle(exc)
    if as_json:
        emit_json(res)
        return
    sys.stdout.write(_("Bundle for {dev} written to {out}: {n} change(s), up to hub cursor {cursor}").format(
        dev=res["device_id"], out=res["out"], n=res["changes"], cursor=res["cursor"]) + "\n")
