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
        from ..store import Store

        if not create and not self.paths.store.exists():
            raise NotInitialised("no store yet: run `fieldreport init` first")
        return Store.open(self.paths.store, create=create, key=passphrase_for(self.paths))

    def blobs(self):
        from ..blobs import BlobStore

        return BlobStore(self.paths.blobs)


def passphrase_for(paths) -> str | None:
    """The store's passphrase when it is encrypted (issue 6 fills this in); None otherwise."""
    return None


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
