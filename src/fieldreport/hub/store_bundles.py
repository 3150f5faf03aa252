"""Hub store reads for bundles and exports (part of the hub's store: SQL lives only in
``hub/store*.py``). Applying a bundle's operations goes through ``HubStore.push`` — the same
transaction as ``POST /v1/push`` — never through anything here."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from . import store_schema as t


def device_by_id(store, device_id: str) -> dict[str, Any] | None:
    """An enrolled device with its officer's area and its token hash (the bundle key), or None."""
    q = (sa.select(t.devices.c.device_id, t.devices.c.officer_id, t.devices.c.revoked_at, t.devices.c.token_hash,
                   t.officers.c.area, t.officers.c.name)
         .join(t.officers, t.officers.c.officer_id == t.devices.c.officer_id)
         .where(t.devices.c.device_id == device_id))
    with store.read() as c:
        row = c.execute(q).first()
    if row is None:
        return None
    return {"device_id": row.device_id, "officer_id": row.officer_id, "area": row.area, "officer_name": row.name,
            "revoked_at": row.revoked_at, "token_hash": row.token_hash}


def export_reports(store, *, kind: str | None = None, status: str | None = None, area: str | None = None,
                   since: str | None = None, archived: bool = False) -> list[dict[str, Any]]:
    """Reports with their parties and photos, oldest first, in the laptop's report shape."""
    q = sa.select(t.reports)
    for col, val in (("kind", kind), ("status", status), ("area", area)):
        if val:
            q = q.where(getattr(t.reports.c, col) == val)
    if not archived:
        q = q.where(t.reports.c.archived.is_(False))
    q = q.order_by(t.reports.c.received_at, t.reports.c.id)
    with store.read() as c:
        reps = []
        for r in c.execute(q):
            d = dict(r._mapping)
            d["archived"] = bool(d["archived"])
            d["parties"], d["photos"], d["unsynced"] = [], [], 0
            reps.append(d)
        if since:
            reps = [d for d in reps if _after(d.get("created_at") or d.get("received_at"), since)]
        by_id = {d["id"]: d for d in reps}
        idlist = list(by_id)
        for i in range(0, len(idlist), 500):
            chunk = idlist[i:i + 500]
            for p in c.execute(sa.select(t.parties).where(t.parties.c.report_id.in_(chunk))
                               .order_by(t.parties.c.report_id, t.parties.c.idx)):
                by_id[p.report_id]["parties"].append({"name": p.name, "role": p.role, "id": p.id_number,
                                                      "phone": p.phone, "address": p.address,
                                                      "id_verified": bool(p.id_verified)})
            for p in c.execute(sa.select(t.photos).where(t.photos.c.report_id.in_(chunk))
                               .order_by(t.photos.c.added_at, t.photos.c.op_id)):
                by_id[p.report_id]["photos"].append({"sha256": p.sha256, "size": p.size, "mime": p.mime,
                                                     "name": p.name})
    return reps


def _after(ts: str | None, since: str) -> bool:
    import datetime as dt

    if not ts:
        return False
    try:
        return dt.datetime.fromisoformat(ts) >= dt.datetime.fromisoformat(since)
    except (TypeError, ValueError):
        return ts >= since
