"""Canonical JSON and operation hashes, shared by laptop and hub (kept apart from the pydantic
wire models so the `add` path does not build them)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

HASHED_FIELDS = ("op_id", "device_id", "seq", "clock", "ts", "type", "entity", "payload", "prev_hash")


# json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False), without building
# an encoder per call (the hub hashes every operation it receives)
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(obj: Any) -> bytes:
    """Canonical JSON: sorted keys, no spaces, UTF-8 — the bytes that are hashed."""
    return _ENCODER.encode(obj).encode("utf-8")


def op_hash(op: dict[str, Any]) -> str:
    """sha256 of the canonical form of an operation's hashed fields (the tamper-evident chain:
    each operation's ``prev_hash`` is the ``hash`` of the device's previous operation)."""
    return hashlib.sha256(canonical({k: op.get(k) for k in HASHED_FIELDS})).hexdigest()
