"""The hub's push and pull, over real HTTP on loopback, against SQLite and PostgreSQL alike."""

from __future__ import annotations

import json
import threading

import pytest
import sqlalchemy as sa

from fieldreport import ids


def _ops_rows(hub, device_id):
    return hub.store.station().device_ops(device_id)


def test_push_applies_once_and_a_repeat_is_duplicate(any_hub):
    dev = any_hub.device()
    ops = [dev.create(), dev.create(title="楼道堆放杂物")]
    first = dev.push(ops)
    assert [r["status"] for r in first["results"]] == ["applied", "applied"]
    codes = [r["case_code"] for r in first["results"]]
    assert codes[0].startswith("HB-") and codes[0] != codes[1]
    assert first["acked_through"] == 2 and first["chain_ok"] is True
    # the answer was lost: the laptop sends the same operations again
    again = dev.push(ops)
    assert [r["status"] for r in again["results"]] == ["duplicate", "duplicate"]
    assert [r["original"] for r in again["results"]] == ["applied", "applied"]
    assert [r["case_code"] for r in again["results"]] == codes
    assert len(any_hub.store.station().reports()) == 2
    assert len(_ops_rows(any_hub, dev.device_id)) == 2


def test_same_op_twice_in_one_batch(any_hub):
    dev = any_hub.device()
    op = dev.create()
    res = dev.push([op, op])["results"]
    assert [r["status"] for r in res] == ["applied", "duplicate"]
    assert res[1]["original"] == "applied" and res[1]["case_code"] == res[0]["case_code"]
    assert len(any_hub.store.station().reports()) == 1


def test_rejected_is_recorded_and_never_blocks_the_rest(any_hub):
    dev = any_hub.device()
    bad = dev.create(level="purple")
    good = dev.create()
    res = dev.push([bad, good])
    assert res["results"][0]["status"] == "rejected"
    assert res["results"][0]["field"] == "level" and "purple" in res["results"][0]["reason"]
    assert res["results"][1]["status"] == "applied"
    assert res["acked_through"] == 2  # a rejected operation counts as answered
    again = dev.push([bad])["results"][0]
    assert again["status"] == "duplicate" and again["original"] == "rejected"
    # an operation on the report whose create was rejected
    note = dev.op("report.note", bad["entity"], {"note_id": ids.uuid7(), "text": "补充"})
    r = dev.push([note])["results"][0]
    assert r["status"] == "rejected" and r["field"] == "entity"


def test_acked_through_stops_at_a_gap_and_moves_when_it_is_filled(any_hub):
    dev = any_hub.device()
    o1, o2, o3 = dev.create(), dev.create(), dev.create()
    assert dev.push([o1, o3])["acked_through"] == 1
    assert dev.push([o2])["acked_through"] == 3
    assert any_hub.store.acked_through(dev.device_id) == 3


@pytest.mark.parametrize("seed", range(3))
def test_acked_through_is_the_longest_run_held_whatever_the_order_of_pushes(hub, seed):
    """Batches of a log pushed in a random order, some twice, some overlapping: after each,
    acked_through is the last seq of the longest unbroken run from 1 that the hub holds."""
    import random

    rnd = random.Random(seed)
    dev = hub.device()
    ops = [dev.create() for _ in range(40)]
    held: set[int] = set()
    for _ in range(12):
        lo = rnd.randrange(40)
        part = ops[lo:lo + rnd.randint(1, 8)]
        if rnd.random() < 0.3:
            part = rnd.sample(part, len(part))
        res = dev.push(part)
        held |= {op["seq"] for op in part}
        run = 0
        while run + 1 in held:
            run += 1
        assert res["acked_through"] == run, (seed, sorted(held))
    res = dev.push(ops)
    assert res["acked_through"] == 40


def test_status_moves_conflicts_and_illegal_moves(any_hub):
    dev = any_hub.device()
    c = dev.create()
    dev.push([c])
    rid = c["entity"]
    move = dev.op("report.status", rid, {"from": "registered", "to": "in_progress", "note": "已联系房东", "author": "A1024"})
    assert dev.push([move])["results"][0]["status"] == "applied"
    stale = dev.op("report.status", rid, {"from": "registered", "to": "resolved", "note": None, "author": "A1024"})
    r = dev.push([stale])["results"][0]
    assert r["status"] == "conflict" and r["current"]["status"] == "in_progress"
    illegal = dev.op("report.status", rid, {"from": "in_progress", "to": "closed", "note": None, "author": "A1024"})
    r = dev.push([illegal])["results"][0]
    assert r["status"] == "rejected" and r["field"] == "to"
    rep = any_hub.store.station().report(rid)
    assert rep["status"] == "in_progress"
    assert [n["text"] for n in rep["notes"]] == ["已联系房东"]


def test_set_note_photo_archive(any_hub):
    dev = any_hub.device()
    c = dev.create()
    rid = c["entity"]
    nid = ids.uuid7()
    photo = {"sha256": "a" * 64, "size": 10, "mime": "image/jpeg", "name": "楼道.jpg"}
    ops = [c,
           dev.op("report.set", rid, {"field": "level", "old": "orange", "new": "major"}),
           dev.op("report.set", rid, {"field": "title", "old": "x", "new": "楼道电动车充电（已整改）"}),
           dev.op("report.note", rid, {"note_id": nid, "text": "房东已签承诺书", "author": "A1024"}),
           dev.op("report.note", rid, {"note_id": nid, "text": "房东已签承诺书", "author": "A1024"}),
           dev.op("report.photo", rid, photo),
           dev.op("report.photo", rid, photo),  # the same photo twice: allowed
           dev.op("report.archive", rid, {"archived": True}),
           dev.op("report.set", rid, {"field": "level", "old": "major", "new": "purple"}),
           dev.op("report.set", rid, {"field": "status", "old": "x", "new": "closed"})]
    res = dev.push(ops)["results"]
    assert [r["status"] for r in res] == ["applied"] * 8 + ["rejected", "rejected"]
    assert res[9]["field"] == "field"
    rep = any_hub.store.station().report(rid)
    assert rep["level"] == "major" and rep["title"] == "楼道电动车充电（已整改）" and rep["archived"] is True
    assert len(rep["notes"]) == 1 and len(rep["photos"]) == 2


def test_hash_and_chain_checks(any_hub):
    dev = any_hub.device()
    o1 = dev.create()
    tampered = dev.create()
    tampered["payload"]["title"] = "改过的标题"
    res = dev.push([o1, tampered])
    assert res["results"][1]["status"] == "rejected" and res["results"][1]["field"] == "hash"
    o3 = dev.create()
    o3["prev_hash"] = "0" * 64
    from fieldreport.canon import op_hash

    o3["hash"] = op_hash(o3)
    res = dev.push([o3])
    assert res["chain_ok"] is False and "prev_hash" in res["results"][0]["chain"]
    assert res["results"][0]["status"] == "applied"


def test_seq_taken_by_another_operation_is_rejected_unrecorded(any_hub):
    dev = any_hub.device()
    dev.push([dev.create()])
    other = dev.create()
    other = dev.op("report.create", other["entity"], other["payload"], seq=1)
    r = dev.push([other])["results"][0]
    assert r["status"] == "rejected" and r["field"] == "seq"
    assert len(_ops_rows(any_hub, dev.device_id)) == 1


def test_operations_of_another_device_are_refused_whole(any_hub):
    a, b = any_hub.device(), any_hub.device("B2048", "李强", "西村")
    forged = b.create()
    r = a.push([a.create(), forged], raw=True)
    assert r.status_code == 403 and r.json()["field"] == "device_id"
    assert _ops_rows(any_hub, a.device_id) == []


def test_another_area_cannot_touch_a_report(any_hub):
    a, b = any_hub.device(), any_hub.device("B2048", "李强", "西村")
    c = a.create()
    a.push([c])
    r = b.push([b.op("report.note", c["entity"], {"note_id": ids.uuid7(), "text": "x"})])["results"][0]
    assert r["status"] == "rejected" and r["field"] == "entity"


def test_unknown_type_and_premises_inspections(any_hub):
    dev = any_hub.device()
    pid, iid = ids.uuid7(), ids.uuid7()
    ops = [dev.op("report.delete", ids.uuid7(), {}),
           dev.op("premises.create", pid, {"name": "平安旅馆", "type": "hotel"}),
           dev.op("premises.set", pid, {"field": "phone", "old": None, "new": "0731-1234567"}),
           dev.op("inspection.create", iid, {"premises_id": pid, "template": "hotel", "template_version": 1}),
           dev.op("inspection.answer", iid, {"item_id": "hotel.licence", "answer": "pass"}),
           dev.op("inspection.finish", iid, {"finished_at": ids.now_iso(), "summary": {}}),
           dev.op("inspection.answer", ids.uuid7(), {"item_id": "x", "answer": "pass"})]
    res = dev.push(ops)["results"]
    assert [r["status"] for r in res] == ["rejected", "applied", "applied", "applied", "applied", "applied",
                                          "rejected"]
    assert res[0]["field"] == "type"
    # the area's other laptops get the premises
    other = any_hub.device("A2000", "赵六", "东村")
    puts = [c for c in other.pull_all()[0] if c["type"] == "premises.put"]
    assert puts[-1]["payload"]["premises"] == {"id": pid, "name": "平安旅馆", "type": "hotel", "phone": "0731-1234567"}
    far = any_hub.device("B2048", "李强", "西村")
    assert [c for c in far.pull_all()[0] if c["type"] == "premises.put"] == []


def test_pull_without_own_case_codes_leaves_out_only_those(any_hub):
    """own_case_codes=0 (what the laptop sends): the case codes of the device's own creates —
    which it had in the push answers — stay out of its feed; station decisions on those
    reports, and case codes of reports assigned to its officer from elsewhere, do not."""
    a, b = any_hub.device(), any_hub.device("B2048", "李强", "西村")
    ca, cb = a.create(), b.create()
    code_a = a.push([ca])["results"][0]["case_code"]
    code_b = b.push([cb])["results"][0]["case_code"]
    st = any_hub.store.station()
    st.note(code_a, "请今天联系", by="所长")
    st.assign(code_b, "A1024", by="所长")  # b's report to a's officer

    def feed(dev, own):
        r = dev.http.get("/v1/pull", params={"cursor": 0, "limit": 100, "own_case_codes": own})
        assert r.status_code == 200, r.text
        return [(c["type"], c["entity"]) for c in r.json()["changes"]]

    full = feed(a, 1)
    assert ("report.case_code", ca["entity"]) in full
    assert feed(a, 0) == [x for x in full if x != ("report.case_code", ca["entity"])]
    assert ("report.note", ca["entity"]) in feed(a, 0) and ("report.assign", cb["entity"]) in feed(a, 0)
    assert feed(b, 0) == [x for x in feed(b, 1) if x != ("report.case_code", cb["entity"])]
    assert a.pull_all()[0] and [c["type"] for c in a.pull_all()[0]][0] == "report.case_code"  # default: all
    bad = a.http.get("/v1/pull", params={"cursor": 0, "own_case_codes": "yes"})
    assert bad.status_code == 422 and bad.json()["field"] == "own_case_codes"


def test_pull_shows_each_device_its_own_and_its_officers_changes(any_hub):
    a, b = any_hub.device(), any_hub.device("B2048", "李强", "西村")
    ca, cb = a.create(), b.create()
    code_a = a.push([ca])["results"][0]["case_code"]
    b.push([cb])
    st = any_hub.store.station()
    st.assign(code_a, "B2048", by="所长")
    st.note(code_a, "请今天联系", by="所长")
    a_changes, a_cursor = a.pull_all()
    assert [c["type"] for c in a_changes] == ["report.case_code", "report.assign", "report.note"]
    assert a_changes[0]["payload"] == {"case_code": code_a}
    b_changes, _ = b.pull_all()
    assert [c["type"] for c in b_changes] == ["report.case_code", "report.assign", "report.note"]
    assert b_changes[0]["entity"] == cb["entity"] and b_changes[1]["entity"] == ca["entity"]
    # nothing new: the cursor holds, and a page beyond it is empty
    page = a.pull(a_cursor)
    assert page["changes"] == [] and page["cursor"] == a_cursor and page["has_more"] is False
    assert page["acked_through"] == 1


def test_pull_pages(any_hub):
    dev = any_hub.device()
    dev.push([dev.create() for _ in range(25)])
    page = dev.pull(0, 10)
    assert len(page["changes"]) == 10 and page["has_more"] is True
    assert page["cursor"] == page["changes"][-1]["cursor"]
    allc, _ = dev.pull_all(0, 7)
    cursors = [c["cursor"] for c in allc]
    assert len(allc) == 25 and cursors == sorted(cursors) and len(set(cursors)) == 25


def test_concurrent_retries_of_one_batch_apply_each_op_once(any_hub):
    """Eight copies of one batch at once (a client retrying over a flaky link): every operation
    is applied exactly once; every answer is applied or duplicate; no 5xx is left unanswered."""
    dev = any_hub.device()
    ops = [dev.create(title=f"隐患 {i}") for i in range(60)]
    answers, errors = [], []

    def go():
        import httpx

        for _ in range(20):
            r = dev.push(ops, raw=True)
            if r.status_code == 200:
                answers.append(r.json())
                return
            if r.status_code != 503:
                errors.append(r.text)
                return
        errors.append("gave up")

    threads = [threading.Thread(target=go) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(answers) == 8
    applied = sum(r["status"] == "applied" for a in answers for r in a["results"])
    assert applied == 60
    assert all(r["status"] in ("applied", "duplicate") for a in answers for r in a["results"])
    codes = {r["case_code"] for a in answers for r in a["results"]}
    assert len(codes) == 60
    assert len(any_hub.store.station().reports(limit=1000)) == 60


def test_cursor_is_commit_order_under_concurrent_writers(any_hub):
    """Pushes and station decisions race while a reader pulls: the reader, following only its
    cursor, sees every change exactly once (no change committed behind a cursor it passed)."""
    devs = [any_hub.device(f"A{i}", f"民警{i}", "东村") for i in range(3)]
    st_dev = devs[0]
    first = st_dev.create()
    code = st_dev.push([first])["results"][0]["case_code"]
    stop = threading.Event()

    def writer(d):
        for i in range(15):
            d.push([d.create(title=f"并发 {i}")])

    def station():
        from fieldreport.hub.store import HubStore

        with HubStore.open(any_hub.db_url) as s:
            st = s.station()
            for i in range(15):
                st.note(code, f"第{i}次", by="所长")

    seen: list[int] = []
    cursor = 0

    def reader():
        nonlocal cursor
        while not stop.is_set():
            page = st_dev.pull(cursor, 5)
            seen.extend(c["cursor"] for c in page["changes"])
            cursor = page["cursor"]

    r = threading.Thread(target=reader)
    r.start()
    ws = [threading.Thread(target=writer, args=(d,)) for d in devs] + [threading.Thread(target=station)]
    for w in ws:
        w.start()
    for w in ws:
        w.join()
    stop.set()
    r.join()
    rest, _ = st_dev.pull_all(cursor)
    seen.extend(c["cursor"] for c in rest)
    expected, _ = st_dev.pull_all(0)
    assert sorted(seen) == seen and len(set(seen)) == len(seen)
    assert seen == [c["cursor"] for c in expected]
    assert len(expected) == 1 + 15 + 15  # its case codes and the station's notes


def test_case_codes_count_per_year(any_hub):
    dev = any_hub.device()
    res = dev.push([dev.create() for _ in range(3)])["results"]
    year = ids.utc_now_iso()[:4]
    assert [r["case_code"] for r in res] == [f"HB-{year}-{n:06d}" for n in (1, 2, 3)]


def test_unique_op_id_is_a_database_constraint(any_hub):
    """The backstop behind the checks: the database itself refuses a second row for an op_id."""
    from fieldreport.hub import store_schema as t

    dev = any_hub.device()
    op = dev.create()
    dev.push([op])
    row = dict(op_id=op["op_id"], device_id=dev.device_id, seq=99, clock=99, ts=op["ts"], type=op["type"],
               entity=op["entity"], payload="{}", prev_hash=None, hash="x", received_at="x", status="applied",
               result="{}")
    with pytest.raises(sa.exc.IntegrityError):
        with any_hub.store.engine.begin() as c:
            c.execute(t.ops.insert().values(**row))


def test_photo_copies_and_exif_are_kept(any_hub):
    dev = any_hub.device()
    photo = {"sha256": "a" * 64, "size": 3_000_000, "mime": "image/jpeg", "name": "楼道.jpg",
             "copy_sha256": "b" * 64, "copy_size": 200_000, "taken_at": "2026-12-03T09:12:00+08:00",
             "gps": {"lat": 28.2, "lon": 112.9}}
    c = dev.create(photos=[photo], lat=28.2, lon=112.9, location_source="photo:" + "a" * 64)
    res = dev.push([c, dev.op("report.photo", c["entity"], {**photo, "sha256": "c" * 64})])["results"]
    assert [r["status"] for r in res] == ["applied", "applied"], res
    rep = any_hub.store.station().report(c["entity"])
    assert rep["location_source"] == "photo:" + "a" * 64
    assert rep["photos"][0] == photo
    assert rep["photos"][1]["copy_sha256"] == "b" * 64 and rep["photos"][1]["gps"] == {"lat": 28.2, "lon": 112.9}


def test_long_free_form_values_never_fail_a_batch(any_hub):
    """Values the models do not bound (an unverified ID number kept flagged, a MIME type, the
    author) are stored whole on PostgreSQL as on SQLite — never a 500 that wedges the queue."""
    dev = any_hub.device()
    party = {"name": "张三", "role": "applicant", "id": "X" * 120, "phone": None, "address": "东" * 400,
             "id_verified": False}
    photo = {"sha256": "d" * 64, "size": 1, "mime": "image/" + "x" * 200, "name": "名" * 300}
    c = dev.create(kind="dispute", category="neighbour", level="yellow", parties=[party], photos=[photo],
                   author="A" * 100, ref="R-" + "9" * 80)
    res = dev.push([c])["results"][0]
    assert res["status"] == "applied", res
    rep = any_hub.store.station().report(c["entity"])
    assert rep["parties"][0]["id"] == "X" * 120 and rep["parties"][0]["id_verified"] is False
    assert rep["photos"][0]["mime"].startswith("image/") and rep["author"] == "A" * 100


def test_an_operation_the_hub_cannot_apply_never_wedges_the_batch(any_hub, monkeypatch, caplog):
    """A bug or a database-level refusal on one operation: it is answered rejected (and kept,
    so a repeat is its duplicate); the operations around it are applied; nothing leaks."""
    from fieldreport.hub import rules

    real = rules.check_note

    def flaky(payload):
        if payload.get("text") == "触发故障":
            raise RuntimeError("张三 110105194912310020")
        return real(payload)

    monkeypatch.setattr(rules, "check_note", flaky)
    dev = any_hub.device()
    c = dev.create()
    bad = dev.op("report.note", c["entity"], {"note_id": ids.uuid7(), "text": "触发故障"})
    good = dev.op("report.note", c["entity"], {"note_id": ids.uuid7(), "text": "正常备注"})
    later = dev.create(title="后面的报告")
    res = dev.push([c, bad, good, later])
    assert [r["status"] for r in res["results"]] == ["applied", "rejected", "applied", "applied"]
    assert "RuntimeError" in res["results"][1]["reason"] and "110105" not in json.dumps(res, ensure_ascii=False)
    assert res["acked_through"] == 4
    codes = [res["results"][0]["case_code"], res["results"][3]["case_code"]]
    assert codes[0] != codes[1] and all(codes)
    assert [n["text"] for n in any_hub.store.station().report(c["entity"])["notes"]] == ["正常备注"]
    assert "110105" not in caplog.text
    monkeypatch.setattr(rules, "check_note", real)
    again = dev.push([bad])["results"][0]
    assert again["status"] == "duplicate" and again["original"] == "rejected"
    changes, _ = dev.pull_all()
    assert sorted(ch["payload"]["case_code"] for ch in changes) == sorted(codes)


def test_a_create_of_an_existing_entity_is_rejected_per_kind(any_hub):
    dev = any_hub.device()
    c = dev.create()
    again = dev.create()
    again = dev.op("report.create", c["entity"], again["payload"])
    premises_same_id = dev.op("premises.create", c["entity"], {"name": "平安旅馆"})
    res = dev.push([c, again, premises_same_id])["results"]
    assert [r["status"] for r in res] == ["applied", "rejected", "applied"]
    assert res[1]["field"] == "entity"
    later = dev.op("report.create", c["entity"], c["payload"])  # in a later batch too
    assert dev.push([later])["results"][0]["field"] == "entity"


def test_times_without_a_zone_are_rejected_alone(any_hub):
    from fieldreport.canon import op_hash

    dev = any_hub.device()
    naive = dev.create()
    naive["ts"] = "2026-12-03T19:02:11.123"
    naive["hash"] = op_hash(naive)
    dev.last_hash = naive["hash"]
    local_created = dev.create(created_at="2026-12-03 19:02")
    garbage = dev.create()
    garbage["ts"] = "yesterday evening"
    garbage["hash"] = op_hash(garbage)
    dev.last_hash = garbage["hash"]
    future = dev.create(created_at="2031-01-01T00:00:00+08:00")  # a wrong clock, but a placeable time: kept
    res = dev.push([naive, local_created, garbage, future])["results"]
    assert [(r["status"], r.get("field")) for r in res] == [("rejected", "ts"), ("rejected", "created_at"),
                                                            ("rejected", "ts"), ("applied", None)]
    assert "zone" in res[0]["reason"]
    rep = any_hub.store.station().report(future["entity"])
    assert rep["created_at"] == "2031-01-01T00:00:00+08:00" and rep["received_at"] < "2031"
