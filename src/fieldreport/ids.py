"""Time-ordered identifiers (UUIDv7, RFC 9562) and timestamps with zone."""

from __future__ import annotations

import datetime as _dt
import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def uuid7() -> str:
    """A UUIDv7 string: 48-bit Unix ms, then a 12-bit counter for ids minted in the same ms
    (so ids from one process are strictly increasing), then 62 random bits."""
    global _last_ms, _counter
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            _counter += 1
            if _counter > 0xFFF:
                _last_ms += 1
                _counter = 0
            ms = _last_ms
        else:
            _last_ms = ms
            _counter = int.from_bytes(os.urandom(2), "big") & 0x3FF
        rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
        value = (ms << 80) | (0x7 << 76) | (_counter << 64) | (0b10 << 62) | rand
    return str(uuid.UUID(int=value))


def now() -> _dt.datetime:
    """The device's current time, aware, in its local zone."""
    return _dt.datetime.now().astimezone()


def now_iso() -> str:
    return now().isoformat(timespec="milliseconds")


def utc_now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")
