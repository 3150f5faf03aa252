"""`fieldreport backup` / `restore`: consistent while other processes write, verified before
anything is replaced, and a restore over a store with a queue keeps both queues."""

import json
import os
import sqlite3
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from fieldreport.canon import op_hash
from fieldreport.store import Store, offline

PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(2000)


def _add(cli, title, *extra):
    r = cli("add", "--kind", "hazard", "--category", "fire", "--level", "red", "--title", title, "--no-input",
            "--json", *extra)
    assert r.code == 0, r.err
    return r.json()


def _check_consistent(db: Path, device_id: str | None = None):
    """integrity ok, every outbox op's report present, seqs unique, chain unbroken."""
    c = sqlite3.connect(db)
    try:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        missing = c.execute("SELECT count(*) FROM outbox WHERE type LIKE 'report.%' AND entity NOT IN "
                            "(SELECT id FROM reports)").fetchone()[0]
        assert missing == 0
        creates = c.execute("SELECT count(*) FROM outbox WHERE type = 'report.create'").fetchone()[0]
        assert creates == c.execute("SELECT count(*) FROM reports").fetchone()[0]
        rows = c.execute("SELECT seq, op_id, clock, ts, type, entity, payload, prev_hash, hash FROM outbox "
                         "ORDER BY seq").fetchall()
        assert len({r[1] for r in rows}) == len(rows)
        dev = device_id or c.execute("SELECT value FROM meta WHERE key='device_id'").fetchone()[0]
        prev = None
        for i, (seq, op_id, clock, ts, type_, entity, payload, ph, h) in enumerate(rows, start=1):
            assert seq == i
            assert ph == prev
            assert h == op_hash({"op_id": op_id, "device_id": dev, "seq": seq, "clock": clock, "ts": ts,
                                 "type": type_, "entity": entity, "payload": json.loads(payload), "prev_hash": ph})
            prev = h
        return len(rows)
    finally:
        c.close()


def test_backup_restore_to_a_fresh_laptop(cli, profile, home, tmp_path, monkeypatch):
    photo = tmp_path / "p.png"
    photo.write_bytes(PNG)
    a = _add(cli, "消防通道堵塞", "--photo", photo)
    _add(cli, "楼道电动车充电")
    r = cli("backup", "--out", tmp_path, "--json")
    assert r.code == 0, r.err
    res = r.json()
    arch = Path(res["out"])
    assert arch.parent == tmp_path and arch.name.startswith("fieldreport-backup-")
    assert res["reports"] == 2 and res["blobs"] == 1 and res["unacknowledged"] == 2
    assert (arch.stat().st_mode & 0o777) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]
    with tarfile.open(arch) as t:
        names = t.getnames()
        assert names[-1] == "manifest.json" and "fieldreport.db" in names and "profile.json" in names
        man = json.load(t.extractfile("manifest.json"))
        assert not any("token" in n for n in names)
    assert man["device_id"] and set(man["files"]) == {n for n in names if n != "manifest.json"}

    new_home = tmp_path / "laptop2"
    monkeypatch.setenv("FIELDREPORT_HOME", str(new_home))
    r = cli("restore", arch, "--json")
    assert r.code == 0, r.err
    assert r.json()["reports"] == 2 and r.json()["profile_restored"] is True
    r = cli("list", "--json")
    assert sorted(x["ref"] for x in r.json()) == ["R-0001", "R-0002"]
    sha = json.loads(cli("show", a["ref"], "--json").out)["photos"][0]["sha256"]
    assert (new_home / "blobs" / sha[:2] / sha).read_bytes() == PNG
    assert _check_consistent(new_home / "fieldreport.db") == 2
    # the restored laptop goes on from where it was
    assert _add(cli, "新的隐患")["seq"] == 3


def test_restore_refuses_a_store_with_a_queue_then_keeps_both(cli, profile, home, tmp_path):
    _add(cli, "备份前的报告")
    arch = Path(cli("backup", "--out", tmp_path / "b.tar", "--json").json()["out"])
    after = _add(cli, "备份后的报告")  # only in the current store
    cli("update", after["ref"], "--note", "备份后的备注")
    before = (home / "fieldreport.db").read_bytes()

    r = cli("restore", arch)
    assert r.code == 2 and "not acknowledged" in r.err and "--force" in r.err and r.err.count("\n") == 1
    assert (home / "fieldreport.db").read_bytes() == before

    r = cli("restore", arch, "--force", "--json")
    assert r.code == 0, r.err
    res = r.json()
    assert res["merged"]["ops_kept_seq"] == 2 and res["merged"]["renumbered"] == 0
    assert res["merged"]["ops_skipped"] == 1 and res["unacknowledged"] == 3
    assert Path(res["kept_aside"]).exists()
    assert _check_consistent(home / "fieldreport.db") == 3
    r = cli("list", "--json")
    assert sorted(x["title"] for x in r.json()) == ["备份前的报告", "备份后的报告"]
    shown = json.loads(cli("show", after["ref"], "--json").out)
    assert [n["text"] for n in shown["notes"]] == ["备份后的备注"]
    # the next operation takes the next sequence number: never one the device already used
    assert _add(cli, "恢复后的报告")["seq"] == 4
    assert _check_consistent(home / "fieldreport.db") == 4


def test_merge_of_diverged_histories_renumbers_without_duplicates(cli, profile, home, tmp_path):
    """An old backup restored, new work done, then another restore over it: seqs collide."""
    _add(cli, "共同的报告")
    arch = Path(cli("backup", "--out", tmp_path / "b.tar", "--json").json()["out"])
    _add(cli, "分支甲")  # seq 2 in this history
    cur = tmp_path / "cur.db"
    src = Store.open(home / "fieldreport.db")
    offline.snapshot(src, cur)
    src.close()
    assert cli("restore", arch, "--force").code == 0
    # forget the merged branch: make the restored history diverge at seq 2
    s = Store.open(home / "fieldreport.db")
    with s.write() as c:
        rid = c.execute("SELECT entity FROM outbox WHERE seq = 2").fetchone()[0]
        c.execute("DELETE FROM outbox WHERE seq = 2")
        c.execute("DELETE FROM reports WHERE id = ?", (rid,))
        s.set_meta("op_seq", "1", c)
        s.set_meta("report_seq", "1", c)
    s.close()
    b = _add(cli, "分支乙")  # also seq 2, also R-0002, another op
    assert b["seq"] == 2 and b["ref"] == "R-0002"
    restored = Store.open(home / "fieldreport.db")
    stats = offline.merge_from(restored, cur)
    restored.close()
    assert stats["renumbered"] == 1 and stats["ops_skipped"] == 1 and stats["refs_changed"] == 1
    n = _check_consistent(home / "fieldreport.db")
    assert n == 3
    titles = sorted(x["title"] for x in cli("list", "--json").json())
    assert titles == ["共同的报告", "分支乙", "分支甲"]
    assert len({x["ref"] for x in cli("list", "--json").json()}) == 3


def _corrupt(arch: Path, tmp_path: Path, how: str) -> Path:
    data = bytearray(arch.read_bytes())
    bad = tmp_path / f"bad-{how}.tar"
    if how == "truncated":
        bad.write_bytes(bytes(data[: len(data) // 2]))
    elif how == "flipped":
        i = data.find(b"SQLite format 3")
        data[i + 3000] ^= 0xFF
        bad.write_bytes(bytes(data))
    elif how == "notatar":
        bad.write_bytes(b"hello" * 100)
    return bad


@pytest.mark.parametrize("how,words", [("truncated", "truncated"), ("flipped", "sha256"), ("notatar", "backup")])
def test_damaged_backup_refused_nothing_changed(cli, profile, home, tmp_path, how, words):
    _add(cli, "一个报告")
    arch = Path(cli("backup", "--out", tmp_path / "b.tar", "--json").json()["out"])
    bad = _corrupt(arch, tmp_path, how)
    before = (home / "fieldreport.db").read_bytes()
    r = cli("restore", bad, "--force")
    assert r.code == 2, r.err
    assert words in r.err and r.err.count("\n") == 1 and "Traceback" not in r.err
    assert (home / "fieldreport.db").read_bytes() == before
    assert not [p for p in home.iterdir() if p.name.startswith(".fieldreport-restore")]


def test_backup_bad_out(cli, profile, tmp_path):
    r = cli("backup", "--out", tmp_path / "no" / "such" / "dir" / "x.tar")
    assert r.code == 2 and "does not exist" in r.err
    r = cli("restore", tmp_path / "missing.tar")
    assert r.code == 2 and "does not exist" in r.err


WRITER = r"""
import sys, time
from fieldreport import reports, paths
from fieldreport.blobs import BlobStore
from fieldreport.store import Store
p = paths.resolve()
s = Store.open(p.store)
b = BlobStore(p.blobs)
deadline = time.time() + float(sys.argv[1])
n = 0
while time.time() < deadline:
    r = reports.add(s, b, {"kind": "hazard", "category": "gas", "level": "red", "title": f"燃气隐患{n}"}, author="A1")
    reports.update(s, b, r["ref"], note=f"备注{n}", author="A1")
    n += 1
print(n)
"""


def test_backup_while_add_loops_run_restores_consistent(cli, profile, home, tmp_path, monkeypatch):
    """A library writer and a `fieldreport add` CLI loop write while backups are taken; every
    backup restores to a consistent store."""
    env = dict(os.environ)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, "6"], env=env, stdout=subprocess.PIPE)
    loop = subprocess.Popen(["bash", "-c", f"for i in $(seq 1 8); do {sys.executable} -m fieldreport add --kind "
                             "dispute --category neighbour --level blue --title 邻里纠纷$i --no-input >/dev/null || "
                             "exit 1; done"], env=env)
    archives = []
    try:
        time.sleep(0.5)
        deadline = time.time() + 5
        while time.time() < deadline and len(archives) < 6:
            r = cli("backup", "--out", tmp_path / f"b{len(archives)}.tar", "--json")
            assert r.code == 0, r.err
            archives.append(Path(r.json()["out"]))
            time.sleep(0.2)
    finally:
        n_lib = int(writer.communicate(timeout=60)[0])
        assert loop.wait(timeout=120) == 0
    assert n_lib > 5 and len(archives) >= 3
    counts = []
    for i, arch in enumerate(archives):
        h = tmp_path / f"restored{i}"
        monkeypatch.setenv("FIELDREPORT_HOME", str(h))
        r = cli("restore", arch, "--json")
        assert r.code == 0, r.err
        assert r.json()["orphan_ops"] == 0
        counts.append(_check_consistent(h / "fieldreport.db"))
    assert counts == sorted(counts) and counts[-1] > counts[0]


SYNC_LOOP = r"""
set -e
for i in $(seq 1 6); do
  {py} -m fieldreport add --kind hazard --category gas --level red --title 燃气隐患$i --no-input >/dev/null
  {py} -m fieldreport sync --json >/dev/null || true
done
"""


def test_backup_while_sync_runs_restores_consistent(cli, profile, home, hub, tmp_path, monkeypatch):
    import httpx

    from fieldreport import paths as _paths, profile as _profile

    dev = json.loads((home / "profile.json").read_text())["device_id"]
    r = httpx.post(hub.url + "/v1/enroll", json={"code": hub.enroll(), "device_id": dev, "name": "laptop"}, timeout=30)
    assert r.status_code == 200, r.text
    _profile.write_token(_paths.resolve(), r.json()["token"])
    assert cli("init", "--hub", hub.url, "--no-input").code == 0
    for i in range(20):
        _add(cli, f"先前的报告{i}")
    loop = subprocess.Popen(["bash", "-c", SYNC_LOOP.format(py=sys.executable)], env=dict(os.environ))
    archives = []
    try:
        while loop.poll() is None and len(archives) < 8:
            r = cli("backup", "--out", tmp_path / f"s{len(archives)}.tar", "--json")
            assert r.code == 0, r.err
            archives.append(Path(r.json()["out"]))
            time.sleep(0.3)
    finally:
        assert loop.wait(timeout=120) == 0
    assert len(archives) >= 2
    acked = []
    for i, arch in enumerate(archives):
        h = tmp_path / f"srestored{i}"
        monkeypatch.setenv("FIELDREPORT_HOME", str(h))
        r = cli("restore", arch, "--json")
        assert r.code == 0, r.err
        _check_consistent(h / "fieldreport.db")
        c = sqlite3.connect(h / "fieldreport.db")
        acked.append(c.execute("SELECT count(*) FROM outbox WHERE state = 'acked'").fetchone()[0])
        # nothing is acknowledged that the hub does not hold
        held = {o["op_id"] for o in hub.store.station().device_ops(dev)}
        mine = {r[0] for r in c.execute("SELECT op_id FROM outbox WHERE state = 'acked'")}
        c.close()
        assert mine <= held
    assert acked == sorted(acked) and acked[-1] > 0, acked


def test_encrypted_laptop_backup_stays_encrypted(cli, profile, home, tmp_path, monkeypatch):
    monkeypatch.setenv("FIELDREPORT_PASSPHRASE", "correct horse battery staple 42")
    photo = tmp_path / "p.png"
    photo.write_bytes(PNG)
    _add(cli, "加密前的燃气隐患", "--photo", photo)
    r = cli("encrypt")
    assert r.code == 0, r.err
    _add(cli, "加密后的燃气隐患")
    r = cli("backup", "--out", tmp_path / "enc.tar", "--json")
    assert r.code == 0, r.err
    assert r.json()["blobs"] == 1 and r.json()["missing_blobs"] == []
    raw = (tmp_path / "enc.tar").read_bytes()
    assert "燃气隐患".encode() not in raw and PNG[8:200] not in raw  # no plaintext: store and photo stay sealed
    with tarfile.open(tmp_path / "enc.tar") as t:
        assert "fieldreport.key" in t.getnames()
    new_home = tmp_path / "laptop2"
    monkeypatch.setenv("FIELDREPORT_HOME", str(new_home))
    r = cli("restore", tmp_path / "enc.tar", "--json")
    assert r.code == 0, r.err
    assert sorted(x["title"] for x in cli("list", "--json").json()) == ["加密前的燃气隐患", "加密后的燃气隐患"]
    r = cli("doctor", "--offline", "--json")
    assert r.code == 0, r.out
    checks = {c["check"]: c["status"] for c in json.loads(r.out)["checks"]}
    assert checks["photos"] == "ok" and checks["store"] == "ok"
    # keep both queues on an encrypted laptop too
    _add(cli, "恢复后的报告")
    r = cli("restore", tmp_path / "enc.tar", "--force", "--json")
    assert r.code == 0, r.err
    assert r.json()["merged"]["ops_kept_seq"] == 1 and r.json()["unacknowledged"] == 3


def test_backup_from_before_a_passphrase_change_restores_on_the_same_laptop(cli, run, profile, home, tmp_path,
                                                                            monkeypatch):
    """The backup carries the keyfile of its time (the old passphrase); the laptop's own keyfile
    (the new one) opens it, since `fieldreport passphrase` keeps the key. Another laptop's
    encrypted backup is refused, nothing changed."""
    old, new = "correct horse battery staple 42", "a new passphrase for december"
    monkeypatch.setenv("FIELDREPORT_PASSPHRASE", old)
    photo = tmp_path / "p.png"
    photo.write_bytes(PNG)
    a = _add(cli, "加密前的燃气隐患", "--photo", photo)
    assert cli("encrypt").code == 0
    assert cli("backup", "--out", tmp_path / "before.tar").code == 0
    r = run("passphrase", env={"FIELDREPORT_PASSPHRASE": old, "FIELDREPORT_NEW_PASSPHRASE": new})
    assert r.code == 0, r.err
    monkeypatch.setenv("FIELDREPORT_PASSPHRASE", new)
    _add(cli, "改口令后的报告")
    r = cli("restore", tmp_path / "before.tar", "--force", "--json")
    assert r.code == 0, r.err
    titles = sorted(x["title"] for x in cli("list", "--json").json())
    assert titles == ["加密前的燃气隐患", "改口令后的报告"]  # the newer entry kept beside the restored queue
    sha = cli("show", a["ref"], "--json").json()["photos"][0]["sha256"]
    assert cli("verify", "--json").json()["ok"]
    from fieldreport import crypto
    from fieldreport.blobs import BlobStore

    assert BlobStore(home / "blobs", crypto.unlock(home, new).blob).read_bytes(sha) == PNG
    # another laptop, encrypted with its own key: its backup does not open here
    other = tmp_path / "other"
    monkeypatch.setenv("FIELDREPORT_HOME", str(other))
    monkeypatch.setenv("FIELDREPORT_PASSPHRASE", old)
    from conftest import PROFILE_ARGS

    assert cli(*PROFILE_ARGS, "--encrypt").code == 0
    _add(cli, "别的电脑")
    assert cli("backup", "--out", tmp_path / "other.tar").code == 0
    monkeypatch.setenv("FIELDREPORT_HOME", str(home))
    monkeypatch.setenv("FIELDREPORT_PASSPHRASE", new)
    before = (home / "fieldreport.db").read_bytes()
    r = cli("restore", tmp_path / "other.tar", "--force")
    assert r.code == 2 and "another key" in r.err and r.err.count("\n") == 1, r.err
    assert (home / "fieldreport.db").read_bytes() == before
