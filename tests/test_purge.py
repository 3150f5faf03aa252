"""``fieldreport purge``: never anything the hub has not acknowledged (a Hypothesis property over
random outbox states, acknowledgement times and photo uploads), the chain still verifies after
a purge, the dry run changes nothing, and the command line's answers in both languages."""

from __future__ import annotations

import datetime as dt
import hashlib
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldreport import ids, purge, reports, verify
from fieldreport.blobs import BlobStore
from fieldreport.store import Store

STATES = ("pending", "acked", "rejected", "conflict", "discarded")
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def _store(tmp: Path) -> tuple[Store, BlobStore]:
    s = Store.open(tmp / "fieldreport.db", create=True)
    with s.write() as c:
        s.set_meta("device_id", ids.uuid7(), c)
    return s, BlobStore(tmp / "blobs")


def _report(s, bs, i: int, photo: bool, ops: int) -> str:
    data = {"kind": "dispute", "category": "neighbour", "level": "yellow", "title": f"邻里纠纷 {i}",
            "parties": [f"name=张三{i};role=applicant;id=11010519491231002X;phone=13812345678"]}
    if photo:
        p = Path(bs.root).parent / f"p{i}.jpg"
        p.write_bytes(b"\xff\xd8\xff\xe0" + hashlib.sha256(str(i).encode()).digest() * 20)
        data["photos"] = [str(p)]
    rid = reports.add(s, bs, data, author="A1024")["id"]
    for k in range(ops - 1):
        reports.update(s, bs, rid, note=f"第{k}次回访", author="A1024")
    return rid


def _snapshot(s) -> dict:
    c = s.conn
    return {t: c.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
            for t in ("reports", "parties", "photos", "notes", "outbox", "blobs")}


report_spec = st.lists(
    st.tuples(
        st.lists(st.sampled_from(STATES), min_size=1, max_size=3),   # state of each op
        st.integers(min_value=0, max_value=90),                         # days since the ack
        st.booleans(),                                                  # has a photo
        st.booleans(),                                                  # the photo was uploaded
    ),
    min_size=1, max_size=6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=report_spec, days=st.integers(min_value=1, max_value=60), dry=st.booleans())
def test_purge_never_removes_anything_unacknowledged(spec, days, dry):
    with tempfile.TemporaryDirectory() as d:
        s, bs = _store(Path(d))
        try:
            expect_kept, expect_gone = set(), set()
            for i, (states, age, photo, uploaded) in enumerate(spec):
                rid = _report(s, bs, i, photo, len(states))
                seqs = [r[0] for r in s.conn.execute("SELECT seq FROM outbox WHERE entity = ? ORDER BY seq", (rid,))]
                acked_at = (NOW - dt.timedelta(days=age)).astimezone(dt.timezone.utc).isoformat(timespec="milliseconds")
                old = (NOW - dt.timedelta(days=age + 1)).isoformat(timespec="milliseconds")
                with s.write() as c:
                    for seq, state in zip(seqs, states):
                        c.execute("UPDATE outbox SET state = ?, acked_at = ? WHERE seq = ?",
                                  (state, acked_at if state == "acked" else None, seq))
                    c.execute("UPDATE reports SET created_at = ?, updated_at = ? WHERE id = ?", (old, old, rid))
                    if photo and uploaded:
                        c.execute("UPDATE blobs SET uploaded_at = ? WHERE sha256 IN "
                                  "(SELECT sha256 FROM photos WHERE report_id = ?)", (acked_at, rid))
                eligible = all(x == "acked" for x in states) and age > days and (not photo or uploaded)
                (expect_gone if eligible else expect_kept).add(rid)
            unacked_before = s.conn.execute("SELECT * FROM outbox WHERE state != 'acked' ORDER BY seq").fetchall()
            before = _snapshot(s)
            res = purge.purge(s, bs, older_than=dt.timedelta(days=days), dry_run=dry, now=NOW)
            gone_refs = {r["ref"] for r in res["reports"]}
            ref_of = dict(s.conn.execute("SELECT ref, id FROM reports").fetchall())
            if dry:
                assert _snapshot(s) == before
                assert len(gone_refs) == len(expect_gone)
                return
            left = {r[0] for r in s.conn.execute("SELECT id FROM reports")}
            # the property: every report with an unacknowledged operation (or an unconfirmed
            # photo, or confirmed too recently) is still here, whole
            assert expect_kept <= left
            assert not (expect_gone & left)
            assert len(gone_refs) == len(expect_gone) and not (gone_refs & set(ref_of))
            # every entry the hub has not acknowledged is untouched, byte for byte
            assert s.conn.execute("SELECT * FROM outbox WHERE state NOT IN ('acked', 'purged') ORDER BY seq"
                                  ).fetchall() == unacked_before
            # nothing of a purged report is left but the scrubbed outbox rows and the purge log
            for rid in expect_gone:
                assert not s.conn.execute("SELECT 1 FROM parties WHERE report_id = ?", (rid,)).fetchone()
                assert {r[0] for r in s.conn.execute("SELECT payload FROM outbox WHERE entity = ?", (rid,))} == {"{}"}
            blob = s.conn.execute("SELECT group_concat(payload) FROM outbox WHERE state = 'purged'").fetchone()[0]
            assert "11010519491231002X" not in (blob or "")
            # the chain still verifies, and every remaining photo is there
            v = verify.verify(s, bs)
            assert v["ok"], v
            assert v["purged_ops"] == s.conn.execute("SELECT count(*) FROM outbox WHERE state = 'purged'").fetchone()[0]
            # a second purge finds nothing more
            assert purge.purge(s, bs, older_than=dt.timedelta(days=days), now=NOW)["reports"] == []
        finally:
            s.close()


def test_a_purged_entry_is_never_sent_again(tmp_path):
    """A hub restored from a backup makes sync re-queue acknowledged entries: purged ones stay out."""
    s, bs = _store(tmp_path)
    rid = _report(s, bs, 1, False, 1)
    with s.write() as c:
        c.execute("UPDATE outbox SET state = 'acked', acked_at = '2026-01-01T00:00:00.000+00:00', epoch = 'e1'")
        c.execute("UPDATE reports SET created_at = '2026-01-01T00:00:00.000+08:00', updated_at = '2026-01-01T00:00:00.000+08:00'")
    res = purge.purge(s, bs, older_than=dt.timedelta(days=30), now=NOW)
    assert [r["ref"] for r in res["reports"]] == ["R-0001"]
    from fieldreport.store import sync_state

    with s.write() as c:
        sync_state.rebase(c, "e2", 0, force=True)
    assert s.conn.execute("SELECT state FROM outbox WHERE entity = ?", (rid,)).fetchall() == [("purged",)]
    assert sync_state.next_batch(s, 0, 100) == []


def test_photo_files_go_only_when_no_report_still_shows_them(tmp_path):
    s, bs = _store(tmp_path)
    p = tmp_path / "same.jpg"
    p.write_bytes(b"\xff\xd8\xff\xe0" + b"x" * 500)
    a = reports.add(s, bs, {"kind": "hazard", "category": "ebike", "level": "orange", "title": "楼道充电",
                            "photos": [str(p)]}, author="A1024")["id"]
    b = reports.add(s, bs, {"kind": "hazard", "category": "ebike", "level": "orange", "title": "楼道充电 复查",
                            "photos": [str(p)]}, author="A1024")["id"]
    sha = hashlib.sha256(p.read_bytes()).hexdigest()
    with s.write() as c:
        c.execute("UPDATE outbox SET state = 'acked', acked_at = '2026-01-01T00:00:00.000+00:00' WHERE entity = ?", (a,))
        c.execute("UPDATE blobs SET uploaded_at = '2026-01-01T00:00:00.000+00:00'")
        c.execute("UPDATE reports SET created_at = '2026-01-01T00:00:00.000+08:00', updated_at = '2026-01-01T00:00:00.000+08:00'")
    res = purge.purge(s, bs, older_than=dt.timedelta(days=30), now=NOW)
    assert [r["ref"] for r in res["reports"]] == ["R-0001"] and res["photo_files"] == 0
    assert bs.has(sha) and b in {r[0] for r in s.conn.execute("SELECT id FROM reports")}
    with s.write() as c:
        c.execute("UPDATE outbox SET state = 'acked', acked_at = '2026-01-01T00:00:00.000+00:00' WHERE entity = ?", (b,))
    res = purge.purge(s, bs, older_than=dt.timedelta(days=30), now=NOW)
    assert res["photo_files"] >= 1 and not bs.has(sha)
    assert verify.verify(s, bs)["ok"]


def test_cli_purge(cli, profile, home):
    for t in ("楼道电动车充电", "消防通道堵塞"):
        assert cli("add", "--kind", "hazard", "--category", "ebike", "--level", "orange", "--title", t,
                   "--no-input").code == 0
    r = cli("purge", "--synced-older-than", "30d", "--dry-run", "--json")
    assert r.code == 0 and r.json()["reports"] == [] and r.json()["kept"]["not_confirmed"] == 0
    # make R-0001 confirmed long ago
    s = Store.open(home / "fieldreport.db")
    with s.write() as c:
        rid = c.execute("SELECT id FROM reports WHERE ref = 'R-0001'").fetchone()[0]
        c.execute("UPDATE outbox SET state = 'acked', acked_at = '2026-01-01T00:00:00.000+00:00' WHERE entity = ?", (rid,))
        c.execute("UPDATE reports SET created_at = '2026-01-01T00:00:00.000+08:00', updated_at = '2026-01-01T00:00:00.000+08:00'")
    s.close()
    r = cli("purge", "--dry-run")
    assert r.code == 0 and "R-0001" in r.out and "Dry run" in r.out and "1 not yet confirmed" in r.out
    assert cli("list", "--json").json()[-1]["ref"] == "R-0001"
    r = cli("--lang", "zh", "purge", "--dry-run")
    assert r.code == 0 and "试运行" in r.out
    r = cli("purge", "--json")
    assert r.code == 0 and [x["ref"] for x in r.json()["reports"]] == ["R-0001"]
    assert [x["ref"] for x in cli("list", "--json").json()] == ["R-0002"]
    assert cli("verify").code == 0
    # bad input: one line, exit 2, nothing removed
    for bad in ("thirty", "0d", "-3d", "7y"):
        r = cli("purge", "--synced-older-than", bad)
        assert r.code == 2 and r.err.count("\n") == 1 and "synced-older-than" in r.err, (bad, r.err)
    assert [x["ref"] for x in cli("list", "--json").json()] == ["R-0002"]


def test_retention_comes_from_the_profile(cli, profile, home):
    assert cli("init", "--retention-days", "400", "--no-input").code == 0
    r = cli("purge", "--dry-run", "--json")
    assert r.code == 0 and r.json()["older_than_days"] == 400
    assert purge.parse_age(None, 30) == dt.timedelta(days=30)
    assert purge.parse_age("2w", 30) == dt.timedelta(days=14)
    assert purge.parse_age("12h", 30) == dt.timedelta(hours=12)
    with pytest.raises(Exception):
        purge.parse_age("abc", 30)


def test_an_original_the_hub_lacks_is_never_purged_even_when_its_copy_arrived(tmp_path):
    """Issue 8: the transmission copy reached the hub, the original did not → the report stays;
    once the original is confirmed it may go."""
    from photo_helpers import make_jpeg  # a real JPEG, so Pillow makes a real transmission copy

    s, bs = _store(tmp_path)
    photo = make_jpeg(tmp_path / "big.jpg")
    rid = reports.add(s, bs, {"kind": "hazard", "category": "fire", "level": "red", "title": "消防通道堵塞",
                              "photos": [str(photo)]}, author="A1024")["id"]
    orig = hashlib.sha256(photo.read_bytes()).hexdigest()
    copy = s.conn.execute("SELECT copy_sha256 FROM photo_copies WHERE original_sha256 = ?", (orig,)).fetchone()
    assert copy and copy[0] != orig
    with s.write() as c:
        c.execute("UPDATE outbox SET state = 'acked', acked_at = '2026-01-01T00:00:00.000+00:00'")
        c.execute("UPDATE blobs SET uploaded_at = '2026-01-01T00:00:00.000+00:00' WHERE sha256 = ?", (copy[0],))
        c.execute("UPDATE reports SET created_at = '2026-01-01T00:00:00.000+08:00', "
                  "updated_at = '2026-01-01T00:00:00.000+08:00'")
    res = purge.purge(s, bs, older_than=dt.timedelta(days=30), now=NOW)
    assert res["reports"] == [] and bs.has(orig)
    assert rid in {r[0] for r in s.conn.execute("SELECT id FROM reports")}
    with s.write() as c:
        c.execute("UPDATE blobs SET uploaded_at = '2026-01-01T00:00:00.000+00:00' WHERE sha256 = ?", (orig,))
    res = purge.purge(s, bs, older_than=dt.timedelta(days=30), now=NOW)
    assert [r["ref"] for r in res["reports"]] == ["R-0001"]
