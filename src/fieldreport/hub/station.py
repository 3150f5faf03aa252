"""The station's library: one function per ``fieldreport hub`` command. They open the hub's
store, do one thing, close it, and return plain data; they never print."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from ..errors import InputError
from ..i18n import _
from . import config as _config

SERVE_LOCK = "serve.lock"


@contextmanager
def opened(data: str | None = None, db: str | None = None) -> Iterator[Any]:
    from .store import HubStore

    cfg = _config.load(data, db)
    store = HubStore.open(cfg.db_url)
    try:
        yield store
    finally:
        store.close()


def init(data: str | None = None, db: str | None = None, prefix: str = "HB") -> dict[str, Any]:
    """Create (or open, if it exists) the hub's folder, database and epoch."""
    from .store import HubStore, safe_url

    prefix = _config.check_prefix(prefix)
    cfg = _config.init(data, db)
    with HubStore.open(cfg.db_url, create=True, prefix=prefix) as store:
        (cfg.blobs_dir).mkdir(parents=True, exist_ok=True, mode=0o700)
        return {"data_dir": str(cfg.data_dir), "db": safe_url(cfg.db_url), "epoch": store.epoch,
                "case_prefix": store.prefix}


def serve(data: str | None = None, db: str | None = None, *, host: str = "127.0.0.1", port: int = 8765,
          log_level: str = "info", cert: str | None = None, key: str | None = None, workers: int = 1) -> None:
    """Serve the hub until interrupted (HTTPS with ``cert`` and ``key``). Holds ``serve.lock``
    so a restore cannot swap the database under a running hub."""
    from .app import HubState, serve as run
    from .blobs import HubBlobs
    from .store import HubStore

    if not 0 < port < 65536:
        raise InputError(_("port: {port} is not a TCP port (1-65535)").format(port=port), "port")
    if bool(cert) != bool(key):
        raise InputError(_("cert: give both --cert and --key (PEM files), or neither"), "cert")
    for name, f in (("cert", cert), ("key", key)):
        if f and not os.path.isfile(f):
            raise InputError(_("{name}: {path} is not a file").format(name=name, path=f), name)
    if not 1 <= workers <= 32:
        raise InputError(_("workers: give between 1 and 32 processes"), "workers")
    if log_level not in ("debug", "info", "warning", "error"):
        raise InputError(_("log-level: {level}; choose debug, info, warning or error").format(level=repr(log_level)),
                         "log_level")
    cfg = _config.load(data, db)
    lock = _take_lock(cfg.data_dir)
    if lock is None:
        raise InputError(_("another hub is already serving from {folder}").format(folder=cfg.data_dir), "data")
    try:
        with HubStore.open(cfg.db_url) as store:
            if workers > 1:
                run(None, host, port, log_level=log_level, cert=cert, key=key, workers=workers,
                    worker_cfg={"db": cfg.db_url, "blobs": str(cfg.blobs_dir)})
            else:
                run(HubState(store, HubBlobs(cfg.blobs_dir)), host, port, log_level=log_level, cert=cert, key=key)
    finally:
        os.close(lock)


def _take_lock(data_dir: Path) -> int | None:
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(data_dir / SERVE_LOCK, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def enroll_code(officer_id: str, name: str, area: str | None, role: str | None = None, ttl_hours: float = 72,
                data: str | None = None, db: str | None = None) -> dict[str, Any]:
    from .. import profile, taxonomy as tx

    checked = profile.check({"officer_id": officer_id, "name": name, **({"area": area} if area else {})})
    if role is not None and tx.resolve(tx.ROLES, role) is None:
        raise InputError(_("role: unknown role {role}; choose one of: {choices}").format(
            role=repr(role), choices=" ".join(tx.ROLES)), "role")
    if not 0 < ttl_hours <= 24 * 30:
        raise InputError(_("ttl: give between 1 and 720 hours"), "ttl")
    with opened(data, db) as store:
        return store.issue_code(checked["officer_id"], checked["name"], checked.get("area"),
                                tx.resolve(tx.ROLES, role) if role else None, ttl_hours)


def devices(data: str | None = None, db: str | None = None) -> list[dict[str, Any]]:
    with opened(data, db) as store:
        return store.devices()


def revoke(device_id: str, data: str | None = None, db: str | None = None) -> str:
    """Revoke a laptop's token; returns its device id."""
    with opened(data, db) as store:
        store.revoke(device_id.strip())
    return device_id.strip()


def reports(*, area: str | None = None, status: str | None = None, kind: str | None = None, level: str | None = None,
            dept: str | None = None, device: str | None = None, limit: int = 100, data: str | None = None,
            db: str | None = None) -> list[dict[str, Any]]:
    """The reports the hub holds, newest first, filtered; each with the laptop's ``id`` and
    ``ref``, the hub's ``case_code``, the ``device_id`` that sent it and ``received_at``."""
    from .. import taxonomy as tx

    if status and tx.resolve(tx.STATUSES, status) is None:
        raise InputError(_("status: unknown status {status}; choose one of: {choices}").format(
            status=repr(status), choices=" ".join(tx.STATUSES)), "status")
    if kind and tx.resolve_field("kind", kind) is None:
        raise InputError(_("kind: unknown kind {kind}; choose one of: {choices}").format(
            kind=repr(kind), choices=" ".join(tx.KINDS)), "kind")
    if level and tx.resolve_field("level", level) is None:
        raise InputError(_("level: unknown level {level}; choose one of: {choices}").format(
            level=repr(level), choices=" ".join(tx.LEVELS)), "level")
    if dept and tx.resolve_field("dept", dept) is None:
        raise InputError(_("dept: unknown department {dept}; choose one of: {choices}").format(
            dept=repr(dept), choices=" ".join(tx.DEPARTMENTS)), "dept")
    with opened(data, db) as store:
        return store.station().reports(area=area, status=tx.resolve(tx.STATUSES, status) if status else None,
                                       kind=tx.resolve_field("kind", kind) if kind else None,
                                       level=tx.resolve_field("level", level) if level else None,
                                       dept=tx.resolve_field("dept", dept) if dept else None,
                                       device=device.strip() if device else None, limit=limit)


def report(ref: str, data: str | None = None, db: str | None = None) -> dict[str, Any]:
    with opened(data, db) as store:
        return store.station().report(ref)


def record_reveal(command: str, entities: list[str], data: str | None = None) -> None:
    """Append who (the station's OS user) revealed which reports unmasked, and when, to the
    hub's ``audit.log`` (0600, one JSON line each) — as the laptop does for its own reveals."""
    import getpass
    from types import SimpleNamespace

    from ..privacy import record_reveal as append

    d = _config.hub_dir(data)
    who = getpass.getuser()
    append(SimpleNamespace(data_dir=d, audit_log=d / "audit.log"), SimpleNamespace(officer_id=who, name=who),
           command, entities)


def decide(ref: str, *, status: str | None = None, dept: str | None = None, assign: str | None = None,
           note: str | None = None, by: str | None = None, data: str | None = None,
           db: str | None = None) -> dict[str, Any]:
    """The station's decision on one report (route, assign, move its status, add a note), all
    or nothing; each part becomes its own change for the field."""
    if not any((status, dept, assign, note)):
        raise InputError(_("nothing to decide: give --status, --dept, --assign or --note"))
    with opened(data, db) as store:
        return store.station().decide(ref, dept=dept, assign=assign.strip() if assign else None, status=status,
                                      note=note, by=by)


def publish_template(file: str, data: str | None = None, db: str | None = None) -> dict[str, Any]:
    try:
        doc = json.loads(Path(file).read_text("utf-8"))
    except OSError as e:
        raise InputError(_("file: cannot read {file}: {error}").format(file=repr(file), error=e.strerror),
                         "file") from None
    except ValueError as e:
        raise InputError(_("file: {file} is not valid JSON ({error})").format(file=repr(file), error=e),
                         "file") from None
    if not isinstance(doc, dict):
        raise InputError(_("file: a template is a JSON object with `id` and `version`"), "file")
    with opened(data, db) as store:
        return store.station().put_template(doc)


def backup(dest: str, data: str | None = None, db: str | None = None) -> dict[str, Any]:
    with opened(data, db) as store:
        store.backup(Path(dest))
        return {"file": str(dest), "epoch": store.epoch}


def restore(src: str | None = None, data: str | None = None, db: str | None = None) -> dict[str, Any]:
    """Put a backup in place of a SQLite hub's database (the hub must be stopped), or — with no
    file — mark the database as restored by other means (pg_restore). Either way the hub gets
    a new epoch, so every laptop re-pushes what the hub may have lost; counters of the
    database replaced are carried forward when it is still readable, so no case code or
    cursor is given out twice."""
    from .store import HubStore

    cfg = _config.load(data, db)
    carry: dict[str, int] = {}
    try:
        with HubStore.open(cfg.db_url) as old:
            carry = old.counters()
    except Exception:  # noqa: BLE001 — the database being replaced may be damaged or gone
        carry = {}
    if src is not None:
        if not cfg.db_url.startswith("sqlite:///"):
            raise InputError(_("file: a PostgreSQL hub is restored with pg_restore; then run `fieldreport hub restore` "
                             "with no file"), "file")
        srcp = Path(src)
        try:
            with HubStore.open(f"sqlite:///{srcp}") as probe:
                probe.epoch  # noqa: B018 — proves it is a hub database
        except Exception as e:  # noqa: BLE001
            raise InputError(_("file: {file} is not a hub backup ({error})").format(
                file=repr(src), error=type(e).__name__),
                             "file") from None
        lock = _take_lock(cfg.data_dir)
        if lock is None:
            raise InputError(_("the hub is running: stop `fieldreport hub serve` before restoring a file"), "file")
        try:
            target = Path(cfg.db_url.removeprefix("sqlite:///"))
            tmp = target.with_name(target.name + ".restoring")
            shutil.copyfile(srcp, tmp)
            os.chmod(tmp, 0o600)
            for suffix in ("-wal", "-shm"):
                Path(str(target) + suffix).unlink(missing_ok=True)
            os.replace(tmp, target)
        finally:
            os.close(lock)
    with HubStore.open(cfg.db_url) as store:
        epoch = store.new_epoch(carry)
    return {"epoch": epoch, "carried": carry}
