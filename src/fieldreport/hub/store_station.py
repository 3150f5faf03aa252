"""What the station does on the hub: read reports, route, assign, move along the workflow,
add notes, publish checklist templates. Each decision is one transaction that also appends
the change the field will pull (``report.route``, ``report.assign``, ``report.status``, …)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from .. import ids
from .. import taxonomy as tx
from ..i18n import _
from . import rules
from . import store_schema as t
from .errors import BadRequest, NotFoundError
from .store import dumps, loads


class StationOps:
    def __init__(self, store):
        self.store = store

    # ------------------------------------------------------------------ reading
    def resolve(self, ref: str, c: sa.Connection | None = None) -> str:
        """The report id for a case code (``HB-2026-000123``), an id, or a unique id prefix."""
        r = ref.strip()
        if not r:
            raise BadRequest(_("ref: give a case code such as HB-2026-000001 or a report id"), "ref")

        def go(conn):
            row = conn.execute(sa.select(t.reports.c.id).where(
                sa.or_(t.reports.c.case_code == r.upper(), t.reports.c.id == r.lower()))).first()
            if row:
                return row[0]
            if len(r) >= 4:
                low = r.lower()
                rows = conn.execute(sa.select(t.reports.c.id).where(t.reports.c.id >= low, t.reports.c.id < low + "~")
                                    .limit(2)).all()
                if len(rows) == 1:
                    return rows[0][0]
                if len(rows) > 1:
                    raise BadRequest(_("ref: {ref} matches more than one report; give more of the id").format(
                        ref=repr(r)), "ref")
            raise NotFoundError(_("no report matches {ref}; `fieldreport hub reports` lists them").format(ref=repr(r)))

        if c is not None:
            return go(c)
        with self.store.read() as conn:
            return go(conn)

    def reports(self, *, area: str | None = None, status: str | None = None, kind: str | None = None,
                level: str | None = None, dept: str | None = None, device: str | None = None,
                limit: int = 100) -> list[dict[str, Any]]:
        q = sa.select(t.reports)
        for col, val in (("area", area), ("status", status), ("kind", kind), ("level", level), ("dept", dept),
                         ("device_id", device)):
            if val:
                q = q.where(getattr(t.reports.c, col) == val)
        q = q.order_by(t.reports.c.received_at.desc(), t.reports.c.id.desc()).limit(limit)
        with self.store.read() as c:
            return [_report_dict(r) for r in c.execute(q)]

    def report(self, ref: str) -> dict[str, Any]:
        with self.store.read() as c:
            rid = self.resolve(ref, c)
            rep = _report_dict(c.execute(sa.select(t.reports).where(t.reports.c.id == rid)).first())
            rep["parties"] = [
                {"name": p.name, "role": p.role, "id": p.id_number, "phone": p.phone, "address": p.address,
                 "id_verified": p.id_verified}
                for p in c.execute(sa.select(t.parties).where(t.parties.c.report_id == rid).order_by(t.parties.c.idx))]
            rep["photos"] = [{"sha256": p.sha256, "size": p.size, "mime": p.mime, "name": p.name,
                              **(loads(p.meta) or {})}
                             for p in c.execute(sa.select(t.photos).where(t.photos.c.report_id == rid)
                                                .order_by(t.photos.c.added_at, t.photos.c.op_id))]
            rep["notes"] = [{"note_id": n.note_id, "text": n.text, "author": n.author, "source": n.source,
                             "created_at": n.created_at}
                            for n in c.execute(sa.select(t.notes).where(t.notes.c.report_id == rid)
                                               .order_by(t.notes.c.created_at, t.notes.c.note_id))]
            rep["history"] = [{"type": h.type, "source": h.source, "by": h.by, "at": h.at, **loads(h.detail)}
                              for h in c.execute(sa.select(t.history).where(t.history.c.entity == rid)
                                                 .order_by(t.history.c.id))]
        return rep

    def device_ops(self, device_id: str) -> list[dict[str, Any]]:
        """Every operation the hub holds from one device, by seq (for audits and tests)."""
        with self.store.read() as c:
            return [{"op_id": r.op_id, "seq": r.seq, "type": r.type, "entity": r.entity, "status": r.status,
                     "result": loads(r.result)}
                    for r in c.execute(sa.select(t.ops).where(t.ops.c.device_id == device_id).order_by(t.ops.c.seq))]

    # ------------------------------------------------------------------ deciding
    def decide(self, ref: str, *, dept: str | None = None, assign: str | None = None, status: str | None = None,
               note: str | None = None, by: str | None = None) -> dict[str, Any]:
        """The station's decision on one report, in one transaction: route to ``dept`` (a
        waiting report also moves to ``routed``), assign to an officer, move to ``status``
        (with ``note``), or add ``note`` alone. Each part is checked before anything is
        written, and becomes its own change in the pull feed."""
        dept_code = None
        if dept is not None:
            dept_code = tx.resolve(tx.DEPARTMENTS, dept)
            if dept_code is None:
                raise BadRequest(_("dept: unknown department {dept}; choose one of: {choices}").format(
                    dept=repr(dept), choices=" ".join(tx.DEPARTMENTS)),
                                 "dept")
        to = (tx.resolve(tx.STATUSES, status) or status) if status is not None else None
        if note is not None and not note.strip():
            raise BadRequest(_("note: must not be empty"), "note")
        note = note.strip() if note else None
        if not any((dept_code, assign, to, note)):
            raise BadRequest(_("nothing to decide: give a department, an officer, a status or a note"))
        with self.store.write() as c:
            rid = self.resolve(ref, c)
            rep = c.execute(sa.select(t.reports).where(t.reports.c.id == rid).with_for_update()).first()
            cur = dict(rep._mapping)
            values: dict[str, Any] = {}
            changes: list[dict[str, Any]] = []

            def move(frm: str, dest: str, text: str | None) -> None:
                try:
                    rules.check_station_status(frm, dest)
                except rules.Reject as r:
                    raise BadRequest(r.reason, r.field) from None
                values["status"] = cur["status"] = dest
                changes.append({"type": "report.status", "payload": {"from": frm, "to": dest, "note": text, "by": by}})

            if dept_code:
                values["dept"] = dept_code
                changes.append({"type": "report.route", "payload": {"dept": dept_code, "by": by}})
                if cur["status"] != "routed" and "routed" in tx.TRANSITIONS[cur["status"]] and to is None:
                    move(cur["status"], "routed", None)
            if assign:
                if self.store.officer(assign, c) is None:
                    raise NotFoundError(_("officer: no officer {officer} on this hub; enroll them first "
                                        "(`fieldreport hub enroll`)").format(officer=repr(assign)), "officer")
                values["assigned_to"] = assign
                changes.append({"type": "report.assign", "payload": {"officer_id": assign, "by": by},
                                "officer_id": assign})
            if to is not None:
                move(cur["status"], to, note)
            elif note:
                changes.append({"type": "report.note", "payload": {"note_id": ids.uuid7(), "text": note, "by": by}})
            now = ids.utc_now_iso()
            c.execute(t.reports.update().where(t.reports.c.id == rid).values(updated_at=now, **values))
            if note:
                nid = next((ch["payload"]["note_id"] for ch in changes if ch["type"] == "report.note"), ids.uuid7())
                c.execute(t.notes.insert().values(note_id=nid, report_id=rid, text=note, author=by, source="station",
                                                  created_at=now))
            for ch in changes:
                c.execute(t.history.insert().values(entity=rid, source="station", type=ch["type"],
                                                    detail=dumps(ch["payload"]), by=by, at=now))
                ch["entity"] = rid
                ch.setdefault("device_id", rep.device_id)
                ch.setdefault("officer_id", values.get("assigned_to", rep.assigned_to))
            self.store.emit(c, changes)
        return {"id": rid, "case_code": rep.case_code, "changes": [ch["type"] for ch in changes]}

    def set_status(self, ref: str, to: str, *, note: str | None = None, by: str | None = None) -> dict[str, Any]:
        return self.decide(ref, status=to, note=note, by=by)

    def route(self, ref: str, dept: str, *, by: str | None = None) -> dict[str, Any]:
        return self.decide(ref, dept=dept, by=by)

    def assign(self, ref: str, officer_id: str, *, by: str | None = None) -> dict[str, Any]:
        return self.decide(ref, assign=officer_id, by=by)

    def note(self, ref: str, text: str, *, by: str | None = None) -> dict[str, Any]:
        return self.decide(ref, note=text, by=by)

    def put_template(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Publish a checklist template (``id`` and integer ``version`` required) to every device."""
        tid, version = doc.get("id"), doc.get("version")
        if not isinstance(tid, str) or not tid.strip():
            raise BadRequest(_("template: `id` is missing"), "id")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise BadRequest(_("template: `version` must be a whole number from 1"), "version")
        now = ids.utc_now_iso()
        with self.store.write() as c:
            cur = c.execute(sa.select(t.templates.c.version).where(t.templates.c.id == tid)).scalar()
            if cur is not None and version <= cur:
                raise BadRequest(_("template: {template} version {version} is already published; raise "
                                   "`version`").format(template=tid, version=cur), "version")
            if cur is None:
                c.execute(t.templates.insert().values(id=tid, version=version, doc=dumps(doc), updated_at=now))
            else:
                c.execute(t.templates.update().where(t.templates.c.id == tid)
                          .values(version=version, doc=dumps(doc), updated_at=now))
            self.store.emit(c, [{"type": "template.put", "entity": tid, "payload": {"template": doc}}])
        return {"id": tid, "version": version}


def _report_dict(row) -> dict[str, Any]:
    d = dict(row._mapping)
    d["archived"] = bool(d["archived"])
    return d
