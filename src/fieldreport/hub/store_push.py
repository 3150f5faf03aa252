"""Applying a device's batch of operations: one transaction, each operation exactly once.

For each operation, in ``seq`` order: a held ``op_id`` is a ``duplicate`` (with the first
answer); otherwise its hash is re-computed, its payload validated (``rules``) and it is
applied, rejected or answered ``conflict`` — and the answer is recorded with it in ``ops``,
whose primary key is the ``op_id``. A rejected operation never fails the batch.
"""

from __future__ import annotations

import hashlib
import logging
import operator
from types import SimpleNamespace
from typing import Any

import orjson
import sqlalchemy as sa

from .. import ids
from ..canon import HASHED_FIELDS, op_hash
from . import rules
from . import store_schema as t
from .errors import Forbidden, HubError
from .rules import Reject
from .store import dumps, insert_rows, loads, select_in

log = logging.getLogger("fieldreport.hub")


def push(store, device: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    dev_id = device["device_id"]
    for op in ops:
        if op["device_id"] != dev_id:
            raise Forbidden(f"operation {op['op_id']} carries device {op['device_id']}, not this device's id",
                            "device_id")
    now = ids.utc_now_iso()
    with store.cpu:  # outside the write lock: another batch's SQL runs meanwhile
        pre = _precheck(ops, device, now)
    try:
        return _push(store, device, ops, pre, now, isolate=False)
    except (HubError, sa.exc.OperationalError, sa.exc.InterfaceError):
        raise  # busy, refused, or the database is gone: nothing to isolate
    except Exception as e:  # noqa: BLE001 — one operation the hub cannot apply must not wedge the queue
        log.error("push from %s failed (%s); applying its operations one by one", dev_id, type(e).__name__)
        return _push(store, device, ops, pre, now, isolate=True)


def hash_of(op: dict[str, Any]) -> str:
    """``canon.op_hash(op)``, fast for the common case: when the laptop sent a hash, the
    canonical bytes are first made with orjson (sorted keys, compact, UTF-8 — the same bytes
    as ``canon.canonical`` for everything but some floats and huge integers); if their sha256
    is the claimed hash, that proves the bytes are the laptop's, so that is the hash. Else the
    reference encoder decides."""
    claimed = op.get("hash")
    if claimed:
        try:
            fast = hashlib.sha256(orjson.dumps({k: op.get(k) for k in HASHED_FIELDS},
                                               option=orjson.OPT_SORT_KEYS)).hexdigest()
        except (TypeError, orjson.JSONEncodeError):
            fast = None
        if fast == claimed:
            return claimed
    return op_hash(op)


class _Pre:
    """What was worked out of one operation alone, before the transaction: its hash, for a
    report.create its checked fields (or the Reject or error to raise in its place), its
    payload as stored, and — for a valid report.create — its ``reports`` row and ``ops`` row
    as the lock will write them but for the case code, status and answer."""

    __slots__ = ("hash", "checked", "payload", "report_row", "ops_row")

    def __init__(self, hash_: str, checked: Any, payload: str):
        self.hash, self.checked, self.payload = hash_, checked, payload
        self.report_row: list | None = None
        self.ops_row: list | None = None


def _precheck(ops: list[dict[str, Any]], device: dict[str, Any], now: str) -> dict[int, _Pre]:
    """Each operation's :class:`_Pre` — pure functions, no database; keyed by ``id(op)``. The
    more is done here, the less is done under the write lock, where batches take turns."""
    pre: dict[int, _Pre] = {}
    for op in ops:
        checked: Any = None
        if op["type"] == "report.create":
            try:
                rules.check_time(op["ts"], "ts")
                checked = rules.check_report_create(op["payload"])
            except Exception as e:  # noqa: BLE001 — raised again where the operation is applied
                checked = e
        p = pre[id(op)] = _Pre(hash_of(op), checked, dumps(op["payload"]))
        p.ops_row = list(_OPS_GET({
            "op_id": op["op_id"], "device_id": op["device_id"], "seq": op["seq"], "clock": op["clock"],
            "ts": op["ts"], "type": op["type"], "entity": op["entity"], "payload": p.payload,
            "prev_hash": op.get("prev_hash"), "hash": op.get("hash") or p.hash, "received_at": now,
            "status": None, "result": None}))
        if type(checked) is dict:
            p.report_row = list(_REPORTS_GET(_report_row(op, checked, device, now)))
    return pre


def _report_row(op: dict[str, Any], f: dict[str, Any], device: dict[str, Any], now: str) -> dict[str, Any]:
    """A report.create's ``reports`` row (``case_code`` still None)."""
    return {
        "id": op["entity"], "case_code": None, "ref": f.get("ref"), "device_id": op["device_id"],
        "officer_id": device["officer_id"], "area": device["area"], "kind": f["kind"],
        "category": f.get("category"), "level": f.get("level"), "title": f["title"],
        "details": f.get("details") or "", "place": f.get("place") or "", "lat": f.get("lat"), "lon": f.get("lon"),
        "premises_id": f.get("premises_id"), "inspection_id": f.get("inspection_id"), "item_id": f.get("item_id"),
        "location_source": f.get("location_source"), "dept": f.get("dept"), "deadline": f.get("deadline"),
        "status": f["status"], "assigned_to": None,
        "archived": False, "author": f.get("author"), "created_at": f.get("created_at"), "received_at": now,
        "updated_at": now}


def _push(store, device: dict[str, Any], ops: list[dict[str, Any]], pre: dict[int, _Pre], now: str, *,
          isolate: bool) -> dict[str, Any]:
    """One transaction (on SQLite shared with the pushes waiting beside it: group commit)."""
    return store.write_grouped(lambda c: _apply(store, c, device, ops, pre, now, isolate=isolate))


def _apply(store, c: sa.Connection, device: dict[str, Any], ops: list[dict[str, Any]],
           pre: dict[int, _Pre], now: str, *, isolate: bool) -> dict[str, Any]:
    """The batch, inside the caller's transaction. With ``isolate`` every operation runs in its
    own savepoint, and one that raises is answered ``rejected`` (recorded, so it shows in the
    laptop's dead letters)."""
    dev_id = device["device_id"]
    locked = c.execute(sa.select(t.devices.c.acked_through).where(t.devices.c.device_id == dev_id)
                       .with_for_update()).first()
    if locked is None:
        raise Forbidden("this device is not enrolled", "device_id")
    batch = _Batch(store, c, device, ops, pre, now)
    out: list[dict[str, Any]] = [{}] * len(ops)
    # in seq order; a second copy of an op_id in the batch finds the first held: a duplicate
    for i in sorted(range(len(ops)), key=lambda i: ops[i]["seq"]):
        out[i] = batch.one_isolated(ops[i]) if isolate else batch.one(ops[i])
    batch.flush()
    acked = _advance(c, dev_id, int(locked.acked_through), batch)
    store.emit(c, batch.changes)
    return {"acked_through": acked, "chain_ok": batch.chain_ok, "results": out}


def _advance(c: sa.Connection, dev_id: str, acked: int, batch: "_Batch | None" = None) -> int:
    """Move the device's ``acked_through`` over every consecutive seq the hub now holds. The
    batch knows every seq held in its own range (read up front, plus what it recorded), so
    only the seqs past that range are read — none, as a rule."""
    new = acked
    if batch is not None and batch.seq_range and acked >= batch.seq_range[0] - 1:
        hi, held = batch.seq_range[1], batch.seq_owner
        while new < hi and new + 1 in held:
            new += 1
        start = new if new == hi else None
    else:
        start = acked
    if start is not None:
        for s in c.execute(sa.select(t.ops.c.seq).where(t.ops.c.device_id == dev_id, t.ops.c.seq > start)
                           .order_by(t.ops.c.seq)).scalars():
            if s != new + 1:
                break
            new = s
    c.execute(_SET_ACKED, {"b_dev": dev_id, "acked_through": new, "last_seen_at": ids.utc_now_iso()})
    return new


PHOTO_META = ("copy_sha256", "copy_size", "taken_at", "gps")


def _by(col, name: str = "b_key"):
    return col == sa.bindparam(name)


# Statements built once: per-operation SQL then costs only its parameters.
_SET_ACKED = t.devices.update().where(_by(t.devices.c.device_id, "b_dev"))
_SET_COUNTER = t.counters.update().where(_by(t.counters.c.name))
_UPD_REPORT = t.reports.update().where(_by(t.reports.c.id))
_SEL_NOTE = sa.select(t.notes.c.note_id).where(_by(t.notes.c.note_id))
_SEL_PREMISES = sa.select(t.premises).where(_by(t.premises.c.id)).with_for_update()
_UPD_PREMISES = t.premises.update().where(_by(t.premises.c.id))
_SEL_INSPECTION = sa.select(t.inspections).where(_by(t.inspections.c.id))
_UPD_INSPECTION = t.inspections.update().where(_by(t.inspections.c.id))
# the order in which collected rows are written (a report before its parties, photos, notes)
_FLUSH_ORDER = (t.reports, t.parties, t.photos, t.notes, t.premises, t.inspections, t.answers, t.history, t.ops)
# each table's columns as the batch writes them (every row carries every one), and a getter
# that turns a row into the tuple to insert
_COLS = {tbl: (cols, operator.itemgetter(*cols)) for tbl in _FLUSH_ORDER
         for cols in [tuple(col.name for col in tbl.columns if not (tbl is t.history and col.name == "id"))]}
_REPORTS_GET, _OPS_GET = _COLS[t.reports][1], _COLS[t.ops][1]
_REPORTS_AT = {name: i for i, name in enumerate(_COLS[t.reports][0])}
_OPS_AT = {name: i for i, name in enumerate(_COLS[t.ops][0])}


class _Batch:
    """One batch inside one transaction. What the batch needs to know about the database (held
    operations, taken seqs, the hashes before it, which entities exist) is read once up front;
    new rows are collected and written together by :meth:`flush` — before any read that
    needs them, and at the end."""

    def __init__(self, store, c: sa.Connection, device: dict[str, Any], ops: list[dict[str, Any]],
                 pre: dict[int, _Pre] | None = None, now: str | None = None):
        self.store, self.c, self.device = store, c, device
        self.pre = pre or {}
        self.changes: list[dict[str, Any]] = []
        self.rows: dict[Any, list[Any]] = {tbl: [] for tbl in _FLUSH_ORDER}  # each row in _COLS order
        self.chain_ok = True
        self.now = now or ids.utc_now_iso()
        self.prepared: _Pre | None = None  # the _Pre of the operation being applied
        self.held: dict[str, tuple[str, dict]] = {}
        self.seq_owner: dict[int, str] = {}
        self.seq_range: tuple[int, int] | None = None
        self.hash_at: dict[int, str] = {}
        self.exists: set[tuple[str, str]] = set()   # (kind, id) of reports, premises, inspections
        self.reps: dict[str, SimpleNamespace] = {}  # the reports the batch touches, as the batch leaves them
        self.case_next: dict[str, int] = {}      # counter name -> last number given in this batch
        self.case_written: dict[str, int] = {}   # counter name -> value the counter row holds now
        self.case_pool: dict[str, list[int]] = {}  # counter name -> [next, last] numbers reserved for the batch
        if ops:
            self._prefetch(ops)
            if not store.sqlite:
                self._reserve_case_codes(ops)

    def _reserve_case_codes(self, ops: list[dict[str, Any]]) -> None:
        """PostgreSQL: take this batch's case numbers in a short transaction of their own, so
        the year's counter row is not locked for the whole batch (several ``serve`` processes
        would otherwise apply their batches one at a time). A number taken by a batch that then
        fails, or by a create that is rejected, is never given out: codes stay unique, with
        gaps only there."""
        n = len({op["op_id"] for op in ops if op["type"] == "report.create" and op["op_id"] not in self.held})
        if n:
            name = f"case:{self.now[:4]}"
            with self.store.engine.begin() as c2:
                top = self.store._bump(c2, name, n)
            self.case_pool[name] = [top - n + 1, top]

    def _prefetch(self, ops: list[dict[str, Any]]) -> None:
        c, dev = self.c, self.device["device_id"]
        for op_id, status, result in select_in(c, t.ops, ("op_id", "status", "result"), "op_id",
                                               list({op["op_id"] for op in ops})):
            self.held[op_id] = (status, loads(result))
        lo, hi = min(op["seq"] for op in ops) - 1, max(op["seq"] for op in ops)
        self.seq_range = (lo + 1, hi)  # seq_owner holds every seq the hub has in lo..hi
        for r in c.execute(sa.select(t.ops.c.seq, t.ops.c.op_id, t.ops.c.hash)
                           .where(t.ops.c.device_id == dev, t.ops.c.seq >= lo, t.ops.c.seq <= hi)):
            self.seq_owner[r.seq], self.hash_at[r.seq] = r.op_id, r.hash
        creates, touched = {}, set()
        for op in ops:
            kind, _, verb = op["type"].partition(".")
            if verb == "create" and kind in ("report", "premises", "inspection"):
                creates.setdefault(kind, set()).add(op["entity"])
            elif kind == "report":
                touched.add(op["entity"])
        touched = list(touched)
        for i in range(0, len(touched), 500):  # locked (PostgreSQL) against a station decision meanwhile
            for r in c.execute(sa.select(t.reports).where(t.reports.c.id.in_(touched[i:i + 500])).with_for_update()):
                self.reps[r.id] = SimpleNamespace(**r._mapping)
        for kind, tbl in (("report", t.reports), ("premises", t.premises), ("inspection", t.inspections)):
            self.exists.update((kind, r[0]) for r in select_in(c, tbl, ("id",), "id", list(creates.get(kind, ()))))

    def add(self, tbl, row: dict[str, Any]) -> None:
        self.rows[tbl].append(_COLS[tbl][1](row))

    def flush(self) -> None:
        for name, n in self.case_next.items():
            if self.case_written[name] != n:
                self.c.execute(_SET_COUNTER, {"b_key": name, "value": n})
                self.case_written[name] = n
        for tbl in _FLUSH_ORDER:
            rows = self.rows[tbl]
            if rows:
                insert_rows(self.c, tbl, _COLS[tbl][0], rows)
                self.rows[tbl] = []

    # ------------------------------------------------------------------ one operation
    def one(self, op: dict[str, Any]) -> dict[str, Any]:
        held = self.held.get(op["op_id"])
        if held is not None:
            status, first = held
            res = {"op_id": op["op_id"], "seq": op["seq"], "status": "duplicate", "original": status}
            if first.get("case_code"):
                res["case_code"] = first["case_code"]
            return res
        base = {"op_id": op["op_id"], "seq": op["seq"]}
        other = self.seq_owner.get(op["seq"])
        if other is not None:  # not recordable: the seq is taken by another operation
            return {**base, "status": "rejected", "field": "seq", "code": "seq_taken",
                    "params": {"seq": op["seq"], "other": other},
                    "reason": f"seq {op['seq']} is already held for operation {other}; the laptop's log was "
                              f"rewritten (restore of an old copy?) — run `fieldreport doctor`"}
        p = self.pre.get(id(op))
        computed, self.checked = (p.hash, p.checked) if p is not None else (op_hash(op), None)
        self.prepared = p
        claimed = op.get("hash") or computed
        chain = self._chain(op)
        try:
            if claimed != computed:
                raise Reject("hash", "hash: does not match the operation's content (altered in transit or on the "
                                     "laptop)", "hash")
            res = {**base, **self.apply(op)}
        except Reject as r:
            res = {**base, **r.result()}
        if chain:
            res["chain"] = chain
            self.chain_ok = False
        self._record(op, claimed, res)
        return res

    def _record(self, op: dict[str, Any], claimed: str, res: dict[str, Any]) -> None:
        """The operation and its answer, into the ledger (``ops``) and the batch's view of it."""
        p = self.pre.get(id(op))
        if p is not None and p.ops_row[_OPS_AT["hash"]] == claimed:
            row = p.ops_row.copy()  # copied: an isolated retry records the same operation again
            row[_OPS_AT["status"]], row[_OPS_AT["result"]] = res["status"], dumps(res)
            self.rows[t.ops].append(row)
        else:
            self.add(t.ops, {
                "op_id": op["op_id"], "device_id": op["device_id"], "seq": op["seq"], "clock": op["clock"],
                "ts": op["ts"], "type": op["type"], "entity": op["entity"],
                "payload": p.payload if p is not None else dumps(op["payload"]),
                "prev_hash": op.get("prev_hash"), "hash": claimed, "received_at": self.now, "status": res["status"],
                "result": dumps(res)})
        self.held[op["op_id"]] = (res["status"], res)
        self.seq_owner[op["seq"]], self.hash_at[op["seq"]] = op["op_id"], claimed

    def one_isolated(self, op: dict[str, Any]) -> dict[str, Any]:
        """:meth:`one` inside a savepoint; if it raises, its traces are undone and the
        operation is recorded as rejected with the error's type (never its text: it may hold
        personal data)."""
        key = (op["type"].partition(".")[0], op["entity"])
        rep = self.reps.get(op["entity"])
        rep = (dict(zip(_COLS[t.reports][0], rep)) if type(rep) is list else dict(vars(rep))) \
            if rep is not None else None
        saved = (key in self.exists, dict(self.case_next), dict(self.case_written), len(self.changes),
                 self.chain_ok, rep)
        sp = self.c.begin_nested()
        try:
            res = self.one(op)
            self.flush()
            sp.commit()
            return res
        except HubError:
            sp.rollback()
            raise
        except Exception as e:  # noqa: BLE001
            sp.rollback()
            error = type(e).__name__
            log.error("operation %s (%s) from %s cannot be applied: %s", op["op_id"], op["type"], op["device_id"],
                      error)
        had, self.case_next, self.case_written, n_changes, self.chain_ok, rep_before = saved
        if not had:
            self.exists.discard(key)
        if rep_before is None:
            self.reps.pop(op["entity"], None)
        else:
            self.reps[op["entity"]] = SimpleNamespace(**rep_before)
        del self.changes[n_changes:]
        for tbl in _FLUSH_ORDER:
            self.rows[tbl] = []
        self.held.pop(op["op_id"], None)
        self.seq_owner.pop(op["seq"], None)
        self.hash_at.pop(op["seq"], None)
        res = {"op_id": op["op_id"], "seq": op["seq"], "status": "rejected", "field": None, "code": "internal",
               "params": {"error": error},
               "reason": f"the hub could not apply this operation (internal error {error}); "
                         f"the station's log has it — resubmit later or ask the station"}
        self._record(op, op.get("hash") or hash_of(op), res)
        self.flush()
        return res

    def _chain(self, op: dict[str, Any]) -> str | None:
        """Why the hash chain breaks at this operation, or None."""
        if op["seq"] == 1:
            return None if op.get("prev_hash") is None else "seq 1 must have no prev_hash"
        prev = self.hash_at.get(op["seq"] - 1)
        if prev is None or prev == op.get("prev_hash"):
            return None
        return f"prev_hash does not match the hash of seq {op['seq'] - 1} held by the hub"

    def apply(self, op: dict[str, Any]) -> dict[str, Any]:
        if op["type"] == "report.create" and self.checked is not None:  # checked before the transaction
            if isinstance(self.checked, BaseException):
                raise self.checked
            return self._report_create(op, self.checked)
        rules.check_type(op["type"])
        rules.check_time(op["ts"], "ts")
        kind, _, verb = op["type"].partition(".")
        return getattr(self, f"_{kind}_{verb}")(op)

    # ------------------------------------------------------------------ reports
    def _report(self, op: dict[str, Any]):
        rep = self.reps.get(op["entity"])  # read (and locked) up front, or made by this batch (a row)
        if type(rep) is list:
            rep = self.reps[op["entity"]] = SimpleNamespace(**dict(zip(_COLS[t.reports][0], rep)))
        if rep is None:
            raise Reject("entity", f"entity: the hub holds no report {op['entity']} (was its report.create rejected?)",
                         "no_entity", what="report", entity=op["entity"])
        if rep.area != self.device["area"] and rep.officer_id != self.device["officer_id"] \
                and rep.assigned_to != self.device["officer_id"]:
            raise Reject("entity", "entity: the report belongs to another area", "other_area")
        return rep

    def _history(self, op: dict[str, Any], type_: str, detail: dict[str, Any]) -> None:
        self.add(t.history, {"entity": op["entity"], "op_id": op["op_id"], "source": "field", "type": type_,
                             "detail": dumps(detail), "by": self.device["officer_id"], "at": self.now})

    def _touch(self, rid: str, **values) -> None:
        self.flush()  # the report's row may still be waiting in self.rows
        self.c.execute(_UPD_REPORT, {"b_key": rid, "updated_at": self.now, **values})
        rep = self.reps[rid]
        for k, v in values.items():
            setattr(rep, k, v)
        rep.updated_at = self.now

    def _created(self, op: dict[str, Any], what: str) -> None:
        key = (op["type"].partition(".")[0], op["entity"])
        if key in self.exists:
            raise Reject("entity", f"entity: {what} {op['entity']} already exists on the hub", "exists", what=what,
                         entity=op["entity"])
        self.exists.add(key)

    def _report_create(self, op: dict[str, Any], f: dict[str, Any] | None = None) -> dict[str, Any]:
        f = f if f is not None else rules.check_report_create(op["payload"])
        self._created(op, "report")
        code = self._case_code()
        rid = op["entity"]
        p = self.prepared
        if p is not None and p.report_row is not None:
            row = p.report_row.copy()
        else:
            row = list(_REPORTS_GET(_report_row(op, f, self.device, self.now)))
        row[_REPORTS_AT["case_code"]] = code
        self.rows[t.reports].append(row)
        self.reps[rid] = row  # made into a namespace if a later operation of the batch touches it
        for i, p in enumerate(f["parties"]):
            self.add(t.parties, {"report_id": rid, "idx": i, "name": p["name"], "role": p["role"],
                                 "id_number": p.get("id"), "phone": p.get("phone"), "address": p.get("address"),
                                 "id_verified": bool(p.get("id_verified", True))})
        for i, ph in enumerate(f["photos"]):
            self._photo_row(f"{op['op_id']}:{i}", rid, ph)
        self._history(op, "report.create", {"case_code": code, "status": f["status"]})
        self.changes.append({"type": "report.case_code", "entity": rid, "payload": {"case_code": code},
                             "device_id": op["device_id"]})  # the same answer the push gives, for the feed
        return {"status": "applied", "case_code": code}

    def _case_code(self) -> str:
        """The next case code of the year (``HB-2026-000123``). The first of a batch locks and
        bumps the year's counter; the rest count on in memory and :meth:`flush` writes the last."""
        year = self.now[:4]
        name = f"case:{year}"
        pool = self.case_pool.get(name)
        if pool and pool[0] <= pool[1]:
            pool[0] += 1
            return f"{self.store.prefix}-{year}-{pool[0] - 1:06d}"
        if name in self.case_next:
            self.case_next[name] += 1
        else:
            self.case_next[name] = self.store._bump(self.c, name)
            self.case_written[name] = self.case_next[name]
        return f"{self.store.prefix}-{year}-{self.case_next[name]:06d}"

    def _photo_row(self, key: str, rid: str, ph: dict[str, Any]) -> None:
        meta = {k: ph[k] for k in PHOTO_META if ph.get(k) is not None}
        self.add(t.photos, {"op_id": key, "report_id": rid, "sha256": ph["sha256"], "size": ph["size"],
                            "mime": ph.get("mime") or "application/octet-stream", "name": ph.get("name") or "",
                            "meta": dumps(meta) if meta else None, "added_at": self.now})

    def _report_set(self, op: dict[str, Any]) -> dict[str, Any]:
        rep = self._report(op)
        field, new = rules.check_set(rep.kind, op["payload"])
        old = getattr(rep, field)
        self._touch(rep.id, **{field: new})
        self._history(op, "report.set", {"field": field, "old": old, "new": new,
                                         "device_old": op["payload"].get("old")})
        return {"status": "applied"}

    def _report_note(self, op: dict[str, Any]) -> dict[str, Any]:
        rep = self._report(op)
        note_id, text, author = rules.check_note(op["payload"])
        self.flush()
        if self.c.execute(_SEL_NOTE, {"b_key": note_id}).first() is None:
            self.add(t.notes, {"note_id": note_id, "report_id": rep.id, "text": text, "author": author,
                               "source": "field", "created_at": self.now})
        self._touch(rep.id)
        return {"status": "applied"}

    def _report_photo(self, op: dict[str, Any]) -> dict[str, Any]:
        rep = self._report(op)
        self._photo_row(op["op_id"], rep.id, rules.check_photo(op["payload"]))
        self._touch(rep.id)
        return {"status": "applied"}

    def _report_status(self, op: dict[str, Any]) -> dict[str, Any]:
        rep = self._report(op)
        move = rules.check_status(rep.status, op["payload"])
        if move is None:
            return {"status": "conflict", "reason": f"the hub's status is {rep.status}, not {op['payload']['from']}",
                    "code": "status_moved", "params": {"hub": rep.status, "frm": op["payload"]["from"]},
                    "current": {"status": rep.status, "dept": rep.dept, "assigned_to": rep.assigned_to}}
        frm, to, note = move
        self._touch(rep.id, status=to)
        if note:
            self.add(t.notes, {"note_id": op["op_id"], "report_id": rep.id, "text": note,
                               "author": op["payload"].get("author"), "source": "field", "created_at": self.now})
        self._history(op, "report.status", {"from": frm, "to": to, "note": note})
        return {"status": "applied"}

    def _report_archive(self, op: dict[str, Any]) -> dict[str, Any]:
        rep = self._report(op)
        archived = rules.check_archive(op["payload"])
        self._touch(rep.id, archived=archived)
        self._history(op, "report.archive", {"archived": archived})
        return {"status": "applied"}

    # ------------------------------------------------------------------ premises
    def _premises_put(self, pid: str, doc: dict[str, Any], area: str | None) -> None:
        self.changes.append({"type": "premises.put", "entity": pid, "payload": {"premises": {**doc, "id": pid}},
                             "area": area})

    def _premises_create(self, op: dict[str, Any]) -> dict[str, Any]:
        doc = rules.check_doc(op["payload"], ("name",))
        self._created(op, "premises")
        self.add(t.premises, {"id": op["entity"], "area": self.device["area"], "device_id": op["device_id"],
                              "doc": dumps(doc), "created_at": self.now, "updated_at": self.now})
        self._premises_put(op["entity"], doc, self.device["area"])
        return {"status": "applied"}

    def _premises_set(self, op: dict[str, Any]) -> dict[str, Any]:
        self.flush()
        row = self.c.execute(_SEL_PREMISES, {"b_key": op["entity"]}).first()
        if row is None:
            raise Reject("entity", f"entity: the hub holds no premises {op['entity']}", "no_entity", what="premises",
                         entity=op["entity"])
        field = op["payload"].get("field")
        if not isinstance(field, str) or not field or field == "id" or "new" not in op["payload"]:
            raise Reject("field", "field: give {field, old, new} with a field name other than id")
        doc = loads(row.doc)
        doc[field] = op["payload"]["new"]
        self.c.execute(_UPD_PREMISES, {"b_key": row.id, "doc": dumps(doc), "updated_at": self.now})
        self._premises_put(row.id, doc, row.area)
        return {"status": "applied"}

    # ------------------------------------------------------------------ inspections
    def _inspection_row(self, op: dict[str, Any]):
        self.flush()
        row = self.c.execute(_SEL_INSPECTION, {"b_key": op["entity"]}).first()
        if row is None:
            raise Reject("entity", f"entity: the hub holds no inspection {op['entity']}", "no_entity",
                         what="inspection", entity=op["entity"])
        return row

    def _inspection_create(self, op: dict[str, Any]) -> dict[str, Any]:
        doc = rules.check_doc(op["payload"], ("template",))
        self._created(op, "inspection")
        self.add(t.inspections, {"id": op["entity"], "device_id": op["device_id"],
                                 "premises_id": doc.get("premises_id"), "doc": dumps(doc), "finished": None,
                                 "created_at": self.now})
        return {"status": "applied"}

    def _inspection_answer(self, op: dict[str, Any]) -> dict[str, Any]:
        row = self._inspection_row(op)
        doc = rules.check_doc(op["payload"], ("item_id",))
        self.add(t.answers, {"op_id": op["op_id"], "inspection_id": row.id, "item_id": str(doc["item_id"]),
                             "payload": dumps(doc), "received_at": self.now})
        return {"status": "applied"}

    def _inspection_finish(self, op: dict[str, Any]) -> dict[str, Any]:
        row = self._inspection_row(op)
        self.c.execute(_UPD_INSPECTION, {"b_key": row.id, "finished": dumps(op["payload"])})
        return {"status": "applied"}
