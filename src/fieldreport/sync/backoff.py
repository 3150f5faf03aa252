"""Retry timing: exponential backoff with full jitter, honouring the hub's ``Retry-After``.

Within one run the engine sleeps these delays itself; between runs (the CLI exits) the next
attempt time is kept in the store's meta (``next_attempt_at``; ``retry_after_until`` when the
hub asked for it), so ``fieldreport status`` can show it and the next run can honour it.
"""

from __future__ import annotations

import datetime as _dt
import random


class Backoff:
    def __init__(self, base: float = 1.0, cap: float = 120.0, rng: random.Random | None = None):
        self.base = base
        self.cap = cap
        self.failures = 0
        self.rng = rng or random.Random()

    def reset(self) -> None:
        self.failures = 0

    def next_delay(self, retry_after: float | None = None) -> float:
        """Record one more failure and return how long to wait before the next attempt:
        ``Retry-After`` when the hub gave one (plus up to 10 % jitter), else full jitter over
        ``base * 2**n`` capped at ``cap``."""
        n = self.failures
        self.failures += 1
        if retry_after is not None:
            return retry_after * (1.0 + 0.1 * self.rng.random())
        ceiling = min(self.cap, self.base * (2 ** n))
        # never zero: at least a tenth of the ceiling, so a dead link is not hammered
        return ceiling * (0.1 + 0.9 * self.rng.random())


def at_iso(delay_s: float) -> str:
    """The UTC time ``delay_s`` from now, ISO 8601 with ms."""
    t = _dt.datetime.now(_dt.timezone.utc) + _dt.timedelta(seconds=delay_s)
    return t.isoformat(timespec="milliseconds")


def seconds_until(iso: str | None) -> float:
    """Seconds from now until ``iso`` (negative when past; 0 for None or unparsable)."""
    if not iso:
        return 0.0
    try:
        t = _dt.datetime.fromisoformat(iso)
    except ValueError:
        return 0.0
    if t.tzinfo is None:
        t = t.replace(tzinfo=_dt.timezone.utc)
    return (t - _dt.datetime.now(_dt.timezone.utc)).total_seconds()
