"""``fieldreport export``, ``backup``, ``restore`` and ``doctor`` — everything that works on the
laptop's store alone, with no network."""

from __future__ import annotations

import sys

import typer

from ..errors import ExitStatus, FieldReportError
from ..i18n import _
from .common import emit_json, env, handle, passphrase_for


def register(app: typer.Typer) -> None:
    ex = _("Example:")
    app.command("export", help=_("Export reports as CSV, JSON, GeoJSON (opens in QGIS) or Excel (one sheet per "
                                 "kind). ID and phone numbers are masked as on screen unless --reveal.") + "\n\n" +
                ex + " fieldreport export --format xlsx --kind hazard --since 30d --out 隐患.xlsx")(export)
    app.command("backup", help=_("Write a backup of the store and its photos to one file (safe while other "
                                 "commands run).") + "\n\n" + ex + " fieldreport backup --out /media/usb/")(backup)
    app.command("restore", help=_("Restore a backup. Refuses to replace a store holding entries the hub has not "
                                  "acknowledged unless --force; then both queues are kept.") + "\n\n" + ex +
                " fieldreport restore /media/usb/fieldreport-backup-20261203-101500.tar")(restore)
    app.command("doctor", help=_("Check the store, the photos, free disk space, the hub and the clock, and say "
                                 "what to do about each problem.") + "\n\n" + ex + " fieldreport doctor")(doctor)


def register_hub(hub: typer.Typer) -> None:
    """``fieldreport hub export`` (called by cli/hub.py when it builds the hub sub-app)."""
    hub.command("export", help=_("Export the hub's reports as CSV, JSON, GeoJSON or Excel, masked as on screen "
                                 "unless --reveal.") + "\n\n" + _("Example:") +
                " fieldreport hub export --format geojson --area 东村 --out 东村.geojson")(hub_export)


def export(
    fmt: str = typer.Option("csv", "--format", "-f", help=_("csv, json, geojson or xlsx.")),
    kind: str = typer.Option(None, "--kind", "-k", help=_("Only this kind.")),
    since: str = typer.Option(None, "--since", help=_("Only reports since a date or an age such as 7d.")),
    status: str = typer.Option(None, "--status", "-s", help=_("Only this status.")),
    area: str = typer.Option(None, "--area", help=_("Only this community or village (or a place containing it).")),
    archived: bool = typer.Option(False, "--archived", help=_("Include archived reports.")),
    out: str = typer.Option(None, "--out", "-o", help=_("Write to FILE (default: standard output; xlsx needs a file).")),
    excel: bool = typer.Option(False, "--excel", help=_("CSV for Excel: a UTF-8 BOM so Chinese shows correctly.")),
    reveal: bool = typer.Option(False, "--reveal", help=_("Export ID and phone numbers unmasked (recorded in the audit log).")),
    as_json: bool = typer.Option(False, "--json", help=_("Print a summary as JSON (with --out).")),
):
    from .. import exporting
    from ..i18n import lang
    from ..privacy import record_reveal

    e = env()
    try:
        filters = exporting.parse_filters(kind=kind, since=since, status=status, area=area)
        with e.store() as store:
            data, info, ids_ = exporting.export_laptop(store, e.profile, fmt, out=out, filters=filters, reveal=reveal,
                                                       excel=excel, archived=archived, lang=lang())
        if reveal:
            record_reveal(e.paths, e.profile, "export", ids_)
    except FieldReportError as exc:
        handle(exc)
    if data is not None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    if as_json:
        emit_json(info)
        return
    sys.stderr.write(_("Exported {n} report(s) to {out}").format(n=info["count"], out=info["out"]) + "\n")
    if info.get("skipped_no_coordinates"):
        sys.stderr.write(_("{n} report(s) without coordinates were left out of the map").format(
            n=info["skipped_no_coordinates"]) + "\n")


def backup(
    out: str = typer.Option(None, "--out", "-o", help=_("Backup FILE or folder (default: the current folder).")),
    as_json: bool = typer.Option(False, "--json", help=_("Print the result as JSON.")),
):
    from .. import backup as bk

    e = env()
    try:
        with e.store() as store:
            res = bk.create(store, e.paths, out=out, blobstore=e.blobs(), key=passphrase_for(e.paths))
    except FieldReportError as exc:
        handle(exc)
    if as_json:
        emit_json(res)
        return
    sys.stdout.write(_("Backup written to {out}: {reports} report(s), {blobs} photo(s), {pending} entries not yet "
                       "acknowledged").format(out=res["out"], reports=res["reports"], blobs=res["blobs"],
                                              pending=res["unacknowledged"]) + "\n")
    if res["missing_blobs"]:
        sys.stderr.write(_("{n} photo(s) named by the store are missing or damaged and were not backed up; run "
                           "`fieldreport doctor`").format(n=len(res["missing_blobs"])) + "\n")


def restore(
    file: str = typer.Argument(..., help=_("The backup file.")),
    force: bool = typer.Option(False, "--force", help=_("Restore even though the current store holds entries the "
                                                        "hub has not acknowledged; they are kept.")),
    as_json: bool = typer.Option(False, "--json", help=_("Print the result as JSON.")),
):
    from .. import backup as bk

    e = env()
    try:
        res = bk.restore(e.paths, file, force=force, key_for=lambda: passphrase_for(e.paths))
    except FieldReportError as exc:
        handle(exc)
    if as_json:
        emit_json(res)
        return
    sys.stdout.write(_("Restored {file}: {reports} report(s), {pending} entries not yet acknowledged").format(
        file=file, reports=res["reports"], pending=res["unacknowledged"]) + "\n")
    m = res.get("merged")
    if m and m.get("ops_added"):
        sys.stdout.write(_("Kept {n} newer entries of the replaced store ({r} renumbered)").format(
            n=m["ops_added"], r=m["renumbered"]) + "\n")
    if res.get("kept_aside"):
        sys.stdout.write(_("The replaced store is kept as {path}").format(path=res["kept_aside"]) + "\n")


def doctor(
    offline: bool = typer.Option(False, "--offline", help=_("Skip the hub check.")),
    as_json: bool = typer.Option(False, "--json", help=_("Print the checks as JSON.")),
):
    from .. import doctor as dr
    from ..profile import load_or_none

    e = env()
    try:
        key = passphrase_for(e.paths)
        res = dr.run(e.paths, load_or_none(e.paths), key=key, network=not offline,
                     blobstore=e.blobs() if e.paths.blobs.exists() else None)
    except FieldReportError as exc:
        handle(exc)
    if as_json:
        emit_json(res)
    else:
        marks = {"ok": "✓", "warn": "!", "fail": "✗", "skip": "-"}
        for c in res["checks"]:
            sys.stdout.write(f"{marks[c['status']]} {c['check']:<12} {c['detail']}\n")
            if c["fix"] and c["status"] in ("warn", "fail"):
                sys.stdout.write(f"  → {c['fix']}\n")
        sys.stdout.write((_("No problems found.") if res["ok"] and not res["warnings"] else
                          _("{n} problem(s) found.").format(
                              n=sum(c["status"] in ("warn", "fail") for c in res["checks"]))) + "\n")
    if not res["ok"]:
        raise typer.Exit(int(ExitStatus.ERROR))


def hub_export(
    fmt: str = typer.Option("csv", "--format", "-f", help=_("csv, json, geojson or xlsx.")),
    kind: str = typer.Option(None, "--kind", "-k", help=_("Only this kind.")),
    since: str = typer.Option(None, "--since", help=_("Only reports since a date or an age such as 7d.")),
    status: str = typer.Option(None, "--status", "-s", help=_("Only this status.")),
    area: str = typer.Option(None, "--area", help=_("Only this community or village.")),
    archived: bool = typer.Option(False, "--archived", help=_("Include archived reports.")),
    out: str = typer.Option(None, "--out", "-o", help=_("Write to FILE (default: standard output; xlsx needs a file).")),
    excel: bool = typer.Option(False, "--excel", help=_("CSV for Excel: a UTF-8 BOM so Chinese shows correctly.")),
    reveal: bool = typer.Option(False, "--reveal", help=_("Export ID and phone numbers unmasked (recorded in the hub's audit log).")),
    data: str = typer.Option(None, "--data", help=_("The hub's folder (default: FIELDREPORT_HUB_HOME, else hub/ in "
                                                    "the data folder).")),
    db: str = typer.Option(None, "--db", help=_("Database URL (sqlite:///FILE or postgresql://…) or a SQLite file "
                                                "(default: as set by hub init).")),
    as_json: bool = typer.Option(False, "--json", help=_("Print a summary as JSON (with --out).")),
):
    from .. import exporting
    from ..hub import bundles
    from ..i18n import lang

    try:
        filters = exporting.parse_filters(kind=kind, since=since, status=status, area=area)
        data_, info, _ids = bundles.export(fmt, out=out, filters=filters, reveal=reveal, excel=excel,
                                           archived=archived, lang=lang(), data=data, db=db)
    except FieldReportError as exc:
        handle(exc)
    if data_ is not None:
        sys.stdout.buffer.write(data_)
        sys.stdout.flush()
        return
    if as_json:
        emit_json(info)
        return
    sys.stderr.write(_("Exported {n} report(s) to {out}").format(n=info["count"], out=info["out"]) + "\n")
