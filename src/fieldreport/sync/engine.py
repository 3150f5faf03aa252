"""The sync engine: push the outbox in order in adaptive batches, pull the station's changes,
then upload photos resumably — exactly once, whatever the link does.

Guarantees (docs/sync.md):
- an outbox entry is marked acknowledged only after a parsed hub answer, in one local
  transaction; an answer lost on the way means the batch is sent again and comes back
  ``duplicate``;
- a kill at any moment loses nothing: nothing is written across a network exchange;
- a rejected entry goes to the dead-letter list and never blocks the entries behind it;
- a changed hub epoch, or a hub that holds less than it acknowledged, makes the laptop
  push again everything not acknowledged under the hub's current epoch.

The engine talks to a :class:`~fieldreport.sync.transport.Transport`; it never prints.
"""

from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import Any, Callable, Iterator

from ..errors import ExitStatus, FieldReportError
from ..i18n import _
from ..store import sync_state
from . import backoff as _backoff
from .transport import HubRefused, LinkError, TransportError


class SyncError(FieldReportError):
    exit_code = ExitStatus.ERROR


class SyncBusy(FieldReportError):
    exit_code = ExitStatus.LOCKED


class _Stop(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# ----------------------------------------------------------------------------- config
@dataclass
class SyncConfig:
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    batch_initial: int = 250
    batch_max: int = 2000
    batch_max_bytes: int = 4 * 1024 * 1024
    grow_below_s: float = 5.0     # grow the batch after an answer faster than this
    chunk_size: int = 256 * 1024
    backoff_base: float = 1.0
    backoff_max: float = 120.0
    max_failures: int = 6         # consecutive failures in one run before stopping
    pull_limit: int = 2000
    lock_wait: float = 5.0
    gzip_level: int = 6

    @classmethod
    def from_env(cls, **overrides) -> "SyncConfig":
        """Defaults, then ``FIELDREPORT_SYNC_<FIELD>`` from the environment (tests use short
        timeouts), then explicit overrides."""
        cfg = cls()
        for f in fields(cls):
            v = os.environ.get(f"FIELDREPORT_SYNC_{f.name.upper()}")
            if v:
                try:
                    setattr(cfg, f.name, type(getattr(cfg, f.name))(float(v)) if f.type in ("int", int) else float(v))
                except ValueError:
                    pass
        for k, v in overrides.items():
            if v is not None:
                setattr(cfg, k, v)
        return cfg


# ----------------------------------------------------------------------------- test crash points
_crash_hits: dict[str, int] = {}


def crash_point(name: str) -> None:
    """Test-only: ``FIELDREPORT_CRASH_AT=name`` (or ``name:N`` for the N-th time) ends the process
    at once with ``os._exit`` — a kill at exactly that moment, no cleanup, no flush."""
    want = os.environ.get("FIELDREPORT_CRASH_AT")
    if not want:
        return
    point, _sep, nth = want.partition(":")
    if point != name:
        return
    _crash_hits[name] = _crash_hits.get(name, 0) + 1
    if _crash_hits[name] >= (int(nth) if nth.isdigit() else 1):
        os._exit(137)


# ----------------------------------------------------------------------------- lock
@contextmanager
def sync_lock(path, wait: float = 5.0) -> Iterator[None]:
    """One sync at a time per laptop: an flock on ``paths.sync_lock``. The second waits up to
    ``wait`` seconds, then raises :class:`SyncBusy`. The kernel drops the lock when the holder
    dies, however it dies."""
    import fcntl

    from ..paths import private_dir

    private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise SyncBusy(_("another fieldreport sync is running on this laptop; wait for it to finish "
                                     "(it will send what you add now)")) from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)


# ----------------------------------------------------------------------------- progress
class Progress:
    """What the engine reports while it runs; the CLI draws it (rich) on a terminal."""

    def phase(self, name: str, total: int, unit: str = "ops") -> None: ...

    def advance(self, n: int = 0, nbytes: int = 0) -> None: ...

    def info(self, **kw: Any) -> None: ...

    def close(self) -> None: ...


# ----------------------------------------------------------------------------- body
def push_body(device_id: str, epoch: str | None, rows: list[tuple]) -> bytes:
    """The PushRequest JSON for ``rows``, built from the stored payload text as is."""
    dj = json.dumps(device_id)
    parts = []
    for seq, op_id, type_, entity, payload, clock, ts, prev, h in rows:
        parts.append(f'{{"op_id":"{op_id}","device_id":{dj},"seq":{seq},"clock":{clock},"ts":{json.dumps(ts)},'
                     f'"type":{json.dumps(type_)},"entity":{json.dumps(entity)},"payload":{payload},'
                     f'"prev_hash":{json.dumps(prev)},"hash":{json.dumps(h)}}}')
    return (f'{{"device_id":{dj},"epoch":{json.dumps(epoch)},"ops":[' + ",".join(parts) + "]}").encode("utf-8")


# ----------------------------------------------------------------------------- engine
class Engine:
    def __init__(self, store, transport, *, blobstore=None, config: SyncConfig | None = None,
                 max_time: float | None = None, originals: bool = False, progress: Progress | None = None,
                 sleep: Callable[[float], None] = time.sleep, rng=None, hub_url: str | None = None):
        self.store = store
        self.t = transport
        self.blobstore = blobstore
        self.cfg = config or SyncConfig()
        self.max_time = max_time
        self.originals = originals
        self.progress = progress or Progress()
        self.sleep = sleep
        self.bo = _backoff.Backoff(self.cfg.backoff_base, self.cfg.backoff_max, rng)
        self.t0 = time.monotonic()
        self.deadline = self.t0 + max_time if max_time else None
        self.batch = max(1, self.cfg.batch_initial)
        self.retry_after_until: str | None = None
        self.next_delay: float | None = None
        self.last_error: str | None = None
        self.res: dict[str, Any] = {
            "hub": hub_url, "sent": 0, "applied": 0, "duplicates": 0, "rejected": 0, "conflicts": 0,
            "requeued": 0, "epoch_changed": False, "batches": 0, "photos": 0, "photo_bytes": 0,
            "photos_on_hub": 0, "photo_errors": [], "pulled": 0, "pull_conflicts": 0, "retries": 0,
            "dead_letters": [], "stopped": None, "error": None,
        }

    # -- budget and retries
    def _remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def _check_budget(self) -> None:
        r = self._remaining()
        if r is not None and r <= 0.05:
            raise _Stop("budget")

    def _failed(self, exc: TransportError) -> None:
        self.res["retries"] += 1
        self.last_error = str(exc)
        delay = self.bo.next_delay(exc.retry_after)
        r = self._remaining()
        if self.bo.failures > self.cfg.max_failures or (r is not None and delay > r):
            self.next_delay = delay
            if exc.retry_after is not None:
                self.retry_after_until = _backoff.at_iso(exc.retry_after)
            raise _Stop("offline" if r is None or delay <= r else "budget")
        self.progress.info(waiting=delay, error=str(exc))
        self.sleep(delay)

    # -- run
    def run(self) -> dict[str, Any]:
        try:
            self._honour_retry_after()
            self._push()
            pulled = self._pull()
            if pulled.get("epoch_changed") or pulled.get("requeued"):
                self._push()
                self._pull()
            self._blobs()
        except _Stop as s:
            self.res["stopped"] = s.reason
        except HubRefused as e:
            self.res["error"] = self._refused_message(e)
        finally:
            self._finish()
        return self.res

    def _honour_retry_after(self) -> None:
        wait = _backoff.seconds_until(self.store.meta("retry_after_until"))
        if wait <= 0:
            return
        r = self._remaining()
        if r is not None and wait > r:
            self.retry_after_until = self.store.meta("retry_after_until")
            self.last_error = _("the hub asked to wait before the next sync")
            raise _Stop("hub_asked_to_wait")
        self.progress.info(waiting=wait, error=_("the hub asked to wait"))
        self.sleep(wait)

    def _refused_message(self, e: HubRefused) -> str:
        """By the hub's error code, in the interface language (sync.refusals)."""
        from .refusals import sync_message

        return sync_message(e)

    # -- push
    def _push(self) -> None:
        """Batches in seq order. While the hub works on batch N+1 the laptop marks batch N
        (one exchange in flight at a time; marking never waits on the network)."""
        from concurrent.futures import ThreadPoolExecutor

        store = self.store
        device_id = store.meta("device_id")
        if not device_id:
            raise SyncError(_("this store has no device id: run `fieldreport init`"))
        summary = sync_state.pending_summary(store)
        if summary["ops"]:
            self._probe()
            summary = sync_state.pending_summary(store)
        self.progress.phase("push", summary["ops"], "ops")
        pool = ThreadPoolExecutor(1, thread_name_prefix="fieldreport-push")

        def send(rows):
            body = push_body(device_id, store.meta("hub_epoch"), rows)
            self.progress.info(batch=len(rows))
            t_start = time.monotonic()
            up0 = self.t.stats.bytes_up
            resp = self.t.push(body)
            return resp, time.monotonic() - t_start, self.t.stats.bytes_up - up0

        after, first, passes = 0, True, 0
        rows, fut = [], None
        try:
            while True:
                if fut is None:
                    self._check_budget()
                    rows = sync_state.next_batch(store, after, self.batch, self.cfg.batch_max_bytes)
                    if not rows:
                        break
                    fut = pool.submit(send, rows)
                try:
                    resp, elapsed, nbytes = fut.result()
                except TransportError as e:
                    fut = None
                    if isinstance(e, LinkError) and e.timeout:
                        self.batch = max(1, len(rows) // 2)
                    sync_state.note_failure(store, rows, str(e))
                    self._failed(e)
                    continue
                except HubRefused as e:
                    fut = None
                    if e.status in (401, 403):
                        raise
                    if len(rows) > 1:
                        self.batch = max(1, len(rows) // 2)   # find the entry the hub cannot take
                        continue
                    sync_state.dead_letter(store, rows[0], e.status, e.error, e.detail, e.field)
                    self.res["rejected"] += 1
                    self.res["dead_letters"].append({"seq": rows[0][0], "type": rows[0][2], "reason": e.detail})
                    after = rows[0][0]
                    continue
                crash_point("after_hub_answer")
                if elapsed < self.cfg.grow_below_s and len(rows) >= self.batch:
                    self.batch = min(self.cfg.batch_max, self.batch * 2)
                # send the next batch now, mark this one while the hub works
                nxt, nfut = [], None
                if not first and not self._out_of_time():
                    nxt = sync_state.next_batch(store, rows[-1][0], self.batch, self.cfg.batch_max_bytes)
                    if nxt:
                        nfut = pool.submit(send, nxt)
                m = sync_state.mark_results(store, rows, resp, check_rollback=first)
                crash_point("after_mark")
                first = False
                self.bo.reset()
                self.res["batches"] += 1
                self.res["sent"] += len(rows)
                for k in ("applied", "duplicates", "rejected", "conflicts", "requeued"):
                    self.res[k] += getattr(m, k)
                self.res["dead_letters"] += m.dead
                if m.epoch_changed:
                    self.res["epoch_changed"] = True
                self.progress.advance(len(rows), nbytes)
                if m.requeued and passes < 3:
                    passes += 1
                    if nfut is not None:        # its answer is valid: mark it, then start again from 0
                        try:
                            r2, _e, _n = nfut.result()
                            sync_state.mark_results(store, nxt, r2)
                        except (TransportError, HubRefused):
                            pass
                    nfut, nxt, after = None, [], 0
                    summary = sync_state.pending_summary(store)
                    self.progress.phase("push", summary["ops"], "ops")
                else:
                    after = rows[-1][0]
                rows, fut = nxt, nfut
        finally:
            if fut is not None:
                fut.cancel()
                try:
                    fut.result()
                except BaseException:  # noqa: BLE001 — the run is ending; the batch stays pending
                    pass
            pool.shutdown(wait=True)

    def _probe(self) -> None:
        """One small pull (limit 1, changes not applied): the hub's epoch and acked_through."""
        while True:
            self._check_budget()
            try:
                page = self.t.pull(int(self.store.meta("pull_cursor") or 0), 1)
            except TransportError as e:
                self._failed(e)
                continue
            m = sync_state.check_hub(self.store, page["epoch"], int(page.get("acked_through") or 0))
            self.bo.reset()
            self.res["requeued"] += m.requeued
            if m.epoch_changed:
                self.res["epoch_changed"] = True
            return

    # -- pull
    def _pull(self) -> dict[str, Any]:
        from .pull import pull_all

        self.progress.phase("pull", 0, "changes")
        while True:
            self._check_budget()
            try:
                out = pull_all(self.store, self.t, limit=self.cfg.pull_limit,
                               on_page=lambda o: self.progress.advance(0), should_stop=self._out_of_time,
                               crash=crash_point)
            except TransportError as e:
                self._failed(e)
                continue
            self.bo.reset()
            self.res["pulled"] += out["changes"]
            self.res["pull_conflicts"] += out["conflicts"]
            self.res["requeued"] += out["requeued"]
            if out["epoch_changed"]:
                self.res["epoch_changed"] = True
            if out.get("stopped"):
                raise _Stop("budget")
            return out

    def _out_of_time(self) -> bool:
        r = self._remaining()
        return r is not None and r <= 0.05

    # -- photos
    def _blobs(self) -> None:
        if self.blobstore is None:
            return
        cands = sync_state.blobs_pending(self.store, self.blobstore, self.originals)
        uniq: dict[str, dict] = {}
        for c in cands:
            uniq.setdefault(c["sha256"], c)
        if not uniq:
            return
        self.progress.phase("photos", sum(int(c.get("size") or 0) for c in uniq.values()), "bytes")
        missing: set[str] = set()
        hashes = list(uniq)
        i = 0
        while i < len(hashes):
            self._check_budget()
            part = hashes[i:i + 500]
            try:
                missing |= set(self.t.blobs_missing(part))
            except TransportError as e:
                self._failed(e)
                continue
            self.bo.reset()
            i += len(part)
        for sha in hashes:
            if sha not in missing:
                sync_state.mark_blob_uploaded(self.store, sha)
                self.res["photos_on_hub"] += 1
                self.progress.advance(0, int(uniq[sha].get("size") or 0))
        for sha in hashes:
            if sha in missing:
                self._upload(uniq[sha])

    def _open(self, entry: dict):
        opener = getattr(self.blobstore, "open_read", None)
        if opener is not None and self.blobstore.has(entry["sha256"]):  # copies too: sealed on an encrypted laptop
            return opener(entry["sha256"])
        return open(entry.get("path") or self.blobstore.path(entry["sha256"]), "rb")

    def _upload(self, entry: dict) -> None:
        sha, size = entry["sha256"], int(entry.get("size") or 0)
        bad_chunks = 0
        while True:
            self._check_budget()
            try:
                f = self._open(entry)
            except OSError as e:
                self.res["photo_errors"].append({"sha256": sha, "error": _("the photo file is missing or unreadable "
                                                                         "({err})").format(err=e.strerror or e)})
                return
            try:
                off = self.t.blob_offset(sha)
                _seek(f, off)
                while off < size:
                    self._check_budget()
                    chunk = f.read(min(self.cfg.chunk_size, size - off))
                    if not chunk:
                        self.res["photo_errors"].append({"sha256": sha, "error": _("the photo file is shorter than "
                                                                                 "recorded")})
                        return
                    try:
                        new, complete = self.t.blob_patch(sha, off, size, chunk)
                    except HubRefused as e:
                        if e.status == 409 and e.offset is not None:
                            off = e.offset
                            _seek(f, off)
                            continue
                        if e.status == 460 and bad_chunks < 3:
                            bad_chunks += 1
                            _seek(f, off)
                            continue
                        if e.status in (401, 403):
                            raise
                        self.res["photo_errors"].append({"sha256": sha, "error": self._refused_message(e)})
                        return
                    self.bo.reset()
                    self.res["photo_bytes"] += len(chunk)
                    self.progress.advance(0, len(chunk))
                    crash_point("mid_blob")
                    if new != off + len(chunk):
                        _seek(f, new)
                    off = new
                    if complete:
                        break
            except TransportError as e:
                self._failed(e)
                continue
            finally:
                f.close()
            sync_state.mark_blob_uploaded(self.store, sha)
            self.res["photos"] += 1
            return

    # -- end
    def _finish(self) -> None:
        store = self.store
        left = sync_state.left_counts(store)
        try:
            photos_left = len({c["sha256"] for c in sync_state.blobs_pending(store, self.blobstore, self.originals)}) \
                if self.blobstore is not None else 0
        except Exception:  # noqa: BLE001 — the summary must not fail the run
            photos_left = 0
        left["photos"] = photos_left
        self.res["left"] = left
        off = self.t.stats.clock_offset()
        self.res["clock_offset_s"] = round(off, 1) if off is not None else None
        self.res["hub_time"] = (_backoff.at_iso(0) if off is None else
                                _iso_at(time.time() + off))
        self.res["elapsed_s"] = round(time.monotonic() - self.t0, 3)
        self.res["requests"] = self.t.stats.requests
        self.res["bytes_up"] = self.t.stats.bytes_up
        self.res["bytes_down"] = self.t.stats.bytes_down
        if self.res["error"]:
            outcome = "error"
        elif self.res["stopped"] or any(left.values()):
            outcome = "left"
        else:
            outcome = "done"
        self.res["outcome"] = outcome
        self.res["last_error"] = self.last_error if outcome != "done" else None
        now = _backoff.at_iso(0)
        meta = {"last_sync": now,
                "last_sync_result": outcome if outcome == "done" else
                f"{outcome}: {self.res['error'] or self.res['stopped'] or ''}".rstrip(": ") +
                (f" ({self.last_error})" if self.last_error and not self.res["error"] else ""),
                "next_attempt_at": _backoff.at_iso(self.next_delay) if self.next_delay is not None else None,
                "retry_after_until": self.retry_after_until}
        if off is not None:
            meta["clock_offset_s"] = f"{off:.1f}"
        try:
            sync_state.set_metas(store, meta)
        except FieldReportError:
            pass
        self.res["next_attempt_at"] = meta["next_attempt_at"]


def _seek(f, off: int) -> None:
    try:
        f.seek(off)
    except (OSError, AttributeError, ValueError):  # a stream without seek: skip forward
        f.seek(0) if hasattr(f, "seek") else None
        left = off
        while left > 0:
            b = f.read(min(left, 1 << 20))
            if not b:
                break
            left -= len(b)


def _iso_at(t: float) -> str:
    import datetime as _dt

    return _dt.datetime.fromtimestamp(t, _dt.timezone.utc).isoformat(timespec="milliseconds")


def run_sync(store, transport, **kw) -> dict[str, Any]:
    with store.sync_durability():  # all the engine writes can be learned from the hub again
        return Engine(store, transport, **kw).run()


def dry_run(store, blobstore, originals: bool = False) -> dict[str, Any]:
    """What a sync would send, without contacting the hub."""
    s = sync_state.pending_summary(store)
    blobs = sync_state.blobs_pending(store, blobstore, originals) if blobstore is not None else []
    uniq = {b["sha256"]: b for b in blobs}
    left = sync_state.left_counts(store)
    return {"dry_run": True, "ops": s["ops"], "by_type": s["by_type"], "payload_bytes": s["payload_bytes"],
            "first_seq": s["first_seq"], "last_seq": s["last_seq"], "photos": len(uniq),
            "photo_bytes": sum(int(b.get("size") or 0) for b in uniq.values()),
            "dead_letters": left["rejected"] + left["conflict"],
            "outcome": "done" if not s["ops"] and not uniq and not left["rejected"] and not left["conflict"] else "left"}


# ----------------------------------------------------------------------------- entry point
def sync(paths, profile, open_store: Callable[[], Any], *, hub: str | None = None, max_time: float | None = None,
         dry: bool = False, ca_bundle: str | None = None, batch: int | None = None, originals: bool = False,
         progress: Progress | None = None, config: SyncConfig | None = None) -> dict[str, Any]:
    """``fieldreport sync``: take the lock, open the store, sync with the hub, return the summary."""
    from ..blobs import BlobStore
    from ..errors import InputError
    from ..profile import check, read_token

    url = hub or profile.hub_url
    if hub:
        url = check({"hub_url": hub})["hub_url"]
    if batch is not None and not (1 <= batch <= 5000):
        raise InputError(_("batch: give a number of operations from 1 to 5000"), "batch")
    if max_time is not None and max_time <= 0:
        raise InputError(_("max-time: give a number of seconds greater than 0"), "max_time")
    if ca_bundle and not os.path.isfile(ca_bundle):
        raise InputError(_("ca-bundle: {path} is not a file; give the station's certificate (PEM)").format(path=ca_bundle),
                         "ca_bundle")
    blobstore = BlobStore(paths.blobs)
    cfg = config or SyncConfig.from_env(batch_initial=batch)
    if dry:
        with open_store() as store:
            out = dry_run(store, blobstore, originals)
            out["hub"] = url
            return out
    if not url:
        raise InputError(_("hub: no hub set; give --hub URL or run `fieldreport login HUB_URL CODE`"), "hub")
    token = read_token(paths)
    if not token:
        raise SyncError(_("this laptop is not enrolled with a hub: run `fieldreport login HUB_URL CODE` with the "
                          "code from the station"))
    from .transport import HttpTransport

    with sync_lock(paths.sync_lock, cfg.lock_wait):
        with open_store() as store:
            t = HttpTransport(url, token, connect_timeout=cfg.connect_timeout, read_timeout=cfg.read_timeout,
                              ca_bundle=ca_bundle, gzip_level=cfg.gzip_level)
            try:
                return run_sync(store, t, blobstore=blobstore, config=cfg, max_time=max_time, originals=originals,
                                progress=progress, hub_url=url)
            finally:
                t.close()
