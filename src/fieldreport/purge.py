"""``fieldreport purge``: remove the local copies of reports the hub has confirmed.

A report goes only when *every* one of its operations was acknowledged by the hub (answered
applied or duplicate), its last acknowledgement and its last change are older than the
retention period, and every photo it shows was confirmed received. Anything pending,
rejected, in conflict or discarded keeps the report. The hub archives reports and never
deletes them: purge removes the laptop's copy only (what a lost laptop would leak).

Purged outbox entries keep their sequence and hashes (``fieldreport verify`` still checks the
chain) but lose their content, and take the state ``purged`` that sync never sends again.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any

from . import ids
from .errors import InputError
from .i18n import _

_AGE = re.compile(r"^\s*(\d+)\s*([dhw]?)\s*$", re.I)


def parse_age(value: str | int | None, default_days: int) -> _dt.timedelta:
    """``30d``, ``12h``, ``2w`` or a bare number of days; None gives ``default_days``."""
    if value is None or value == "":
        return _dt.timedelta(days=default_days)
    m = _AGE.match(str(value))
    if not m:
        raise InputError(_("synced-older-than: {value!r} is not an age; give e.g. 30d, 2w or 12h").format(value=value),
                         "synced_older_than")
    n, unit = int(m.group(1)), (m.group(2) or "d").lower()
    delta = {"d": _dt.timedelta(days=n), "h": _dt.timedelta(hours=n), "w": _dt.timedelta(weeks=n)}[unit]
    if delta <= _dt.timedelta(0):
        raise InputError(_("synced-older-than: must be more than zero"), "synced_older_than")
    return delta


def purge(store, blobs, *, older_than: _dt.timedelta, dry_run: bool = False,
          now: _dt.datetime | None = None) -> dict[str, Any]:
    """Plan (``dry_run``) or carry out a purge. Returns what was (or would be) removed and how
    many old reports stay, by reason. Photo files go after the transaction has committed."""
    from .store import privacy_store as ps

    cutoff = ((now or ids.now()) - older_than).isoformat(timespec="milliseconds")
    eligible, kept = ps.candidates(store.conn, cutoff)
    files: list[str] = []
    if not dry_run and eligible:
        eligible, files = ps.purge(store, eligible, cutoff)
        for sha in files:
            try:
                blobs.path(sha).unlink(missing_ok=True)
            except OSError:
                pass
    return {"dry_run": dry_run, "cutoff": cutoff, "older_than_days": older_than.total_seconds() / 86400,
            "reports": [{k: e[k] for k in ("ref", "kind", "created_at", "last_acked_at", "ops", "photos")}
                        for e in eligible],
            "photo_files": len(files), "kept": kept}
