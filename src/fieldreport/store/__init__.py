"""The laptop's local store: one SQLite file, the only code on the laptop that writes SQL.

Every connection sets ``busy_timeout`` first, then WAL and ``synchronous=FULL``; every write
is one ``BEGIN IMMEDIATE`` transaction holding the domain change *and* its outbox operation,
so a crash, a kill or a flat battery leaves either both or neither.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from ..i18n import _
from .. import ids
from ..errors import InputError, NotFound, StoreCorrupt, StoreLocked
from ..canon import op_hash
from ..crashpoints import crash_point
from . import schema

DEFAULT_BUSY_MS = 10_000
# Outbox states of an entry the hub has not confirmed (discarded and purged entries are done).
UNSYNCED = "('pending', 'rejected', 'conflict')"
SEARCH_FEW = 1000  # up to this many matches (search, queue), `list` sorts them; above, it walks the index


def _busy_ms() -> int:
    try:
        return int(os.environ.get("FIELDREPORT_BUSY_TIMEOUT_MS", DEFAULT_BUSY_MS))
    except ValueError:
        return DEFAULT_BUSY_MS


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


class Store:
    """Open with :meth:`open`; use as a context manager to close."""

    def __init__(self, conn: sqlite3.Connection, path: Path):
        self.conn = conn
        self.path = path

    # ---------------------------------------------------------------- opening
    @classmethod
    def open(cls, path: Path, *, create: bool = False, key: str | None = None) -> "Store":
        path = Path(path)
        if not path.exists() and not create:
            raise NotFound(_("no store at {path}: run `fieldreport init` first").format(path=path))
        if create:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        conn = _connect(path, key)
        store = cls(conn, path)
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version < len(schema.MIGRATIONS):
                schema.migrate(conn)
            elif version > len(schema.MIGRATIONS):
                conn.close()
                raise StoreCorrupt(_("store {path} was written by a newer fieldreport (schema {version}); upgrade fieldreport").format(path=path, version=version))
        except sqlite3.DatabaseError as e:
            conn.close()
            raise _translate(e, path) from None
        for suffix in ("", "-wal", "-shm"):
            p = Path(str(path) + suffix)
            if p.exists() and p.stat().st_mode & 0o077:
                p.chmod(0o600)
        return store

    def close(self) -> None:
        self.conn.close()

    @property
    def db(self):
        """The same connection as a ``sqlite_utils.Database``, for maintenance code (migrations,
        doctor, table statistics). Not used on the `add`/`list` paths: importing sqlite-utils
        costs ~110 ms of start-up."""
        import sqlite_utils

        return sqlite_utils.Database(self.conn)

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _begin_immediate(self) -> None:
        """BEGIN IMMEDIATE, waiting for another process's write for at most the busy timeout.
        While another holds the lock, ask again every few milliseconds: SQLite's own busy
        handler sleeps up to 100 ms between tries, and against a process committing back to
        back (the lock free only for the moment between two transactions) it can miss every
        moment for seconds (tests/test_store.py)."""
        conn = self.conn
        busy = _busy_ms()
        deadline = time.monotonic() + busy / 1000
        conn.execute("PRAGMA busy_timeout = 0")  # for BEGIN only: the waiting is done here
        try:
            delay = 0.0005
            while True:
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as e:
                    if ("locked" not in str(e) and "busy" not in str(e)) or time.monotonic() >= deadline:
                        raise _translate(e, self.path) from None
                time.sleep(delay)
                delay = min(delay * 1.5, 0.004)
        finally:
            conn.execute(f"PRAGMA busy_timeout = {busy}")  # every other statement: SQLite's handler

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One BEGIN IMMEDIATE transaction; rolled back on any exception."""
        self._begin_immediate()
        try:
            yield self.conn
            self.conn.execute("COMMIT")
        except BaseException as e:
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            if isinstance(e, sqlite3.DatabaseError):
                raise _translate(e, self.path) from None
            raise

    @contextmanager
    def sync_durability(self) -> Iterator[None]:
        """For ``fieldreport sync``'s own bookkeeping: commits that do not wait for the disk
        (``synchronous = NORMAL`` in WAL mode: the store stays consistent; a power cut may undo
        the last few commits). Everything sync records — which entries the hub answered, the
        pulled changes with their cursor, upload offsets — can be learned from the hub again: a
        lost mark means the entry is sent again and answered ``duplicate``, a lost page is pulled
        again. What a person enters is never written under this (other connections, and this
        one outside the block, commit with ``synchronous = FULL``)."""
        self.conn.execute("PRAGMA synchronous = NORMAL")
        try:
            yield
        finally:
            self.conn.execute("PRAGMA synchronous = FULL")

    # ---------------------------------------------------------------- meta
    def meta(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str | None, conn: sqlite3.Connection | None = None) -> None:
        c = conn or self.conn
        if value is None:
            c.execute("DELETE FROM meta WHERE key = ?", (key,))
        else:
            c.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                      (key, value))

    def _next(self, c: sqlite3.Connection, key: str) -> int:
        row = c.execute(
            "INSERT INTO meta (key, value) VALUES (?, '1') ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1 "
            "RETURNING value", (key,)).fetchone()
        return int(row[0])

    # ---------------------------------------------------------------- outbox
    def append_op(self, c: sqlite3.Connection, type_: str, entity: str, payload: dict[str, Any],
                  ts: str | None = None) -> dict[str, Any]:
        """Append one operation to the outbox inside the caller's transaction: the next
        per-device sequence, a Lamport clock, and the hash of the previous operation."""
        device_id = self.meta("device_id")
        if not device_id:
            raise InputError(_("this store has no device id: run `fieldreport init`"))
        seq = self._next(c, "op_seq")
        clock = self._next(c, "clock")
        prev = c.execute("SELECT hash FROM outbox WHERE seq < ? ORDER BY seq DESC LIMIT 1", (seq,)).fetchone()
        op = {
            "op_id": ids.uuid7(),
            "device_id": device_id,
            "seq": seq,
            "clock": clock,
            "ts": ts or ids.now_iso(),
            "type": type_,
            "entity": entity,
            "payload": payload,
            "prev_hash": prev[0] if prev else None,
        }
        op["hash"] = op_hash(op)
        c.execute(
            "INSERT INTO outbox (seq, op_id, type, entity, payload, clock, ts, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?)",
            (seq, op["op_id"], type_, entity, _dumps(payload), clock, op["ts"], op["prev_hash"], op["hash"]))
        return op

    def outbox_counts(self) -> dict[str, int]:
        return dict(self.conn.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())

    def queued_by_kind(self) -> dict[str, int]:
        rows = self.conn.execute(
            "SELECT coalesce(r.kind, substr(o.type, 1, instr(o.type, '.') - 1)), count(*) FROM outbox o "
            "LEFT JOIN reports r ON r.id = o.entity WHERE o.state = 'pending' GROUP BY 1").fetchall()
        return dict(rows)

    def ops(self, *, states: tuple[str, ...] = ("pending",), after_seq: int = 0, limit: int = 500,
            entity: str | None = None) -> list[dict[str, Any]]:
        q = (f"SELECT seq, op_id, type, entity, payload, clock, ts, prev_hash, hash, state, result, attempts, last_error "
             f"FROM outbox WHERE state IN ({','.join('?' * len(states))}) AND seq > ?")
        args: list[Any] = [*states, after_seq]
        if entity:
            q += " AND entity = ?"
            args.append(entity)
        q += " ORDER BY seq LIMIT ?"
        args.append(limit)
        return [_op_row(r) for r in self.conn.execute(q, args)]

    # ---------------------------------------------------------------- reports
    def insert_report(self, fields: dict[str, Any], *, author: str | None, status: str = "registered") -> dict[str, Any]:
        """Insert a validated report with its parties and photos, and its ``report.create``
        operation, in one transaction. Returns {id, ref, seq, op_id}."""
        return self.insert_reports([(fields, status)], author=author)[0]

    def insert_reports(self, items: list[tuple[dict[str, Any], str]], *, author: str | None) -> list[dict[str, Any]]:
        """Insert several (fields, status) reports in ONE transaction: all recorded or none."""
        out = []
        with self.write() as c:
            for fields, status in items:
                out.append(self._insert_one(c, fields, author, status))
            crash_point("insert_report:before_commit")
        crash_point("insert_report:after_commit")
        return out

    def _insert_one(self, c: sqlite3.Connection, fields: dict[str, Any], author: str | None,
                    status: str) -> dict[str, Any]:
        rid = ids.uuid7()
        ts = ids.now_iso()
        n = self._next(c, "report_seq")
        ref = f"R-{n:04d}"
        payload = dict(fields)
        payload.update(ref=ref, status=status, created_at=ts, author=author)
        c.execute(
            "INSERT INTO reports (id, ref, kind, category, level, title, details, place, lat, lon, premises_id, "
            "inspection_id, item_id, dept, deadline, status, archived, author, created_at, updated_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,0,?,?,?)",
            (rid, ref, fields["kind"], fields.get("category"), fields.get("level"), fields["title"],
             fields.get("details") or "", fields.get("place") or "", fields.get("lat"), fields.get("lon"),
             fields.get("premises_id"), fields.get("inspection_id"), fields.get("item_id"), fields.get("dept"),
             fields.get("deadline"), status, author, ts, ts))
        for i, p in enumerate(fields.get("parties") or []):
            c.execute("INSERT INTO parties (id, report_id, idx, name, role, id_number, phone, address, id_verified) "
                      "VALUES (?,?,?,?,?,?,?,?,?)",
                      (ids.uuid7(), rid, i, p["name"], p["role"], p.get("id"), p.get("phone"), p.get("address"),
                       1 if p.get("id_verified", True) else 0))
        for ph in fields.get("photos") or []:
            self._insert_photo(c, rid, ph, ts)
        crash_point("insert_report:before_op")
        op = self.append_op(c, "report.create", rid, payload, ts)
        return {"id": rid, "ref": ref, "seq": op["seq"], "op_id": op["op_id"]}

    def _insert_photo(self, c: sqlite3.Connection, rid: str, ph: dict[str, Any], ts: str) -> None:
        c.execute("INSERT INTO blobs (sha256, size, mime, created_at) VALUES (?,?,?,?) ON CONFLICT(sha256) DO NOTHING",
                  (ph["sha256"], ph["size"], ph["mime"], ts))
        c.execute("INSERT INTO photos (id, report_id, sha256, size, mime, name, added_at) VALUES (?,?,?,?,?,?,?)",
                  (ids.uuid7(), rid, ph["sha256"], ph["size"], ph["mime"], ph.get("name", ""), ts))

    def resolve_ref(self, ref: str) -> str:
        """The report id for a short ref (``R-0007``, ``r7``, ``7``), a case code, or a unique id prefix."""
        r = ref.strip()
        if not r:
            raise InputError(_("ref: give a report reference such as R-0001 or an id prefix"), "ref")
        cand = r.upper()
        if cand.startswith("R-") or cand.startswith("R") and cand[1:].isdigit() or cand.isdigit():
            digits = cand.lstrip("R-")
            if digits.isdigit():
                row = self.conn.execute("SELECT id FROM reports WHERE ref = ?", (f"R-{int(digits):04d}",)).fetchone()
                if row:
                    return row[0]
        row = self.conn.execute("SELECT id FROM reports WHERE case_code = ?", (r,)).fetchone()
        if row:
            return row[0]
        if len(r) >= 4:
            rows = id_prefix_matches(self.conn, "reports", r)
            if len(rows) == 1:
                return rows[0]
            if len(rows) > 1:
                raise InputError(_("ref: {r!r} matches more than one report; give more of the id").format(r=r), "ref")
        raise NotFound(_("no report matches {r!r}; `fieldreport list` shows the refs").format(r=r))

    def report(self, rid: str) -> dict[str, Any]:
        c = self.conn
        row = c.execute("SELECT * FROM reports WHERE id = ?", (rid,)).fetchone()
        if row is None:
            raise NotFound(_("no report {rid}").format(rid=rid))
        rep = _row_dict(c, row)
        rep["parties"] = [
            {"name": p[0], "role": p[1], "id": p[2], "phone": p[3], "address": p[4], "id_verified": bool(p[5])}
            for p in c.execute("SELECT name, role, id_number, phone, address, id_verified FROM parties "
                               "WHERE report_id = ? ORDER BY idx", (rid,))]
        rep["photos"] = [
            {"sha256": p[0], "size": p[1], "mime": p[2], "name": p[3], "added_at": p[4]}
            for p in c.execute("SELECT sha256, size, mime, name, added_at FROM photos WHERE report_id = ? "
                               "ORDER BY added_at, id", (rid,))]
        rep["notes"] = [
            {"id": n[0], "text": n[1], "author": n[2], "created_at": n[3], "source": n[4]}
            for n in c.execute("SELECT id, text, author, created_at, source FROM notes WHERE report_id = ? "
                               "ORDER BY created_at, id", (rid,))]
        rep["archived"] = bool(rep["archived"])
        rep["unsynced"] = self._unsynced(rid)
        return rep

    def _unsynced(self, rid: str) -> int:
        return self.conn.execute(f"SELECT count(*) FROM outbox WHERE entity = ? AND state IN {UNSYNCED}", (rid,)).fetchone()[0]

    def history(self, rid: str) -> list[dict[str, Any]]:
        """Local operations and the hub's changes on one report, in time order."""
        out = [
            {"ts": r[0], "type": r[1], "payload": json.loads(r[2]), "source": "local", "state": r[3], "seq": r[4]}
            for r in self.conn.execute("SELECT ts, type, payload, state, seq FROM outbox WHERE entity = ? ORDER BY seq",
                                       (rid,))]
        out += [
            {"ts": r[0], "type": r[1], "payload": json.loads(r[2]), "source": "hub", "cursor": r[3]}
            for r in self.conn.execute("SELECT ts, type, payload, cursor FROM inbox WHERE entity = ? ORDER BY cursor",
                                       (rid,))]
        out.sort(key=lambda e: e["ts"])
        return out

    def update_report(self, rid: str, changes: list[tuple[str, dict[str, Any]]],
                      photos: list[dict[str, Any]] = (), check=None) -> list[dict[str, Any]]:
        """Apply a list of (op type, payload) changes to one report in one transaction.
        ``check(current_row, changes)`` runs inside the transaction (e.g. the workflow rules),
        so two processes cannot both move a report from the same status."""
        ts = ids.now_iso()
        done = []
        with self.write() as c:
            cur = c.execute("SELECT * FROM reports WHERE id = ?", (rid,)).fetchone()
            if cur is None:
                raise NotFound(_("no report {rid}").format(rid=rid))
            current = _row_dict(c, cur)
            if check:
                changes = check(current, changes)
            for type_, payload in changes:
                if type_ == "report.status":
                    c.execute("UPDATE reports SET status = ?, updated_at = ? WHERE id = ?", (payload["to"], ts, rid))
                    if payload.get("note"):
                        c.execute("INSERT INTO notes (id, report_id, text, author, created_at) VALUES (?,?,?,?,?)",
                                  (ids.uuid7(), rid, payload["note"], payload.get("author"), ts))
                elif type_ == "report.set":
                    col = payload["field"]
                    if col not in ("level", "dept", "deadline", "title", "details", "place", "lat", "lon"):
                        raise InputError(_("{col}: cannot be changed").format(col=col), col)
                    c.execute(f"UPDATE reports SET {col} = ?, updated_at = ? WHERE id = ?", (payload["new"], ts, rid))
                elif type_ == "report.note":
                    c.execute("INSERT INTO notes (id, report_id, text, author, created_at) VALUES (?,?,?,?,?)",
                              (payload["note_id"], rid, payload["text"], payload.get("author"), ts))
                elif type_ == "report.archive":
                    c.execute("UPDATE reports SET archived = ?, updated_at = ? WHERE id = ?",
                              (1 if payload["archived"] else 0, ts, rid))
                elif type_ == "report.photo":
                    self._insert_photo(c, rid, payload, ts)
                else:
                    raise InputError(_("unknown change {type_}").format(type_=type_))
                done.append(self.append_op(c, type_, rid, payload, ts))
        return done

    def list_reports(self, *, kind: str | None = None, status: str | None = None, level: str | None = None,
                     since: str | None = None, unsynced: bool = False, search: str | None = None,
                     archived: bool | None = False, premises_id: str | None = None,
                     limit: int | None = 50, oldest_first: bool = False) -> list[dict[str, Any]]:
        where, args = [], []
        for col, val in (("kind", kind), ("status", status), ("level", level), ("premises_id", premises_id)):
            if val:
                where.append(f"r.{col} = ?")
                args.append(val)
        if since:
            where.append("r.created_at >= ?")
            args.append(since)
        if archived is not None:
            where.append("r.archived = ?")
            args.append(1 if archived else 0)
        if unsynced:
            # a long queue: walk the index newest first, as for a common search word (below)
            many = limit and self.conn.execute(
                f"SELECT count(*) > ? FROM outbox WHERE state IN {UNSYNCED}", (SEARCH_FEW,)).fetchone()[0]
            where.append(("+" if many else "") + f"r.id IN (SELECT entity FROM outbox WHERE state IN {UNSYNCED})")
        if search:
            s = search.strip()
            if len(s) >= 3:
                match = '"' + s.replace('"', '""') + '"'
                # Few matches: fetch them by rowid and sort them. Many (a common word): walk the
                # created_at index newest first and stop at the limit; the unary + keeps SQLite
                # from taking the rowid route, which read and sorted all 10,000 reports holding
                # 电动车 in a 100,000-report store (71 ms against 4 ms) and all 100,000 when every
                # report matched (508 ms against 50 ms).
                many = limit and len(self.conn.execute(
                    "SELECT rowid FROM reports_fts WHERE reports_fts MATCH ? LIMIT ?", (match, SEARCH_FEW + 1)
                ).fetchall()) > SEARCH_FEW
                where.append(("+" if many else "") + "r.rowid IN (SELECT rowid FROM reports_fts WHERE reports_fts MATCH ?)")
                args.append(match)
            else:
                pat = like_pattern(s)
                where.append("(r.title LIKE ? ESCAPE '\\' OR r.details LIKE ? ESCAPE '\\' OR r.place LIKE ? ESCAPE '\\')")
                args += [pat, pat, pat]
        q = "SELECT r.* FROM reports r"
        if where:
            q += " WHERE " + " AND ".join(where)
        q += " ORDER BY r.created_at " + ("ASC" if oldest_first else "DESC") + ", r.id " + ("ASC" if oldest_first else "DESC")
        if limit:
            q += " LIMIT ?"
            args.append(limit)
        rows = self.conn.execute(q, args).fetchall()
        reps = [_row_dict(self.conn, r) for r in rows]
        if not reps:
            return reps
        by_id = {r["id"]: r for r in reps}
        for r in reps:
            r["parties"], r["photos"], r["unsynced"] = [], [], 0
            r["archived"] = bool(r["archived"])
        idlist = list(by_id)
        for chunk in _chunks(idlist, 500):
            qs = ",".join("?" * len(chunk))
            for p in self.conn.execute(f"SELECT report_id, name, role, id_number, phone, address, id_verified FROM parties "
                                       f"WHERE report_id IN ({qs}) ORDER BY idx", chunk):
                by_id[p[0]]["parties"].append({"name": p[1], "role": p[2], "id": p[3], "phone": p[4], "address": p[5],
                                               "id_verified": bool(p[6])})
            for p in self.conn.execute(f"SELECT report_id, sha256, size, mime, name FROM photos WHERE report_id IN ({qs}) "
                                       f"ORDER BY added_at", chunk):
                by_id[p[0]]["photos"].append({"sha256": p[1], "size": p[2], "mime": p[3], "name": p[4]})
            for e, n in self.conn.execute(f"SELECT entity, count(*) FROM outbox WHERE state IN {UNSYNCED} AND entity IN ({qs}) "
                                          f"GROUP BY entity", chunk):
                by_id[e]["unsynced"] = n
        return reps

    def count_reports(self) -> int:
        return self.conn.execute("SELECT count(*) FROM reports").fetchone()[0]

    def table_counts(self) -> dict[str, int]:
        """Rows per table (for `fieldreport doctor`)."""
        db = self.db
        return {name: db[name].count for name in db.table_names() if not name.startswith("reports_fts")}

    def size_bytes(self) -> int:
        total = 0
        for suffix in ("", "-wal"):
            p = Path(str(self.path) + suffix)
            if p.exists():
                total += p.stat().st_size
        return total


def id_prefix_matches(conn: sqlite3.Connection, table: str, prefix: str) -> list[str]:
    """Up to two ids of ``table`` that start with ``prefix`` (ids are lowercase UUIDv7s): one
    means the prefix is unique, two that it is ambiguous."""
    low = prefix.lower()
    return [r[0] for r in conn.execute(f"SELECT id FROM {table} WHERE id >= ? AND id < ? LIMIT 2",
                                       (low, low + "\uffff"))]


def like_pattern(text: str) -> str:
    """``%text%`` for ``LIKE ? ESCAPE '\\'``, with the user's % and _ taken literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _chunks(seq: list, n: int):
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


def _row_dict(c: sqlite3.Connection, row: tuple) -> dict[str, Any]:
    cols = _columns(c)
    return dict(zip(cols, row))


_COLS: list[str] | None = None


def _columns(c: sqlite3.Connection) -> list[str]:
    global _COLS
    if _COLS is None:
        _COLS = [r[1] for r in c.execute("PRAGMA table_info(reports)")]
    return _COLS


def _op_row(r: tuple) -> dict[str, Any]:
    return {"seq": r[0], "op_id": r[1], "type": r[2], "entity": r[3], "payload": json.loads(r[4]), "clock": r[5],
            "ts": r[6], "prev_hash": r[7], "hash": r[8], "state": r[9],
            "result": json.loads(r[10]) if r[10] else None, "attempts": r[11], "last_error": r[12]}


def _inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def _is_plain_file(path: Path) -> bool:
    """True when ``path`` is a plain SQLite file (its 16-byte header); an encrypted store's
    first page is ciphertext. (store.cipher has the same check; this one avoids importing it.)"""
    try:
        with open(path, "rb") as f:
            return f.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def _connect(path: Path, key: str | None = None) -> sqlite3.Connection:
    busy = _busy_ms()
    inode = _inode(path)
    old = os.umask(0o077)
    try:
        # Encrypted store (issue 6): SQLCipher behind a connection that raises sqlite3's errors.
        # A plain file with a key is a store half-way through `fieldreport encrypt`: open it plain.
        if key and not _is_plain_file(path):
            from . import cipher

            conn = cipher.connect(path, key, busy / 1000)
        elif not key and path.exists() and path.stat().st_size and not _is_plain_file(path):
            from ..i18n import _

            raise StoreCorrupt(_("the store {path} is not a plain SQLite file: it is damaged, or encrypted and this "
                                 "laptop's keyfile ({keyfile}) is missing; nothing was changed — restore the keyfile or "
                                 "the store from a backup").format(path=path, keyfile=path.parent / "fieldreport.key"))
        else:
            conn = sqlite3.connect(str(path), isolation_level=None, timeout=busy / 1000, check_same_thread=False)
    except sqlite3.Error as e:
        if key and "not a database" in str(e):
            from ..crypto import WrongPassphrase

            from ..i18n import _

            raise WrongPassphrase(_("passphrase: this passphrase does not open the store; nothing was changed"),
                                  "passphrase") from None
        raise StoreCorrupt(_("cannot open the store {path}: {e}").format(path=path, e=e)) from None
    finally:
        os.umask(old)
    try:
        conn.execute(f"PRAGMA busy_timeout = {busy}")
        if inode is not None:
            # `fieldreport encrypt/decrypt` renames a converted copy over the store while holding
            # its lock: a command that opened the old file meanwhile must not write into it.
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            if _inode(path) != inode:
                conn.close()
                from ..i18n import _

                raise StoreLocked(_("the store {path} was converted (encrypt/decrypt) while this command waited; "
                                    "nothing was written — run it again").format(path=path))
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.DatabaseError as e:
        conn.close()
        raise _translate(e, path) from None
    return conn


def _translate(e: sqlite3.Error, path: Path) -> Exception:
    msg = str(e)
    if "locked" in msg or "busy" in msg:
        return StoreLocked(_("the store {path} is locked by another fieldreport process (waited {seconds} s); try "
                             "again when it has finished").format(path=path, seconds=_busy_ms() // 1000))
    if "not a database" in msg or "malformed" in msg or "corrupt" in msg:
        return StoreCorrupt(_("the store {path} is damaged ({msg}); nothing was changed — restore it from a backup or "
                              "run `fieldreport doctor`").format(path=path, msg=msg))
    return StoreCorrupt(_("store error on {path}: {msg}").format(path=path, msg=msg))
