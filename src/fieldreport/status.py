"""`fieldreport status`: the queue, dead letters, last sync, the store — as one dict."""

from __future__ import annotations

from typing import Any


def summary(store, paths, profile) -> dict[str, Any]:
    counts = store.outbox_counts()
    rejected = store.ops(states=("rejected", "conflict"), limit=100)
    from .photos import originals_pending
    from .profile import read_token
    from .sync.refusals import op_reason

    return {
        "device_id": store.meta("device_id"),
        "officer": {"name": profile.name, "officer_id": profile.officer_id, "role": profile.role,
                    "station": profile.station, "area": profile.area},
        "queued": counts.get("pending", 0),
        "queued_by_kind": store.queued_by_kind(),
        "acknowledged": counts.get("acked", 0),
        "rejected": counts.get("rejected", 0),
        "conflicts": counts.get("conflict", 0),
        "discarded": counts.get("discarded", 0),
        "dead_letters": [{"seq": o["seq"], "type": o["type"], "entity": o["entity"], "state": o["state"],
                          "reason": (o["result"] or {}).get("reason"), "code": (o["result"] or {}).get("code"),
                          "message": op_reason(o["result"])} for o in rejected],
        "reports": store.count_reports(),
        "last_sync": store.meta("last_sync"),
        "last_sync_result": store.meta("last_sync_result"),
        "next_attempt_at": store.meta("next_attempt_at"),
        "hub_url": profile.hub_url,
        "enrolled": read_token(paths) is not None,
        "hub_epoch": store.meta("hub_epoch"),
        "clock_offset_s": float(store.meta("clock_offset_s") or 0.0),
        "store_path": str(store.path),
        "store_bytes": store.size_bytes(),
        "encrypted": _encrypted(paths),
        "originals_local_only": originals_pending(store),
    }


def _encrypted(paths) -> bool:
    from .crypto import is_encrypted

    return is_encrypted(paths.data_dir)
