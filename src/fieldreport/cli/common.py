"""What every command shares: the environment (paths, profile, streams) and error exits.
The CLI layer is the only one that imports typer; rendering with rich lives in ``render``."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any, NoReturn

import typer

from .. import paths as _paths
from ..errors import ExitStatus, FieldReportError, InputError


@dataclass
class Env:
    """Injectable environment: tests build one with another home instead of patching globals."""

    home: str | None = None
    stdin_tty: bool = field(default_factory=lambda: sys.stdin.isatty())
    stdout_tty: bool = field(default_factory=lambda: sys.stdout.isatty())

    def __post_init__(self):
        self.paths = _paths.resolve(self.home)
        self._profile = None

    @property
    def profile(self):
        if self._profile is None:
            from ..profile import load

            self._profile = load(self.paths)
        return self._profile

    def store(self, *, create: bool = False):
        from ..errors import NotInitialised
        from ..i18n import _
        from ..store import Store

        if not create and not self.paths.store.exists():
            raise NotInitialised(_("no store yet: run `fieldreport init` first"))
        return Store.open(self.paths.store, create=create, key=passphrase_for(self.paths))

    def blobs(self):
        from ..blobs import BlobStore

        keys = keys_for(self.paths)
        return BlobStore(self.paths.blobs, key=keys.blob if keys else None)


def passphrase_for(paths) -> str | None:
    """The store's key when this laptop's data is encrypted (a keyfile exists), derived from
    ``FIELDREPORT_PASSPHRASE`` or a passphrase typed at the terminal; None otherwise."""
    keys = keys_for(paths)
    return keys.db if keys else None


_KEYS: dict[tuple[str, int], tuple[bytes, object]] = {}


def keys_for(paths):
    """The unlocked :class:`fieldreport.crypto.Keys` of an encrypted laptop (None when plain).
    Derived once per process; a wrong passphrase raises ``crypto.WrongPassphrase`` (exit 2)."""
    kf = paths.data_dir / "fieldreport.key"  # crypto.keyfile_path, without importing crypto on a plain laptop
    try:
        st = kf.stat()
    except FileNotFoundError:
        return None
    from .. import crypto

    assert kf == crypto.keyfile_path(paths.data_dir)
    import hashlib

    slot = (str(kf), st.st_mtime_ns)
    given = os.environ.get("FIELDREPORT_PASSPHRASE")
    cached = _KEYS.get(slot)
    if cached and (given is None or cached[0] == hashlib.sha256(given.encode()).digest()):
        crypto.register_blob_key(paths.blobs, cached[1].blob)
        return cached[1]
    passphrase = given if given is not None else ask_passphrase()
    keys = crypto.unlock(paths.data_dir, passphrase)
    _KEYS[slot] = (hashlib.sha256(passphrase.encode()).digest(), keys)
    crypto.register_blob_key(paths.blobs, keys.blob)
    return keys


def ask_passphrase(confirm: bool = False, prompt: str | None = None, again: str | None = None) -> str:
    """Read the passphrase from the terminal (never echoed); InputError when there is none."""
    from ..i18n import _

    if not sys.stdin.isatty() or os.environ.get("FIELDREPORT_NO_INPUT") == "1":
        raise InputError(_("passphrase: this laptop's data is encrypted; set FIELDREPORT_PASSPHRASE or run the "
                           "command in a terminal"), "passphrase")
    import getpass

    try:
        p = getpass.getpass(prompt or _("Passphrase: "))
        if confirm and getpass.getpass(again or _("Passphrase again: ")) != p:
            raise InputError(_("passphrase: the two passphrases differ; nothing was changed"), "passphrase")
    except EOFError:
        raise InputError(_("passphrase: none given"), "passphrase") from None
    return p


_env: Env | None = None


def env() -> Env:
    global _env
    if _env is None:
        _env = Env()
    return _env


def reset_env(new: Env | None = None) -> None:
    global _env
    _env = new


def fail(message: str, code: int = ExitStatus.BAD_INPUT) -> NoReturn:
    sys.stderr.write(f"fieldreport: {message}\n")
    raise typer.Exit(int(code))


def handle(exc: FieldReportError) -> NoReturn:
    fail(str(exc), exc.exit_code)


def emit_json(obj: Any) -> None:
    import json

    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")


def is_interactive(no_input: bool) -> bool:
    return not no_input and env().stdin_tty and os.environ.get("FIELDREPORT_NO_INPUT") != "1"
