"""Failure modes 5 and 10: ``kill -9`` of a real ``python -m fieldreport sync`` — at named crash
points (FIELDREPORT_CRASH_AT, e.g. between "hub answered" and "laptop marked") and at random
moments — then the next sync finishes and the hub holds exactly the queued operations.
At least 100 kill trials in all (FIELDREPORT_SYNC_KILL_TRIALS)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from sync_support import Laptop, assert_exactly_once, hub_ops, make_photo

KILLS = int(os.environ.get("FIELDREPORT_SYNC_KILL_TRIALS", "100"))
POINTS = ("after_hub_answer", "after_mark", "after_pull_fetch", "mid_blob")


@pytest.fixture
def lap(profile, home, hub):
    lap = Laptop(home, hub)
    yield lap
    lap.close()


def sync_env(lap, **extra) -> dict:
    env = dict(os.environ, FIELDREPORT_HOME=str(lap.home), FIELDREPORT_SYNC_READ_TIMEOUT="3",
               FIELDREPORT_SYNC_CONNECT_TIMEOUT="2", FIELDREPORT_SYNC_BACKOFF_BASE="0.01",
               FIELDREPORT_SYNC_BACKOFF_MAX="0.05", FIELDREPORT_SYNC_CHUNK_SIZE="8192", FIELDREPORT_LANG="en")
    env.pop("FIELDREPORT_CRASH_AT", None)
    env.update(extra)
    return env


def start_sync(lap, *args, **extra) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "fieldreport", "sync", "--json", *args], env=sync_env(lap, **extra),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_crash_between_hub_answer_and_local_mark(lap):
    lap.add(5)
    p = start_sync(lap, "--batch", "100", FIELDREPORT_CRASH_AT="after_hub_answer")
    out, err = p.communicate(timeout=60)
    assert p.returncode == 137, err
    # the hub committed the batch; the laptop never marked it
    assert len(hub_ops(lap.hub, lap.device_id)) == 5
    assert lap.store.conn.execute("SELECT count(*) FROM outbox WHERE state = 'pending'").fetchone()[0] == 5
    res = lap.sync()
    assert res["outcome"] == "done" and res["duplicates"] == 5 and res["applied"] == 0
    assert_exactly_once(lap)


def _timed_sync(lap) -> float:
    t0 = time.monotonic()
    p = start_sync(lap, "--batch", "1", FIELDREPORT_SYNC_BATCH_MAX="1")
    p.communicate(timeout=60)
    assert p.returncode == 0
    return time.monotonic() - t0


def test_kill_trials(lap, tmp_path):
    rng = random.Random(42)
    named = KILLS * 3 // 5
    killed = trial = 0
    idle = span = None  # seconds a sync of nothing / of 12 reports takes here
    while killed < KILLS:
        trial += 1
        assert trial <= 2 * KILLS, f"only {killed} kills in {trial} trials"
        n = rng.randint(2, 12)
        photos = [make_photo(tmp_path / f"k{trial}.jpg", rng.randint(20_000, 60_000), seed=trial)] \
            if rng.random() < 0.3 else []
        lap.add(n, photos=photos)
        if killed < named:
            point = POINTS[trial % len(POINTS)]
            if point == "mid_blob" and not photos:
                lap.add(1, photos=[make_photo(tmp_path / f"m{trial}.jpg", 40_000, seed=1000 + trial)])
            nth = 1 if point == "after_pull_fetch" else rng.randint(1, 2)
            p = start_sync(lap, "--batch", str(rng.choice((1, 2))), FIELDREPORT_CRASH_AT=f"{point}:{nth}")
            try:
                p.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.communicate()
            killed += p.returncode == 137
        else:
            # twelve reports, one per push, the batch never grown; the moment drawn between the
            # end of start-up and the end of such a sync, both measured once on this machine
            # (a fixed window missed syncs that had got faster)
            if span is None:
                assert lap.sync()["outcome"] == "done"  # the reports just queued: not a trial
                idle = _timed_sync(lap)  # nothing queued: start-up, probe, pull
                lap.add(12)
                span = _timed_sync(lap)
                assert_exactly_once(lap)
                lap.add(n, photos=photos)
            lap.add(12 - n)
            p = start_sync(lap, "--batch", "1", FIELDREPORT_SYNC_BATCH_MAX="1")
            time.sleep(rng.uniform(0.8 * idle, span))
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
                killed += 1
            p.communicate(timeout=60)
        res = lap.sync()
        assert res["outcome"] == "done", (trial, res)
        assert_exactly_once(lap)


def test_two_syncs_at_once_second_says_one_is_running(lap):
    from fieldreport.sync.engine import sync_lock

    lap.add(2)
    with sync_lock(lap.paths.sync_lock, 0):
        p = start_sync(lap, FIELDREPORT_SYNC_LOCK_WAIT="0.5")
        out, err = p.communicate(timeout=60)
    assert p.returncode == 4, (out, err)
    assert "another fieldreport sync is running" in err.decode()
    assert err.decode().count("\n") == 1
    assert hub_ops(lap.hub, lap.device_id) == []
    p = start_sync(lap)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert_exactly_once(lap)


def test_add_during_sync_is_never_lost(lap, hub):
    from faultproxy import FaultProxy

    lap.add(40)
    proxy = FaultProxy(hub.port, trickle_chunk=256, trickle_delay=0.01)
    proxy.chooser = lambda m, p: "trickle"
    try:
        p = start_sync(lap, "--hub", proxy.url, "--batch", "5")
        adds = []
        for i in range(3):
            time.sleep(0.3)
            a = subprocess.run([sys.executable, "-m", "fieldreport", "add", "--kind", "hazard", "--category", "ebike",
                                "--level", "orange", "--title", f"同步中新增 {i}", "--place", "东村", "--no-input"],
                               env=sync_env(lap), capture_output=True, timeout=60)
            assert a.returncode == 0, a.stderr
            adds.append(a)
        out, err = p.communicate(timeout=120)
        assert p.returncode in (0, 3), err
    finally:
        proxy.close()
    res = lap.sync()
    assert res["outcome"] == "done"
    assert_exactly_once(lap)
    assert len(hub_ops(lap.hub, lap.device_id)) == 43
