"""The sync engine's SQL on the laptop store: reading batches, marking the hub's answers,
dead letters, epoch handling, applying pulled changes with their cursor, photo progress.

Every function that writes does so in **one** ``BEGIN IMMEDIATE`` transaction
(``store.write()``) and never across a network exchange: the engine asks the hub, parses
the answer, then calls one of these. A kill at any moment leaves either the old state (the
batch is re-sent and answered ``duplicate``) or the new one.

Meta keys kept here: ``hub_epoch``, ``pull_cursor``, ``last_sync``, ``last_sync_result``,
``next_attempt_at``, ``retry_after_until``, ``clock_offset_s``.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any, Callable

from .. import ids
from ..canon import canonical
from ..errors import InputError, NotFound
from ..i18n import _

ANSWERED = ("acked", "rejected", "conflict")
_STATE_OF = {"applied": "acked", "duplicate": "acked", "rejected": "rejected", "conflict": "conflict"}
REPORT_COLUMNS = ("level", "dept", "deadline", "title", "details", "place", "lat", "lon", "category", "kind")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


# ----------------------------------------------------------------------------- reading
def next_batch(store, after_seq: int, limit: int, max_bytes: int = 4 * 1024 * 1024) -> list[tuple]:
    """Pending operations with seq > ``after_seq``, in seq order, at most ``limit`` of them and
    about ``max_bytes`` of payload. Rows: (seq, op_id, type, entity, payload_json, clock, ts,
    prev_hash, hash)."""
    rows = store.conn.execute(
        "SELECT seq, op_id, type, entity, payload, clock, ts, prev_hash, hash FROM outbox "
        "WHERE state = 'pending' AND seq > ? ORDER BY seq LIMIT ?", (after_seq, limit)).fetchall()
    total, out = 0, []
    for r in rows:
        total += len(r[4]) + 300
        if out and total > max_bytes:
            break
        out.append(r)
    return out


def pending_summary(store) -> dict[str, Any]:
    c = store.conn
    by_type = dict(c.execute("SELECT type, count(*) FROM outbox WHERE state = 'pending' GROUP BY type").fetchall())
    size = c.execute("SELECT coalesce(sum(length(payload)), 0) FROM outbox WHERE state = 'pending'").fetchone()[0]
    first = c.execute("SELECT min(seq), max(seq) FROM outbox WHERE state = 'pending'").fetchone()
    return {"ops": sum(by_type.values()), "by_type": by_type, "payload_bytes": size,
            "first_seq": first[0], "last_seq": first[1]}


def left_counts(store) -> dict[str, int]:
    counts = store.outbox_counts()
    return {"pending": counts.get("pending", 0), "rejected": counts.get("rejected", 0),
            "conflict": counts.get("conflict", 0)}


# ----------------------------------------------------------------------------- marking
@dataclass
class Marked:
    applied: int = 0
    duplicates: int = 0
    rejected: int = 0
    conflicts: int = 0
    unanswered: int = 0
    epoch_changed: bool = False
    requeued: int = 0          # answered entries put back to pending (epoch change / hub rolled back)
    case_codes: int = 0
    dead: list[dict[str, Any]] = field(default_factory=list)


def mark_results(store, rows: list[tuple], resp: dict[str, Any], *, check_rollback: bool = False) -> Marked:
    """Record the hub's parsed answer to one push of ``rows``, in one transaction: each entry's
    state and result, case codes onto the local reports, a status conflict's hub state onto
    the local report (and into ``conflicts``), and the epoch / ``acked_through`` checks."""
    m = Marked()
    by_id = {r[1]: r for r in rows}
    epoch = resp["epoch"]
    now = ids.utc_now_iso()
    updates, codes, status_fix = [], [], []
    seen = set()
    for res in resp.get("results") or []:
        row = by_id.get(res.get("op_id"))
        if row is None or row[1] in seen:
            continue
        seen.add(row[1])
        st = res.get("status")
        if st == "duplicate":
            m.duplicates += 1
            state = _STATE_OF.get(res.get("original") or "applied", "acked")
        elif st in _STATE_OF:
            state = _STATE_OF[st]
            if st == "applied":
                m.applied += 1
        else:
            continue  # an answer we do not understand: leave it pending
        if state == "rejected":
            m.rejected += 1
            m.dead.append({"seq": row[0], "type": row[2], "reason": res.get("reason"), "field": res.get("field")})
        elif state == "conflict":
            m.conflicts += 1
            m.dead.append({"seq": row[0], "type": row[2], "reason": res.get("reason"), "current": res.get("current")})
            cur = res.get("current") or {}
            if row[2] == "report.status" and isinstance(cur, dict) and cur.get("status"):
                status_fix.append((row, cur["status"]))
        if res.get("case_code") and row[2] == "report.create":
            codes.append((res["case_code"], row[3]))
        stored = {k: v for k, v in res.items() if v is not None}
        if st != "duplicate" and resp.get("hub_time"):
            stored["hub_time"] = resp["hub_time"]   # when the hub committed it (orders it against station changes)
        updates.append((state, _dumps(stored), now, epoch, row[0]))
    m.unanswered = len(rows) - len(updates)
    with store.write() as c:
        c.executemany("UPDATE outbox SET state = ?, result = ?, acked_at = ?, epoch = ?, last_error = NULL, "
                      "attempts = attempts + 1 WHERE seq = ? AND state = 'pending'", updates)
        if codes:
            c.executemany("UPDATE reports SET case_code = ? WHERE id = ?", codes)
            m.case_codes = len(codes)
        for row, hub_status in status_fix:
            _adopt_hub_status(c, row, hub_status, now)
        if m.unanswered:
            c.executemany("UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE seq = ? AND state = 'pending'",
                          [("the hub's answer did not include this entry", r[0]) for r in rows if r[1] not in seen])
        _check_epoch(store, c, epoch, int(resp.get("acked_through") or 0), check_rollback, m)
    return m


def check_hub(store, epoch: str, acked_through: int) -> Marked:
    """Before pushing: the hub's epoch and ``acked_through`` (from a one-change pull) checked
    against what this laptop holds as acknowledged, so a restored hub gets the entries it lost
    in seq order (a report's create before its edits)."""
    m = Marked()
    with store.write() as c:
        _check_epoch(store, c, epoch, acked_through, True, m)
    return m


def _adopt_hub_status(c: sqlite3.Connection, row: tuple, hub_status: str, now: str) -> None:
    payload = json.loads(row[4])
    local = c.execute("SELECT status FROM reports WHERE id = ?", (row[3],)).fetchone()
    if local is None:
        return
    if local[0] != hub_status:
        c.execute("INSERT INTO conflicts (entity, field, local_value, hub_value, source, created_at) VALUES (?,?,?,?,?,?)",
                  (row[3], "status", payload.get("to"), hub_status, "push", now))
        c.execute("UPDATE reports SET status = ?, updated_at = ? WHERE id = ?", (hub_status, now, row[3]))


def local_contiguous(c: sqlite3.Connection, epoch: str) -> int:
    """The highest s such that every entry 1..s was answered under ``epoch``."""
    gap = c.execute("SELECT min(seq) FROM outbox WHERE state = 'pending' OR epoch IS NOT ?", (epoch,)).fetchone()[0]
    if gap is not None:
        return gap - 1
    return c.execute("SELECT coalesce(max(seq), 0) FROM outbox").fetchone()[0]


def _check_epoch(store, c: sqlite3.Connection, epoch: str, acked_through: int, check_rollback: bool, m) -> None:
    old = store.meta("hub_epoch")
    if old != epoch:
        m.requeued += rebase(c, epoch, acked_through, force=False)
        m.epoch_changed = old is not None
        store.set_meta("hub_epoch", epoch, c)
        if old is not None:
            store.set_meta("pull_cursor", "0", c)
    elif check_rollback and acked_through < local_contiguous(c, epoch):
        # same epoch, but the hub holds less than it once acknowledged: trust none of it
        m.requeued += rebase(c, epoch, acked_through, force=True)


def rebase(c: sqlite3.Connection, epoch: str, acked_through: int, *, force: bool) -> int:
    """After an epoch change (or a hub that holds less than it acknowledged): entries the hub
    still holds (seq <= acked_through) now count under ``epoch``; every other answered entry
    goes back to pending, to be pushed again. Discarded entries stay discarded."""
    states = "('acked', 'rejected', 'conflict', 'discarded')"
    c.execute(f"UPDATE outbox SET epoch = ? WHERE seq <= ? AND state IN {states} AND epoch IS NOT ?",
              (epoch, acked_through, epoch))
    cond = "" if force else " AND epoch IS NOT ?"
    args: tuple = (acked_through,) if force else (acked_through, epoch)
    cur = c.execute(f"UPDATE outbox SET state = 'pending', epoch = NULL, last_error = 'the hub was restored: sent again' "
                    f"WHERE seq > ? AND state IN ('acked', 'rejected', 'conflict'){cond}", args)
    return cur.rowcount


def note_failure(store, rows: list[tuple], error: str) -> None:
    if not rows:
        return
    with store.write() as c:
        c.execute("UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE seq BETWEEN ? AND ? AND state = 'pending'",
                  (error[:500], rows[0][0], rows[-1][0]))


def dead_letter(store, row: tuple, status: int, error: str | None, detail: str | None, field_: str | None) -> None:
    """A single entry the hub refused with a 4xx: into the dead-letter list (not retried)."""
    res = {"op_id": row[1], "seq": row[0], "status": "rejected", "reason": detail or error or f"HTTP {status}",
           "field": field_, "http_status": status, "error": error}
    with store.write() as c:
        c.execute("UPDATE outbox SET state = 'rejected', result = ?, acked_at = ?, attempts = attempts + 1, "
                  "last_error = ? WHERE seq = ? AND state = 'pending'",
                  (_dumps({k: v for k, v in res.items() if v is not None}), ids.utc_now_iso(), res["reason"][:500], row[0]))


# ----------------------------------------------------------------------------- pull
@dataclass
class Applied:
    changes: int = 0
    applied: int = 0
    conflicts: int = 0
    kept: int = 0            # kept in the inbox only (entity not on this laptop / no hook)
    epoch_changed: bool = False
    requeued: int = 0


def _hooks() -> dict[str, Callable]:
    try:
        from ..checklist import sync_hooks  # type: ignore[attr-defined]
    except ImportError:
        return {}
    out = {}
    for t, name in (("template.put", "apply_template_put"), ("premises.put", "apply_premises_put")):
        fn = getattr(sync_hooks, name, None)
        if fn:
            out[t] = fn
    return out


def creates_without_code(store) -> bool:
    """Whether a report this laptop created, acknowledged by the hub, has no case code."""
    return store.conn.execute(
        "SELECT 1 FROM reports r WHERE r.case_code IS NULL AND EXISTS (SELECT 1 FROM outbox o "
        "WHERE o.entity = r.id AND o.type = 'report.create' AND o.state = 'acked') LIMIT 1").fetchone() is not None


def restart_pull(store) -> None:
    """Pull the hub's feed again from its start on the next pull."""
    with store.write() as c:
        store.set_meta("pull_cursor", "0", c)


def apply_pull(store, page: dict[str, Any], *, check_rollback: bool = True) -> Applied:
    """Apply one page of the hub's change feed and store its cursor, in one transaction.
    A page from a hub with another epoch is not applied: the cursor goes back to 0 and the
    engine pulls again from the start (and re-pushes what the new hub lacks)."""
    a = Applied()
    hooks = _hooks()
    now = ids.utc_now_iso()
    with store.write() as c:
        old = store.meta("hub_epoch")
        _check_epoch(store, c, page["epoch"], int(page.get("acked_through") or 0), check_rollback, a)
        if old is not None and old != page["epoch"]:
            a.epoch_changed = True
            return a
        changes = page.get("changes") or []
        c.executemany("INSERT OR REPLACE INTO inbox (cursor, type, entity, payload, ts, received_at) VALUES (?,?,?,?,?,?)",
                      [(int(ch["cursor"]), ch["type"], ch["entity"], _dumps(ch.get("payload") or {}),
                        ch.get("ts") or now, now) for ch in changes])
        for ch in changes:
            a.changes += 1
            r = _apply_change(store, c, ch, hooks, now)
            if r == "applied":
                a.applied += 1
            elif r == "conflict":
                a.conflicts += 1
            else:
                a.kept += 1
        store.set_meta("pull_cursor", str(int(page["cursor"])), c)
    return a


def _pending_payload(c: sqlite3.Connection, entity: str, type_: str, field_: str | None = None) -> dict | None:
    for (p,) in c.execute("SELECT payload FROM outbox WHERE entity = ? AND type = ? AND state = 'pending' ORDER BY seq DESC",
                          (entity, type_)):
        d = json.loads(p)
        if field_ is None or d.get("field") == field_:
            return d
    return None


def _parse_ts(ts: str | None):
    import datetime as _dt

    if not ts:
        return None
    try:
        d = _dt.datetime.fromisoformat(ts)
    except ValueError:
        return None
    return d if d.tzinfo else d.replace(tzinfo=_dt.timezone.utc)


def _local_is_newer(c: sqlite3.Connection, entity: str, type_: str, field_: str | None, change_ts: str | None) -> bool:
    """Whether this laptop's latest acknowledged edit of the field reached the hub after the
    station's change: the hub then holds the laptop's value (last writer by commit order), so
    the older station change must not overwrite it here."""
    cts = _parse_ts(change_ts)
    if cts is None:
        return False
    for p, r in c.execute("SELECT payload, result FROM outbox WHERE entity = ? AND type = ? AND state = 'acked' "
                          "ORDER BY seq DESC", (entity, type_)):
        if field_ is not None and json.loads(p).get("field") != field_:
            continue
        ht = _parse_ts(json.loads(r or "{}").get("hub_time"))
        return ht is not None and ht > cts
    return False


def _conflict(c, entity: str, field_: str, local, hub, now: str) -> None:
    lv, hv = _dumps(local), _dumps(hub)
    dup = c.execute("SELECT 1 FROM conflicts WHERE entity = ? AND field = ? AND local_value IS ? AND hub_value IS ? "
                    "AND resolved_at IS NULL", (entity, field_, lv, hv)).fetchone()
    if not dup:
        c.execute("INSERT INTO conflicts (entity, field, local_value, hub_value, source, created_at) VALUES (?,?,?,?,?,?)",
                  (entity, field_, lv, hv, "pull", now))


def _note_id(ch: dict) -> str:
    return "hub-" + hashlib.sha256(canonical([ch["type"], ch["entity"], ch.get("payload")])).hexdigest()[:24]


def _apply_change(store, c: sqlite3.Connection, ch: dict, hooks: dict, now: str) -> str:
    t, ent, p = ch["type"], ch["entity"], ch.get("payload") or {}
    if t in hooks:
        hooks[t](store, c, p)
        return "applied"
    if not t.startswith("report."):
        return "kept"
    if t == "report.case_code":   # the commonest change: one statement, no lookup
        cur = c.execute("UPDATE reports SET case_code = ? WHERE id = ? AND case_code IS NOT ?",
                        (p.get("case_code"), ent, p.get("case_code")))
        return "applied" if cur.rowcount else "kept"
    rep = c.execute("SELECT status, dept FROM reports WHERE id = ?", (ent,)).fetchone()
    if rep is None:
        return "kept"
    ts = ch.get("ts") or now
    if t == "report.case_code":
        c.execute("UPDATE reports SET case_code = ? WHERE id = ?", (p.get("case_code"), ent))
    elif t == "report.status":
        if p.get("note"):
            c.execute("INSERT OR IGNORE INTO notes (id, report_id, text, author, created_at, source) VALUES (?,?,?,?,?,'hub')",
                      (_note_id(ch), ent, p["note"], p.get("by"), ts))
        mine = _pending_payload(c, ent, "report.status")
        if mine is not None and mine.get("to") != p.get("to"):
            _conflict(c, ent, "status", mine.get("to"), p.get("to"), now)
            return "conflict"
        if _local_is_newer(c, ent, "report.status", None, ch.get("ts")):
            return "kept"
        c.execute("UPDATE reports SET status = ?, updated_at = ? WHERE id = ?", (p.get("to"), now, ent))
    elif t == "report.route":
        mine = _pending_payload(c, ent, "report.set", "dept")
        if mine is not None and mine.get("new") != p.get("dept"):
            _conflict(c, ent, "dept", mine.get("new"), p.get("dept"), now)
            return "conflict"
        if _local_is_newer(c, ent, "report.set", "dept", ch.get("ts")):
            return "kept"
        c.execute("UPDATE reports SET dept = ?, updated_at = ? WHERE id = ?", (p.get("dept"), now, ent))
    elif t == "report.assign":
        c.execute("UPDATE reports SET assigned_to = ?, updated_at = ? WHERE id = ?", (p.get("officer_id"), now, ent))
    elif t == "report.note":
        c.execute("INSERT OR IGNORE INTO notes (id, report_id, text, author, created_at, source) VALUES (?,?,?,?,?,'hub')",
                  (p.get("note_id") or _note_id(ch), ent, p.get("text") or "", p.get("by"), ts))
    else:
        return "kept"
    return "applied"


def open_conflicts(store) -> list[dict[str, Any]]:
    return [{"id": r[0], "entity": r[1], "field": r[2], "local": json.loads(r[3]) if r[3] and r[3][:1] in '"[{0123456789-tfn' else r[3],
             "hub": json.loads(r[4]) if r[4] and r[4][:1] in '"[{0123456789-tfn' else r[4], "source": r[5], "created_at": r[6]}
            for r in store.conn.execute("SELECT id, entity, field, local_value, hub_value, source, created_at FROM conflicts "
                                        "WHERE resolved_at IS NULL ORDER BY id")]


# ----------------------------------------------------------------------------- photos
def blobs_pending(store, blobstore, originals: bool = False) -> list[dict[str, Any]]:
    """What photo bytes still have to reach the hub: ``photos.blobs_to_send`` when the photos
    module provides it (transmission copies), else every blob named by a report photo and
    not yet marked uploaded."""
    try:
        from .. import photos  # type: ignore[attr-defined]

        fn = getattr(photos, "blobs_to_send", None)
    except ImportError:
        fn = None
    if fn is not None:
        return list(fn(store, originals))
    rows = store.conn.execute(
        "SELECT b.sha256, b.size FROM blobs b WHERE b.uploaded_at IS NULL AND EXISTS "
        "(SELECT 1 FROM photos p WHERE p.sha256 = b.sha256) ORDER BY b.created_at, b.sha256").fetchall()
    return [{"sha256": s, "size": n, "path": str(blobstore.path(s)), "role": "original"} for s, n in rows]


def mark_blob_uploaded(store, sha256: str) -> None:
    with store.write() as c:
        c.execute("UPDATE blobs SET uploaded_at = ? WHERE sha256 = ? AND uploaded_at IS NULL", (ids.utc_now_iso(), sha256))
    try:
        from .. import photos  # type: ignore[attr-defined]

        fn = getattr(photos, "mark_sent", None)
    except ImportError:
        fn = None
    if fn is not None:
        fn(store, sha256)


# ----------------------------------------------------------------------------- meta
def set_metas(store, values: dict[str, str | None]) -> None:
    with store.write() as c:
        for k, v in values.items():
            store.set_meta(k, v, c)


# ----------------------------------------------------------------------------- outbox commands
def outbox_entries(store, states: tuple[str, ...], limit: int = 200) -> list[dict[str, Any]]:
    return store.ops(states=states, limit=limit)


def _dead(c: sqlite3.Connection, seq: int) -> tuple:
    row = c.execute("SELECT seq, op_id, type, entity, payload, state, result FROM outbox WHERE seq = ?", (seq,)).fetchone()
    if row is None:
        raise NotFound(_("no outbox entry {seq}; `fieldreport outbox` lists them").format(seq=seq))
    if row[5] not in ("rejected", "conflict"):
        raise InputError(_("seq: entry {seq} is {state}, not rejected or in conflict; only dead letters can be "
                           "resubmitted or discarded").format(seq=seq, state=row[5]), "seq")
    return row


def resolve_conflicts(store, conflict_id: int | None) -> list[int]:
    """Mark one open conflict (or every one, ``None``) as seen: it leaves `fieldreport outbox`,
    the record stays. The hub already decided the field (docs/sync.md); this is the person's
    acknowledgement that they saw the station's value."""
    with store.write() as c:
        if conflict_id is None:
            ids_ = [r[0] for r in c.execute("SELECT id FROM conflicts WHERE resolved_at IS NULL ORDER BY id")]
        else:
            row = c.execute("SELECT resolved_at FROM conflicts WHERE id = ?", (conflict_id,)).fetchone()
            if row is None:
                raise NotFound(_("no conflict {id}; `fieldreport outbox` lists them").format(id=conflict_id))
            ids_ = [] if row[0] else [conflict_id]
        now = ids.utc_now_iso()
        c.executemany("UPDATE conflicts SET resolved_at = ? WHERE id = ?", [(now, i) for i in ids_])
    return ids_


def discard(store, seq: int) -> dict[str, Any]:
    with store.write() as c:
        row = _dead(c, seq)
        c.execute("UPDATE outbox SET state = 'discarded' WHERE seq = ?", (seq,))
    return {"seq": seq, "type": row[2], "entity": row[3], "state": "discarded"}


def resubmit(store, seq: int, fixes: dict[str, Any]) -> dict[str, Any]:
    """Fix-and-resubmit a dead letter: a NEW operation (new op_id, next seq) with the payload
    corrected by ``fixes``; the dead one becomes ``discarded``. A status move in conflict with
    no fixes is re-based on the report's current status (``from``)."""
    with store.write() as c:
        row = _dead(c, seq)
        payload = json.loads(row[4])
        type_, entity = row[2], row[3]
        fixes = dict(fixes)
        if type_ == "report.status" and "from" not in fixes:
            cur = c.execute("SELECT status FROM reports WHERE id = ?", (entity,)).fetchone()
            if cur:
                fixes["from"] = cur[0]
        if type_ == "report.set":
            unknown = [k for k in fixes if k not in ("new", "old", "field")]
        elif type_ in ("report.status",):
            unknown = [k for k in fixes if k not in ("from", "to", "note")]
        else:
            unknown = []
        if unknown:
            raise InputError(_("set: {fields} is not part of a {type} entry; fix one of its fields: {choices}").format(
                fields=", ".join(unknown), type=type_, choices=", ".join(sorted(payload))), "set")
        payload.update(fixes)
        if type_ == "report.create":
            for k, v in fixes.items():
                if k in REPORT_COLUMNS:
                    c.execute(f"UPDATE reports SET {k} = ? WHERE id = ?", (v, entity))
        elif type_ == "report.set" and payload.get("field") in REPORT_COLUMNS:
            c.execute(f"UPDATE reports SET {payload['field']} = ? WHERE id = ?", (payload.get("new"), entity))
        op = store.append_op(c, type_, entity, payload)
        c.execute("UPDATE outbox SET state = 'discarded', result = json_set(coalesce(result, '{}'), '$.resubmitted_as', ?) "
                  "WHERE seq = ?", (op["seq"], seq))
    return {"seq": seq, "state": "discarded", "new_seq": op["seq"], "new_op_id": op["op_id"], "type": type_,
            "entity": entity, "payload": payload}
