"""Every kind of bad input: exit code 2 (or the documented code), one line on stderr, no
traceback, and the store unchanged — byte for byte."""

import hashlib
import os
import sqlite3
import subprocess
import sys
import time

import pytest

OK = ("add", "--kind", "hazard", "--category", "fire", "--level", "red", "--title", "消防通道堵塞", "--no-input")


def snapshot(home):
    c = sqlite3.connect(home / "fieldreport.db")
    c.execute("PRAGMA wal_checkpoint(FULL)")
    rows = [c.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in ("reports", "outbox", "parties", "photos",
                                                                         "meta", "notes", "blobs")]
    c.close()
    return repr(rows)


def replace(args, flag, value):
    a = list(args)
    if flag in a:
        a[a.index(flag) + 1] = value
    else:
        a += [flag, value]
    return a


@pytest.fixture
def seeded(cli, profile, home):
    assert cli(*OK).code == 0
    return snapshot(home)


def one_line_error(r, *needles, code=2):
    assert r.code == code, (r.code, r.out, r.err)
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, r.err
    assert "Traceback" not in r.err
    for n in needles:
        assert n in r.err, (n, r.err)


CASES = [
    ("unknown kind", replace(OK, "--kind", "accident"), ["kind", "dispute hazard sentiment zero"]),
    ("unknown category", replace(OK, "--category", "aliens"), ["category", "ebike"]),
    ("category of another kind", replace(OK, "--category", "neighbour"), ["category"]),
    ("unknown level", replace(OK, "--level", "purple"), ["level", "red orange yellow blue general major"]),
    ("unknown department", replace(OK, "--dept", "army"), ["dept", "police_station"]),
    ("empty title", replace(OK, "--title", "   "), ["title", "must not be empty"]),
    ("details too long", replace(OK, "--details", "字" * 20001), ["details", "20000"]),
    ("latitude out of range", OK + ("--lat", "91", "--lon", "114"), ["lat", "-90 and 90"]),
    ("longitude out of range", OK + ("--lat", "30", "--lon", "-181"), ["lon", "-180 and 180"]),
    ("latitude without longitude", OK + ("--lat", "30"), ["lat", "--lon"]),
    ("latitude not a number", OK + ("--lat", "abc", "--lon", "1"), ["--lat", "number"]),
    ("photo missing", OK + ("--photo", "/nonexistent/x.jpg"), ["photo", "does not exist"]),
    ("bad deadline", OK + ("--deadline", "next tuesday"), ["deadline", "YYYY-MM-DD"]),
    ("party on a hazard", OK + ("--party", "name=张三"), ["parties", "dispute"]),
    ("party without name", ["add", "--kind", "dispute", "--category", "debt", "--level", "blue", "--title", "x",
                            "--party", "role=applicant", "--no-input"], ["party", "name"]),
    ("party bad phone", ["add", "--kind", "dispute", "--category", "debt", "--level", "blue", "--title", "x",
                         "--party", "name=张三;phone=12345", "--no-input"], ["phone", "11-digit"]),
    ("invalid ID number", ["add", "--kind", "dispute", "--category", "debt", "--level", "blue", "--title", "x",
                           "--party", "name=张三;id=110105194912310021", "--no-input"], ["id", "check digit"]),
    ("ID with impossible birth date", ["add", "--kind", "dispute", "--category", "debt", "--level", "blue",
                                       "--title", "x", "--party", "name=张三;id=110105194902300027", "--no-input"],
     ["id", "birth date"]),
    ("missing required fields", ["add", "--kind", "hazard", "--no-input"], ["--category", "--title", "--level"]),
    ("unknown option", OK + ("--colour", "red"), ["--colour"]),
]


@pytest.mark.parametrize("name,args,needles", CASES, ids=[c[0] for c in CASES])
def test_bad_add_input(cli, seeded, home, name, args, needles):
    r = cli(*args)
    one_line_error(r, *needles)
    assert snapshot(home) == seeded


def test_photo_not_an_image(cli, seeded, home, tmp_path):
    f = tmp_path / "notes.jpg"
    f.write_text("this is text, not a JPEG")
    one_line_error(cli(*OK, "--photo", f), "photo", "not an image")
    assert snapshot(home) == seeded
    assert not (home / "blobs").exists() or not any((home / "blobs").rglob("*"))


FROM_CASES = [
    ("malformed JSON", b'[{"kind": "hazard",, }]', ["from", "malformed JSON", "line 1"]),
    ("record and field named", '[{"kind":"hazard","category":"fire","level":"red","title":"ok"},'
                               '{"kind":"hazard","category":"fire","level":"red","title":""}]'.encode(),
     ["record 2", "title"]),
    ("unknown field", b'{"kind":"zero","title":"x","colour":"red"}', ["record 1", "colour", "unknown field"]),
    ("not an object", b'[1, 2]', ["record 1", "JSON object"]),
    ("empty list", b"[]", ["no reports"]),
    ("not UTF-8", '{"kind":"zero","title":"排查"}'.encode("gbk"), ["UTF-8"]),
    ("bad lat type", b'{"kind":"hazard","category":"fire","level":"red","title":"x","lat":"north","lon":1}',
     ["record 1", "lat"]),
]


@pytest.mark.parametrize("name,data,needles", FROM_CASES, ids=[c[0] for c in FROM_CASES])
def test_bad_from_input(cli, seeded, home, tmp_path, name, data, needles):
    f = tmp_path / "in.json"
    f.write_bytes(data)
    one_line_error(cli("add", "--from", f), *needles)
    assert snapshot(home) == seeded  # the good first record of a bad file is not written either


UPDATE_CASES = [
    ("unknown status", ["update", "R-0001", "--status", "done"], ["status", "registered routed"]),
    ("illegal move", ["update", "R-0001", "--status", "visited"], ["status", "cannot go from registered"]),
    ("unknown ref", ["update", "R-0042", "--note", "x"], ["R-0042"]),
    ("empty note", ["update", "R-0001", "--note", " "], ["note"]),
    ("unknown dept", ["update", "R-0001", "--dept", "nasa"], ["dept"]),
    ("level for kind", ["update", "R-0001", "--level", "purple"], ["level"]),
]


@pytest.mark.parametrize("name,args,needles", UPDATE_CASES, ids=[c[0] for c in UPDATE_CASES])
def test_bad_update_input(cli, seeded, home, name, args, needles):
    r = cli(*args)
    one_line_error(r, *needles, code=6 if name == "unknown ref" else 2)
    assert snapshot(home) == seeded


def test_list_bad_filters(cli, seeded):
    one_line_error(cli("list", "--kind", "nope"), "kind")
    one_line_error(cli("list", "--since", "yesterday-ish"), "since")
    one_line_error(cli("list", "--status", "nope"), "status")


def test_locked_store_waits_then_clear_error(run, cli, seeded, home):
    """Another process holds the write lock: `add` waits busy_timeout, then says so (exit 4)."""
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys, time\n"
        f"c = sqlite3.connect({str(home / 'fieldreport.db')!r}, isolation_level=None)\n"
        "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep(30)\n")],
        stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == b"locked"
        t0 = time.monotonic()
        r = run(*OK, env={"FIELDREPORT_BUSY_TIMEOUT_MS": "1000"})
        waited = time.monotonic() - t0
        one_line_error(r, "locked", code=4)
        assert waited >= 0.9
    finally:
        holder.kill()
        holder.wait()
    assert snapshot(home) == seeded


def test_lock_released_in_time_both_succeed(run, cli, seeded, home):
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys, time\n"
        f"c = sqlite3.connect({str(home / 'fieldreport.db')!r}, isolation_level=None)\n"
        "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep(0.5); c.execute('COMMIT')\n")],
        stdout=subprocess.PIPE)
    assert holder.stdout.readline().strip() == b"locked"
    r = run(*OK, env={"FIELDREPORT_BUSY_TIMEOUT_MS": "5000"})
    holder.wait()
    assert r.code == 0, r.err


def test_corrupt_store_clear_error_nothing_overwritten(cli, seeded, home):
    dbf = home / "fieldreport.db"
    for suffix in ("-wal", "-shm"):
        p = home / ("fieldreport.db" + suffix)
        if p.exists():
            p.unlink()
    garbage = os.urandom(8192)
    dbf.write_bytes(garbage)
    for args in (OK, ("list",), ("show", "R-0001"), ("status",)):
        r = cli(*args)
        one_line_error(r, "damaged", code=5)
    assert dbf.read_bytes() == garbage


def test_truncated_store_clear_error(cli, seeded, home):
    dbf = home / "fieldreport.db"
    c = sqlite3.connect(dbf)
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.execute("PRAGMA journal_mode=DELETE")
    c.close()
    data = dbf.read_bytes()
    dbf.write_bytes(data[: len(data) // 2])
    before = hashlib.sha256(dbf.read_bytes()).hexdigest()
    r = cli("list")
    assert r.code in (5,), r.err
    assert "Traceback" not in r.err and len(r.err.strip().splitlines()) == 1
    assert hashlib.sha256(dbf.read_bytes()).hexdigest() == before


def test_non_utf8_argument(run, seeded, home):
    """Bytes that are not UTF-8 on the command line (a GBK terminal): exit 2, one line, nothing written."""
    import subprocess as sp
    import sys as _sys

    p = sp.run([_sys.executable.encode(), b"-m", b"fieldreport", b"add", b"--kind", b"zero", b"--title",
                "排查".encode("gbk"), b"--no-input"], capture_output=True)
    err = p.stderr.decode("utf-8", "replace")
    assert p.returncode == 2, err
    assert len(err.strip().splitlines()) == 1 and "UTF-8" in err and "Traceback" not in err
    assert snapshot(home) == seeded
