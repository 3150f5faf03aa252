"""``fieldreport doctor``: check the things that go wrong on a field laptop and say, for each
problem, what to do about it. Read-only: it never changes the store.

Each check is ``{"check", "status": ok|warn|fail|skip, "detail", "fix"}``; ``fix`` is one line.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from .errors import FieldReportError
from .i18n import _

DISK_WARN_BYTES = 500 * 1024 * 1024
DISK_FAIL_BYTES = 50 * 1024 * 1024
CLOCK_WARN_S = 120.0
HUB_TIMEOUT = (2.0, 3.0)


def _c(check: str, status: str, detail: str, fix: str = "") -> dict[str, Any]:
    return {"check": check, "status": status, "detail": detail, "fix": fix}


def check_store(paths, key: str | None = None) -> tuple[list[dict[str, Any]], Any]:
    from .store import Store, offline

    if not paths.store.exists():
        return [_c("store", "fail", _("no store at {path}").format(path=paths.store),
                   _("run `fieldreport init`, or `fieldreport restore FILE` from a backup"))], None
    try:
        store = Store.open(paths.store, key=key)
    except FieldReportError as e:
        return [_c("store", "fail", str(e), _("restore the latest backup: `fieldreport restore FILE --force` "
                                              "(the damaged file is kept aside)"))], None
    out = []
    try:
        problems = offline.integrity(store.conn)
    except Exception as e:  # noqa: BLE001 - a damaged page raises while checking
        problems = [str(e)]
    if problems:
        out.append(_c("store", "fail", _("integrity check failed: {first}").format(first=problems[0]),
                      _("make a bundle or sync now if you can, then `fieldreport restore` the latest backup with "
                        "--force (both queues are kept)")))
    else:
        out.append(_c("store", "ok", _("integrity check ok ({n} reports, {size} bytes)").format(
            n=store.count_reports(), size=store.size_bytes())))
    orphans = offline.orphan_ops(store.conn)
    if orphans:
        out.append(_c("outbox", "fail", _("{n} queued operation(s) name a report that is not in the store (first: "
                                          "seq {seq})").format(n=len(orphans), seq=orphans[0]["seq"]),
                      _("restore a backup with `fieldreport restore FILE --force`; report this to the developers")))
    else:
        breaks = offline.chain_breaks(store.conn)
        if breaks:
            out.append(_c("outbox", "warn", _("the operation log's hash chain breaks at seq {seq}").format(
                seq=breaks[0]), _("the log was altered outside fieldreport; tell the station before syncing")))
        else:
            out.append(_c("outbox", "ok", _("{n} entries not yet acknowledged by the hub").format(
                n=offline.unacked_count(store))))
    mode = paths.store.stat().st_mode & 0o777
    if mode & 0o077:
        out.append(_c("permissions", "warn", _("the store is readable by other users (mode {mode})").format(
            mode=oct(mode)), _("run `chmod 600 {path}`").format(path=paths.store)))
    return out, store


def check_blobs(store, paths, blobstore=None) -> dict[str, Any]:
    from .blobs import BlobStore
    from .store import offline

    bs = blobstore or BlobStore(paths.blobs)
    missing, bad = [], []
    hashes = offline.blob_hashes(store.conn)
    for h in hashes:
        if not bs.has(h):
            missing.append(h)
        elif not bs.verify(h):
            bad.append(h)
    if missing or bad:
        parts = []
        if missing:
            parts.append(_("{n} missing").format(n=len(missing)))
        if bad:
            parts.append(_("{n} damaged").format(n=len(bad)))
        first = (missing + bad)[0]
        return _c("photos", "fail", _("{n} photo(s) checked, {problems} (first: {sha})").format(
            n=len(hashes), problems=", ".join(parts), sha=first[:12]),
            _("restore the photos from a backup (`fieldreport restore FILE --force` adds missing photos) or ask "
              "the station whether it already holds them"))
    return _c("photos", "ok", _("{n} photo(s), every hash matches").format(n=len(hashes)))


def check_disk(paths) -> dict[str, Any]:
    where = paths.data_dir if paths.data_dir.exists() else Path(paths.data_dir).parent
    try:
        free = shutil.disk_usage(where).free
    except OSError as e:
        return _c("disk", "warn", _("cannot read free space: {err}").format(err=e.strerror), "")
    mb = free // (1024 * 1024)
    if free < DISK_FAIL_BYTES:
        return _c("disk", "fail", _("only {mb} MB free").format(mb=mb),
                  _("free space now: new reports and photos may fail to save; move old photos or backups off "
                    "this disk"))
    if free < DISK_WARN_BYTES:
        return _c("disk", "warn", _("{mb} MB free").format(mb=mb),
                  _("free some space soon (photos need room); move old backups to a USB stick"))
    return _c("disk", "ok", _("{mb} MB free").format(mb=mb))


def check_hub(profile, store, paths) -> list[dict[str, Any]]:
    from .profile import read_token

    url = getattr(profile, "hub_url", None) if profile else None
    if not url:
        return [_c("hub", "skip", _("no hub URL set (working offline: use bundles)"),
                   _("set one with `fieldreport init --hub URL` when the station has a hub"))]
    out = []
    if read_token(paths) is None:
        out.append(_c("enrolled", "warn", _("not enrolled with the hub"),
                      _("ask the station for a code and run `fieldreport login {url} CODE`").format(url=url)))
    try:
        import requests
    except ImportError:  # pragma: no cover
        return out + [_c("hub", "skip", _("requests is not installed"), "")]
    from .protocol import EPOCH_HEADER, PROTOCOL_HEADER

    try:
        r = requests.get(url.rstrip("/") + "/v1/health", timeout=HUB_TIMEOUT)
    except requests.RequestException as e:
        return out + [_c("hub", "warn", _("hub {url} not reachable ({err})").format(url=url, err=type(e).__name__),
                         _("no signal or the hub is down: keep working offline, or carry a bundle "
                           "(`fieldreport bundle create`)"))]
    if r.status_code != 200 or r.headers.get(PROTOCOL_HEADER) is None:
        return out + [_c("hub", "warn", _("{url} answered, but not as a fieldreport hub (HTTP {code}; a captive "
                                          "portal or proxy?)").format(url=url, code=r.status_code),
                         _("log in to the network's portal in a browser, or check the hub URL"))]
    out.append(_c("hub", "ok", _("hub {url} reachable (protocol {p})").format(url=url, p=r.headers[PROTOCOL_HEADER])))
    epoch = r.headers.get(EPOCH_HEADER)
    if store is not None and epoch and store.meta("hub_epoch") and epoch != store.meta("hub_epoch"):
        out.append(_c("hub_epoch", "warn", _("the hub's database was replaced (new epoch)"),
                      _("run `fieldreport sync`: it re-sends everything the new hub may lack")))
    try:
        import email.utils as eu
        import time

        date = r.headers.get("Date")
        if date:
            offset = eu.parsedate_to_datetime(date).timestamp() - time.time()
            out.append(_clock(offset, _("now, from the hub's clock")))
    except (TypeError, ValueError):
        pass
    return out


def _clock(offset: float, source: str) -> dict[str, Any]:
    if abs(offset) > CLOCK_WARN_S:
        return _c("clock", "warn", _("the laptop's clock is off by {s:.0f} s from the hub's ({source})").format(
            s=abs(offset), source=source),
            _("set the laptop's date and time (reports keep both times, but deadlines and ages use this clock)"))
    return _c("clock", "ok", _("clock within {s:.0f} s of the hub ({source})").format(s=abs(offset), source=source))


def run(paths, profile, *, key: str | None = None, network: bool = True, blobstore=None) -> dict[str, Any]:
    """Run every check; returns {"ok": bool, "checks": [...]}. ``blobstore``: the laptop's
    (keyed on an encrypted laptop, so sealed photos are checked by their plain sha256)."""
    checks, store = check_store(paths, key)
    try:
        if store is not None:
            checks.append(check_blobs(store, paths, blobstore))
        checks.append(check_disk(paths))
        if store is not None and store.meta("clock_offset_s") is not None:
            try:
                checks.append(_clock(float(store.meta("clock_offset_s")), _("at the last sync")))
            except ValueError:
                pass
        if network:
            hub_checks = check_hub(profile, store, paths)
            # the live measurement replaces the one from the last sync
            if any(c["check"] == "clock" for c in hub_checks):
                checks = [c for c in checks if c["check"] != "clock"]
            checks += hub_checks
        if profile is None:
            checks.append(_c("profile", "fail", _("no profile"), _("run `fieldreport init`")))
    finally:
        if store is not None:
            store.close()
    tmp = list(paths.blobs.glob(".incoming.*")) if paths.blobs.exists() else []
    if tmp:
        checks.append(_c("leftovers", "warn", _("{n} unfinished photo copies from an interrupted command").format(
            n=len(tmp)), _("harmless; delete {path}/.incoming.* when no fieldreport command runs").format(
            path=paths.blobs)))
    return {"ok": not any(c["status"] == "fail" for c in checks), "checks": checks,
            "warnings": sum(c["status"] == "warn" for c in checks)}
