"""The interactive walk-through through a real pseudo-terminal (pexpect): answer, hint, go
back, skip, list, pause with Ctrl-C, resume; SIGKILL in the middle loses nothing answered."""

import json
import os
import signal
import sqlite3
import sys

import pexpect
import pytest

from conftest import PROFILE_ARGS

PY = sys.executable
TIMEOUT = 15


@pytest.fixture
def hotel(cli, profile):
    r = cli("premises", "add", "--name", "东村旅社", "--type", "hotel", "--json")
    assert r.code == 0, r.err
    return r.json()


def spawn(*args):
    env = dict(os.environ, COLUMNS="120", LINES="50", TERM="xterm")
    c = pexpect.spawn(PY, ["-m", "fieldreport", *args], env=env, encoding="utf-8", timeout=TIMEOUT,
                      dimensions=(50, 120))
    return c


def answer(c, progress, text):
    c.expect_exact(progress)
    c.expect_exact("> ")
    c.sendline(text)


def answers(home):
    db = sqlite3.connect(home / "fieldreport.db")
    rows = db.execute("SELECT item_id, answer, note FROM inspection_answers").fetchall()
    ops = db.execute("SELECT count(*) FROM outbox WHERE type = 'inspection.answer'").fetchone()[0]
    return {r[0]: (json.loads(r[1]) if r[1] is not None else None, r[2]) for r in rows}, ops


def test_pty_answer_back_skip_pause_resume_finish(hotel, home):
    c = spawn("checklist", "start", "P-0001")
    c.expect_exact("东村旅社")
    answer(c, "1/18", "?")
    c.expect_exact("Legal basis: 《旅馆业治安管理办法》第四条")
    c.expect_exact("> ")
    c.sendline("yes")
    answer(c, "2/18", "否")
    c.expect_exact("Note on the finding")
    c.sendline("抽查3间未登记")
    c.expect_exact("Photo file")
    c.sendline("")
    answer(c, "3/18", "banana")
    c.expect_exact("answer yes, no or na")
    c.expect_exact("> ")
    c.sendline("b")  # back to 2/18, its answer shown; Enter keeps it
    c.expect_exact("2/18")
    c.expect_exact("Current answer: no")
    c.expect_exact("> ")
    c.sendline("")
    answer(c, "3/18", "是")
    answer(c, "4/18", "不适用")
    answer(c, "5/18", "l")
    c.expect_exact("▶ 5")
    c.expect_exact("> ")
    c.sendcontrol("c")
    c.expect_exact("Paused at 5/18")
    c.expect(pexpect.EOF)
    c.close()
    assert c.exitstatus == 130
    got, ops = answers(home)
    assert got == {"special_trade_licence": ("yes", None), "guest_id_checked": ("no", "抽查3间未登记"),
                   "registration_uploaded": ("yes", None), "foreign_guests_reported": ("na", None)}
    assert ops == 5  # the note on the failure is a second operation for item 2

    # `start` on the same premises resumes at the first unanswered item
    c = spawn("checklist", "start", "P-0001")
    c.expect_exact("Continuing: 4 of 18")
    for i, a in enumerate(["y", "y", "y", "n", "y", "y", "y", "y", "2", "y", "n", "y"], start=5):
        answer(c, f"{i}/18", a)
    answer(c, "17/18", "s")  # optional text: skipped
    answer(c, "18/18", "p")  # pause with p
    c.expect_exact("Paused at 18/18")
    c.expect(pexpect.EOF)
    c.close()
    assert c.exitstatus == 0

    c = spawn("checklist", "resume")
    answer(c, "18/18", "s")
    c.expect_exact("All 18 item(s) answered")
    c.sendline("")
    c.expect_exact("summary")
    c.expect_exact("R-0001")
    c.expect(pexpect.EOF)
    c.close()
    assert c.exitstatus == 0
    db = sqlite3.connect(home / "fieldreport.db")
    assert db.execute("SELECT status FROM inspections").fetchone()[0] == "finished"
    assert db.execute("SELECT item_id FROM reports").fetchall() == [("guest_id_checked",)]


def test_sigkill_mid_inspection_loses_nothing_answered(hotel, home):
    c = spawn("checklist", "start", "P-0001")
    answer(c, "1/18", "y")
    answer(c, "2/18", "y")
    answer(c, "3/18", "n")
    c.expect_exact("Note on the finding")
    c.sendline("未上传")
    c.expect_exact("Photo file")
    c.sendline("")
    answer(c, "4/18", "na")
    c.expect_exact("5/18")  # item 4 is saved before the next question is drawn
    c.expect_exact("> ")
    os.kill(c.pid, signal.SIGKILL)
    c.expect(pexpect.EOF)
    c.close()
    assert c.signalstatus == signal.SIGKILL
    got, _ops = answers(home)
    assert got == {"special_trade_licence": ("yes", None), "guest_id_checked": ("yes", None),
                   "registration_uploaded": ("no", "未上传"), "foreign_guests_reported": ("na", None)}
    db = sqlite3.connect(home / "fieldreport.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    c = spawn("checklist", "resume", "I-0001")
    c.expect_exact("Continuing: 4 of 18")
    c.expect_exact("5/18")
    c.expect_exact("Is a visitor log kept?")
    c.expect_exact("> ")
    c.sendcontrol("c")
    c.expect(pexpect.EOF)
    c.close()


def test_pty_chinese_interface(cli, home):
    args = list(PROFILE_ARGS)
    args[args.index("--lang") + 1] = "zh"
    assert cli(*args).code == 0
    assert cli("premises", "add", "--name", "星火网吧", "--type", "网吧").code == 0
    c = spawn("checklist", "start", "星火网吧")
    c.expect_exact("1/16")
    c.expect_exact("检查时是否正在营业")
    c.expect_exact("> ")
    c.sendline("是")
    c.expect_exact("2/16")
    c.expect_exact("> ")
    c.sendcontrol("c")
    c.expect(pexpect.EOF)
    c.close()
    got, _ = answers(home)
    assert got == {"in_business": ("yes", None)}
