"""Premises: add/list/show/update with their outbox operations, CSV import (BOM, Chinese
headers, a bad row imports nothing unless --skip-bad), what is due, and the sync hooks."""

import datetime as dt
import json
import sqlite3

import pytest

from conftest import EXAMPLES


def _db(home):
    return sqlite3.connect(home / "fieldreport.db")


def _snapshot(home):
    db = _db(home)
    return (db.execute("SELECT count(*) FROM premises").fetchone()[0],
            db.execute("SELECT count(*) FROM outbox").fetchone()[0])


def test_add_list_show_update(cli, profile, home):
    r = cli("premises", "add", "--name", "东村旅社", "--type", "旅馆业", "--address", "东村3组8号", "--contact", "李明",
            "--phone", "138 1234 5678", "--risk", "橙", "--licence", "特行字第0012号", "--json")
    assert r.code == 0, r.err
    pid = r.json()["id"]
    assert r.json()["ref"] == "P-0001"
    rows = cli("premises", "list", "--json").json()
    assert rows[0]["type"] == "hotel" and rows[0]["risk"] == "orange" and rows[0]["interval_days"] == 60
    assert rows[0]["phone"] == "138****5678" and rows[0]["last_inspected_at"] is None
    assert cli("premises", "list", "--json", "--reveal").json()[0]["phone"] == "13812345678"
    r = cli("premises", "update", "东村旅社", "--risk", "red", "--interval-days", "30", "--json")
    assert r.code == 0, r.err
    assert len(r.json()["ops"]) == 2
    show = cli("premises", "show", "P-0001", "--json").json()
    assert show["risk"] == "red" and show["interval_days"] == 30
    ops = _db(home).execute("SELECT type, entity, payload FROM outbox ORDER BY seq").fetchall()
    assert [o[0] for o in ops] == ["premises.create", "premises.set", "premises.set"]
    assert all(o[1] == pid for o in ops)
    assert json.loads(ops[1][2]) == {"field": "risk", "old": "orange", "new": "red"}
    r = cli("premises", "show", "P-0001")
    assert r.code == 0 and "东村旅社" in r.out
    r = cli("premises", "list")
    assert r.code == 0 and "P-0001" in r.out


@pytest.mark.parametrize("args, msg", [
    (("--name", "x", "--type", "barber"), "type: unknown premises type 'barber'"),
    (("--type", "hotel"), "name: must not be empty"),
    (("--name", "x", "--type", "hotel", "--phone", "12345"), "phone:"),
    (("--name", "x", "--type", "hotel", "--risk", "purple"), "risk: unknown risk level"),
    (("--name", "x", "--type", "hotel", "--interval-days", "0"), "interval_days:"),
])
def test_bad_premises_input(cli, profile, home, args, msg):
    before = _snapshot(home)
    r = cli("premises", "add", *args)
    assert r.code == 2 and msg in r.err, r.err
    assert len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err
    assert _snapshot(home) == before


def test_duplicate_and_unknown_ref(cli, profile):
    assert cli("premises", "add", "--name", "东村旅社", "--type", "hotel", "--address", "东村").code == 0
    r = cli("premises", "add", "--name", "东村旅社", "--type", "hotel", "--address", "东村")
    assert r.code == 2 and "already recorded as P-0001" in r.err
    assert cli("premises", "show", "P-0042").code == 6
    assert cli("premises", "update", "P-0001").code == 2


def test_csv_import_with_bom_and_chinese_headers(cli, profile, home):
    assert (EXAMPLES / "premises.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    r = cli("premises", "import", str(EXAMPLES / "premises.csv"), "--json")
    assert r.code == 0, r.err
    assert len(r.json()["imported"]) == 5 and r.json()["skipped"] == []
    rows = {p["name"]: p for p in cli("premises", "list", "--json", "--reveal").json()}
    assert rows["东村旅社"]["type"] == "hotel" and rows["东村旅社"]["interval_days"] == 60
    assert rows["阳光幼儿园"]["type"] == "school" and rows["阳光幼儿园"]["risk"] == "red"
    assert rows["夕阳红养老院"]["type"] == "elderly_care" and rows["夕阳红养老院"]["interval_days"] == 60
    assert rows["星火网吧"]["phone"] == "027-87654321" and rows["星火网吧"]["notes"] == "二楼"
    assert _db(home).execute("SELECT count(*) FROM outbox WHERE type = 'premises.create'").fetchone()[0] == 5
    # importing again: every row is already recorded → nothing imported
    r = cli("premises", "import", str(EXAMPLES / "premises.csv"))
    assert r.code == 2 and "row 2: name: 东村旅社" in r.err and "nothing was imported" in r.err


def test_csv_without_bom(cli, profile, tmp_path):
    f = tmp_path / "p.csv"
    f.write_bytes((EXAMPLES / "premises.csv").read_bytes()[3:])
    r = cli("premises", "import", str(f), "--json")
    assert r.code == 0 and len(r.json()["imported"]) == 5


def test_csv_bad_row_imports_nothing_unless_skip_bad(cli, profile, home):
    before = _snapshot(home)
    r = cli("premises", "import", str(EXAMPLES / "premises_bad.csv"))
    assert r.code == 2
    assert r.err.startswith("fieldreport: row 3: type: unknown premises type '理发店'"), r.err
    assert "--skip-bad" in r.err and len(r.err.strip().splitlines()) == 1
    assert _snapshot(home) == before
    r = cli("premises", "import", str(EXAMPLES / "premises_bad.csv"), "--skip-bad", "--json")
    assert r.code == 0, r.err
    assert len(r.json()["imported"]) == 2
    assert [b["row"] for b in r.json()["skipped"]] == [3, 4]
    assert "phone" in r.json()["skipped"][1]["error"]
    names = {p["name"] for p in cli("premises", "list", "--json").json()}
    assert names == {"好客来旅馆", "平安加油站"}


def test_csv_unknown_column_and_not_utf8(cli, profile, tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("名称,类型,颜色\n甲,旅馆业,红\n", encoding="utf-8")
    r = cli("premises", "import", str(f))
    assert r.code == 2 and "unknown column '颜色'" in r.err
    f.write_bytes("名称,类型\n甲,旅馆业\n".encode("gbk"))
    r = cli("premises", "import", str(f))
    assert r.code == 2 and "not UTF-8" in r.err


def test_due(cli, profile, home):
    from fieldreport.checklist import premises as pm
    from fieldreport.cli.common import env

    cli("premises", "add", "--name", "东村旅社", "--type", "hotel", "--interval-days", "30")
    cli("premises", "add", "--name", "星火网吧", "--type", "internet_cafe", "--interval-days", "90")
    r = cli("checklist", "start", "P-0001", "--answers", str(EXAMPLES / "answers_demo.json"))
    assert r.code == 0, r.err
    r = cli("due", "--json")
    assert r.code == 0, r.err
    d = r.json()
    # the inspected hotel is not due; the never-inspected café is due now; no deadline has passed yet
    assert [p["ref"] for p in d["premises"]] == ["P-0002"] and d["premises"][0]["never_inspected"]
    assert d["hazards"] == []
    with env().store() as store:
        later = pm.due(store, within_days=7, today=dt.date.today() + dt.timedelta(days=25))
    assert [p["ref"] for p in later["premises"]] == ["P-0002", "P-0001"]  # by due date
    assert later["premises"][1]["days_overdue"] == -5  # the hotel is due in 5 days
    # both hazards (deadlines today+1 and today+7) are past their deadline 25 days on
    assert sorted(h["item_id"] for h in later["hazards"]) == ["exits_clear", "extinguisher_count"]
    assert all(h["premises_ref"] == "P-0001" for h in later["hazards"])
    # an ordinary hazard report with a past deadline is re-inspection due today
    r = cli("add", "--kind", "hazard", "--category", "fire", "--level", "general", "--title", "楼道堆物",
            "--deadline", "2020-01-01", "--no-input")
    assert r.code == 0, r.err
    d = cli("premises", "due", "--json").json()
    assert [h["title"] for h in d["hazards"]] == ["楼道堆物"]
    r = cli("due")
    assert r.code == 0 and "楼道堆物" in r.out and "P-0002" in r.out
    assert cli("due", "--days", "-1").code == 2


def test_sync_hooks_apply_inside_the_callers_transaction(cli, profile, home):
    from fieldreport.checklist import builtin
    from fieldreport.checklist.sync_hooks import apply_premises_put, apply_template_put
    from fieldreport.cli.common import env

    body = builtin.builtins()["hotel"].body()
    body.update(name="station_hotel", version=3)
    with env().store() as store:
        with store.write() as conn:
            assert apply_template_put(store, conn, {"template": body})["status"] == "stored"
            assert apply_template_put(store, conn, {"template": body})["status"] == "unchanged"
            bad = dict(body, sections=[{"id": "s", "title": {"zh": "甲", "en": "a"}, "items": [
                {"id": "x", "text": {"zh": "甲", "en": "a"}, "type": "nope"}]}])
            res = apply_template_put(store, conn, {"template": bad})
            assert res["status"] == "rejected" and "unknown answer type" in res["reason"]
            pid = "0193a9c2-7b1d-7000-8000-aaaaaaaaaaaa"
            res = apply_premises_put(store, conn, {"premises": {"id": pid, "ref": "P-0100", "name": "所派旅馆",
                                                                "type": "hotel", "address": "东村1号"}})
            assert res["status"] == "created"
            res = apply_premises_put(store, conn, {"premises": {"id": pid, "risk": "red"}})
            assert res["status"] == "updated"
            assert apply_premises_put(store, conn, {"premises": {"id": pid, "risk": "red"}})["status"] == "unchanged"
            assert apply_premises_put(store, conn, {"premises": {"name": "x"}})["status"] == "rejected"
            assert apply_premises_put(store, conn, {"premises": {"id": "p2", "name": "x", "type": "barber"}}
                                      )["status"] == "rejected"
    # no outbox operations for what came from the hub
    assert _db(home).execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
    rows = cli("premises", "list", "--json").json()
    assert rows[0]["ref"] == "P-0100" and rows[0]["risk"] == "red" and rows[0]["source"] == "hub"
    r = cli("checklist", "templates", "--json").json()
    assert {"name": "station_hotel", "version": 3, "source": "hub"}.items() <= next(
        t for t in r if t["name"] == "station_hotel").items()
    # a station's template for the type wins when starting
    f = home / "a.json"
    ids = [i["id"] for s in body["sections"] for i in s["items"] if i.get("required", True)]
    f.write_text(json.dumps({i: "yes" if i != "extinguisher_count" else 2 for i in ids}))
    r = cli("checklist", "start", "P-0100", "--answers", str(f), "--json")
    assert r.code == 0, r.err
    assert cli("checklist", "list", "--json").json()[0]["template"] == "station_hotel"
