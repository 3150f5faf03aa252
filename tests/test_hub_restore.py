"""A real ``fieldreport hub serve`` process: backup while serving, restore to a new epoch,
and kill -9 in the middle of pushes — nothing lost, nothing applied twice."""

from __future__ import annotations

import threading
import time

import httpx


def test_backup_restore_new_epoch_and_nothing_reissued(cli, hub_process, tmp_path):
    h = hub_process
    dev = h.device()
    ops = [dev.create(title=f"隐患 {i}") for i in range(5)]
    before = dev.push(ops[:3])
    old_epoch = before["epoch"]
    backup = tmp_path / "hub-backup.db"
    r = cli("hub", "backup", str(backup), "--data", h.data_dir)
    assert r.code == 0, r.err
    r = cli("hub", "backup", str(backup), "--data", h.data_dir)  # never overwrites
    assert r.code == 2 and r.err.count("\n") == 1
    after = dev.push(ops[3:])
    lost_codes = [x["case_code"] for x in after["results"]]
    h.store.station().note(before["results"][0]["case_code"], "备份之后的批示", by="所长")
    _, old_cursor = dev.pull_all()
    # restoring under a running hub is refused, and changes nothing
    r = cli("hub", "restore", str(backup), "--data", h.data_dir)
    assert r.code == 2 and "stop" in r.err
    assert httpx.get(h.url + "/v1/health").json()["epoch"] == old_epoch
    h.stop()
    r = cli("hub", "restore", str(backup), "--data", h.data_dir, "--json")
    assert r.code == 0, r.err
    new_epoch = r.json()["epoch"]
    assert new_epoch != old_epoch
    h.start()
    page = dev.pull(old_cursor)
    assert page["epoch"] == new_epoch and page["acked_through"] == 3  # the laptop must re-push from seq 4
    again = dev.push(ops, epoch=old_epoch)
    assert [x["status"] for x in again["results"]] == ["duplicate"] * 3 + ["applied"] * 2
    new_codes = [x["case_code"] for x in again["results"][3:]]
    assert not set(new_codes) & set(lost_codes)  # a code once given out is never given to another report
    assert again["acked_through"] == 5
    changes, _ = dev.pull_all(old_cursor)
    assert {c["payload"]["case_code"] for c in changes if c["type"] == "report.case_code"} == set(new_codes)
    assert all(c["cursor"] > old_cursor for c in changes)


def test_kill_9_during_pushes_loses_and_doubles_nothing(hub_process):
    h = hub_process
    dev = h.device()
    ops = [dev.create(title=f"批量 {i}") for i in range(400)]
    answered: dict[str, str] = {}
    stop = threading.Event()

    def pusher():
        for i in range(0, len(ops), 10):
            if stop.is_set():
                return
            try:
                res = dev.push(ops[i:i + 10], raw=True)
            except httpx.TransportError:
                return
            if res.status_code != 200:
                return
            for r in res.json()["results"]:
                answered[r["op_id"]] = r["status"]

    t = threading.Thread(target=pusher)
    t.start()
    deadline = time.monotonic() + 30
    while len(answered) < 50 and time.monotonic() < deadline:
        time.sleep(0.01)
    h.kill()
    stop.set()
    t.join()
    assert 50 <= len(answered) < 400
    h.start()
    # the laptop sends again everything the hub did not acknowledge, and more (it cannot know)
    statuses = {}
    for i in range(0, len(ops), 100):
        for r in dev.push(ops[i:i + 100])["results"]:
            statuses[r["op_id"]] = r["status"]
    for op_id in answered:
        assert statuses[op_id] == "duplicate"
    assert set(statuses.values()) <= {"applied", "duplicate"}
    held = h.store.station().device_ops(dev.device_id)
    assert [o["seq"] for o in held] == list(range(1, 401))
    reps = h.store.station().reports(limit=1000)
    assert len(reps) == 400 and len({r["case_code"] for r in reps}) == 400
    assert h.store.acked_through(dev.device_id) == 400
