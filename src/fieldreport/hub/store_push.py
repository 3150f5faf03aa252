"""Applying a device's batch of operations: one transaction, each operation exactly once.

For each operation, in ``seq`` order: a held ``op_id`` is a ``duplicate`` (with the first
answer); otherwise its hash is re-computed, its payload validated (``rules``) and it is
applied, rejected or answered ``conflict`` — and the answer is recorded with it in ``ops``,
whose primary key is the ``op_id``. A rejected operation never fails the batch.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from .. import ids
from ..canon import op_hash
from . import rules
from . import store_schema as t
from .errors import Forbidden, HubBusy
from .rules import Reject
from .store import dumps, loads


def push(store, device: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    dev_id = device["device_id"]
    for op in ops:
        if op["device_id"] != dev_id:
            raise Forbidden(f"operation {op['op_id']} carries device {op['device_id']}, not this device's id",
                            "device_id")
    try:
        with store.write() as c:
            locked = c.execute(sa.select(t.devices.c.acked_through).where(t.devices.c.device_id == dev_id)
                               .with_for_update()).first()
            if locked is None:
                raise Forbidden("this device is not enrolled", "device_id")
            batch = _Batch(store, c, device)
            results = {op["op_id"]: None for op in ops}
            for op in sorted(ops, key=lambda o: o["seq"]):
                res = batch.one(op)
                if results.get(op["op_id"]) is None:
                    results[op["op_id"]] = res
            acked = _advance(c, dev_id, int(locked.acked_through))
            store.emit(c, batch.changes)
    except sa.exc.IntegrityError:
        # a unique constraint caught what the checks above should have: never a duplicate row
        raise HubBusy("a concurrent push held the same operations; try again") from None
    out = [results[op["op_id"]] for op in ops]
    # a repeated op_id inside one batch: its later copies are duplicates of the first
    first_seen: set[str] = set()
    for i, op in enumerate(ops):
        if op["op_id"] in first_seen:
            r = out[i]
            out[i] = {"op_id": r["op_id"], "seq": r["seq"], "status": "duplicate",
                      "original": r["status"] if r["status"] != "duplicate" else r.get("original"),
                      **({"case_code": r["case_code"]} if r.get("case_code") else {})}
        first_seen.add(op["op_id"])
    return {"acked_through": acked, "chain_ok": batch.chain_ok, "results": out}


def _advance(c: sa.Connection, dev_id: str, acked: int) -> int:
    """Move the device's ``acked_through`` over every consecutive seq the hub now holds."""
    seqs = c.execute(sa.select(t.ops.c.seq).where(t.ops.c.device_id == dev_id, t.ops.c.seq > acked)
                     .order_by(t.ops.c.seq)).scalars()
    new = acked
    for s in seqs:
        if s != new + 1:
            break
        new = s
    c.execute(t.devices.update().where(t.devices.c.device_id == dev_id)
              .values(acked_through=new, last_seen_at=ids.utc_now_iso()))
    return new


class _Batch:
    def __init__(self, store, c: sa.Connection, device: dict[str, Any]):
        self.store, self.c, self.device = store, c, device
        self.changes: list[dict[str, Any]] = []
        self.chain_ok = True
        self.now = ids.utc_now_iso()

    # ------------------------------------------------------------------ one operation
    def one(self, op: dict[str, Any]) -> dict[str, Any]:
        c = self.c
        held = c.execute(sa.select(t.ops.c.status, t.ops.c.result).where(t.ops.c.op_id == op["op_id"])).first()
        if held is not None:
            first = loads(held.result)
            res = {"op_id": op["op_id"], "seq": op["seq"], "status": "duplicate", "original": held.status}
            if first.get("case_code"):
                res["case_code"] = first["case_code"]
            return res
        base = {"op_id": op["op_id"], "seq": op["seq"]}
        other = c.execute(sa.select(t.ops.c.op_id).where(t.ops.c.device_id == op["device_id"],
                                                         t.ops.c.seq == op["seq"])).scalar()
        if other is not None:  # not recordable: the seq is taken by another operation
            return {**base, "status": "rejected", "field": "seq",
                    "reason": f"seq {op['seq']} is already held for operation {other}; the laptop's log was "
                              f"rewritten (restore of an old copy?) — run `fieldreport doctor`"}
        computed = op_hash(op)
        claimed = op.get("hash") or computed
        chain = self._chain(op)
        try:
            if claimed != computed:
                raise Reject("hash", "hash: does not match the operation's content (altered in transit or on the laptop)")
            res = {**base, **self.apply(op)}
        except Reject as r:
            res = {**base, "status": "rejected", "field": r.field, "reason": r.reason}
        if chain:
            res["chain"] = chain
            self.chain_ok = False
        c.execute(t.ops.insert().values(
            op_id=op["op_id"], device_id=op["device_id"], seq=op["seq"], clock=op["clock"], ts=op["ts"],
            type=op["type"], entity=op["entity"], payload=dumps(op["payload"]), prev_hash=op.get("prev_hash"),
            hash=claimed, received_at=self.now, status=res["status"], result=dumps(res)))
        return res

    def _chain(self, op: dict[str, Any]) -> str | None:
        """Why the hash chain breaks at this operation, or None."""
        if op["seq"] == 1:
            return None if op.get("prev_hash") is None else "seq 1 must have no prev_hash"
        prev = self.c.execute(sa.select(t.ops.c.hash).where(t.ops.c.device_id == op["device_id"],
                                                            t.ops.c.seq == op["seq"] - 1)).scalar()
        if prev is None or prev == op.get("prev_hash"):
            return None
        return f"prev_hash does not match the hash of seq {op['seq'] - 1} held by the hub"

    def apply(self, op: dict[str, Any]) -> dict[str, Any]:
        rules.check_type(op["type"])
        kind, _, verb = op["type"].partition(".")
        return getattr(self, f"_{kind}_{verb}")(op)

    # ------------------------------------------------------------------ reports
    def _report(self, op: dict[str, Any]):
        rep = self.c.execute(sa.select(t.reports).where(t.reports.c.id == op["entity"]).with_for_update()).first()
        if rep is None:
            raise Reject("entity", f"entity: the hub holds no report {op['entity']} (was its report.create rejected?)")
        if rep.area != self.device["area"] and rep.officer_id != self.device["officer_id"] \
                and rep.assigned_to != self.device["officer_id"]:
            raise Reject("entity", "entity: the report belongs to another area")
        return rep

    def _history(self, op: dict[str, Any], type_: str, detail: dict[str, Any]) -> None:
        self.c.execute(t.history.insert().values(entity=op["entity"], op_id=op["op_id"], source="field", type=type_,
                                                 detail=dumps(detail), by=self.device["officer_id"], at=self.now))

    def _touch(self, rid: str, **values) -> None:
        self.c.execute(t.reports.update().where(t.reports.c.id == rid).values(updated_at=self.now, **values))

    def _report_create(self, op: dict[str, Any]) -> dict[str, Any]:
        c = self.c
        if c.execute(sa.select(t.reports.c.id).where(t.reports.c.id == op["entity"])).first() is not None:
            raise Reject("entity", f"entity: report {op['entity']} already exists on the hub")
        f = rules.check_report_create(op["payload"])
        year = self.now[:4]
        n = self.store._bump(c, f"case:{year}")
        code = f"{self.store.prefix}-{year}-{n:06d}"
        c.execute(t.reports.insert().values(
            id=op["entity"], case_code=code, ref=f.get("ref"), device_id=op["device_id"],
            officer_id=self.device["officer_id"], area=self.device["area"], kind=f["kind"], category=f.get("category"),
            level=f.get("level"), title=f["title"], details=f.get("details") or "", place=f.get("place") or "",
            lat=f.get("lat"), lon=f.get("lon"), premises_id=f.get("premises_id"), inspection_id=f.get("inspection_id"),
            item_id=f.get("item_id"), dept=f.get("dept"), deadline=f.get("deadline"), status=f["status"],
            archived=False, author=f.get("author"), created_at=f.get("created_at"), received_at=self.now,
            updated_at=self.now))
        if f["parties"]:
            c.execute(t.parties.insert(), [
                {"report_id": op["entity"], "idx": i, "name": p["name"], "role": p["role"], "id_number": p.get("id"),
                 "phone": p.get("phone"), "address": p.get("address"), "id_verified": bool(p.get("id_verified", True))}
                for i, p in enumerate(f["parties"])])
        for i, ph in enumerate(f["photos"]):
            self._photo_row(f"{op['op_id']}:{i}", op["entity"], ph)
        self._history(op, "report.create", {"case_code": code, "status": f["status"]})
        self.changes.append({"type": "report.case_code", "entity": op["entity"], "payload": {"case_code": code},
                             "device_id": op["device_id"]})
        return {"status": "applied", "case_code": code}

    def _photo_row(self, key: str, rid: str, ph: dict[str, Any]) -> None:
        self.c.execute(t.photos.insert().values(op_id=key, report_id=rid, sha256=ph["sha256"], size=ph["size"],
                                                mime=ph.get("mime") or "application/octet-stream",
                                                name=ph.get("name") or "", added_at=self.now))

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
        if self.c.execute(sa.select(t.notes.c.note_id).where(t.notes.c.note_id == note_id)).first() is None:
            self.c.execute(t.notes.insert().values(note_id=note_id, report_id=rep.id, text=text, author=author,
                                                   source="field", created_at=self.now))
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
                    "current": {"status": rep.status, "dept": rep.dept, "assigned_to": rep.assigned_to}}
        frm, to, note = move
        self._touch(rep.id, status=to)
        if note:
            self.c.execute(t.notes.insert().values(note_id=op["op_id"], report_id=rep.id, text=note,
                                                   author=op["payload"].get("author"), source="field",
                                                   created_at=self.now))
        self._history(op, "report.status", {"from": frm, "to": to, "note": note})
        return {"status": "applied"}

    def _report_archive(self, op: dict[str, Any]) -> dict[str, Any]:
        rep = self._report(op)
        archived = rules.check_archive(op["payload"])
        self._touch(rep.id, archived=archived)
        self._history(op, "report.archive", {"archived": archived})
        return {"status": "applied"}

    # ------------------------------------------------------------------ premises
    def _premises_row(self, op: dict[str, Any]):
        row = self.c.execute(sa.select(t.premises).where(t.premises.c.id == op["entity"]).with_for_update()).first()
        if row is None:
            raise Reject("entity", f"entity: the hub holds no premises {op['entity']}")
        return row

    def _premises_put(self, pid: str, doc: dict[str, Any], area: str | None) -> None:
        self.changes.append({"type": "premises.put", "entity": pid, "payload": {"premises": {**doc, "id": pid}},
                             "area": area})

    def _premises_create(self, op: dict[str, Any]) -> dict[str, Any]:
        if self.c.execute(sa.select(t.premises.c.id).where(t.premises.c.id == op["entity"])).first() is not None:
            raise Reject("entity", f"entity: premises {op['entity']} already exists on the hub")
        doc = rules.check_doc(op["payload"], ("name",))
        self.c.execute(t.premises.insert().values(id=op["entity"], area=self.device["area"], device_id=op["device_id"],
                                                  doc=dumps(doc), created_at=self.now, updated_at=self.now))
        self._premises_put(op["entity"], doc, self.device["area"])
        return {"status": "applied"}

    def _premises_set(self, op: dict[str, Any]) -> dict[str, Any]:
        row = self._premises_row(op)
        field = op["payload"].get("field")
        if not isinstance(field, str) or not field or field == "id" or "new" not in op["payload"]:
            raise Reject("field", "field: give {field, old, new} with a field name other than id")
        doc = loads(row.doc)
        doc[field] = op["payload"]["new"]
        self.c.execute(t.premises.update().where(t.premises.c.id == row.id).values(doc=dumps(doc), updated_at=self.now))
        self._premises_put(row.id, doc, row.area)
        return {"status": "applied"}

    # ------------------------------------------------------------------ inspections
    def _inspection_row(self, op: dict[str, Any]):
        row = self.c.execute(sa.select(t.inspections).where(t.inspections.c.id == op["entity"])).first()
        if row is None:
            raise Reject("entity", f"entity: the hub holds no inspection {op['entity']}")
        return row

    def _inspection_create(self, op: dict[str, Any]) -> dict[str, Any]:
        if self.c.execute(sa.select(t.inspections.c.id).where(t.inspections.c.id == op["entity"])).first() is not None:
            raise Reject("entity", f"entity: inspection {op['entity']} already exists on the hub")
        doc = rules.check_doc(op["payload"], ("template",))
        self.c.execute(t.inspections.insert().values(id=op["entity"], device_id=op["device_id"],
                                                     premises_id=doc.get("premises_id"), doc=dumps(doc),
                                                     created_at=self.now))
        return {"status": "applied"}

    def _inspection_answer(self, op: dict[str, Any]) -> dict[str, Any]:
        row = self._inspection_row(op)
        doc = rules.check_doc(op["payload"], ("item_id",))
        self.c.execute(t.answers.insert().values(op_id=op["op_id"], inspection_id=row.id, item_id=str(doc["item_id"]),
                                                 payload=dumps(doc), received_at=self.now))
        return {"status": "applied"}

    def _inspection_finish(self, op: dict[str, Any]) -> dict[str, Any]:
        row = self._inspection_row(op)
        self.c.execute(t.inspections.update().where(t.inspections.c.id == row.id)
                       .values(finished=dumps(op["payload"])))
        return {"status": "applied"}
