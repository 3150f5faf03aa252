"""End to end against the real hub on loopback: the command line (exit codes, --json,
--dry-run, outbox resubmit/discard), station decisions pulled, hub restored from an older
backup (epoch change), a photo interrupted at a random byte, the same photo twice, a
rejected entry followed by good ones, both hub databases."""

from __future__ import annotations

import hashlib
import json
import random

import pytest

from faultproxy import FaultProxy
from sync_support import Laptop, assert_exactly_once, hub_ops, hub_reports, make_photo, trials


@pytest.fixture
def lap(profile, home, hub):
    lap = Laptop(home, hub)
    yield lap
    lap.close()


@pytest.fixture
def short(monkeypatch):
    for k, v in (("READ_TIMEOUT", "3"), ("BACKOFF_BASE", "0.01"), ("BACKOFF_MAX", "0.05"), ("MAX_FAILURES", "2")):
        monkeypatch.setenv(f"FIELDREPORT_SYNC_{k}", v)


def test_cli_sync_json_and_exit_codes(lap, cli, short):
    lap.add(3)
    r = cli("sync", "--dry-run", "--json")
    assert r.code == 3 and r.json()["ops"] == 3 and r.json()["by_type"] == {"report.create": 3}
    assert hub_ops(lap.hub, lap.device_id) == []
    r = cli("sync", "--json")
    assert r.code == 0, r.err
    res = r.json()
    assert res["outcome"] == "done" and res["applied"] == 3 and res["left"]["pending"] == 0
    assert_exactly_once(lap)
    # the meta keys `fieldreport status` shows
    st = cli("status", "--json").json()
    assert st["last_sync_result"] == "done" and st["hub_epoch"] == lap.hub.store.epoch
    assert st["queued"] == 0 and st["next_attempt_at"] is None
    # local case codes from the hub's answers
    codes = {r["id"]: r["case_code"] for r in hub_reports(lap.hub, lap.device_id).values()}
    mine = dict(lap.store.conn.execute("SELECT id, case_code FROM reports").fetchall())
    assert mine == codes
    # nothing left: done again, nothing sent
    r = cli("sync", "--json")
    assert r.code == 0 and r.json()["sent"] == 0
    # text output
    r = cli("sync")
    assert r.code == 0 and "All done" in r.out


def test_cli_offline_is_something_left(lap, cli, short):
    lap.add(1)
    r = cli("sync", "--hub", "http://127.0.0.1:9", "--json")
    assert r.code == 3, r.err
    res = r.json()
    assert res["stopped"] == "offline" and res["left"]["pending"] == 1
    st = cli("status", "--json").json()
    assert st["next_attempt_at"] and st["last_sync_result"].startswith("left")
    r = cli("sync", "--hub", "not a url")
    assert r.code == 2 and r.err.count("\n") == 1 and "Traceback" not in r.err
    r = cli("sync", "--batch", "0")
    assert r.code == 2 and "batch" in r.err
    r = cli("sync", "--ca-bundle", "/nonexistent.pem")
    assert r.code == 2 and "ca-bundle" in r.err
    assert lap.store.conn.execute("SELECT count(*) FROM outbox WHERE state = 'pending'").fetchone()[0] == 1


def test_revoked_token_is_an_error_not_a_dead_letter(lap, cli, short):
    lap.add(2)
    lap.hub.store.revoke(lap.device_id)
    r = cli("sync", "--json")
    assert r.code == 1
    assert "login" in r.json()["error"]
    assert lap.store.conn.execute("SELECT count(*) FROM outbox WHERE state = 'pending'").fetchone()[0] == 2


def _bad_op(lap, entity="0193a9c2-7b1d-7000-8000-aaaaaaaaaaaa"):
    with lap.store.write() as c:
        return lap.store.append_op(c, "report.set", entity, {"field": "level", "old": None, "new": "red"})


def test_rejected_entry_followed_by_good_ones(lap, cli, short):
    lap.add(2)
    bad = _bad_op(lap)      # a report.set on a report the hub never saw: rejected (field entity)
    lap.add(3)
    r = cli("sync", "--json")
    assert r.code == 3, r.err
    res = r.json()
    assert res["rejected"] == 1 and res["applied"] == 5 and res["left"] == {"pending": 0, "rejected": 1,
                                                                             "conflict": 0, "photos": 0}
    assert_exactly_once(lap)
    out = cli("outbox", "list", "--json").json()["entries"]
    assert [(e["seq"], e["state"], e["field"]) for e in out] == [(bad["seq"], "rejected", "entity")]
    st = cli("status", "--json").json()
    assert st["rejected"] == 1 and st["dead_letters"][0]["seq"] == bad["seq"]
    # bad input: one line, exit 2, nothing changed
    for args in (("outbox", "discard", "1"), ("outbox", "resubmit", str(bad["seq"]), "--set", "nonsense"),
                 ("outbox", "resubmit", str(bad["seq"]), "--set", "zzz=1")):
        r = cli(*args)
        assert r.code == 2 and r.err.count("\n") == 1 and "Traceback" not in r.err, (args, r.err)
    assert cli("outbox", "discard", "999").code == 6
    r = cli("outbox", "discard", str(bad["seq"]), "--json")
    assert r.code == 0 and r.json()["state"] == "discarded"
    r = cli("sync", "--json")
    assert r.code == 0, r.out
    assert cli("outbox", "list", "--json").json()["entries"] == []


def test_resubmit_is_a_new_operation(lap, cli, short):
    rid = lap.add(1)[0]["id"]
    lap.sync()
    lap.hub.store.station().set_status(rid, "routed", note="已转住建所")
    from fieldreport import reports

    reports.update(lap.store, lap.blobs, rid, status="in_progress", author="A1024")
    r = cli("sync", "--json")
    assert r.code == 3 and r.json()["conflicts"] == 1
    assert lap.store.report(rid)["status"] == "routed"        # the hub's status adopted, conflict recorded
    dead = cli("outbox", "list", "--json").json()["entries"][0]
    assert dead["state"] == "conflict"
    last = lap.store.conn.execute("SELECT max(seq) FROM outbox").fetchone()[0]
    r = cli("outbox", "resubmit", str(dead["seq"]), "--json")
    assert r.code == 0, r.err
    new = r.json()
    assert new["new_seq"] == last + 1 and new["payload"]["from"] == "routed" and new["new_op_id"] != dead["op_id"]
    r = cli("sync", "--json")
    assert r.code == 0, r.out
    assert_exactly_once(lap)
    assert hub_reports(lap.hub, lap.device_id)[rid]["status"] == "in_progress"
    states = dict(lap.store.conn.execute("SELECT seq, state FROM outbox").fetchall())
    assert states[dead["seq"]] == "discarded" and states[new["new_seq"]] == "acked"


def test_pull_station_decisions_real_hub(lap, short):
    made = lap.add(2)
    lap.sync()
    a, b = made[0]["id"], made[1]["id"]
    st = lap.hub.store.station()
    st.route(a, "housing")
    st.set_status(a, "in_progress", note="已转住建所")
    st.note(b, "请复查")
    lap.hub.enroll("A2048", "李四", "东村")
    st.assign(b, "A2048")
    res = lap.sync()
    assert res["outcome"] == "done" and res["pulled"] >= 4, res
    ra, rb = lap.store.report(a), lap.store.report(b)
    assert ra["status"] == "in_progress" and ra["dept"] == "housing"
    assert any(n["text"] == "已转住建所" for n in ra["notes"])
    assert any(n["text"] == "请复查" for n in rb["notes"]) and rb["assigned_to"] == "A2048"
    cursor = int(lap.store.meta("pull_cursor"))
    assert cursor > 0
    n_inbox = lap.store.conn.execute("SELECT count(*) FROM inbox").fetchone()[0]
    res = lap.sync()
    assert res["pulled"] == 0 and lap.store.conn.execute("SELECT count(*) FROM inbox").fetchone()[0] == n_inbox


def test_hub_restored_from_older_backup(lap, hub, tmp_path, short):
    from fieldreport.hub import station
    from hubfixtures import ThreadHub

    lap.add(5)
    assert lap.sync()["outcome"] == "done"
    backup = tmp_path / "backup.db"
    hub.store.backup(backup)
    old_epoch = hub.store.epoch
    lap.add(4)
    assert lap.sync()["outcome"] == "done"
    assert len(hub_ops(hub, lap.device_id)) == 9
    hub.close()
    station.restore(str(backup), str(hub.data_dir), hub.db_url)
    hub2 = ThreadHub(hub.data_dir, hub.db_url).start()
    try:
        lap.hub = hub2
        assert hub2.store.epoch != old_epoch
        assert len(hub_ops(hub2, lap.device_id)) == 5
        lap.add(1)
        res = lap.sync(hub2.url)
        assert res["outcome"] == "done", res
        assert res["epoch_changed"] and res["requeued"] == 4
        assert_exactly_once(lap)
        assert lap.store.meta("hub_epoch") == hub2.store.epoch
        # all case codes known again
        assert lap.store.conn.execute("SELECT count(*) FROM reports WHERE case_code IS NULL").fetchone()[0] == 0
    finally:
        hub2.close()
        hub.close = lambda: None


def test_photo_interrupted_at_a_random_byte_resends_at_most_one_chunk(lap, hub, tmp_path):
    rng = random.Random(8)
    chunk = 16 * 1024
    for trial in range(max(5, trials(50) // 5)):
        size = rng.randint(3 * chunk, 8 * chunk)
        ph = make_photo(tmp_path / f"r{trial}.jpg", size, seed=100 + trial)
        data = open(ph, "rb").read()
        sha = hashlib.sha256(data).hexdigest()
        lap.add(1, photos=[ph, ph])         # the same photo twice in one report
        proxy = FaultProxy(hub.port, seed=trial)
        patches = [0]
        k = rng.randint(1, len(data) // chunk)

        def chooser(method, path):
            if method == "PATCH":
                patches[0] += 1
                if patches[0] == k:
                    return rng.choice(("reset_request", "reset_response", "drop_after", "drop_before"))
            return None

        proxy.chooser = chooser
        sent = []
        try:
            res = lap.sync(proxy.url, max_failures=0)
            sent.append(res["photo_bytes"])
            res2 = lap.sync(proxy.url)
            sent.append(res2["photo_bytes"])
        finally:
            proxy.close()
        assert res2["outcome"] == "done", res2
        assert sum(sent) <= len(data), sent     # counted only chunks the hub confirmed
        on_wire = proxy.stats["patch_body_bytes"]
        assert len(data) <= on_wire <= len(data) + chunk, (on_wire, len(data))
        blob = [f for f in (hub.data_dir / "blobs").rglob(sha)]
        assert blob and blob[0].read_bytes() == data
        assert_exactly_once(lap)
    photos = lap.store.conn.execute("SELECT count(*) FROM photos").fetchone()[0]
    assert photos == 2 * max(5, trials(50) // 5)


def test_both_hub_databases(profile, home, any_hub, short):
    lap = Laptop(home, any_hub)
    try:
        lap.add(7)
        proxy = FaultProxy(any_hub.port, seed=1)
        faults = ["drop_after", "reset_response"]  # the first push's answer lost, then its retry's

        def chooser(method, path):
            # by path, not by request number: on a loaded machine the probe can time out and be
            # sent again, and a plan popped per request then faulted probes, not pushes
            return faults.pop(0) if method == "POST" and path.startswith("/v1/push") and faults else None

        proxy.chooser = chooser
        try:
            res = lap.sync(proxy.url)
        finally:
            proxy.close()
        assert not faults, proxy.log
        assert res["outcome"] == "done" and res["duplicates"] >= 1, (res, proxy.log)
        assert_exactly_once(lap)
    finally:
        lap.close()


def test_laptop_edit_after_station_route_agrees_with_the_hub(lap, short):
    from fieldreport import reports

    rid = lap.add(1)[0]["id"]
    lap.sync()
    lap.hub.store.station().route(rid, "fire_rescue")
    reports.update(lap.store, lap.blobs, rid, dept="housing", author="A1024")
    assert lap.sync()["outcome"] == "done"
    hub_dept = hub_reports(lap.hub, lap.device_id)[rid]["dept"]
    assert lap.store.report(rid)["dept"] == hub_dept
    lap.hub.store.station().route(rid, "market_supervision")
    lap.sync()
    assert lap.store.report(rid)["dept"] == "market_supervision" == hub_reports(lap.hub, lap.device_id)[rid]["dept"]
    assert lap.store.report(rid)["status"] == hub_reports(lap.hub, lap.device_id)[rid]["status"]


def test_station_decision_on_a_field_you_changed_can_be_marked_seen(lap, cli, short, monkeypatch):
    """A pulled change to a field with a pending local edit is recorded as a conflict and shown
    by `outbox` until the person marks it seen (`outbox resolve`); the record is kept."""
    from fieldreport import reports
    from fieldreport.cli import term
    from fieldreport.sync.pull import pull_all

    monkeypatch.setattr(term.console, "_width", 200)
    rid = lap.add(1)[0]["id"]
    assert lap.sync()["outcome"] == "done"
    lap.hub.store.station().route(rid, "fire_rescue")
    reports.update(lap.store, lap.blobs, rid, dept="housing", author="A1024")  # not yet sent
    e = lap.engine()
    try:
        assert pull_all(lap.store, e.t, limit=10)["conflicts"] == 1
    finally:
        e.t.close()
    r = cli("outbox")
    assert r.code == 0 and "outbox resolve" in r.out and "fire_rescue" in r.out
    (c,) = cli("outbox", "list", "--json").json()["conflicts"]
    assert c["field"] == "dept" and c["local"] == "housing" and c["hub"] == "fire_rescue"
    for args, code in ((("outbox", "resolve"), 2), (("outbox", "resolve", str(c["id"]), "--all"), 2),
                       (("outbox", "resolve", "999"), 6)):
        r = cli(*args)
        assert r.code == code and r.err.count("\n") == 1 and "Traceback" not in r.err, (args, r.err)
    r = cli("outbox", "resolve", str(c["id"]), "--json")
    assert r.code == 0 and r.json() == {"resolved": [c["id"]]}
    assert cli("outbox", "list", "--json").json()["conflicts"] == []
    assert cli("outbox", "resolve", str(c["id"]), "--json").json() == {"resolved": []}  # already seen: nothing to do
    assert lap.store.conn.execute("SELECT count(*) FROM conflicts WHERE resolved_at IS NOT NULL").fetchone()[0] == 1
    assert lap.sync()["outcome"] == "done"  # the local edit still goes; the hub decides the field
