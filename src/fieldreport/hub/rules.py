"""What makes an operation acceptable on the hub: pure functions, no SQL, no I/O.

Each ``check_*`` returns the normalised data to write, or raises :class:`Reject` with the
field at fault and a one-line reason (the answer's ``rejected`` entry). Payloads are
validated with the laptop's own rules (``fieldreport.fields``).
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any

from .. import taxonomy as tx
from ..protocol import DEVICE_OP_TYPES, SETTABLE_REPORT_FIELDS

CREATE_EXTRA = ("ref", "status", "created_at", "author")


class Reject(Exception):
    """``reason`` is the hub's English wording; ``code`` and ``params`` let a laptop say it in
    its own language (docs/protocol.md, "Rejection codes"); ``invalid`` is any value that fails
    the shared field rules, its detail only in ``reason``."""

    def __init__(self, field: str | None, reason: str, code: str = "invalid", **params: Any):
        super().__init__(reason)
        self.field = field
        self.reason = reason
        self.code = code
        self.params = params

    def result(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": "rejected", "field": self.field, "reason": self.reason, "code": self.code}
        if self.params:
            out["params"] = self.params
        return out


def check_time(value: Any, field: str) -> None:
    """An ISO 8601 time *with its zone*: a laptop's local time without one cannot be placed."""
    try:
        d = _dt.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        d = None
    if d is None:
        raise Reject(field, f"{field}: {value!r} is not an ISO 8601 time")
    if d.tzinfo is None:
        raise Reject(field, f"{field}: {value!r} has no zone; send the device's time with its zone "
                            f"(e.g. 2026-12-03T19:02:11.123+08:00)")


def check_type(type_: str) -> None:
    if type_ not in DEVICE_OP_TYPES:
        raise Reject("type", f"unknown operation type {type_!r}; known: {' '.join(DEVICE_OP_TYPES)}")


def check_report_create(payload: dict[str, Any]) -> dict[str, Any]:
    """The report's fields, validated as on the laptop (``fields.check_report``, the plain
    Python rules the pydantic models delegate to: no model is built per operation), plus
    ref/status/created_at/author."""
    from ..fields import FieldError, check_report

    fields = {k: v for k, v in payload.items() if k not in CREATE_EXTRA}
    try:
        out = check_report(fields)
    except FieldError as e:
        raise Reject(e.field or "payload", str(e)) from None
    status = payload.get("status") or "registered"
    if status not in tx.STATUSES:
        raise Reject("status", f"status: unknown status {status!r}")
    out["status"] = status
    out["location_source"] = out.get("location_source") or None  # checked by check_report
    for k in ("ref", "created_at", "author"):
        v = payload.get(k)
        if v is not None and not isinstance(v, str):
            raise Reject(k, f"{k}: must be a string")
        out[k] = v
    if out["created_at"] is not None:
        check_time(out["created_at"], "created_at")
    return out


def check_set(kind: str, payload: dict[str, Any]) -> tuple[str, Any]:
    """(field, new value) of a ``report.set``; the value checked as the laptop checks it."""
    field = payload.get("field")
    if field not in SETTABLE_REPORT_FIELDS:
        raise Reject("field", f"field: {field!r} cannot be set; settable: {' '.join(SETTABLE_REPORT_FIELDS)}")
    if "new" not in payload:
        raise Reject("new", "new: missing")
    new = payload["new"]
    if field == "level":
        if new is not None and new not in tx.levels_for(kind):
            raise Reject("level", f"level: {new!r} is not a level for a {kind}; choose one of: "
                                  f"{' '.join(tx.levels_for(kind))}")
    elif field == "dept":
        if new is not None and new not in tx.DEPARTMENTS:
            raise Reject("dept", f"dept: unknown department {new!r}")
    elif field == "deadline":
        if new is not None:
            try:
                new = _dt.date.fromisoformat(str(new)).isoformat()
            except ValueError:
                raise Reject("deadline", f"deadline: {new!r} is not a date (YYYY-MM-DD)") from None
    elif field in ("lat", "lon"):
        limit = 90 if field == "lat" else 180
        if new is not None:
            if isinstance(new, bool) or not isinstance(new, (int, float)) or not math.isfinite(new) \
                    or not -limit <= new <= limit:
                raise Reject(field, f"{field}: must be a number between -{limit} and {limit}")
            new = float(new)
    else:
        from ..models import MAX_DETAILS, MAX_PLACE, MAX_TITLE

        top = {"title": MAX_TITLE, "details": MAX_DETAILS, "place": MAX_PLACE}[field]
        if not isinstance(new, str):
            raise Reject(field, f"{field}: must be text")
        new = new.strip() if field == "title" else new
        if field == "title" and not new:
            raise Reject(field, "title: must not be empty")
        if len(new) > top:
            raise Reject(field, f"{field}: too long (at most {top} characters)")
    return field, new


def check_note(payload: dict[str, Any]) -> tuple[str, str, str | None]:
    note_id, text = payload.get("note_id"), payload.get("text")
    if not isinstance(note_id, str) or not 1 <= len(note_id) <= 64:
        raise Reject("note_id", "note_id: missing or not an id")
    if not isinstance(text, str) or not text.strip():
        raise Reject("text", "text: must not be empty")
    if len(text) > 20_000:
        raise Reject("text", "text: too long (at most 20000 characters)")
    author = payload.get("author")
    return note_id, text, author if isinstance(author, str) else None


def check_photo(payload: dict[str, Any]) -> dict[str, Any]:
    from ..fields import FieldError, check_photo as check

    try:
        return check(payload)
    except FieldError as e:
        raise Reject(e.field or "payload", str(e)) from None


def check_status(current: str, payload: dict[str, Any]) -> tuple[str, str, str | None] | None:
    """(from, to, note) when the move applies now; None when it is a conflict (the hub's
    status is no longer ``from``). An illegal move in itself is rejected."""
    frm, to = payload.get("from"), payload.get("to")
    if to not in tx.STATUSES:
        raise Reject("to", f"to: unknown status {to!r}")
    if frm not in tx.STATUSES:
        raise Reject("from", f"from: unknown status {frm!r}")
    if to not in tx.TRANSITIONS[frm]:
        legal = " ".join(tx.TRANSITIONS[frm]) or "none"
        raise Reject("to", f"to: cannot go from {frm} to {to}; legal next: {legal}", "transition",
                     frm=frm, to=to, legal=list(tx.TRANSITIONS[frm]))
    note = payload.get("note")
    if note is not None and not isinstance(note, str):
        raise Reject("note", "note: must be text")
    if current != frm:
        return None
    return frm, to, note or None


def check_archive(payload: dict[str, Any]) -> bool:
    v = payload.get("archived")
    if not isinstance(v, bool):
        raise Reject("archived", "archived: must be true or false")
    return v


def check_doc(payload: dict[str, Any], need: tuple[str, ...] = ()) -> dict[str, Any]:
    for k in need:
        if not payload.get(k):
            raise Reject(k, f"{k}: missing")
    return payload


def check_station_status(current: str, to: str) -> None:
    """A station's move is checked against the same workflow (raises Reject)."""
    if to not in tx.STATUSES:
        raise Reject("status", f"status: unknown status {to!r}; choose one of: {' '.join(tx.STATUSES)}")
    if to not in tx.TRANSITIONS[current]:
        legal = " ".join(tx.TRANSITIONS[current]) or "none"
        raise Reject("status", f"status: cannot go from {current} to {to}; legal next: {legal}", "transition",
                     frm=current, to=to, legal=list(tx.TRANSITIONS[current]))
