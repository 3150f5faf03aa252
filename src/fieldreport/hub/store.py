"""The hub's store: SQLAlchemy Core over SQLite (one file, WAL) or PostgreSQL. The only hub
code that writes SQL.

Writes are one transaction each. On SQLite they are serialised by a process lock and
``BEGIN IMMEDIATE`` (other processes: ``busy_timeout``); on PostgreSQL a push locks its
device's row, so two retries of the same batch run one after the other and the second finds
every ``op_id`` held. Pull-feed cursors come from one counter row updated inside the writing
transaction, so the cursor order is the commit order on both databases.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import secrets
import threading
import time
from contextlib import contextmanager
from itertools import chain
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy import event

from .. import ids
from ..i18n import _
from . import store_schema as t
from .errors import HubBusy, HubError, NotFoundError

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L
DEFAULT_CODE_TTL_H = 72
BUSY_MS = 10_000
CHECKPOINT_S = 0.5
WAL_BACKSTOP_PAGES = 16_384  # 64 MiB of WAL before a writer checkpoints it itself


def dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode("utf-8")


def loads(text: str | None) -> Any:
    return orjson.loads(text) if text else None


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def normalise_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


T = TypeVar("T")
_PENDING = object()



class _Queued:
    """One write waiting for (or run by) a group commit."""

    __slots__ = ("fn", "done", "result", "error")

    def __init__(self, fn: Callable[[sa.Connection], Any]):
        self.fn, self.done = fn, threading.Event()
        self.result: Any = _PENDING
        self.error: BaseException | None = None

    def outcome(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.result


class HubStore:
    """Open with :meth:`open` (``create=True`` makes the tables and the epoch)."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self._wlock = threading.Lock()
        self._flock_fd: int | None = None  # SQLite: the writers' lock file, shared by every process
        self._wconn: sa.Connection | None = None  # SQLite: the one connection writes go through
        self._ckpt: tuple[threading.Event, threading.Thread] | None = None  # see start_checkpointer
        # One thread at a time does a push's Python work (parse, checks, building rows) in this
        # process: threads taking turns at the GIL while one of them steps through SQLite (which
        # releases it at every step) cost more than they overlap — measured here, ~15-25% more
        # CPU per operation with four pushes at once. Released while a commit waits on the disk.
        # Parallelism comes from `serve --workers`. Taken after the write lock, never before it.
        self.cpu = threading.Lock()
        self._gmu = threading.Lock()  # guards _queue: the writes waiting for a group commit
        self._queue: list[_Queued] = []
        self._epoch: str | None = None
        self._prefix: str | None = None

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, url: str, *, create: bool = False, prefix: str = "HB") -> "HubStore":
        engine = make_engine(url)
        store = cls(engine)
        try:
            if create:
                store._create(prefix)
            elif not sa.inspect(engine).has_table("hub_meta"):
                raise NotFoundError(_("no hub database at {url}: run `fieldreport hub init` first").format(
                    url=safe_url(url)))
            version = int(store.meta("schema_version") or 0)
            if version > t.SCHEMA_VERSION:
                raise HubError(_("the hub database was written by a newer fieldreport (schema {version}); "
                                 "upgrade").format(version=version))
        except BaseException:
            engine.dispose()
            raise
        return store

    def _create(self, prefix: str) -> None:
        with self.write() as c:
            t.metadata.create_all(c)
            have = {r.key for r in c.execute(sa.select(t.hub_meta.c.key))}
            now = ids.utc_now_iso()
            for key, value in (("epoch", ids.uuid7()), ("created_at", now), ("case_prefix", prefix),
                               ("schema_version", str(t.SCHEMA_VERSION))):
                if key not in have:
                    c.execute(t.hub_meta.insert().values(key=key, value=value))
            if c.execute(sa.select(t.counters.c.name).where(t.counters.c.name == "cursor")).first() is None:
                c.execute(t.counters.insert().values(name="cursor", value=0))

    def close(self) -> None:
        self.stop_checkpointer()
        if self._wconn is not None:
            self._wconn.close()
            self._wconn = None
        self.engine.dispose()
        if self._flock_fd is not None:
            os.close(self._flock_fd)
            self._flock_fd = None

    def __enter__(self) -> "HubStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ transactions
    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """One write transaction (BEGIN IMMEDIATE on SQLite); rolled back on any exception.
        On SQLite, writers take turns (a thread lock, then the writers' lock file) and use one
        kept connection, whose page cache then stays warm from one batch to the next (a pooled
        connection per thread would find its cache stale after every other thread's commit)."""
        if not self.sqlite:
            with self.engine.connect().execution_options(fr_write=True) as conn, self._tx(conn):
                yield conn
            return
        if not self._wlock.acquire(timeout=BUSY_MS / 1000):
            raise HubBusy("the hub database is busy; try again")
        try:
            with self._sqlite_tx() as conn:
                yield conn
        finally:
            self._wlock.release()

    @contextmanager
    def _sqlite_tx(self) -> Iterator[sa.Connection]:
        """The SQLite write transaction, for a caller holding ``_wlock``: the writers' lock
        file, then BEGIN IMMEDIATE on the kept connection."""
        try:
            self._file_lock()
            if self._wconn is None or self._wconn.closed or self._wconn.invalidated:
                self._wconn = self.engine.connect().execution_options(fr_write=True)
                if self._ckpt is not None:  # the checkpoint thread copies the WAL; this is the backstop
                    self._wconn.connection.driver_connection.execute(
                        f"PRAGMA wal_autocheckpoint = {WAL_BACKSTOP_PAGES}")  # not through SQLAlchemy: no autobegin
            conn = self._wconn
            try:
                with self._tx(conn):
                    yield conn
            except BaseException:
                if conn.invalidated:
                    conn.close()
                    self._wconn = None
                raise
        finally:
            if self._flock_fd is not None:
                fcntl.flock(self._flock_fd, fcntl.LOCK_UN)

    def start_checkpointer(self, interval: float = CHECKPOINT_S) -> None:
        """SQLite: copy the WAL into the database file from a thread of its own, every
        ``interval`` seconds, with a PASSIVE checkpoint (it never waits for a writer nor blocks
        one) — instead of inside whichever commit takes the WAL past 1000 pages, which would
        hold the writers' lock meanwhile. The writer keeps an automatic checkpoint at
        WAL_BACKSTOP_PAGES in case this thread falls behind. ``hub serve`` runs one per process
        (two at once: one finds the other busy and waits for its next turn)."""
        path = self.engine.url.database
        if not self.sqlite or self._ckpt is not None or not path or path == ":memory:":
            return
        stop = threading.Event()

        def loop() -> None:
            import sqlite3

            raw = sqlite3.connect(path, check_same_thread=False)
            try:
                while not stop.wait(interval):
                    try:
                        raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    except sqlite3.Error:
                        pass  # busy or briefly unavailable: the next turn, or the writer's backstop
            finally:
                raw.close()

        with self._wlock:  # the next write's connection is made with the backstop setting
            if self._wconn is not None:
                self._wconn.close()
                self._wconn = None
            thread = threading.Thread(target=loop, name="hub-checkpoint", daemon=True)
            self._ckpt = (stop, thread)
        thread.start()

    def stop_checkpointer(self) -> None:
        if self._ckpt is not None:
            stop, thread = self._ckpt
            stop.set()
            thread.join(10)
            self._ckpt = None

    def write_grouped(self, fn: Callable[[sa.Connection], T]) -> T:
        """``fn(conn)`` inside a write transaction, and its result once that has committed.

        SQLite (group commit): the writes that queued up while another was running go into one
        transaction together, each in its own savepoint, so they share one commit — one fsync
        of the WAL instead of one each, which is most of a push's time under the write lock.
        One that raises is rolled back to its savepoint and raises in its own caller; the
        others commit. Whoever takes the lock first runs everything waiting; a caller whose
        write was run by another returns its outcome. Nothing returns before its commit.
        PostgreSQL: a plain :meth:`write` (concurrent writers commit on their own)."""
        if not self.sqlite:
            with self.write() as c:
                return fn(c)
        mine = _Queued(fn)
        with self._gmu:
            self._queue.append(mine)
        if not self._wlock.acquire(timeout=BUSY_MS / 1000):
            with self._gmu:
                if mine in self._queue:  # never started: refusing it loses nothing
                    self._queue.remove(mine)
                    raise HubBusy("the hub database is busy; try again")
            mine.done.wait()  # a writer holding the lock took it along: its outcome is ours
            return mine.outcome()
        try:
            if not mine.done.is_set():
                self._run_group()
        except BaseException:  # failed before taking the queue: this write never runs
            with self._gmu:
                if mine in self._queue:
                    self._queue.remove(mine)
            raise
        finally:
            self._wlock.release()
        return mine.outcome()

    def _run_group(self) -> None:
        """Run every queued write in one transaction. The queue is taken once the writers'
        lock file is held, so what arrived while waiting for another process goes along."""
        group: list[_Queued] = []
        try:
            with self._sqlite_tx() as c:
                with self._gmu:
                    group, self._queue = self._queue, []
                with self.cpu:  # the commit, at the end of the `with` above, runs without it
                    for q in group:
                        sp = c.begin_nested()
                        try:
                            q.result = q.fn(c)
                            sp.commit()
                        except Exception as e:  # noqa: BLE001 — raised again in its own caller
                            sp.rollback()
                            q.error = _busy_or_raise(e) if isinstance(e, sa.exc.OperationalError) else e
        except BaseException as e:  # the transaction itself failed: nothing of the group committed
            if not group:  # before the queue was taken (the writers' lock file): raised to the
                raise      # leader's caller; what the others queued waits for the next writer
            for q in group:
                q.result, q.error = None, q.error or e
            if not isinstance(e, Exception):
                raise
        finally:
            for q in group:
                if q.error is None and q.result is _PENDING:
                    q.error = HubBusy("the hub database is busy; try again")
                q.done.set()

    @staticmethod
    @contextmanager
    def _tx(conn: sa.Connection) -> Iterator[None]:
        try:
            with conn.begin():
                yield
        except sa.exc.OperationalError as e:
            raise _busy_or_raise(e) from None
        except sa.exc.DBAPIError as e:
            if _retryable(e):
                raise HubBusy("the hub database is busy; try again") from None
            raise

    def _file_lock(self) -> None:
        """Take the SQLite writers' lock file (``<db>-writer.lock``): one writer at a time across
        processes (``serve --workers``, station commands), handed over at once when released —
        SQLite's own busy handler would poll with sleeps of up to 100 ms. Waits at most BUSY_MS."""
        if self._flock_fd is None:
            path = self.engine.url.database
            if not path or path == ":memory:":
                return
            self._flock_fd = os.open(path + "-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + BUSY_MS / 1000
        while True:
            try:
                fcntl.flock(self._flock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise HubBusy("the hub database is busy; try again") from None
                time.sleep(0.0005)

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        with self.engine.connect() as conn:
            with conn.begin():
                yield conn

    # ------------------------------------------------------------------ meta, counters
    def meta(self, key: str, conn: sa.Connection | None = None) -> str | None:
        q = sa.select(t.hub_meta.c.value).where(t.hub_meta.c.key == key)
        if conn is not None:
            return conn.execute(q).scalar()
        with self.read() as c:
            return c.execute(q).scalar()

    def _set_meta(self, c: sa.Connection, key: str, value: str) -> None:
        if c.execute(t.hub_meta.update().where(t.hub_meta.c.key == key).values(value=value)).rowcount == 0:
            c.execute(t.hub_meta.insert().values(key=key, value=value))

    @property
    def epoch(self) -> str:
        if self._epoch is None:
            self._epoch = self.meta("epoch")
        return self._epoch

    @property
    def prefix(self) -> str:
        if self._prefix is None:
            self._prefix = self.meta("case_prefix") or "HB"
        return self._prefix

    _BUMP = (t.counters.update().where(t.counters.c.name == sa.bindparam("b_name"))
             .values(value=t.counters.c.value + sa.bindparam("b_by")).returning(t.counters.c.value))

    def _bump(self, c: sa.Connection, name: str, by: int = 1) -> int:
        """Add ``by`` to counter ``name`` (made at 0 if absent) and return the new value. The
        row stays locked until the transaction ends: this is what orders cursors by commit."""
        row = c.execute(self._BUMP, {"b_name": name, "b_by": by}).first()
        if row is None:  # a new counter (the year's first case code): two writers may both get here
            if self.sqlite:
                from sqlalchemy.dialects.sqlite import insert
            else:
                from sqlalchemy.dialects.postgresql import insert
            c.execute(insert(t.counters).on_conflict_do_nothing(), {"name": name, "value": 0})
            row = c.execute(self._BUMP, {"b_name": name, "b_by": by}).first()
        return int(row[0])

    def counter(self, name: str, conn: sa.Connection | None = None) -> int:
        q = sa.select(t.counters.c.value).where(t.counters.c.name == name)
        if conn is not None:
            return int(conn.execute(q).scalar() or 0)
        with self.read() as c:
            return int(c.execute(q).scalar() or 0)

    def new_epoch(self, carry: dict[str, int] | None = None) -> str:
        """Mark this database as restored: a new epoch, and counters carried forward from the
        database it replaces (``carry``: name → value), so no cursor or case code is reissued."""
        epoch = ids.uuid7()
        with self.write() as c:
            self._set_meta(c, "epoch", epoch)
            self._set_meta(c, "restored_at", ids.utc_now_iso())
            for name, value in (carry or {}).items():
                cur = c.execute(sa.select(t.counters.c.value).where(t.counters.c.name == name)).scalar()
                if cur is None:
                    c.execute(t.counters.insert().values(name=name, value=value))
                elif cur < value:
                    c.execute(t.counters.update().where(t.counters.c.name == name).values(value=value))
        self._epoch = epoch
        return epoch

    def counters(self) -> dict[str, int]:
        with self.read() as c:
            return {r.name: int(r.value) for r in c.execute(sa.select(t.counters))}

    # ------------------------------------------------------------------ officers, enrollment, devices
    def issue_code(self, officer_id: str, name: str, area: str | None, role: str | None = None,
                   ttl_hours: float = DEFAULT_CODE_TTL_H) -> dict[str, Any]:
        """Create or update the officer (``area`` and ``role`` are kept when not given) and issue
        a one-time enrollment code (only its hash is kept). Returns {code, officer_id, expires_at}."""
        import datetime as dt

        raw = "".join(secrets.choice(CODE_ALPHABET) for _i in range(12))
        code = f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"
        now = dt.datetime.now(dt.timezone.utc)
        expires = (now + dt.timedelta(hours=ttl_hours)).isoformat(timespec="milliseconds")
        with self.write() as c:
            row = c.execute(sa.select(t.officers).where(t.officers.c.officer_id == officer_id)).first()
            values = {"name": name, **{k: v for k, v in (("area", area), ("role", role)) if v is not None}}
            if row is None:
                c.execute(t.officers.insert().values(officer_id=officer_id, created_at=ids.utc_now_iso(), **values))
            else:
                c.execute(t.officers.update().where(t.officers.c.officer_id == officer_id).values(**values))
            c.execute(t.enroll_codes.insert().values(code_hash=sha256_hex(normalise_code(code)), officer_id=officer_id,
                                                     created_at=now.isoformat(timespec="milliseconds"),
                                                     expires_at=expires))
        return {"code": code, "officer_id": officer_id, "expires_at": expires}

    def enroll(self, code: str, device_id: str, name: str | None) -> dict[str, Any]:
        """Spend a one-time code: the device gets a new token (any older token of the device is
        replaced). Raises Unauthorized for an unknown, used or expired code."""
        from .errors import Unauthorized

        now = ids.utc_now_iso()
        token = secrets.token_urlsafe(32)
        with self.write() as c:
            ch = sha256_hex(normalise_code(code))
            spent = c.execute(t.enroll_codes.update()
                              .where(t.enroll_codes.c.code_hash == ch, t.enroll_codes.c.used_at.is_(None),
                                     t.enroll_codes.c.expires_at > now)
                              .values(used_at=now, device_id=device_id)
                              .returning(t.enroll_codes.c.officer_id)).first()
            if spent is None:
                raise Unauthorized("enrollment code is unknown, used or expired; ask the station for a new one",
                                   "code", error="bad_code")
            officer = c.execute(sa.select(t.officers).where(t.officers.c.officer_id == spent[0])).first()
            existing = c.execute(sa.select(t.devices).where(t.devices.c.device_id == device_id)).first()
            values = dict(officer_id=officer.officer_id, name=name or "", token_hash=sha256_hex(token),
                          enrolled_at=now, revoked_at=None)
            if existing is None:
                c.execute(t.devices.insert().values(device_id=device_id, acked_through=0, **values))
            else:
                if existing.officer_id != officer.officer_id:
                    from .errors import Forbidden

                    raise Forbidden(f"device {device_id} is enrolled for another officer; the station must "
                                    f"revoke it first", "device_id")
                c.execute(t.devices.update().where(t.devices.c.device_id == device_id).values(**values))
        return {"token": token, "device_id": device_id, "officer_id": officer.officer_id, "name": officer.name,
                "area": officer.area}

    def device_for_token(self, token: str) -> dict[str, Any] | None:
        """The enrolled, unrevoked device holding ``token`` (with its officer's area)."""
        q = (sa.select(t.devices.c.device_id, t.devices.c.officer_id, t.devices.c.revoked_at, t.officers.c.area,
                       t.officers.c.name)
             .join(t.officers, t.officers.c.officer_id == t.devices.c.officer_id)
             .where(t.devices.c.token_hash == sha256_hex(token)))
        with self.read() as c:
            row = c.execute(q).first()
        if row is None or row.revoked_at is not None:
            return None
        return {"device_id": row.device_id, "officer_id": row.officer_id, "area": row.area, "officer_name": row.name}

    def devices(self) -> list[dict[str, Any]]:
        q = (sa.select(t.devices.c.device_id, t.devices.c.officer_id, t.devices.c.name, t.devices.c.enrolled_at,
                       t.devices.c.revoked_at, t.devices.c.acked_through, t.devices.c.last_seen_at,
                       t.officers.c.name.label("officer_name"), t.officers.c.area)
             .join(t.officers, t.officers.c.officer_id == t.devices.c.officer_id)
             .order_by(t.devices.c.enrolled_at))
        with self.read() as c:
            return [dict(r._mapping) for r in c.execute(q)]

    def revoke(self, device_id: str) -> None:
        with self.write() as c:
            n = c.execute(t.devices.update().where(t.devices.c.device_id == device_id, t.devices.c.revoked_at.is_(None))
                          .values(revoked_at=ids.utc_now_iso())).rowcount
        if n == 0:
            raise NotFoundError(_("no enrolled device {device_id}; `fieldreport hub devices` lists them").format(
                device_id=device_id))

    def officer(self, officer_id: str, conn: sa.Connection | None = None) -> dict[str, Any] | None:
        q = sa.select(t.officers).where(t.officers.c.officer_id == officer_id)
        if conn is not None:
            row = conn.execute(q).first()
        else:
            with self.read() as c:
                row = c.execute(q).first()
        return dict(row._mapping) if row else None

    def acked_through(self, device_id: str) -> int:
        with self.read() as c:
            return int(c.execute(sa.select(t.devices.c.acked_through)
                                 .where(t.devices.c.device_id == device_id)).scalar() or 0)

    # ------------------------------------------------------------------ push and pull
    def push(self, device: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
        """Apply a batch of operations in one transaction; see ``store_push``."""
        from .store_push import push

        return push(self, device, ops)

    def emit(self, c: sa.Connection, changes: list[dict[str, Any]]) -> None:
        """Append changes to the pull feed inside the caller's transaction (call last: the
        cursor row stays locked until commit)."""
        if not changes:
            return
        top = self._bump(c, "cursor", len(changes))
        ts = ids.utc_now_iso()
        first = top - len(changes) + 1
        insert_rows(c, t.changes, ("cursor", "type", "entity", "payload", "ts", "device_id", "officer_id", "area"),
                    [(first + i, ch["type"], ch["entity"], dumps(ch["payload"]), ts, ch.get("device_id"),
                      ch.get("officer_id"), ch.get("area")) for i, ch in enumerate(changes)])

    def pull(self, device: dict[str, Any], cursor: int, limit: int, *,
             own_case_codes: bool = True) -> dict[str, Any]:
        """The changes this device should see after ``cursor``, in commit order. Without
        ``own_case_codes``, not the ``report.case_code`` of the device's own creates: it was
        given in the push's answer (``applied`` or ``duplicate``), which the laptop records."""
        ch = t.changes
        with self.read() as c:
            top = self.counter("cursor", c)
            mine = ch.c.device_id == device["device_id"]
            if not own_case_codes:
                mine = sa.and_(mine, ch.c.type != "report.case_code")
            seen = sa.or_(mine, ch.c.officer_id == device["officer_id"],
                          sa.and_(ch.c.device_id.is_(None), ch.c.officer_id.is_(None),
                                  sa.or_(ch.c.area.is_(None), ch.c.area == device["area"])))
            rows = c.execute(sa.select(ch).where(ch.c.cursor > cursor, ch.c.cursor <= top, seen)
                             .order_by(ch.c.cursor).limit(limit + 1)).all()
            acked = int(c.execute(sa.select(t.devices.c.acked_through)
                                  .where(t.devices.c.device_id == device["device_id"])).scalar() or 0)
        has_more = len(rows) > limit
        rows = rows[:limit]
        return {
            "cursor": rows[-1].cursor if has_more else top,
            "has_more": has_more,
            "acked_through": acked,
            "changes": [{"cursor": r.cursor, "type": r.type, "entity": r.entity, "payload": loads(r.payload),
                         "ts": r.ts} for r in rows],
        }

    # ------------------------------------------------------------------ station side
    def station(self):
        from .store_station import StationOps

        return StationOps(self)

    # ------------------------------------------------------------------ backup
    def backup(self, dest: Path) -> None:
        """A consistent copy of a SQLite hub (``VACUUM INTO``); PostgreSQL: use pg_dump."""
        if not self.sqlite:
            raise HubError(_("backup of a PostgreSQL hub: use pg_dump (then `fieldreport hub restore --db URL` "
                           "after pg_restore)"))
        dest = Path(dest)
        if dest.exists():
            from .errors import BadRequest

            raise BadRequest(_("backup: {file} exists; give a new file name").format(file=dest), "file")
        raw = self.engine.raw_connection()  # outside any transaction: VACUUM cannot run in one
        try:
            raw.driver_connection.execute("VACUUM INTO ?", (str(dest),))
        finally:
            raw.close()
        os.chmod(dest, 0o600)


_SQLITE_ROWS = 500  # rows per statement: batches of 500 reuse one cached statement


def select_in(c: sa.Connection, table: sa.Table, cols: tuple[str, ...], key: str, values: list) -> list[tuple]:
    """``SELECT cols FROM table WHERE key IN (values)`` for hundreds of values, without
    building an expanding SQL expression each time: ``IN (?, …)`` in chunks of 500 on SQLite
    (a cached statement per chunk size), ``= ANY(%s)`` with one array parameter on PostgreSQL."""
    if not values:
        return []
    names = ", ".join(f'"{col}"' for col in cols)
    if c.dialect.name != "sqlite":
        return c.exec_driver_sql(f'SELECT {names} FROM "{table.name}" WHERE "{key}" = ANY(%s)', (list(values),)).all()
    out: list[tuple] = []
    for i in range(0, len(values), _SQLITE_ROWS):
        part = values[i:i + _SQLITE_ROWS]
        out += c.exec_driver_sql(f'SELECT {names} FROM "{table.name}" WHERE "{key}" IN ({", ".join("?" * len(part))})',
                                 tuple(part)).all()
    return out


def insert_rows(c: sa.Connection, table: sa.Table, cols: tuple[str, ...], rows: list[tuple]) -> None:
    """Insert many rows (tuples in ``cols`` order) inside the caller's transaction, at the
    driver's speed. On SQLite: multi-row ``INSERT … VALUES (…), (…)`` of up to 500 rows — not
    ``executemany``, whose one ``sqlite3_step`` per row releases and re-takes the GIL each
    time: while another push is being checked in another thread, every re-take waits for that
    thread's time slice (measured here: 68k rows/s alone, 6k with one busy thread; multi-row
    statements 84k and 21k). On PostgreSQL: ``COPY … FROM STDIN``. Constraints (the ``op_id``
    primary key above all) are the database's, as with any insert."""
    if not rows:
        return
    names = ", ".join(f'"{col}"' for col in cols)
    if c.dialect.name == "sqlite":
        one = "(" + ", ".join("?" * len(cols)) + ")"
        step = min(_SQLITE_ROWS, 32_000 // len(cols))
        for i in range(0, len(rows), step):
            part = rows[i:i + step]
            c.exec_driver_sql(f'INSERT INTO "{table.name}" ({names}) VALUES ' + ", ".join([one] * len(part)),
                              tuple(chain.from_iterable(part)))
        return
    # PostgreSQL: COPY … FROM STDIN, in the caller's transaction (rows streamed in one go;
    # ~2x executemany's pipeline and ~8x a multi-row VALUES through the driver's parser)
    import psycopg

    sql = f'COPY "{table.name}" ({names}) FROM STDIN'
    try:
        with c.connection.dbapi_connection.cursor() as cur, cur.copy(sql) as cp:
            for row in rows:
                cp.write_row(row)
    except psycopg.Error as e:  # as SQLAlchemy would have raised it (IntegrityError, OperationalError…)
        raise sa.exc.DBAPIError.instance(sql, None, e, psycopg.Error, dialect=c.dialect) from None


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return "(database)"


def make_engine(url: str) -> sa.Engine:
    u = sa.engine.make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        engine = sa.create_engine(u, connect_args={"check_same_thread": False, "timeout": BUSY_MS / 1000},
                                  pool_size=8, max_overflow=16)

        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn, _rec):
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (below)
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout = {BUSY_MS}")
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = FULL")
            cur.execute("PRAGMA cache_size = -16384")  # 16 MiB of pages per connection
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("fr_write") else "BEGIN")

        return engine
    if u.get_backend_name() == "postgresql":
        if u.drivername == "postgresql":
            u = u.set(drivername="postgresql+psycopg")
        return sa.create_engine(u, pool_size=8, max_overflow=16, pool_pre_ping=True)
    raise HubError(_("unsupported hub database {backend}: use sqlite:///FILE or postgresql://…").format(
        backend=repr(u.get_backend_name())))


def _retryable(e: sa.exc.DBAPIError) -> bool:
    code = getattr(getattr(e, "orig", None), "sqlstate", None)
    return code in ("40001", "40P01", "55P03")  # serialization failure, deadlock, lock not available


def _busy_or_raise(e: sa.exc.OperationalError) -> Exception:
    msg = str(e.orig)
    if "locked" in msg or "busy" in msg or _retryable(e):
        return HubBusy("the hub database is busy; try again")
    return e
