"""The store itself: migrations keep an older store's queue, pragmas, owner-only files."""

import json
import os
import sqlite3
import stat
import time

import datetime

from hypothesis import given, settings, strategies as st

from fieldreport import validate
from fieldreport.store import Store, schema


def test_migrates_an_older_store_with_queued_entries(tmp_path, cli, profile, home):
    old = tmp_path / "old.db"
    conn = sqlite3.connect(old, isolation_level=None)
    schema.migrate(conn, upto=1)  # a store as the first release wrote it
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    conn.execute("INSERT INTO meta VALUES ('device_id', 'dev-old'), ('op_seq', '2'), ('clock', '2'), ('report_seq', '2')")
    for n in (1, 2):
        rid = f"0190000{n}-0000-7000-8000-000000000000"
        conn.execute("INSERT INTO reports (id, ref, kind, category, level, title, details, place, status, created_at, "
                     "updated_at) VALUES (?, ?, 'hazard', 'gas', 'red', ?, '', '', 'registered', ?, ?)",
                     (rid, f"R-000{n}", f"燃气泄漏隐患{n}", "2026-01-01T00:00:00+08:00", "2026-01-01T00:00:00+08:00"))
        conn.execute("INSERT INTO outbox (seq, op_id, type, entity, payload, clock, ts, hash) VALUES (?,?,?,?,?,?,?,?)",
                     (n, f"0190000{n}-0000-7000-8000-00000000000{n}", "report.create", rid, json.dumps({"ref": f"R-000{n}"}),
                      n, "2026-01-01T00:00:00+08:00", "h"))
    conn.close()
    s = Store.open(old)
    names = [r[0] for r in s.conn.execute("SELECT name FROM migrations ORDER BY rowid")]
    assert names[:3] == ["m001_initial", "m002_outbox_retry", "m003_search"]
    assert s.conn.execute("PRAGMA user_version").fetchone()[0] == len(schema.MIGRATIONS)
    pending = s.ops(states=("pending",))
    assert [o["seq"] for o in pending] == [1, 2] and pending[0]["attempts"] == 0
    # rows written before the search index existed are found through it
    assert [r["ref"] for r in s.list_reports(search="燃气泄漏")] == ["R-0002", "R-0001"]
    s.close()
    # opening again is a no-op
    s = Store.open(old)
    assert len(s.ops()) == 2
    s.close()


def test_connection_pragmas(tmp_path):
    s = Store.open(tmp_path / "s.db", create=True)
    c = s.conn
    assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert c.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert c.execute("PRAGMA busy_timeout").fetchone()[0] > 0
    s.close()


def test_newer_store_refused(tmp_path):
    p = tmp_path / "s.db"
    Store.open(p, create=True).close()
    c = sqlite3.connect(p)
    c.execute("PRAGMA user_version = 999")
    c.commit()
    c.close()
    import pytest

    from fieldreport.errors import StoreCorrupt

    with pytest.raises(StoreCorrupt, match="newer fieldreport"):
        Store.open(p)


def mode(p):
    return stat.S_IMODE(os.stat(p).st_mode)


def test_files_are_owner_only(cli, profile, home, tmp_path):
    img = tmp_path / "a.png"
    img.write_bytes(b"\x89PNG\r\n\x1a\n" + b"1" * 50)
    os.chmod(img, 0o644)
    assert cli("add", "--kind", "hazard", "--category", "gas", "--level", "red", "--title", "x", "--photo", img,
               "--no-input").code == 0
    cli("show", "R-0001", "--reveal")
    seen = 0
    for root, dirs, files in os.walk(home):
        for d in dirs:
            assert mode(os.path.join(root, d)) == 0o700, d
        for f in files:
            assert mode(os.path.join(root, f)) & 0o077 == 0, (f, oct(mode(os.path.join(root, f))))
            seen += 1
    assert mode(home) == 0o700
    assert seen >= 4  # profile, db (+wal), blob, audit log


# ----------------------------------------------------------------- identifiers
def make_id(region: str, birth: str, seq: str) -> str:
    first = region + birth + seq
    return first + validate.id_check_char(first)


def test_id_examples_from_domain_reference():
    assert validate.id_check_char("11010519491231002") == "X"
    assert validate.id_check_char("51310119820113001") == "4"
    assert validate.check_id_number("11010519491231002X") is None
    assert validate.check_id_number("11010519491231002x") is None
    assert "check digit" in validate.check_id_number("110105194912310021")
    assert "birth date" in validate.check_id_number(make_id("110105", "19490230", "002"))
    assert validate.check_id_number("110105491231002") is None  # old 15-digit card
    assert "15-digit" in validate.check_id_number("11010549123100A")
    assert validate.check_id_number("123") is not None


@settings(max_examples=300, deadline=None)
@given(st.from_regex(r"[1-6][0-9]{5}", fullmatch=True), st.dates(datetime.date(1000, 1, 1)), st.integers(0, 999))
def test_id_validator_agrees_with_python_stdnum(region, born, seq):
    """Same check digit and same birth-date verdict as python-stdnum (which also checks region
    codes against its own table, a check fieldreport leaves to the station)."""
    import datetime

    from stdnum.cn import ric

    first17 = region + born.strftime("%Y%m%d") + f"{seq:03d}"
    assert validate.id_check_char(first17) == ric.calc_check_digit(first17 + "0")  # it drops the last character
    num = first17 + validate.id_check_char(first17)
    ok = validate.check_id_number(num) is None
    assert ok == (datetime.date(1880, 1, 1) <= born <= datetime.date.today())
    if ok:
        assert ric.get_birth_date(num) == born
    bad = num[:17] + ("0" if num[17] != "0" else "1")
    assert validate.check_id_number(bad) is not None


def test_phones_and_masks():
    assert validate.check_phone("13812345678") is None
    assert validate.check_phone("+86 138 1234 5678") is None
    assert validate.check_phone("027-87654321") is None
    assert validate.check_phone("12345") is not None
    assert validate.check_phone("23812345678") is not None
    assert validate.mask_id("42010619900101123X") == "4201**********123X"
    assert validate.mask_phone("13812345678") == "138****5678"
    assert validate.mask_name("张三丰") == "张**"


def test_add_gets_its_turn_beside_a_writer_that_never_pauses(profile, home):
    """Processes at once: writers committing back to back leave the lock free only for
    the moment between its transactions. `fieldreport add` must still get its turn well within
    its busy timeout (SQLite's own busy handler sleeps up to 100 ms between tries and can miss
    those moments for seconds)."""
    import subprocess
    import sys

    from test_backup import WRITER  # one report and one note after another, no pause

    env = dict(os.environ, FIELDREPORT_BUSY_TIMEOUT_MS="2000")
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, "6"], env=env, stdout=subprocess.PIPE)
               for _ in range(3)]
    try:
        time.sleep(0.8)
        for i in range(10):
            r = subprocess.run([sys.executable, "-m", "fieldreport", "add", "--kind", "dispute", "--category",
                                "neighbour", "--level", "blue", "--title", f"邻里纠纷{i}", "--no-input"],
                               env=env, capture_output=True, text=True, timeout=60)
            assert r.returncode == 0, r.stderr
    finally:
        n = [int(w.communicate(timeout=60)[0]) for w in writers]
    assert min(n) > 50


def test_list_plans_for_few_and_many_matches_agree(tmp_path, monkeypatch):
    """`list --search` and `--unsynced` take another query plan above SEARCH_FEW matches (walk
    the created_at index rather than fetch and sort every match). Both plans give the same
    reports in the same order, newest first, whatever the order the rows were written in (pulled
    and imported reports can be older than ones already held)."""
    import random

    import fieldreport.store as store_mod

    rng = random.Random(7)
    s = Store.open(tmp_path / "s.db", create=True)
    s.conn.execute("INSERT OR REPLACE INTO meta VALUES ('device_id', 'dev-a')")
    words = ["电动车充电", "燃气泄漏", "消防通道堵塞"]
    items = [({"kind": "hazard", "category": "fire", "level": "blue", "title": f"{rng.choice(words)} {i}",
               "details": rng.choice(words) if rng.random() < 0.3 else "", "place": "东村"}, "registered")
             for i in range(60)]
    made = s.insert_reports(items, author="A1")
    with s.write() as c:
        for r in made:  # created_at no longer follows the rowid; a few share one instant
            c.execute("UPDATE reports SET created_at = ?, archived = ? WHERE id = ?",
                      (f"2026-{rng.randint(1, 3):02d}-{rng.randint(1, 28):02d}T08:00:00+08:00",
                       1 if rng.random() < 0.1 else 0, r["id"]))
        c.execute("UPDATE outbox SET state = 'acked' WHERE seq % 3 != 0")
    rows = {r[0]: r for r in s.conn.execute(
        "SELECT r.id, r.title, r.details, r.created_at, r.archived, "
        "EXISTS (SELECT 1 FROM outbox o WHERE o.entity = r.id AND o.state != 'acked') FROM reports r")}

    def expected(pred, limit):
        hit = [r for r in rows.values() if not r[4] and pred(r)]
        hit.sort(key=lambda r: (r[3], r[0]), reverse=True)
        return [r[0] for r in hit][:limit or None]

    cases = [(dict(search="电动车"), lambda r: "电动车" in r[1] + r[2]),
             (dict(search="消防通道堵塞"), lambda r: "消防通道堵塞" in r[1] + r[2]),
             (dict(unsynced=True), lambda r: r[5]),
             (dict(unsynced=True, search="燃气泄"), lambda r: r[5] and "燃气泄" in r[1] + r[2])]
    for few in (1000, 3):
        monkeypatch.setattr(store_mod, "SEARCH_FEW", few)
        for kw, pred in cases:
            for limit in (5, 50, 0):
                got = [r["id"] for r in s.list_reports(limit=limit, **kw)]
                assert got == expected(pred, limit), (few, kw, limit)
    s.close()
