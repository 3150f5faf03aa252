"""A real `fieldreport add` subprocess killed with SIGKILL at random moments leaves either the
whole report with its outbox entry or nothing; two adds at once both succeed."""

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from conftest import PROFILE_ARGS

TRIALS = int(os.environ.get("FIELDREPORT_KILL_TRIALS", "50"))
ADD = ["add", "--kind", "dispute", "--category", "neighbour", "--level", "yellow", "--title", "邻里纠纷",
       "--details", "因漏水引发争执" * 20, "--party", "name=张三;role=applicant;phone=13812345678",
       "--party", "name=李四;role=respondent", "--no-input"]


def check_whole_or_nothing(dbfile):
    """Every report has its parties and exactly one create op; every op names a report; seqs have no gaps."""
    c = sqlite3.connect(dbfile)
    assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    reports = {r[0]: r[1] for r in c.execute("SELECT id, ref FROM reports")}
    ops = c.execute("SELECT seq, type, entity, payload FROM outbox ORDER BY seq").fetchall()
    creates = [o for o in ops if o[1] == "report.create"]
    assert sorted(o[2] for o in creates) == sorted(reports), "a report without its outbox entry or vice versa"
    for seq, _t, entity, payload in creates:
        p = json.loads(payload)
        n = c.execute("SELECT count(*) FROM parties WHERE report_id = ?", (entity,)).fetchone()[0]
        assert n == len(p["parties"]) == 2
        assert reports[entity] == p["ref"]
    assert [o[0] for o in ops] == list(range(1, len(ops) + 1))
    refs = sorted(reports.values())
    assert refs == [f"R-{i:04d}" for i in range(1, len(refs) + 1)]
    fts = c.execute("SELECT count(*) FROM reports_fts WHERE reports_fts MATCH '\"邻里纠纷\"'").fetchone()[0]
    assert fts == len(reports)
    c.close()
    return len(reports)


def test_sigkill_at_random_moments(profile, home):
    rng = random.Random(int(os.environ.get("FIELDREPORT_SEED", "20261203")))
    env = dict(os.environ)
    # Time one full add to spread the kills over the process's whole life.
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-m", "fieldreport", *ADD], env=env, check=True, capture_output=True)
    life = time.monotonic() - t0
    expected_min = 1
    killed = finished = 0
    for _ in range(TRIALS):
        p = subprocess.Popen([sys.executable, "-m", "fieldreport", *ADD], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.4, 1.05) * life)
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            killed += 1
        else:
            finished += 1
        p.wait()
    n = check_whole_or_nothing(home / "fieldreport.db")
    assert n >= expected_min + finished
    assert killed >= TRIALS // 4, f"only {killed} of {TRIALS} trials were killed mid-run"


@pytest.mark.parametrize("point", ["add:after_blob", "insert_report:before_op", "insert_report:before_commit",
                                   "insert_report:after_commit"])
def test_kill_at_named_points(profile, home, tmp_path, point):
    img = tmp_path / "p.png"
    img.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(2000))
    env = dict(os.environ, FIELDREPORT_CRASH_AT=point)
    p = subprocess.run([sys.executable, "-m", "fieldreport", *ADD, "--photo", str(img)], env=env, capture_output=True)
    assert p.returncode == 137
    n = check_whole_or_nothing(home / "fieldreport.db")
    assert n == (1 if point == "insert_report:after_commit" else 0)
    # the next add works and takes the next ref
    p = subprocess.run([sys.executable, "-m", "fieldreport", *ADD, "--json"], capture_output=True)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["ref"] == f"R-{n + 1:04d}"


def test_two_adds_at_once_both_succeed(profile, home):
    procs = [subprocess.Popen([sys.executable, "-m", "fieldreport", *ADD, "--json"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for _ in range(4)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    refs = sorted(json.loads(o[0])["ref"] for o in outs)
    assert refs == ["R-0001", "R-0002", "R-0003", "R-0004"]
    assert check_whole_or_nothing(home / "fieldreport.db") == 4
