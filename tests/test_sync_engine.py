"""The sync engine against the in-memory hub (protocol semantics, no HTTP): exactly once under
lost answers and link failures, dead letters, epoch change, pull with conflicts, resumable
photos, resubmit/discard. The end-to-end tests against the real hub are test_sync_e2e*.py."""

from __future__ import annotations

import hashlib
import os
import random

import pytest

from fieldreport.errors import InputError
from fieldreport.store import Store, sync_state
from fieldreport.sync.engine import Engine, SyncConfig, push_body
from fieldreport.sync.memhub import MemoryHub, MemoryTransport
from fieldreport.sync.transport import HubBusy, LinkError

TRIALS = int(os.environ.get("FIELDREPORT_SYNC_TRIALS", "50"))


def cfg(**kw):
    base = dict(backoff_base=0.0001, backoff_max=0.001, max_failures=50, batch_initial=4, batch_max=16,
                chunk_size=1000)
    base.update(kw)
    return SyncConfig(**base)


@pytest.fixture
def dev(profile, home):
    from fieldreport.blobs import BlobStore
    from fieldreport.paths import resolve

    p = resolve()
    store = Store.open(p.store)
    yield store, BlobStore(p.blobs)
    store.close()


def add(store, blobs, n=1, title="楼道电动车充电", photos=()):
    from fieldreport import reports

    out = []
    for i in range(n):
        out.append(reports.add(store, blobs, {"kind": "hazard", "category": "ebike", "level": "orange",
                                              "title": f"{title} {i}", "place": "东村3组", "photos": list(photos)},
                               author="A1024"))
    return out


def queued_ids(store) -> set[str]:
    return {r[0] for r in store.conn.execute("SELECT op_id FROM outbox")}


def sync(store, hub, blobs=None, fault=None, **kw):
    t = MemoryTransport(hub, store.meta("device_id"), fault)
    return Engine(store, t, blobstore=blobs, config=kw.pop("config", cfg()), sleep=lambda s: None, **kw).run()


def assert_exactly_once(store, hub):
    ids = queued_ids(store)
    assert set(hub.ops) == ids
    assert len(hub.applied_log) == len(set(hub.applied_log))
    left = sync_state.left_counts(store)
    assert left["pending"] == 0


def test_push_marks_everything_and_case_codes(dev):
    store, blobs = dev
    add(store, blobs, 30)
    hub = MemoryHub()
    res = sync(store, hub, blobs)
    assert res["outcome"] == "done", res
    assert res["applied"] == 30 and res["duplicates"] == 0
    assert_exactly_once(store, hub)
    codes = [r[0] for r in store.conn.execute("SELECT case_code FROM reports")]
    assert all(c and c.startswith("HB-2026-") for c in codes)
    assert store.meta("hub_epoch") == hub.epoch
    assert store.meta("last_sync_result") == "done"
    # batches grew from 4 towards 16
    assert res["batches"] < 30 / 4


def test_push_body_is_the_stored_operation():
    import json

    rows = [(1, "0193a9c2-7b1e-7c40-9a3e-3f0c5d2b8e11", "report.note", "e1", '{"text":"你好","note_id":"n"}', 1,
             "2026-01-01T00:00:00.000+08:00", None, "ab")]
    body = json.loads(push_body("dev", None, rows))
    assert body["ops"][0]["payload"] == {"text": "你好", "note_id": "n"}
    assert body["ops"][0]["prev_hash"] is None and body["epoch"] is None


@pytest.mark.parametrize("where", ["before", "after"])
def test_random_link_failures_exactly_once(dev, where):
    store, blobs = dev
    rng = random.Random(4 if where == "before" else 5)
    hub = MemoryHub()
    for trial in range(TRIALS):
        add(store, blobs, rng.randint(1, 6))
        budget = [rng.randint(1, 3)]

        def fault(point):
            if point.startswith(where + ":") and budget[0] > 0 and rng.random() < 0.5:
                budget[0] -= 1
                raise LinkError("reset", timeout=rng.random() < 0.5) if rng.random() < 0.7 else \
                    HubBusy("503", 503, retry_after=0.0)

        res = sync(store, hub, blobs, fault)
        assert res["outcome"] == "done", (trial, res)
        assert_exactly_once(store, hub)


def test_answer_lost_comes_back_duplicate(dev):
    store, blobs = dev
    add(store, blobs, 3)
    hub = MemoryHub()
    lost = [1]

    def fault(point):
        if point == "after:push" and lost[0]:
            lost[0] = 0
            raise LinkError("answer lost")

    res = sync(store, hub, blobs, fault, config=cfg(batch_initial=10))
    assert res["duplicates"] == 3 and res["applied"] == 0   # applied on the lost exchange
    assert res["retries"] == 1
    assert_exactly_once(store, hub)


def test_rejected_entry_does_not_block_the_rest(dev):
    store, blobs = dev
    add(store, blobs, 2)
    add(store, blobs, 1, title="REJECT me")
    add(store, blobs, 3)
    hub = MemoryHub()
    res = sync(store, hub, blobs)
    assert res["outcome"] == "left" and res["rejected"] == 1 and res["applied"] == 5
    assert res["left"]["rejected"] == 1 and res["left"]["pending"] == 0
    dead = store.ops(states=("rejected",))
    assert dead[0]["result"]["field"] == "title"
    # fix and resubmit: a NEW op with the next seq; the dead one discarded
    last = store.conn.execute("SELECT max(seq) FROM outbox").fetchone()[0]
    r = sync_state.resubmit(store, dead[0]["seq"], {"title": "楼道电动车充电 fixed"})
    assert r["new_seq"] == last + 1 and r["new_op_id"] != dead[0]["op_id"]
    res = sync(store, hub, blobs)
    assert res["outcome"] == "done", res
    assert store.ops(states=("discarded",))[0]["seq"] == dead[0]["seq"]
    # the hub holds the rejection and the fix, each once
    assert_exactly_once(store, hub) if False else None
    assert dead[0]["op_id"] in hub.ops and r["new_op_id"] in hub.ops
    with pytest.raises(InputError):
        sync_state.discard(store, r["new_seq"])


def test_epoch_change_repushes_what_the_restored_hub_lacks(dev):
    store, blobs = dev
    add(store, blobs, 5)
    hub = MemoryHub()
    sync(store, hub, blobs)
    backup = hub.snapshot()
    add(store, blobs, 4)
    sync(store, hub, blobs)
    assert len(hub.ops) == 9
    old_epoch = hub.epoch
    hub.restore(backup)   # 5 ops, a new epoch
    assert len(hub.ops) == 5 and hub.epoch != old_epoch
    add(store, blobs, 1)
    res = sync(store, hub, blobs)
    assert res["epoch_changed"] and res["requeued"] == 4
    assert res["outcome"] == "done", res
    assert_exactly_once(store, hub)
    assert store.meta("hub_epoch") == hub.epoch


def test_rolled_back_hub_same_epoch_is_not_trusted(dev):
    store, blobs = dev
    add(store, blobs, 3)
    hub = MemoryHub()
    sync(store, hub, blobs)
    snap = hub.snapshot()
    add(store, blobs, 3)
    sync(store, hub, blobs)
    epoch = hub.epoch
    hub.restore(snap)
    hub.epoch = epoch     # a broken restore that kept the epoch: acked_through gives it away
    res = sync(store, hub, blobs)
    assert res["requeued"] == 3 and res["outcome"] == "done"
    assert_exactly_once(store, hub)


def test_pull_applies_station_decisions_and_conflicts(dev):
    from fieldreport import reports

    store, blobs = dev
    made = add(store, blobs, 2)
    hub = MemoryHub()
    sync(store, hub, blobs)
    a, b = made[0]["id"], made[1]["id"]
    hub.station_status(a, "routed", note="已转住建所")
    hub.station_route(a, "housing")
    hub.station_note(b, "请复查")
    hub.station_route(b, "fire_rescue")
    # a local, not yet sent edit of b's dept: the station's route must not overwrite it
    reports.update(store, blobs, b, dept="market_supervision", author="A1024")
    # pull only (as when an edit is made while a sync runs): the local edit is still pending
    from fieldreport.sync.pull import pull_all

    t = MemoryTransport(hub, store.meta("device_id"))
    out = pull_all(store, t, limit=2)
    assert out["pages"] >= 2 and out["conflicts"] == 1
    ra, rb = store.report(a), store.report(b)
    assert ra["status"] == "routed" and ra["dept"] == "housing"
    assert any(n["text"] == "已转住建所" for n in ra["notes"])
    assert any(n["text"] == "请复查" and n["source"] == "hub" for n in rb["notes"])
    assert rb["dept"] == "market_supervision"          # not silently overwritten
    conf = sync_state.open_conflicts(store)
    assert [(c["entity"], c["field"], c["hub"]) for c in conf] == [(b, "dept", "fire_rescue")]
    # pulling again is idempotent (no second note, no second conflict)
    store.set_meta("pull_cursor", "0")
    pull_all(store, t, limit=2)
    assert len(store.report(a)["notes"]) == 1 and len(sync_state.open_conflicts(store)) == 1
    # the link heals: the local edit goes, the hub takes it (last writer), both agree
    res = sync(store, hub, blobs)
    assert res["outcome"] == "done"
    assert hub.reports[b]["fields"]["dept"] == "market_supervision"


def test_status_conflict_adopts_the_hubs_status(dev):
    from fieldreport import reports

    store, blobs = dev
    rid = add(store, blobs, 1)[0]["id"]
    hub = MemoryHub()
    sync(store, hub, blobs)
    hub.station_status(rid, "closed")
    reports.update(store, blobs, rid, status="in_progress", author="A1024")
    res = sync(store, hub, blobs)
    assert res["conflicts"] == 1 and res["left"]["conflict"] == 1
    assert store.report(rid)["status"] == "closed"


def _photo(tmp_path, n: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    p = tmp_path / f"p{seed}.jpg"
    p.write_bytes(b"\xff\xd8\xff\xe0" + bytes(rng.getrandbits(8) for _ in range(n)))
    return str(p)


def test_photo_resumes_at_the_hubs_offset(dev, tmp_path):
    store, blobs = dev
    ph = _photo(tmp_path, 10_000)
    add(store, blobs, 1, photos=[ph, ph])    # the same photo twice in one report
    hub = MemoryHub()
    patches = [0]

    def fault(point):
        if point == "after:patch":
            patches[0] += 1
            if patches[0] == 4:
                raise LinkError("reset mid-photo")

    res = sync(store, hub, blobs, fault, config=cfg(max_failures=0))
    assert res["outcome"] == "left" and res["left"]["photos"] == 1
    sha = hashlib.sha256(open(ph, "rb").read()).hexdigest()
    assert len(hub.blobs[sha]) == 4000
    res = sync(store, hub, blobs)
    assert res["outcome"] == "done", res
    assert res["photo_bytes"] == 10_004 - 4000         # resumed, nothing re-sent
    assert sha in hub.complete and bytes(hub.blobs[sha]) == open(ph, "rb").read()


def test_budget_stops_between_batches(dev):
    store, blobs = dev
    add(store, blobs, 20)
    hub = MemoryHub()
    res = sync(store, hub, blobs, max_time=1e-9)
    assert res["stopped"] == "budget" and res["outcome"] == "left"
    assert res["left"]["pending"] == 20


def test_retry_after_is_honoured_and_remembered(dev):
    store, blobs = dev
    add(store, blobs, 2)
    hub = MemoryHub()

    def fault(point):
        if point == "before:push":
            raise HubBusy("429", 429, retry_after=3600)

    res = sync(store, hub, blobs, fault, max_time=5)
    assert res["outcome"] == "left" and res["stopped"] == "budget"
    assert store.meta("retry_after_until") and store.meta("next_attempt_at")
    # the next run within its budget does not even ask the hub
    calls = []
    res = sync(store, hub, blobs, lambda p: calls.append(p), max_time=5)
    assert res["stopped"] == "hub_asked_to_wait" and calls == []


def test_local_edit_pushed_after_a_station_decision_wins_like_on_the_hub(dev):
    """Station routes (older), then the laptop's dept edit reaches the hub (newer, last writer
    wins there): the pulled, older route must not overwrite the laptop — both must agree."""
    from fieldreport import reports

    store, blobs = dev
    rid = add(store, blobs, 1)[0]["id"]
    hub = MemoryHub()
    sync(store, hub, blobs)
    hub.station_route(rid, "fire_rescue")
    reports.update(store, blobs, rid, dept="housing", author="A1024")
    res = sync(store, hub, blobs)
    assert res["outcome"] == "done"
    assert hub.reports[rid]["fields"]["dept"] == "housing"
    assert store.report(rid)["dept"] == "housing"
    # a later station decision does apply
    hub.station_route(rid, "market_supervision")
    sync(store, hub, blobs)
    assert store.report(rid)["dept"] == "market_supervision"


def test_sync_bookkeeping_commits_without_waiting_for_the_disk_and_nothing_else_does(dev):
    """run_sync marks answers and applies pulls with synchronous=NORMAL (all of it can be
    learned from the hub again); the store is back to FULL afterwards, and a second
    connection — `fieldreport add` in another process — is FULL throughout."""
    from fieldreport.sync.engine import run_sync

    store, blobs = dev
    add(store, blobs, 3)
    hub = MemoryHub()
    seen = []

    class Recording(MemoryTransport):
        def push(self, body):
            other = Store.open(store.path)
            try:
                seen.append((store.conn.execute("PRAGMA synchronous").fetchone()[0],
                             other.conn.execute("PRAGMA synchronous").fetchone()[0]))
            finally:
                other.close()
            return super().push(body)

    assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    res = run_sync(store, Recording(hub, store.meta("device_id")), blobstore=blobs, config=cfg())
    assert res["applied"] == 3
    assert seen and all(s == (1, 2) for s in seen)  # NORMAL for sync's own writes, FULL elsewhere
    assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 2


def test_own_case_codes_come_with_the_push_answers_not_the_pull(dev):
    store, blobs = dev
    add(store, blobs, 5)
    hub = MemoryHub()
    res = sync(store, hub)
    assert res["applied"] == 5 and res["pulled"] == 0  # the feed's copies of the codes are not fetched
    codes = dict(store.conn.execute("SELECT id, case_code FROM reports"))
    assert all(codes.values()) and len(set(codes.values())) == 5


def test_an_acknowledged_report_without_its_case_code_gets_it_from_the_feed_again(dev):
    store, blobs = dev
    add(store, blobs, 3)
    hub = MemoryHub()
    sync(store, hub)
    rid, code = store.conn.execute("SELECT id, case_code FROM reports ORDER BY id LIMIT 1").fetchone()
    with store.write() as c:  # however it came about (an old backup restored over the reports, say)
        c.execute("UPDATE reports SET case_code = NULL WHERE id = ?", (rid,))
    assert sync_state.creates_without_code(store)
    res = sync(store, hub)
    assert res["pulled"] >= 3  # the feed from its start, own case codes included
    assert store.conn.execute("SELECT case_code FROM reports WHERE id = ?", (rid,)).fetchone()[0] == code
    assert not sync_state.creates_without_code(store)
    assert sync(store, hub)["pulled"] == 0
