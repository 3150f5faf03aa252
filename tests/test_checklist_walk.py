"""The walk-through engine and inspections in-process: answers checked and saved one
transaction each with its outbox operation; back/skip/resume; finishing into hazard reports;
re-inspection closing them; answers files; the printed sheet."""

import io
import json
import sqlite3
import sys

import pytest

from conftest import EXAMPLES
from fieldreport.errors import InputError


def _ops(home, type_=None):
    db = sqlite3.connect(home / "fieldreport.db")
    q = "SELECT type, entity, payload FROM outbox" + (" WHERE type = ?" if type_ else "") + " ORDER BY seq"
    return [(t, e, json.loads(p)) for t, e, p in db.execute(q, (type_,) if type_ else ())]


@pytest.fixture
def hotel(cli, profile):
    r = cli("premises", "add", "--name", "东村旅社", "--type", "旅馆业", "--address", "东村3组8号", "--json")
    assert r.code == 0, r.err
    return r.json()


def _walk(home, premises="P-0001", template=None, recheck=False):
    from fieldreport.checklist import inspect
    from fieldreport.checklist.walk import Walk
    from fieldreport.cli.common import env

    e = env()
    store = e.store()
    ins, _resumed = inspect.start(store, premises, template=template, recheck=recheck, inspector="A1024")
    return store, Walk(store, e.blobs(), ins["id"], lang="en")


def test_walk_answers_are_checked_and_saved_each_with_an_op(hotel, home):
    store, w = _walk(home)
    assert w.total == 18 and w.progress() == "1/18"
    assert w.current().item.id == "special_trade_licence"
    with pytest.raises(InputError, match="yes, no or na"):
        w.answer("maybe")
    assert w.answered_count() == 0 and not _ops(home, "inspection.answer")
    assert w.answer("是") == ("pass", None)
    res, rule = w.answer("否")
    assert res == "fail" and rule.code == "R"
    w.answer("不适用")
    assert w.progress() == "4/18"
    ops = _ops(home, "inspection.answer")
    assert [o[2]["answer"] for o in ops] == ["yes", "no", "na"]
    assert all(o[1] == w.id for o in ops)
    # back, then Enter keeps the answer; a new answer replaces it (with a new operation)
    assert w.back() and w.current().item.id == "registration_uploaded"
    assert w.back() and w.keep() and w.current().item.id == "registration_uploaded"
    w.back()
    w.answer("yes", note="前台已整改")
    assert w.answers["guest_id_checked"]["answer"] == "yes"
    assert len(_ops(home, "inspection.answer")) == 4
    # numbers are bounded and may carry their unit
    w.goto(13)
    assert w.current().item.id == "extinguisher_count"
    with pytest.raises(InputError, match="out of range"):
        w.answer("-1")
    assert w.answer("1具")[0] == "fail"
    # required items cannot be skipped; optional ones can
    w.goto(14)
    with pytest.raises(InputError, match="required"):
        w.skip()
    w.goto(17)
    w.skip()
    assert w.answers["remarks"]["answer"] is None
    store.close()
    # a new Walk (a resumed process) starts at the first unanswered item with everything kept
    store, w2 = _walk(home)
    assert w2.id == w.id
    assert w2.current().item.id == "foreign_guests_reported" and w2.answered_count() == 5
    store.close()


def test_answers_file_finishes_with_two_linked_hazard_reports(cli, hotel, home):
    r = cli("checklist", "start", "P-0001", "--template", "hotel", "--answers", str(EXAMPLES / "answers_demo.json"),
            "--json")
    assert r.code == 0, r.err
    s = r.json()
    assert s["failed"] == {"I": 0, "R": 2, "M": 0, "P": 0}
    assert s["na"] == 1 and s["skipped"] == 1 and s["passed"] == 14 and s["total"] == 18
    assert [h["item_id"] for h in s["hazards"]] == ["exits_clear", "extinguisher_count"]
    reps = cli("list", "--json").json()
    assert len(reps) == 2
    iid = s["inspection"]["id"]
    for rep in reps:
        assert rep["kind"] == "hazard" and rep["premises_id"] == hotel["id"] and rep["inspection_id"] == iid
        assert rep["level"] == "general" and rep["dept"] == "police_station" and rep["deadline"]
        assert "责令" not in rep["title"] + rep["details"] and "建议" in rep["details"]
    exits = next(r for r in reps if r["item_id"] == "exits_clear")
    assert exits["category"] == "fire" and "二楼安全出口堆放床垫杂物" in exits["details"]
    types = [t for t, _e, _p in _ops(home)]
    assert types.count("inspection.create") == 1 and types.count("inspection.finish") == 1
    assert types.count("report.create") == 2 and types.count("inspection.answer") == 18
    assert types.index("inspection.finish") > max(i for i, t in enumerate(types) if t == "report.create")
    rows = cli("checklist", "list", "--json").json()
    assert rows[0]["id"] == iid and rows[0]["ref"] == "I-0001" and rows[0]["status"] == "finished"
    p = cli("premises", "list", "--json").json()[0]
    assert p["last_result"] == "failed" and p["open_hazards"] == 2
    # the summary in the terminal
    r = cli("checklist", "list")
    assert "I-0001" in r.out


def test_csv_answers(cli, hotel):
    r = cli("checklist", "start", "P-0001", "--answers", str(EXAMPLES / "answers_demo.csv"), "--json")
    assert r.code == 0, r.err
    assert r.json()["failed"]["R"] == 2 and r.json()["skipped"] == 2


def test_bad_answers_file_writes_nothing(cli, hotel, home, tmp_path):
    before = _ops(home)
    for content, msg in (({"exits_clear": "perhaps"}, "exits_clear: answer yes, no or na"),
                         ({"no_such_item": "yes"}, "no_such_item: no such item"),
                         ({"special_trade_licence": "yes"}, "required item(s) not answered"),
                         ({"site_photo": "missing.jpg"}, "photo")):
        f = tmp_path / "a.json"
        f.write_text(json.dumps(content), encoding="utf-8")
        r = cli("checklist", "start", "P-0001", "--answers", str(f))
        assert r.code == 2, r.err
        assert msg in r.err and len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err
    (tmp_path / "b.json").write_text("{not json", encoding="utf-8")
    r = cli("checklist", "start", "P-0001", "--answers", str(tmp_path / "b.json"))
    assert r.code == 2 and "malformed JSON" in r.err
    assert _ops(home) == before
    assert cli("checklist", "list", "--json").json() == []


def test_no_terminal_and_no_answers_is_bad_input(cli, hotel):
    r = cli("checklist", "start", "P-0001")
    assert r.code == 2 and "--answers" in r.err
    assert cli("checklist", "list", "--json").json() == []


def test_finish_is_rerunnable_after_a_crash(hotel, home):
    from fieldreport.checklist import inspect
    from fieldreport.cli.common import env

    store, w = _walk(home)
    entries = inspect.read_answers_file(EXAMPLES / "answers_demo.json")
    inspect.apply_answers(w, entries)
    # a crash after the first hazard report: the report exists, the inspection is not finished
    from fieldreport import reports

    prem = {"id": w.inspection["premises_id"], "name": "东村旅社", "address": "东村3组8号"}
    item = w.template.item("exits_clear")
    import datetime as dt

    fields = inspect.hazard_fields(w.template, prem, w.inspection, "exits_clear", "no", None, item.fail[0], None,
                                   dt.date.today())
    reports.add(store, env().blobs(), fields, author="A1024")
    s = inspect.finish(store, env().blobs(), w, author="A1024")
    assert len(s["hazards"]) == 2
    assert store.conn.execute("SELECT count(*) FROM reports").fetchone()[0] == 2
    with pytest.raises(InputError, match="already finished"):
        inspect.finish(store, env().blobs(), w, author="A1024")
    store.close()


def test_recheck_closes_what_now_passes(cli, hotel, home):
    assert cli("checklist", "start", "P-0001", "--answers", str(EXAMPLES / "answers_demo.json")).code == 0
    r = cli("checklist", "start", "P-0001", "--recheck", "--answers", str(EXAMPLES / "answers_demo.json"))
    assert r.code == 2 and "no such item in this re-inspection" in r.err
    # only the two open failures are walked; one now passes, one still fails
    f = home / "recheck.json"
    f.write_text(json.dumps({"exits_clear": {"answer": "是", "note": "杂物已清理"}, "extinguisher_count": 1}))
    r = cli("checklist", "start", "P-0001", "--recheck", "--answers", str(f), "--json")
    assert r.code == 0, r.err
    s = r.json()
    assert s["total"] == 2 and len(s["closed"]) == 1 and len(s["still_open"]) == 1 and s["hazards"] == []
    closed = cli("show", s["closed"][0]["ref"], "--json").json()
    assert closed["status"] == "closed"
    moves = [(h["payload"]["from"], h["payload"]["to"]) for h in closed["history"] if h["type"] == "report.status"]
    assert moves == [("registered", "resolved"), ("resolved", "reinspected"), ("reinspected", "closed")]
    still = cli("show", s["still_open"][0]["ref"], "--json").json()
    assert still["status"] == "registered" and any("尚未整改" in n["text"] for n in still["notes"])
    # the second re-inspection closes the rest; then there is nothing left to re-inspect
    r = cli("checklist", "start", "P-0001", "--recheck", "--answers", str(EXAMPLES / "answers_recheck.json"),
            "--json")
    assert r.code == 2 and "exits_clear: no such item" in r.err
    f.write_text(json.dumps({"extinguisher_count": 4}))
    r = cli("checklist", "start", "P-0001", "--recheck", "--answers", str(f), "--json")
    assert r.code == 0, r.err
    assert len(r.json()["closed"]) == 1
    r = cli("checklist", "start", "P-0001", "--recheck", "--answers", str(f))
    assert r.code == 2 and "no open failures" in r.err


def test_print_sheet_is_chinese_html_that_recommends(cli, hotel, tmp_path):
    cli("premises", "update", "P-0001", "--contact", "李明")
    assert cli("checklist", "start", "P-0001", "--answers", str(EXAMPLES / "answers_demo.json")).code == 0
    out = tmp_path / "sheet.html"
    r = cli("checklist", "print", "I-0001", "--out", str(out))
    assert r.code == 0, r.err
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and 'lang="zh-CN"' in html and "@media print" in html
    for s in ("东村旅社", "东村3组8号", "李明", "王芳", "辅警", "整改建议", "签名", "安全出口", "R-0001", "R-0002"):
        assert s in html, s
    assert "责令" not in html
    assert html.count("<tr><td>") == 2  # two findings
    r = cli("checklist", "print", "I-9")
    assert r.code == 6


def test_interactive_in_process(cli, hotel, monkeypatch, capsys, home):
    """The prompt loop in-process (stdin standing in for a terminal): answer, hint, back,
    list, skip, pause; resume later and finish."""
    from fieldreport.cli import common, main

    class TTYIn(io.StringIO):
        def isatty(self):
            return True

    def interact(lines, *args):
        monkeypatch.setattr(sys, "stdin", TTYIn("\n".join(lines) + "\n"))
        common.reset_env()
        capsys.readouterr()
        code = main(list(args))
        return code, capsys.readouterr()

    code, cap = interact(["?", "y", "no # 前台未登记", "", "", "b", "", "yes", "l", "p"], "checklist", "start",
                         "P-0001")
    assert code == 0, cap.err
    assert "1/18" in cap.out and "Legal basis" in cap.out and "Paused at 4/18" in cap.out
    ans = {p["item_id"]: p for _t, _e, p in _ops(home, "inspection.answer")}
    assert ans["guest_id_checked"]["answer"] == "no" and ans["guest_id_checked"]["note"] == "前台未登记"
    assert ans["registration_uploaded"]["answer"] == "yes"
    # resume: continues at item 4 (foreign guests); answer the rest and finish
    rest = ["na", "y", "y", "y", "n", "y", "y", "y", "y", "3", "y", "n", "y", "s", "s", ""]
    code, cap = interact(rest, "checklist", "resume")
    assert code == 0, cap.err
    assert "Continuing: 3 of 18" in cap.out and "4/18" in cap.out
    assert "summary" in cap.out and "R-0001" in cap.out
    reps = cli("list", "--json").json()
    assert [r["item_id"] for r in reps] == ["guest_id_checked"]  # suspicious_found "n" passes: it fails on yes
    assert "前台未登记" in reps[0]["details"]


def test_photos_on_items_travel_to_the_hazard_report(cli, hotel, home, tmp_path):
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    (tmp_path / "exit.png").write_bytes(png)
    (tmp_path / "site.png").write_bytes(png + b"site")
    entries = json.loads((EXAMPLES / "answers_demo.json").read_text(encoding="utf-8"))
    entries["exits_clear"]["photo"] = "exit.png"  # relative to the answers file
    entries["site_photo"] = "site.png"
    f = tmp_path / "answers.json"
    f.write_text(json.dumps(entries, ensure_ascii=False), encoding="utf-8")
    r = cli("checklist", "start", "P-0001", "--answers", str(f), "--json")
    assert r.code == 0, r.err
    assert r.json()["skipped"] == 0
    ans = {p["item_id"]: p for _t, _e, p in _ops(home, "inspection.answer")}
    assert ans["exits_clear"]["photo"]["name"] == "exit.png" and ans["exits_clear"]["photo"]["mime"] == "image/png"
    assert ans["site_photo"]["answer"]["name"] == "site.png"
    rep = next(x for x in cli("list", "--json").json() if x["item_id"] == "exits_clear")
    assert [p["sha256"] for p in rep["photos"]] == [ans["exits_clear"]["photo"]["sha256"]]
    from fieldreport.cli.common import env

    assert env().blobs().has(rep["photos"][0]["sha256"])


def test_print_sheet_of_a_recheck_names_the_open_reports(cli, hotel, tmp_path):
    assert cli("checklist", "start", "P-0001", "--answers", str(EXAMPLES / "answers_demo.json")).code == 0
    f = tmp_path / "r.json"
    f.write_text(json.dumps({"exits_clear": "yes", "extinguisher_count": 1}))
    assert cli("checklist", "start", "P-0001", "--recheck", "--answers", str(f)).code == 0
    r = cli("checklist", "print", "I-0002")
    assert r.code == 0, r.err
    assert "复查记录暨整改建议书" in r.out and r.out.count("<tr><td>") == 1 and "R-0002" in r.out
    assert "R-0001" not in r.out and "责令" not in r.out
