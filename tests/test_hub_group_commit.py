"""Group commit on a SQLite hub: pushes that queue up behind a running write share its
successor's transaction (one commit), each in its own savepoint — so one that fails changes
nothing for the others, and nobody gets an answer before the commit that holds their writes."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from fieldreport import ids
from fieldreport.canon import op_hash
from fieldreport.hub import store as hub_store
from fieldreport.hub import store_schema as t
from fieldreport.hub.errors import Forbidden, HubBusy
from fieldreport.hub.store import HubStore


@pytest.fixture
def store(tmp_path):
    s = HubStore.open(f"sqlite:///{tmp_path / 'hub.db'}", create=True)
    yield s
    s.close()


def _device(store: HubStore, officer: str) -> dict:
    code = store.issue_code(officer, "王芳", "东村", None, 72)["code"]
    token = store.enroll(code, ids.uuid7(), "laptop")["token"]
    return store.device_for_token(token)


def _creates(dev: dict, n: int) -> list[dict]:
    ops, prev = [], None
    for seq in range(1, n + 1):
        op = {"op_id": ids.uuid7(), "device_id": dev["device_id"], "seq": seq, "clock": seq, "ts": ids.now_iso(),
              "type": "report.create", "entity": ids.uuid7(),
              "payload": {"kind": "hazard", "category": "ebike", "level": "orange", "title": f"楼道电动车充电 {seq}",
                          "details": "", "place": "东村3组12号", "parties": [], "photos": [], "ref": f"R-{seq:04d}",
                          "status": "registered", "created_at": ids.now_iso(), "author": dev["officer_id"]},
              "prev_hash": prev}
        op["hash"] = prev = op_hash(op)
        ops.append(op)
    return ops


def _count(store: HubStore, table) -> int:
    with store.read() as c:
        return c.execute(sa.select(sa.func.count()).select_from(table)).scalar()


def _commits(store: HubStore) -> list[int]:
    """A counter of write transactions committed from now on (reads commit too: not counted)."""
    n = [0]

    def on_commit(conn):
        if conn.get_execution_options().get("fr_write"):
            n[0] += 1
    sa.event.listen(store.engine, "commit", on_commit)
    return n


def _queued_behind_a_write(store: HubStore, calls: list) -> dict[int, object]:
    """Start ``calls`` (thunks) in threads while a write holds the lock, wait until all are
    queued, release: they run as one group. Returns each call's result or exception."""
    out: dict[int, object] = {}

    def run(i, fn):
        try:
            out[i] = fn()
        except Exception as e:  # noqa: BLE001 — the test looks at it
            out[i] = e

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(calls)]
    with store.write():
        for th in threads:
            th.start()
        deadline = time.monotonic() + 10
        while len(store._queue) < len(calls):
            assert time.monotonic() < deadline, "the pushes did not queue up"
            time.sleep(0.005)
    for th in threads:
        th.join(30)
    return out


def test_pushes_waiting_for_the_lock_share_one_commit(store):
    devs = [_device(store, f"A{1000 + i}") for i in range(3)]
    batches = [_creates(d, 50) for d in devs]
    commits = _commits(store)
    out = _queued_behind_a_write(store, [lambda d=d, b=b: store.push(d, b) for d, b in zip(devs, batches)])
    assert commits[0] == 2  # the write that held the lock, then one for the three pushes
    for i, d in enumerate(devs):
        res = out[i]
        assert [r["status"] for r in res["results"]] == ["applied"] * 50
        assert res["acked_through"] == 50
        assert store.acked_through(d["device_id"]) == 50
    codes = [r["case_code"] for i in out for r in out[i]["results"]]
    assert len(set(codes)) == 150  # one case code each, none given twice across the group
    assert _count(store, t.reports) == 150
    # the same batches again, grouped again: all duplicates, nothing written twice
    again = _queued_behind_a_write(store, [lambda d=d, b=b: store.push(d, b) for d, b in zip(devs, batches)])
    assert all(r["status"] == "duplicate" for i in again for r in again[i]["results"])
    assert _count(store, t.reports) == 150


def test_one_failing_push_in_a_group_changes_nothing_for_the_others(store):
    good = [_device(store, "A1001"), _device(store, "A1002")]
    ghost = {"device_id": ids.uuid7(), "officer_id": "A1999", "area": "东村"}  # not enrolled
    commits = _commits(store)
    out = _queued_behind_a_write(store, [lambda: store.push(good[0], _creates(good[0], 5)),
                                         lambda: store.push(ghost, _creates(ghost, 5)),
                                         lambda: store.push(good[1], _creates(good[1], 5))])
    assert commits[0] == 2
    assert isinstance(out[1], Forbidden) and "not enrolled" in str(out[1])
    assert out[0]["acked_through"] == 5 and out[2]["acked_through"] == 5
    with store.read() as c:
        devices = {r[0] for r in c.execute(sa.select(t.ops.c.device_id).distinct())}
    assert devices == {good[0]["device_id"], good[1]["device_id"]}


def test_a_write_that_raises_is_rolled_back_to_its_savepoint(store):
    def put(key):
        def fn(c):
            c.execute(t.hub_meta.insert().values(key=key, value="x"))
            if key == "k2":
                raise ValueError("k2 fails after writing")
            return key
        return lambda: store.write_grouped(fn)

    out = _queued_behind_a_write(store, [put("k1"), put("k2"), put("k3")])
    assert out[0] == "k1" and out[2] == "k3"
    assert isinstance(out[1], ValueError)
    assert store.meta("k1") == "x" and store.meta("k3") == "x"
    assert store.meta("k2") is None


def test_a_write_never_started_is_refused_busy_and_never_runs(store, monkeypatch):
    monkeypatch.setattr(hub_store, "BUSY_MS", 200)
    ran, out = [], []

    def call():
        try:
            store.write_grouped(lambda c: ran.append(1))
        except HubBusy as e:
            out.append(e)

    with store.write():
        th = threading.Thread(target=call)
        th.start()
        th.join(5)
    assert out and not ran and store._queue == []
    store.write_grouped(lambda c: ran.append(2))  # the lock is free again: runs at once
    assert ran == [2]


def test_a_write_taken_along_is_answered_even_when_its_caller_waited_past_the_timeout(store, monkeypatch):
    monkeypatch.setattr(hub_store, "BUSY_MS", 200)

    def slow(key):
        def fn(c):
            time.sleep(0.5)  # longer than BUSY_MS: whoever did not lead times out waiting for the lock
            c.execute(t.hub_meta.insert().values(key=key, value="x"))
            return key
        return lambda: store.write_grouped(fn)

    out = _queued_behind_a_write(store, [slow("a"), slow("b")])
    assert out == {0: "a", 1: "b"}  # neither refused busy: each was run, and committed, by the leader
    assert store.meta("a") == "x" and store.meta("b") == "x"


def _in_main_file(tmp_path, db: str, key: str) -> bool:
    """Whether ``key`` is in hub_meta of the database *file* alone (its WAL left behind)."""
    import shutil
    import sqlite3

    copy = tmp_path / "main-file-only.db"
    shutil.copyfile(db, copy)
    con = sqlite3.connect(copy)
    try:
        return con.execute("SELECT 1 FROM hub_meta WHERE key = ?", (key,)).fetchone() is not None
    except sqlite3.OperationalError:  # not even the tables have reached the file yet
        return False
    finally:
        con.close()
        copy.unlink()


def test_the_checkpoint_thread_copies_commits_into_the_database_file(store, tmp_path):
    db = store.engine.url.database
    store.write_grouped(lambda c: c.execute(t.hub_meta.insert().values(key="before", value="x")))
    time.sleep(0.3)
    assert not _in_main_file(tmp_path, db, "before")  # a small commit stays in the WAL: nobody copied it
    store.start_checkpointer(interval=0.05)
    try:
        store.write_grouped(lambda c: c.execute(t.hub_meta.insert().values(key="after", value="x")))
        deadline = time.monotonic() + 10
        while not _in_main_file(tmp_path, db, "after"):
            assert time.monotonic() < deadline, "the checkpoint thread never copied the WAL"
            time.sleep(0.05)
        assert _in_main_file(tmp_path, db, "before")
    finally:
        store.stop_checkpointer()
    assert store._ckpt is None


def test_a_writers_lock_held_elsewhere_refuses_busy_and_leaves_nothing_half_done(store, monkeypatch):
    """Another process holds the writers' lock file past the busy timeout: the push is refused
    with HubBusy (the laptop retries), its write never ran, and the next one goes through."""
    import fcntl
    import os

    monkeypatch.setattr(hub_store, "BUSY_MS", 200)
    ran = []
    fd = os.open(store.engine.url.database + "-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as another `serve` worker or station command would
        with pytest.raises(HubBusy):
            store.write_grouped(lambda c: ran.append(1))
        assert ran == [] and store._queue == []
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    assert store.write_grouped(lambda c: ran.append(2) or "ok") == "ok" and ran == [2]
