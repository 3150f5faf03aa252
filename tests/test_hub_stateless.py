"""Stateless hub: two real ``fieldreport hub serve`` processes on one PostgreSQL database.
Laptops push to either (the same batch to both at once included): every operation is applied
exactly once, every report gets one case code and no code is given twice, and what one
process took in is pulled through the other."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from hubfixtures import Device, ProcessHub, pg_schema


@pytest.fixture
def two_hubs(tmp_path, pg_url):
    with pg_schema(pg_url) as url:
        hubs = []
        try:
            for name in ("one", "two"):  # each its own folder (serve.lock, blobs), the same database
                hubs.append(ProcessHub(tmp_path / name, url).start())
            yield hubs
        finally:
            for h in hubs:
                h.close()


def _on(hub, dev: Device) -> Device:
    """The same laptop (id, token, log) talking to another process."""
    other = Device(hub, dev.device_id, dev.token, dev.officer_id)
    other.seq, other.last_hash = dev.seq, dev.last_hash
    return other


def test_two_processes_one_database_exactly_once(two_hubs):
    h1, h2 = two_hubs
    assert h1.store.epoch == h2.store.epoch
    devs = [h1.device(f"A{100 + i}", f"警员{i}", "东村") for i in range(3)]
    # 1. the same batch to both processes at once: each operation applied once, answered
    #    applied by one process and duplicate (with the same case code) by the other
    d = devs[0]
    ops = [d.create(title=f"同一批 {i}") for i in range(300)]
    d2 = _on(h2, d)
    answers = {}

    def push(name, dev):
        answers[name] = dev.push(ops)

    ts = [threading.Thread(target=push, args=("one", d)), threading.Thread(target=push, args=("two", d2))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    a, b = answers["one"]["results"], answers["two"]["results"]
    for x, y in zip(a, b):
        assert sorted([x["status"], y["status"]]) == ["applied", "duplicate"], (x, y)
        assert x["case_code"] == y["case_code"]
    assert answers["one"]["acked_through"] == answers["two"]["acked_through"] == 300
    # 2. several laptops, batches spread over both processes at once
    work = []
    for dev in devs[1:]:
        mine = [dev.create(title=f"{dev.officer_id} {i}") for i in range(200)]
        work += [(dev, mine[:100]), (_on(h2, dev), mine[100:])]
    errors = []

    def go(dev, batch):
        try:
            res = dev.push(batch)["results"]
            assert all(r["status"] == "applied" for r in res), res
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    ts = [threading.Thread(target=go, args=w) for w in work]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors[0]
    from fieldreport.hub import store_schema as t_

    with h1.store.engine.connect() as c:
        n_ops = c.execute(sa.select(sa.func.count()).select_from(t_.ops)).scalar()
        codes = [r[0] for r in c.execute(sa.select(t_.reports.c.case_code))]
        per_op = c.execute(sa.select(t_.ops.c.op_id, sa.func.count()).group_by(t_.ops.c.op_id)
                           .having(sa.func.count() > 1)).all()
    assert n_ops == 300 + 400 and per_op == []
    assert len(codes) == 700 and len(set(codes)) == 700
    for dev in devs:
        assert h2.store.acked_through(dev.device_id) == (300 if dev is d else 200)
    # 3. what one process took in, the other serves: every case code, in commit order
    for dev in devs[1:]:
        changes, _ = _on(h1, dev).pull_all()
        via_two, _ = _on(h2, dev).pull_all()
        assert changes == via_two and len(changes) == 200
        cursors = [c["cursor"] for c in changes]
        assert cursors == sorted(cursors) and len(set(cursors)) == 200
