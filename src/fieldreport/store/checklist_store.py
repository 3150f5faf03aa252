"""All SQL for premises, checklist templates, inspections and answers. Functions take a
:class:`~fieldreport.store.Store`; each write is one ``BEGIN IMMEDIATE`` transaction holding
the change and its outbox operation (``*_in`` variants run inside a caller's transaction,
for the sync engine's pull)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from .. import ids
from ..errors import InputError, NotFound
from ..i18n import _
from . import id_prefix_matches, like_pattern

PREMISES_FIELDS = ("name", "type", "address", "area", "grid", "contact", "phone", "licence", "risk",
                   "interval_days", "notes")
_OPEN_STATUSES = ("reinspected", "visited", "closed")  # a hazard in none of these is still open


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _rows(c: sqlite3.Connection, q: str, args: tuple | list = ()) -> list[dict[str, Any]]:
    cur = c.execute(q, args)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def _one(c: sqlite3.Connection, q: str, args: tuple | list = ()) -> dict[str, Any] | None:
    rows = _rows(c, q, args)
    return rows[0] if rows else None


# ---------------------------------------------------------------- premises
def _insert_premises(store, c: sqlite3.Connection, fields: dict[str, Any], *, pid: str | None = None,
                     source: str = "local", ts: str | None = None, with_op: bool = True) -> dict[str, Any]:
    pid = pid or ids.uuid7()
    ts = ts or ids.now_iso()
    ref = fields.get("ref")
    if not ref or c.execute("SELECT 1 FROM premises WHERE ref = ?", (ref,)).fetchone():
        ref = f"P-{store._next(c, 'premises_seq'):04d}"
        while c.execute("SELECT 1 FROM premises WHERE ref = ?", (ref,)).fetchone():
            ref = f"P-{store._next(c, 'premises_seq'):04d}"
    vals = {k: fields.get(k) for k in PREMISES_FIELDS}
    for k in ("address", "area", "grid", "contact", "licence", "notes"):
        vals[k] = vals[k] or ""
    vals["interval_days"] = int(vals["interval_days"] or 90)
    c.execute(
        "INSERT INTO premises (id, ref, name, type, address, area, grid, contact, phone, licence, risk, interval_days, "
        "notes, source, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (pid, ref, vals["name"], vals["type"], vals["address"], vals["area"], vals["grid"], vals["contact"],
         vals["phone"], vals["licence"], vals["risk"], vals["interval_days"], vals["notes"], source, ts, ts))
    op = None
    if with_op:
        op = store.append_op(c, "premises.create", pid, dict(vals, ref=ref, created_at=ts), ts)
    return {"id": pid, "ref": ref, "seq": op["seq"] if op else None}


def insert_premises(store, fields: dict[str, Any]) -> dict[str, Any]:
    """Record one premises and its ``premises.create`` operation."""
    with store.write() as c:
        return _insert_premises(store, c, fields)


def insert_premises_many(store, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Record many premises in one transaction: all or nothing."""
    with store.write() as c:
        return [_insert_premises(store, c, f) for f in records]


def update_premises(store, pid: str, changes: dict[str, Any]) -> list[dict[str, Any]]:
    """Set fields of one premises: one ``premises.set`` operation per changed field."""
    ts = ids.now_iso()
    done = []
    with store.write() as c:
        cur = _one(c, "SELECT * FROM premises WHERE id = ?", (pid,))
        if cur is None:
            raise NotFound(_("no premises {pid}").format(pid=pid))
        for field, new in changes.items():
            if field not in PREMISES_FIELDS:
                raise InputError(_("{field}: cannot be changed").format(field=field), field)
            if cur[field] == new:
                continue
            c.execute(f"UPDATE premises SET {field} = ?, updated_at = ? WHERE id = ?", (new, ts, pid))
            done.append(store.append_op(c, "premises.set", pid, {"field": field, "old": cur[field], "new": new}, ts))
    return done


def upsert_premises_in(store, c: sqlite3.Connection, fields: dict[str, Any]) -> str:
    """Insert or update a premises that came from the hub (no outbox operation: the hub has it)."""
    pid = str(fields["id"])
    ts = ids.now_iso()
    cur = _one(c, "SELECT * FROM premises WHERE id = ?", (pid,))
    if cur is None:
        _insert_premises(store, c, fields, pid=pid, source="hub", ts=ts, with_op=False)
        return "created"
    sets = {k: fields[k] for k in PREMISES_FIELDS if k in fields and fields[k] != cur[k]}
    for k in ("address", "area", "grid", "contact", "licence", "notes"):
        if k in sets and sets[k] is None:
            sets[k] = ""
    if not sets:
        return "unchanged"
    assign = ", ".join(f"{k} = ?" for k in sets)
    c.execute(f"UPDATE premises SET {assign}, updated_at = ? WHERE id = ?", (*sets.values(), ts, pid))
    return "updated"


def premises(store, pid: str) -> dict[str, Any]:
    row = _one(store.conn, "SELECT * FROM premises WHERE id = ?", (pid,))
    if row is None:
        raise NotFound(_("no premises {pid}").format(pid=pid))
    row.update(_last_inspection(store.conn, pid))
    return row


def _last_inspection(c: sqlite3.Connection, pid: str) -> dict[str, Any]:
    row = c.execute("SELECT finished_at, summary FROM inspections WHERE premises_id = ? AND status = 'finished' "
                    "ORDER BY finished_at DESC LIMIT 1", (pid,)).fetchone()
    if not row:
        return {"last_inspected_at": None, "last_result": None}
    summ = json.loads(row[1]) if row[1] else {}
    failed = sum((summ.get("failed") or {}).values())
    return {"last_inspected_at": row[0], "last_result": "failed" if failed else "passed", "last_failed": failed}


def resolve_premises(store, ref: str) -> str:
    """The premises id for ``P-0001`` / ``p1`` / ``1``, an id prefix, or an exact unique name."""
    r = (ref or "").strip()
    if not r:
        raise InputError(_("premises: give a premises reference such as P-0001, an id prefix or its name"), "premises")
    c = store.conn
    cand = r.upper().removeprefix("P-").removeprefix("P")
    if cand.isdigit():
        row = c.execute("SELECT id FROM premises WHERE ref = ?", (f"P-{int(cand):04d}",)).fetchone()
        if row:
            return row[0]
    row = c.execute("SELECT id FROM premises WHERE id = ?", (r,)).fetchone()
    if row:
        return row[0]
    rows = c.execute("SELECT id FROM premises WHERE name = ? LIMIT 2", (r,)).fetchall()
    if len(rows) == 1:
        return rows[0][0]
    if len(rows) > 1:
        raise InputError(_("premises: more than one premises is named {name!r}; give its ref (P-0001)").format(name=r),
                         "premises")
    if len(r) >= 4:
        rows = id_prefix_matches(c, "premises", r)
        if len(rows) == 1:
            return rows[0]
    raise NotFound(_("no premises matches {r!r}; `fieldreport premises list` shows them").format(r=r))


def list_premises(store, *, type_: str | None = None, search: str | None = None) -> list[dict[str, Any]]:
    where, args = [], []
    if type_:
        where.append("type = ?")
        args.append(type_)
    if search:
        pat = like_pattern(search)
        where.append("(name LIKE ? ESCAPE '\\' OR address LIKE ? ESCAPE '\\')")
        args += [pat, pat]
    q = "SELECT * FROM premises" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY ref"
    rows = _rows(store.conn, q, args)
    for r in rows:
        r.update(_last_inspection(store.conn, r["id"]))
        r["open_hazards"] = store.conn.execute(
            f"SELECT count(*) FROM reports WHERE premises_id = ? AND kind = 'hazard' AND status NOT IN "
            f"({','.join('?' * len(_OPEN_STATUSES))})", (r["id"], *_OPEN_STATUSES)).fetchone()[0]
    return rows


def count_premises(store) -> int:
    return store.conn.execute("SELECT count(*) FROM premises").fetchone()[0]


# ---------------------------------------------------------------- templates
def store_template_in(c: sqlite3.Connection, body: dict[str, Any], source: str) -> str:
    """Keep one template version: ``stored``, ``unchanged`` (same content), or raise InputError
    when that version exists with other content (a new version needs a new number)."""
    text = _dumps(body)
    row = c.execute("SELECT body FROM checklist_templates WHERE name = ? AND version = ?",
                    (body["name"], body["version"])).fetchone()
    if row:
        if json.loads(row[0]) == body:
            return "unchanged"
        raise InputError(_("version: template {name} version {version} already exists with other content; give the "
                           "new one version {next}").format(name=body["name"], version=body["version"],
                                                            next=latest_version_in(c, body["name"]) + 1), "version")
    c.execute("INSERT INTO checklist_templates (name, version, premises_type, body, source, stored_at) "
              "VALUES (?,?,?,?,?,?)", (body["name"], body["version"], body["premises_type"], text, source, ids.now_iso()))
    return "stored"


def store_template(store, body: dict[str, Any], source: str) -> str:
    with store.write() as c:
        return store_template_in(c, body, source)


def latest_version_in(c: sqlite3.Connection, name: str) -> int:
    row = c.execute("SELECT max(version) FROM checklist_templates WHERE name = ?", (name,)).fetchone()
    return row[0] or 0


def template_body(store, name: str, version: int | None = None) -> dict[str, Any] | None:
    if version is None:
        row = store.conn.execute("SELECT body FROM checklist_templates WHERE name = ? ORDER BY version DESC LIMIT 1",
                                 (name,)).fetchone()
    else:
        row = store.conn.execute("SELECT body FROM checklist_templates WHERE name = ? AND version = ?",
                                 (name, version)).fetchone()
    return json.loads(row[0]) if row else None


def stored_templates(store) -> list[dict[str, Any]]:
    """Every stored template version: name, version, premises_type, source, body."""
    rows = _rows(store.conn, "SELECT name, version, premises_type, source, body FROM checklist_templates "
                             "ORDER BY name, version")
    for r in rows:
        r["body"] = json.loads(r["body"])
    return rows


# ---------------------------------------------------------------- inspections
def create_inspection(store, *, premises_id: str, template_body_: dict[str, Any], template_source: str,
                      inspector: str | None, recheck_of: str | None = None,
                      items: list[str] | None = None) -> dict[str, Any]:
    """Start an inspection (keeping the template version it is made with) and its
    ``inspection.create`` operation, in one transaction."""
    iid = ids.uuid7()
    ts = ids.now_iso()
    with store.write() as c:
        store_template_in(c, template_body_, template_source)
        ref = f"I-{store._next(c, 'inspection_seq'):04d}"
        c.execute("INSERT INTO inspections (id, ref, premises_id, template, template_version, recheck_of, items, "
                  "status, inspector, started_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                  (iid, ref, premises_id, template_body_["name"], template_body_["version"], recheck_of,
                   _dumps(items) if items is not None else None, "in_progress", inspector, ts))
        payload = {"premises_id": premises_id, "template": template_body_["name"],
                   "template_version": template_body_["version"], "started_at": ts, "recheck_of": recheck_of,
                   "ref": ref, "inspector": inspector, "items": items}
        op = store.append_op(c, "inspection.create", iid, payload, ts)
    return {"id": iid, "ref": ref, "seq": op["seq"]}


def _inspection_row(r: dict[str, Any]) -> dict[str, Any]:
    r["items"] = json.loads(r["items"]) if r.get("items") else None
    r["summary"] = json.loads(r["summary"]) if r.get("summary") else None
    return r


def inspection(store, iid: str) -> dict[str, Any]:
    r = _one(store.conn, "SELECT i.*, p.name AS premises_name, p.ref AS premises_ref FROM inspections i "
                         "JOIN premises p ON p.id = i.premises_id WHERE i.id = ?", (iid,))
    if r is None:
        raise NotFound(_("no inspection {iid}").format(iid=iid))
    r = _inspection_row(r)
    r["answered"] = store.conn.execute("SELECT count(*) FROM inspection_answers WHERE inspection_id = ?",
                                       (iid,)).fetchone()[0]
    return r


def resolve_inspection(store, ref: str) -> str:
    r = (ref or "").strip()
    cand = r.upper().removeprefix("I-").removeprefix("I")
    if cand.isdigit():
        row = store.conn.execute("SELECT id FROM inspections WHERE ref = ?", (f"I-{int(cand):04d}",)).fetchone()
        if row:
            return row[0]
    if len(r) >= 4:
        rows = id_prefix_matches(store.conn, "inspections", r)
        if len(rows) == 1:
            return rows[0]
    raise NotFound(_("no inspection matches {r!r}; `fieldreport checklist list` shows them").format(r=r))


def list_inspections(store, *, status: str | None = None, premises_id: str | None = None) -> list[dict[str, Any]]:
    where, args = [], []
    if status:
        where.append("i.status = ?")
        args.append(status)
    if premises_id:
        where.append("i.premises_id = ?")
        args.append(premises_id)
    q = ("SELECT i.*, p.name AS premises_name, p.ref AS premises_ref, "
         "(SELECT count(*) FROM inspection_answers a WHERE a.inspection_id = i.id) AS answered "
         "FROM inspections i JOIN premises p ON p.id = i.premises_id")
    if where:
        q += " WHERE " + " AND ".join(where)
    q += " ORDER BY i.started_at DESC, i.id DESC"
    return [_inspection_row(r) for r in _rows(store.conn, q, args)]


def in_progress_for(store, premises_id: str) -> dict[str, Any] | None:
    row = store.conn.execute("SELECT id FROM inspections WHERE premises_id = ? AND status = 'in_progress' "
                             "ORDER BY started_at DESC LIMIT 1", (premises_id,)).fetchone()
    return inspection(store, row[0]) if row else None


def answers(store, iid: str) -> dict[str, dict[str, Any]]:
    """item id → {answer, note, photo, answered_at}; ``answer`` None = skipped."""
    out = {}
    for item_id, ans, note, photo, at in store.conn.execute(
            "SELECT item_id, answer, note, photo, answered_at FROM inspection_answers WHERE inspection_id = ?", (iid,)):
        out[item_id] = {"answer": json.loads(ans) if ans is not None else None, "note": note,
                        "photo": json.loads(photo) if photo else None, "answered_at": at}
    return out


def save_answer(store, iid: str, item_id: str, answer: Any, *, note: str | None = None,
                photo: dict[str, Any] | None = None) -> dict[str, Any]:
    """Save one answer (``None`` = skipped) and its ``inspection.answer`` operation, in one
    transaction, the moment it is given. Answering again replaces it (a new operation)."""
    ts = ids.now_iso()
    with store.write() as c:
        st = c.execute("SELECT status FROM inspections WHERE id = ?", (iid,)).fetchone()
        if st is None:
            raise NotFound(_("no inspection {iid}").format(iid=iid))
        if st[0] != "in_progress":
            raise InputError(_("inspection: it is {status}; answers can no longer change").format(status=st[0]),
                             "inspection")
        if photo:
            c.execute("INSERT INTO blobs (sha256, size, mime, created_at) VALUES (?,?,?,?) "
                      "ON CONFLICT(sha256) DO NOTHING", (photo["sha256"], photo["size"], photo["mime"], ts))
        c.execute("INSERT INTO inspection_answers (inspection_id, item_id, answer, note, photo, answered_at) "
                  "VALUES (?,?,?,?,?,?) ON CONFLICT(inspection_id, item_id) DO UPDATE SET answer = excluded.answer, "
                  "note = excluded.note, photo = excluded.photo, answered_at = excluded.answered_at",
                  (iid, item_id, _dumps(answer) if answer is not None else None, note,
                   _dumps(photo) if photo else None, ts))
        op = store.append_op(c, "inspection.answer", iid,
                             {"item_id": item_id, "answer": answer, "note": note, "photo": photo}, ts)
    return {"seq": op["seq"], "answered_at": ts}


def finish_inspection(store, iid: str, summary: dict[str, Any]) -> dict[str, Any]:
    ts = ids.now_iso()
    with store.write() as c:
        st = c.execute("SELECT status FROM inspections WHERE id = ?", (iid,)).fetchone()
        if st is None:
            raise NotFound(_("no inspection {iid}").format(iid=iid))
        if st[0] != "in_progress":
            raise InputError(_("inspection: it is already {status}").format(status=st[0]), "inspection")
        c.execute("UPDATE inspections SET status = 'finished', finished_at = ?, summary = ? WHERE id = ?",
                  (ts, _dumps(summary), iid))
        op = store.append_op(c, "inspection.finish", iid, {"finished_at": ts, "summary": summary}, ts)
    return {"seq": op["seq"], "finished_at": ts}


def hazard_for_item(store, iid: str, item_id: str) -> dict[str, Any] | None:
    """The hazard report already made for this inspection's item (finishing is re-runnable)."""
    return _one(store.conn, "SELECT id, ref, deadline, level, dept FROM reports WHERE inspection_id = ? AND item_id = ? "
                            "LIMIT 1",
                (iid, item_id))


def open_hazards(store, premises_id: str | None = None) -> list[dict[str, Any]]:
    """Hazard reports from inspections that are not yet re-inspected or closed."""
    q = (f"SELECT r.id, r.ref, r.title, r.status, r.deadline, r.premises_id, r.inspection_id, r.item_id, r.level, "
         f"r.dept, i.template, i.template_version FROM reports r JOIN inspections i ON i.id = r.inspection_id "
         f"WHERE r.kind = 'hazard' AND r.status NOT IN ({','.join('?' * len(_OPEN_STATUSES))})")
    args: list[Any] = list(_OPEN_STATUSES)
    if premises_id:
        q += " AND r.premises_id = ?"
        args.append(premises_id)
    return _rows(store.conn, q + " ORDER BY r.created_at", args)


def overdue_hazards(store, today: str) -> list[dict[str, Any]]:
    """Open hazard reports (any source) whose rectification deadline has passed."""
    q = (f"SELECT r.id, r.ref, r.title, r.status, r.deadline, r.premises_id, r.item_id, r.dept, p.ref AS premises_ref, "
         f"p.name AS premises_name FROM reports r LEFT JOIN premises p ON p.id = r.premises_id "
         f"WHERE r.kind = 'hazard' AND r.archived = 0 AND r.deadline IS NOT NULL AND r.deadline < ? "
         f"AND r.status NOT IN ({','.join('?' * len(_OPEN_STATUSES))}) ORDER BY r.deadline, r.ref")
    return _rows(store.conn, q, [today, *_OPEN_STATUSES])
