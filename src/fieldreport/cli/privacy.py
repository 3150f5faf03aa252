"""``fieldreport encrypt / decrypt / purge / verify / audit``: personal data on a laptop that can
be lost (issue 6). Parse, call one library function, render."""

from __future__ import annotations

import os
import sys

import typer

from ..errors import ExitStatus, FieldReportError, InputError
from ..i18n import _
from .common import emit_json, env, fail, handle, is_interactive


def register(app: typer.Typer) -> None:
    ex = _("Example:")
    app.command("encrypt", help=_("Encrypt this laptop's store and photos with a passphrase (asked twice, or "
                                  "FIELDREPORT_PASSPHRASE). Safe to interrupt: run it again to finish.") +
                "\n\n" + ex + " FIELDREPORT_PASSPHRASE='…' fieldreport encrypt")(encrypt)
    app.command("decrypt", help=_("Remove the encryption of the store and photos (they stay on this laptop "
                                  "unprotected).") + "\n\n" + ex + " fieldreport decrypt --yes")(decrypt)
    app.command("passphrase", help=_("Change the passphrase of an encrypted laptop (the current one from "
                                     "FIELDREPORT_PASSPHRASE or asked, the new one from FIELDREPORT_NEW_PASSPHRASE or "
                                     "asked twice). Instant: the data is not re-encrypted.") + "\n\n" + ex +
                " fieldreport passphrase")(passphrase)
    app.command("purge", help=_("Remove the local copies of reports the hub confirmed long enough ago. Nothing "
                                "the hub has not confirmed is ever removed; the hub keeps everything.") +
                "\n\n" + ex + " fieldreport purge --synced-older-than 30d --dry-run")(purge)
    app.command("verify", help=_("Check the tamper-evident log (each change carries the hash of the one before) "
                                 "and every photo's hash.") + "\n\n" + ex + " fieldreport verify --json")(verify)
    app.command("audit", help=_("Show the local audit log: who revealed personal data, when, with which "
                                "command.") + "\n\n" + ex + " fieldreport audit --limit 20")(audit)


def _passphrase(confirm: bool) -> str:
    from .common import ask_passphrase

    given = os.environ.get("FIELDREPORT_PASSPHRASE")
    if given is not None:
        return given
    return ask_passphrase(confirm=confirm)


def encrypt(as_json: bool = typer.Option(False, "--json", help=_("Print the result as JSON."))):
    from .. import crypto

    e = env()
    try:
        if not e.paths.profile.exists():
            raise InputError(_("no profile yet: run `fieldreport init` first"))
        res = crypto.encrypt_laptop(e.paths, _passphrase(confirm=not crypto.is_encrypted(e.paths.data_dir)))
    except FieldReportError as exc:
        handle(exc)
    _done(res, as_json)


def init_encrypt(e) -> dict:
    """``fieldreport init --encrypt``: encrypt the freshly made store (called by ``init``)."""
    from .. import crypto

    return crypto.encrypt_laptop(e.paths, _passphrase(confirm=not crypto.is_encrypted(e.paths.data_dir)))


def decrypt(
    yes: bool = typer.Option(False, "--yes", "-y", help=_("Do not ask for confirmation.")),
    as_json: bool = typer.Option(False, "--json", help=_("Print the result as JSON.")),
):
    from .. import crypto

    e = env()
    try:
        if not crypto.is_encrypted(e.paths.data_dir):
            raise InputError(_("decrypt: this laptop's data is not encrypted"), "passphrase")
        if not yes:
            if not is_interactive(False):
                raise InputError(_("decrypt: give --yes to confirm that the data will be stored unprotected"), "yes")
            from . import render

            if not render.confirm(_("Store the reports and photos unprotected on this laptop?"), default=False):
                raise typer.Exit(int(ExitStatus.BAD_INPUT))
        res = crypto.decrypt_laptop(e.paths, _passphrase(confirm=False))
    except FieldReportError as exc:
        handle(exc)
    _done(res, as_json)


def passphrase(as_json: bool = typer.Option(False, "--json", help=_("Print the result as JSON."))):
    from .. import crypto
    from .common import ask_passphrase

    e = env()
    try:
        if not crypto.is_encrypted(e.paths.data_dir):
            raise InputError(_("passphrase: this laptop's data is not encrypted; `fieldreport encrypt` sets one"),
                             "passphrase")
        old = os.environ.get("FIELDREPORT_PASSPHRASE")
        if old is None:
            old = ask_passphrase(prompt=_("Current passphrase: "))
        crypto.unlock(e.paths.data_dir, old)  # a wrong one is refused before the new one is asked for
        new = os.environ.get("FIELDREPORT_NEW_PASSPHRASE")
        if new is None:
            new = ask_passphrase(confirm=True, prompt=_("New passphrase: "), again=_("New passphrase again: "))
        crypto.change_passphrase(e.paths.data_dir, old, new)
    except FieldReportError as exc:
        handle(exc)
    if as_json:
        emit_json({"changed": True})
    else:
        sys.stdout.write(_("Passphrase changed: from now on only the new one opens this laptop's data. A backup made "
                           "before keeps the passphrase of its time.") + "\n")


def _done(res: dict, as_json: bool) -> None:
    if as_json:
        emit_json(res)
        return
    if res["encrypted"]:
        sys.stdout.write(_("Encrypted: the store and {n} photo file(s) converted. Keep the passphrase safe: "
                           "without it nobody, not even the station, can open this data.").format(
            n=res["photos_converted"]) + "\n")
    else:
        sys.stdout.write(_("Decrypted: the store and {n} photo file(s) are no longer encrypted.").format(
            n=res["photos_converted"]) + "\n")
    if res.get("damaged_photos"):
        sys.stderr.write("fieldreport: " + _("{n} photo file(s) are damaged and were left as they are; run "
                                             "`fieldreport verify`").format(n=len(res["damaged_photos"])) + "\n")


def purge(
    synced_older_than: str = typer.Option(None, "--synced-older-than", help=_(
        "Only reports the hub confirmed more than this long ago, e.g. 30d (default: the profile's retention_days).")),
    dry_run: bool = typer.Option(False, "--dry-run", "-n", help=_("Only show what would be removed.")),
    as_json: bool = typer.Option(False, "--json", help=_("Print the result as JSON.")),
):
    from .. import purge as lib

    e = env()
    try:
        age = lib.parse_age(synced_older_than, int(getattr(e.profile, "retention_days", 30) or 30))
        with e.store() as store:
            res = lib.purge(store, e.blobs(), older_than=age, dry_run=dry_run)
    except FieldReportError as exc:
        handle(exc)
    if as_json:
        emit_json(res)
        return
    from . import render_privacy

    render_privacy.purge(res)


def verify(
    no_photos: bool = typer.Option(False, "--no-photos", help=_("Check the log only, not the photo files.")),
    as_json: bool = typer.Option(False, "--json", help=_("Print the result as JSON.")),
):
    from .. import verify as lib

    e = env()
    try:
        with e.store() as store:
            res = lib.verify(store, e.blobs(), photos=not no_photos)
    except FieldReportError as exc:
        handle(exc)
    if as_json:
        emit_json(res)
    else:
        from . import render_privacy

        render_privacy.verify(res)
    if not res["ok"]:
        raise typer.Exit(int(ExitStatus.CORRUPT))


def audit(
    limit: int = typer.Option(50, "--limit", "-n", help=_("At most this many entries, newest last (0 for all).")),
    as_json: bool = typer.Option(False, "--json", help=_("Print as JSON.")),
):
    from ..privacy import read_audit

    e = env()
    try:
        if limit < 0:
            raise InputError(_("limit: must be 0 or more"), "limit")
        rows = read_audit(e.paths, limit=limit or None)
    except FieldReportError as exc:
        handle(exc)
    if as_json:
        emit_json(rows)
        return
    from . import render_privacy

    render_privacy.audit(rows)


__all__ = ["register", "init_encrypt", "fail"]
