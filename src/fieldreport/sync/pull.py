"""Pull the hub's change feed: page by page from the stored cursor; each page applied together
with its cursor in one local transaction (``store.sync_state.apply_pull``)."""

from __future__ import annotations

from typing import Any, Callable

from ..store import sync_state


def pull_all(store, transport, *, limit: int = 500, on_page: Callable[[dict], None] | None = None,
             should_stop: Callable[[], bool] | None = None, crash: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Pull until the hub says ``has_more: false``. Returns counts and whether the hub's epoch
    changed (the caller re-pushes what the new hub lacks). Network errors propagate: what was
    applied so far stays applied, with its cursor."""
    out = {"changes": 0, "applied": 0, "conflicts": 0, "kept": 0, "pages": 0, "epoch_changed": False, "requeued": 0}
    restarts, first = 0, True
    # The case codes of this laptop's own reports come with the push answers. Should one whose
    # creation the hub acknowledged lack its code all the same, pull the feed again from the
    # start with them (re-applying is idempotent).
    own = sync_state.creates_without_code(store)
    if own:
        sync_state.restart_pull(store)
    while True:
        cursor = int(store.meta("pull_cursor") or 0)
        page = transport.pull(cursor, limit, own_case_codes=own)
        if crash:
            crash("after_pull_fetch")
        # the hub's epoch is checked on every page; whether it lost acknowledged entries, on the
        # first (an outbox scan: the later pages of one pull come from the same hub)
        a = sync_state.apply_pull(store, page, check_rollback=first)
        first = False
        out["requeued"] += a.requeued
        out["pages"] += 1
        if a.epoch_changed:
            out["epoch_changed"] = True
            restarts += 1
            if restarts > 3:
                break
            first = True
            continue
        out["changes"] += a.changes
        out["applied"] += a.applied
        out["conflicts"] += a.conflicts
        out["kept"] += a.kept
        if on_page:
            on_page(out)
        if not page.get("has_more") or not page.get("changes"):
            break
        if should_stop and should_stop():
            out["stopped"] = True
            break
    return out
