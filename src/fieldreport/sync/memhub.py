"""An in-memory hub with the semantics of docs/protocol.md, and a Transport onto it.

For unit tests of the engine (TaskChampion style: the engine sees only the Transport
interface) and for property tests with many devices. Not a hub: no HTTP, no persistence.
``faults`` lets a test fail an exchange before the hub applies it, or after (answer lost).
"""

from __future__ import annotations

import copy
import hashlib
import json
import uuid
from typing import Any, Callable

from .. import taxonomy as tx
from ..canon import op_hash
from .transport import HubRefused, LinkError, Stats

SETTABLE = ("level", "dept", "deadline", "title", "details", "place", "lat", "lon")


_last = [0.0]


def _now() -> str:
    """Hub time, strictly increasing (the real hub's clock, ms, rarely ties; here never)."""
    import datetime as _dt
    import time

    t = max(time.time(), _last[0] + 0.001)
    _last[0] = t
    return _dt.datetime.fromtimestamp(t, _dt.timezone.utc).isoformat(timespec="milliseconds")


class MemoryHub:
    def __init__(self):
        self.epoch = uuid.uuid4().hex
        self.ops: dict[str, dict] = {}            # op_id -> {op, result}
        self.held: dict[str, set[int]] = {}       # device -> seqs answered
        self.reports: dict[str, dict] = {}        # entity -> {device, status, fields, case_code, notes}
        self.changes: list[dict] = []
        self.cursor = 0
        self.case_seq = 0
        self.blobs: dict[str, bytearray] = {}
        self.complete: set[str] = set()
        self.applied_log: list[str] = []          # op_ids in application order (never twice)

    # -- backups
    def snapshot(self) -> dict:
        return copy.deepcopy({k: v for k, v in self.__dict__.items()})

    def restore(self, snap: dict) -> None:
        self.__dict__.update(copy.deepcopy(snap))
        self.epoch = uuid.uuid4().hex

    def acked_through(self, device: str) -> int:
        s = self.held.get(device, set())
        n = 0
        while n + 1 in s:
            n += 1
        return n

    def _change(self, type_: str, entity: str, payload: dict) -> None:
        self.cursor += 1
        self.changes.append({"cursor": self.cursor, "type": type_, "entity": entity, "payload": payload, "ts": _now(),
                             "device": self.reports.get(entity, {}).get("device")})

    # -- station decisions
    def station_status(self, entity: str, to: str, note: str = "") -> bool:
        r = self.reports.get(entity)
        if r is None or to not in tx.TRANSITIONS.get(r["status"], ()):
            return False
        frm, r["status"] = r["status"], to
        self._change("report.status", entity, {"from": frm, "to": to, "note": note, "by": "station"})
        return True

    def station_route(self, entity: str, dept: str) -> bool:
        r = self.reports.get(entity)
        if r is None:
            return False
        r["fields"]["dept"] = dept
        self._change("report.route", entity, {"dept": dept, "by": "station"})
        return True

    def station_note(self, entity: str, text: str) -> bool:
        r = self.reports.get(entity)
        if r is None:
            return False
        nid = str(uuid.uuid4())
        r["notes"][nid] = text
        self._change("report.note", entity, {"note_id": nid, "text": text, "by": "station"})
        return True

    # -- push
    def push(self, device: str, req: dict) -> dict:
        results = []
        for op in req["ops"]:
            if op["device_id"] != device:
                raise HubRefused(403, "forbidden", "an operation claims another device", "device_id")
            prior = self.ops.get(op["op_id"])
            if prior is not None:
                r = prior["result"]
                results.append({"op_id": op["op_id"], "seq": op["seq"], "status": "duplicate", "original": r["status"],
                                **({"case_code": r["case_code"]} if r.get("case_code") else {})})
                continue
            res = self._apply(device, op)
            self.ops[op["op_id"]] = {"op": op, "result": res}
            self.held.setdefault(device, set()).add(op["seq"])
            if res["status"] == "applied":
                self.applied_log.append(op["op_id"])
            results.append(res)
        return {"epoch": self.epoch, "hub_time": _now(), "acked_through": self.acked_through(device),
                "chain_ok": True, "results": results}

    def _apply(self, device: str, op: dict) -> dict:
        base = {"op_id": op["op_id"], "seq": op["seq"]}
        if op_hash(op) != op.get("hash"):
            return {**base, "status": "rejected", "reason": "hash does not match", "field": "hash"}
        t, ent, p = op["type"], op["entity"], op["payload"]
        if t == "report.create":
            if ent in self.reports:
                return {**base, "status": "rejected", "reason": "entity exists", "field": "entity"}
            if not str(p.get("title") or "").strip() or str(p.get("title")).startswith("REJECT"):
                return {**base, "status": "rejected", "reason": "title: must not be empty", "field": "title"}
            self.case_seq += 1
            code = f"HB-2026-{self.case_seq:06d}"
            self.reports[ent] = {"device": device, "status": p.get("status", "registered"), "case_code": code,
                                 "fields": {k: p.get(k) for k in SETTABLE}, "notes": {}, "photos": []}
            self._change("report.case_code", ent, {"case_code": code})
            return {**base, "status": "applied", "case_code": code}
        r = self.reports.get(ent)
        if r is None:
            return {**base, "status": "rejected", "reason": "unknown entity", "field": "entity"}
        if t == "report.set":
            if p.get("field") not in SETTABLE:
                return {**base, "status": "rejected", "reason": "field cannot be set", "field": "field"}
            r["fields"][p["field"]] = p.get("new")
        elif t == "report.note":
            r["notes"][p["note_id"]] = p.get("text")
        elif t == "report.photo":
            r["photos"].append(p.get("sha256"))
        elif t == "report.status":
            if r["status"] != p.get("from") or p.get("to") not in tx.TRANSITIONS.get(r["status"], ()):
                return {**base, "status": "conflict", "reason": "status moved", "current": {"status": r["status"]}}
            r["status"] = p["to"]
        elif t == "report.archive":
            r["archived"] = bool(p.get("archived"))
        else:
            return {**base, "status": "rejected", "reason": f"unknown type {t}", "field": "type"}
        return {**base, "status": "applied"}

    def pull(self, device: str, cursor: int, limit: int, own_case_codes: bool = True) -> dict:
        mine = [c for c in self.changes if c["cursor"] > cursor and c["device"] == device
                and (own_case_codes or c["type"] != "report.case_code")]
        page = mine[:limit]
        out = [{k: v for k, v in c.items() if k != "device"} for c in page]
        new_cursor = page[-1]["cursor"] if page else max(cursor, 0)
        if not page:
            new_cursor = self.cursor if cursor <= self.cursor else cursor
        return {"epoch": self.epoch, "hub_time": _now(), "cursor": new_cursor, "has_more": len(mine) > limit,
                "acked_through": self.acked_through(device), "changes": out}


class MemoryTransport:
    """A Transport onto a MemoryHub. ``fault(point)`` is called with ``"before:<what>"`` and
    ``"after:<what>"``; it may raise a TransportError to simulate the link failing before the
    hub applied the request, or after (the answer lost)."""

    def __init__(self, hub: MemoryHub, device_id: str, fault: Callable[[str], None] | None = None):
        self.hub = hub
        self.device = device_id
        self.fault = fault or (lambda point: None)
        self.stats = Stats()

    def _ex(self, what: str, fn: Callable[[], Any], up: int = 0) -> Any:
        self.stats.requests += 1
        self.stats.bytes_up += up
        self.fault(f"before:{what}")
        out = fn()
        self.fault(f"after:{what}")
        self.stats.epoch = self.hub.epoch
        self.stats.bytes_down += len(json.dumps(out, default=str)) if out is not None else 0
        return out

    def push(self, body: bytes) -> dict:
        req = json.loads(body)
        return self._ex("push", lambda: copy.deepcopy(self.hub.push(self.device, req)), len(body))

    def pull(self, cursor: int, limit: int, own_case_codes: bool = False) -> dict:
        return self._ex("pull", lambda: copy.deepcopy(self.hub.pull(self.device, cursor, limit, own_case_codes)))

    def blobs_missing(self, hashes: list[str]) -> list[str]:
        return self._ex("missing", lambda: [h for h in hashes if h not in self.hub.complete])

    def blob_offset(self, sha256: str) -> int:
        return self._ex("head", lambda: len(self.hub.blobs.get(sha256, b"")))

    def blob_patch(self, sha256: str, offset: int, length: int, chunk: bytes) -> tuple[int, bool]:
        def go():
            held = self.hub.blobs.setdefault(sha256, bytearray())
            if offset != len(held):
                raise HubRefused(409, "offset", "wrong offset", None, len(held))
            held += chunk
            if len(held) >= length:
                if hashlib.sha256(held).hexdigest() != sha256:
                    del self.hub.blobs[sha256]
                    raise HubRefused(422, "hash", "whole hash mismatch")
                self.hub.complete.add(sha256)
                return len(held), True
            return len(held), False

        return self._ex("patch", go, len(chunk))

    def close(self) -> None:
        pass


def drop(message: str = "connection reset") -> LinkError:
    return LinkError(message)
