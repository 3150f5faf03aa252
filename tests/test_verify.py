"""``fieldreport verify``: the outbox hash chain (an edited payload, a deleted or reordered entry,
a forged prev_hash) and the photos' hashes (damaged, missing), exit 5 with a clear report;
an intact laptop is exit 0 in both languages."""

from __future__ import annotations

import json
import sqlite3

import pytest


@pytest.fixture
def three(cli, profile, home, tmp_path):
    p = tmp_path / "a.jpg"
    p.write_bytes(b"\xff\xd8\xff\xe0" + b"photo" * 100)
    for i, extra in enumerate((["--photo", str(p)], [], [])):
        r = cli("add", "--kind", "hazard", "--category", "ebike", "--level", "orange", "--title", f"楼道电动车充电{i}",
                "--no-input", *extra)
        assert r.code == 0, r.err
    assert cli("update", "R-0002", "--note", "已督促整改").code == 0
    return home / "fieldreport.db"


def _sql(db, q, *a):
    c = sqlite3.connect(db)
    with c:
        c.execute(q, a)
    c.close()


def test_intact(cli, three):
    r = cli("verify", "--json")
    assert r.code == 0 and r.json()["ok"] and r.json()["ops"] == 4 and r.json()["chain_breaks"] == []
    r = cli("verify")
    assert r.code == 0 and "intact" in r.out
    r = cli("--lang", "zh", "verify")
    assert r.code == 0 and "哈希链完整" in r.out and "校验通过" in r.out


def test_edited_payload(cli, three):
    c = sqlite3.connect(three)
    row = c.execute("SELECT seq, payload FROM outbox WHERE seq = 2").fetchone()
    c.close()
    pl = json.loads(row[1])
    pl["title"] = "改过的标题"
    _sql(three, "UPDATE outbox SET payload = ? WHERE seq = 2", json.dumps(pl, ensure_ascii=False))
    r = cli("verify", "--json")
    assert r.code == 5 and not r.json()["ok"]
    assert [(b["seq"], b["problem"]) for b in r.json()["chain_breaks"]] == [(2, "hash")]
    r = cli("verify")
    assert r.code == 5 and "#2" in r.err and "FAILED" in r.out


def test_deleted_entry(cli, three):
    _sql(three, "DELETE FROM outbox WHERE seq = 2")
    r = cli("verify", "--json")
    assert r.code == 5
    probs = {(b["seq"], b["problem"]) for b in r.json()["chain_breaks"]}
    assert (3, "gap") in probs and (3, "link") in probs


def test_recomputed_hash_still_breaks_the_link(cli, three):
    """An attacker who edits an entry and recomputes its own hash breaks the next link."""
    from fieldreport.canon import op_hash
    from fieldreport.store import Store, privacy_store

    with Store.open(three) as s:
        ops = list(privacy_store.chain(s.conn))
    op = ops[1]
    op["payload"]["title"] = "改过的标题"
    new = op_hash(op)
    _sql(three, "UPDATE outbox SET payload = ?, hash = ? WHERE seq = 2",
         json.dumps(op["payload"], ensure_ascii=False, separators=(",", ":")), new)
    r = cli("verify", "--json")
    assert r.code == 5
    assert [(b["seq"], b["problem"]) for b in r.json()["chain_breaks"]] == [(3, "link")]


def test_photos_damaged_and_missing(cli, three, home):
    c = sqlite3.connect(three)
    sha = c.execute("SELECT sha256 FROM photos").fetchone()[0]
    c.close()
    f = home / "blobs" / sha[:2] / sha
    f.write_bytes(f.read_bytes() + b"x")
    r = cli("verify", "--json")
    assert r.code == 5 and {"sha256": sha, "problem": "damaged"} in r.json()["photo_problems"]
    assert r.json()["chain_breaks"] == []
    f.unlink()
    r = cli("verify", "--json")
    assert r.code == 5 and {"sha256": sha, "problem": "missing"} in r.json()["photo_problems"]
    r = cli("verify", "--no-photos")
    assert r.code == 0
