"""Where a hub keeps its files and which database it uses.

The hub's folder is ``--data DIR``, else ``FIELDREPORT_HUB_HOME``, else ``<FIELDREPORT_HOME or
the user data dir>/hub``. It holds ``hub.json`` (the database URL and case-code prefix, mode
0600), the SQLite database ``hub.db`` unless a PostgreSQL URL was given, and ``blobs/``.
The database URL is ``--db URL``, else ``FIELDREPORT_HUB_DB``, else what ``hub.json`` says.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .. import paths as _paths
from ..errors import InputError, NotInitialised
from ..i18n import _

PREFIX_RE = re.compile(r"^[A-Z]{1,6}$")


@dataclass(frozen=True)
class HubConfig:
    data_dir: Path
    db_url: str

    @property
    def blobs_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def config_file(self) -> Path:
        return self.data_dir / "hub.json"


def hub_dir(data: str | os.PathLike | None = None) -> Path:
    if data:
        return Path(data).expanduser()
    env = os.environ.get("FIELDREPORT_HUB_HOME")
    if env:
        return Path(env).expanduser()
    return _paths.resolve().data_dir / "hub"


def check_url(url: str) -> str:
    u = url.strip()
    if not (u.startswith("sqlite:///") or u.startswith("postgresql://") or u.startswith("postgresql+psycopg://")):
        raise InputError(_("db: {url} is not a database URL; give sqlite:///FILE or postgresql://user@host/db").format(
            url=repr(u)), "db")
    return u


def check_prefix(prefix: str) -> str:
    p = prefix.strip().upper()
    if not PREFIX_RE.match(p):
        raise InputError(_("prefix: {prefix} must be 1 to 6 letters, such as HB").format(prefix=repr(prefix)),
                         "prefix")
    return p


def init(data: str | None = None, db: str | None = None) -> HubConfig:
    """Write ``hub.json`` (keeping a database URL already chosen unless ``db`` is given)."""
    d = hub_dir(data)
    url = check_url(db) if db else (os.environ.get("FIELDREPORT_HUB_DB") or _read(d).get("db")
                                     or f"sqlite:///{d / 'hub.db'}")
    _paths.private_dir(d)
    _paths.write_private(d / "hub.json", json.dumps({"db": url}, indent=2).encode("utf-8"))
    return HubConfig(d, url)


def load(data: str | None = None, db: str | None = None) -> HubConfig:
    d = hub_dir(data)
    url = db or os.environ.get("FIELDREPORT_HUB_DB") or _read(d).get("db")
    if not url:
        raise NotInitialised(_("no hub in {folder}: run `fieldreport hub init` first (or give --data DIR)").format(
            folder=d))
    return HubConfig(d, check_url(url))


def _read(d: Path) -> dict:
    try:
        return json.loads((d / "hub.json").read_text("utf-8"))
    except FileNotFoundError:
        return {}
    except ValueError:
        raise NotInitialised(_("{file} is not valid JSON: fix it or run `fieldreport hub init` again").format(
            file=d / "hub.json")) from None
