"""Failure modes 1, 3, 6, 8 of ../shared/reference/sync.md through a fault-injecting proxy
between the real client (HttpTransport + engine) and a real hub on loopback: for each fault
class at least 50 randomized trials (FIELDREPORT_SYNC_TRIALS); after the link heals and a sync
finishes, the hub's database holds exactly the queued operations, each once."""

from __future__ import annotations

import hashlib
import random

import pytest

from faultproxy import FAULTS, FaultProxy
from sync_support import Laptop, assert_exactly_once, hub_ops, make_photo, trials

N = trials(50)


@pytest.fixture
def lap(profile, home, hub):
    lap = Laptop(home, hub)
    yield lap
    lap.close()


@pytest.fixture
def proxy(hub):
    p = FaultProxy(hub.port, seed=7, stall_s=0.3)
    yield p
    p.close()


@pytest.mark.parametrize("fault", [f for f in FAULTS if f != "captive"])
def test_fault_class_exactly_once(lap, proxy, fault):
    rng = random.Random(sum(map(ord, fault)))
    faulted = trial = 0
    while faulted < N:
        trial += 1
        assert trial <= 2 * N
        lap.add(rng.randint(1, 4))
        # the fault hits the first or second request of this run (push, retry, pull...), sometimes twice
        plan: list = [None] * rng.randint(0, 1) + [fault]
        if rng.random() < 0.3:
            plan += [None] * rng.randint(0, 1) + [fault]
        proxy.set_plan(plan)
        before = proxy.stats[fault]
        res = lap.sync(proxy.url, read_timeout=0.2 if fault == "stall" else 0.4,
                       batch_initial=rng.choice((1, 2, 8)))
        faulted += proxy.stats[fault] > before
        proxy.set_plan([])
        if res["outcome"] != "done":        # the link heals
            res = lap.sync(proxy.url)
        assert res["outcome"] == "done", (trial, res)
        assert_exactly_once(lap)


def test_captive_portal_is_not_success(lap, proxy):
    lap.add(3)
    proxy.chooser = lambda m, p: "captive"
    res = lap.sync(proxy.url, max_failures=2)
    assert res["outcome"] == "left" and res["stopped"] == "offline"
    assert "did not come from a fieldreport hub" in res["last_error"]
    assert lap.store.conn.execute("SELECT count(*) FROM outbox WHERE state = 'acked'").fetchone()[0] == 0
    assert hub_ops(lap.hub, lap.device_id) == []
    assert lap.store.meta("next_attempt_at")
    proxy.chooser = None
    assert lap.sync(proxy.url)["outcome"] == "done"
    assert_exactly_once(lap)


def test_captive_portal_trials(lap, proxy):
    rng = random.Random(11)
    for trial in range(N):
        lap.add(rng.randint(1, 3))
        proxy.set_plan([None] * rng.randint(0, 2) + ["captive"])
        res = lap.sync(proxy.url, read_timeout=0.4)
        if res["outcome"] != "done":
            res = lap.sync(proxy.url)
        assert res["outcome"] == "done"
        assert_exactly_once(lap)


def test_mixed_faults_with_photos(lap, proxy, tmp_path):
    """Random faults on every endpoint, photos included: blobs arrive whole, ops exactly once."""
    rng = random.Random(3)
    kinds = [f for f in FAULTS if f not in ("stall", "trickle")]
    proxy.chooser = lambda m, p: rng.choice(kinds) if rng.random() < 0.25 else None
    shas = []
    for trial in range(max(10, N // 5)):
        ph = make_photo(tmp_path / f"p{trial}.jpg", rng.randint(1000, 60_000), seed=trial)
        shas.append(hashlib.sha256(open(ph, "rb").read()).hexdigest())
        lap.add(rng.randint(1, 3), photos=[ph] if rng.random() < 0.7 else [ph, ph])
        for _ in range(10):
            res = lap.sync(proxy.url, read_timeout=0.4)
            if res["outcome"] == "done":
                break
        assert res["outcome"] == "done", res
        assert_exactly_once(lap)
    for sha in shas:
        p = lap.hub.data_dir / "blobs"
        found = [f for f in p.rglob(sha)]
        assert found and hashlib.sha256(found[0].read_bytes()).hexdigest() == sha
