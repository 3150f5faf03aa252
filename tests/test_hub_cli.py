"""``fieldreport hub …``: the station's commands on a real hub database, bad input included."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from fieldreport.hub import store_schema as t


def snapshot(hub) -> dict[str, int]:
    """Row counts of every hub table, and the counters: what 'nothing was written' compares."""
    with hub.store.engine.connect() as c:
        out = {tbl.name: c.execute(sa.select(sa.func.count()).select_from(tbl)).scalar() for tbl in t.metadata.sorted_tables}
        out.update({f"counter:{r.name}": r.value for r in c.execute(sa.select(t.counters))})
    return out


def one_line_error(r, code: int = 2):
    assert r.code == code, (r.code, r.out, r.err)
    assert r.err.startswith("fieldreport: ") and r.err.count("\n") == 1, r.err
    assert "Traceback" not in r.err


def test_init_enroll_devices_revoke(cli, tmp_path):
    data = str(tmp_path / "h")
    r = cli("hub", "init", "--data", data, "--prefix", "cg", "--json")
    assert r.code == 0, r.err
    first = r.json()
    assert first["case_prefix"] == "CG" and (tmp_path / "h" / "hub.db").exists()
    assert (tmp_path / "h" / "hub.json").stat().st_mode & 0o077 == 0
    again = cli("hub", "init", "--data", data, "--json").json()
    assert again["epoch"] == first["epoch"]  # init twice keeps the hub
    r = cli("hub", "enroll", "--data", data, "--officer-id", "A1024", "--name", "王芳", "--area", "东村",
            "--role", "辅警", "--json")
    assert r.code == 0, r.err
    code = r.json()["code"]
    assert len(code) == 14 and code.count("-") == 2
    r = cli("hub", "enroll", "--data", data, "--officer-id", "A1024", "--name", "王芳")  # a second laptop
    assert r.code == 0 and "Enrollment code for A1024" in r.out
    from fieldreport.hub.store import HubStore

    with HubStore.open(f"sqlite:///{tmp_path / 'h' / 'hub.db'}") as s:
        officer = s.officer("A1024")
    assert officer["area"] == "东村" and officer["role"] == "auxiliary-police"  # kept, not wiped
    assert cli("hub", "devices", "--data", data, "--json").json() == []
    assert "No laptop is enrolled" in cli("hub", "devices", "--data", data).out
    one_line_error(cli("hub", "revoke", "--data", data, "0193a9c0-1111-7000-8000-000000000001"), 6)


def test_devices_and_revoke(cli, hub):
    dev = hub.device()
    rows = cli("hub", "devices", "--data", hub.data_dir, "--json").json()
    assert [d["device_id"] for d in rows] == [dev.device_id] and rows[0]["officer_name"] == "王芳"
    assert cli("hub", "revoke", "--data", hub.data_dir, dev.device_id).code == 0
    assert dev.http.get("/v1/pull").status_code == 401
    assert cli("hub", "devices", "--data", hub.data_dir, "--json").json()[0]["revoked_at"]


@pytest.mark.parametrize("args", [
    ("hub", "init", "--prefix", "1234567"),
    ("hub", "init", "--db", "mysql://root@localhost/x"),
    ("hub", "enroll", "--officer-id", "A1", "--name", "王芳", "--role", "chief"),
    ("hub", "enroll", "--officer-id", "A1", "--name", " "),
    ("hub", "enroll", "--officer-id", "A1", "--name", "王芳", "--ttl", "0"),
    ("hub", "serve", "--port", "70000"),
    ("hub", "reports", "--status", "done"),
    ("hub", "reports", "--kind", "crime"),
    ("hub", "template", "/nonexistent.json"),
])
def test_bad_input_one_line_nothing_written(cli, hub, args):
    before = snapshot(hub)
    extra = () if args[1] == "init" and "--db" in args else ("--data", str(hub.data_dir))
    one_line_error(cli(*args, *extra))
    assert snapshot(hub) == before


def test_commands_before_init(cli, tmp_path):
    one_line_error(cli("hub", "reports", "--data", str(tmp_path / "none")))
    one_line_error(cli("hub", "serve", "--data", str(tmp_path / "none")))


def test_reports_masked_unless_revealed(cli, hub):
    dev = hub.device()
    party = {"name": "张三", "role": "applicant", "id": "11010519491231002X", "phone": "13812345678",
             "address": "东村3组", "id_verified": True}
    code = dev.push([dev.create(kind="dispute", category="neighbour", level="yellow", title="邻里漏水纠纷",
                                parties=[party])])["results"][0]["case_code"]
    rows = cli("hub", "reports", "--data", hub.data_dir, "--json").json()
    assert rows[0]["case_code"] == code
    shown = cli("hub", "show", code, "--data", hub.data_dir, "--json").json()
    out = json.dumps(shown, ensure_ascii=False)
    assert "11010519491231002X" not in out and "13812345678" not in out
    audit = hub.data_dir / "audit.log"
    assert not audit.exists()
    revealed = cli("hub", "show", code, "--reveal", "--data", hub.data_dir, "--json").json()
    assert revealed["parties"][0]["id"] == "11010519491231002X"
    entry = json.loads(audit.read_text("utf-8").splitlines()[-1])
    assert entry["command"] == "hub show --reveal" and entry["entities"] == [revealed["id"]] and entry["officer_id"]
    assert audit.stat().st_mode & 0o077 == 0 and "11010519491231002X" not in audit.read_text("utf-8")
    text = cli("hub", "show", code, "--data", hub.data_dir)
    assert text.code == 0 and "邻里漏水纠纷" in text.out and "13812345678" not in text.out
    listing = cli("hub", "reports", "--data", hub.data_dir, "--area", "东村")
    assert listing.code == 0 and code in listing.out
    one_line_error(cli("hub", "show", "HB-1999-000001", "--data", hub.data_dir), 6)


def test_decide_reaches_the_field_and_bad_decisions_write_nothing(cli, hub):
    dev = hub.device()
    hub.device("B2048", "李强", "东村")
    code = dev.push([dev.create()])["results"][0]["case_code"]
    for bad in (("--status", "flying"), ("--status", "visited"), ("--dept", "army"), ("--assign", "nobody"),
                ("--note", "  "), (), ("--dept", "housing", "--status", "visited"),
                ("--dept", "housing", "--note", "已转住建", "--assign", "nobody")):
        before = snapshot(hub)
        one_line_error(cli("hub", "decide", code, *bad, "--data", hub.data_dir), 6 if "nobody" in bad else 2)
        assert snapshot(hub) == before, bad  # all or nothing: not even the route of a combined decision
    r = cli("hub", "decide", code, "--dept", "消防救援", "--assign", "B2048", "--note", "已通知消防", "--by", "所长",
            "--data", hub.data_dir, "--json")
    assert r.code == 0, r.err
    changes, _ = dev.pull_all()
    types = [c["type"] for c in changes]
    assert types == ["report.case_code", "report.route", "report.status", "report.assign", "report.note"]
    assert changes[1]["payload"] == {"dept": "fire_rescue", "by": "所长"}
    assert changes[2]["payload"]["to"] == "routed"
    r = cli("hub", "decide", code, "--status", "in_progress", "--note", "整改中", "--data", hub.data_dir)
    assert r.code == 0 and code in r.out
    rep = hub.store.station().report(code)
    assert rep["status"] == "in_progress" and rep["assigned_to"] == "B2048" and rep["dept"] == "fire_rescue"
    assert [h["type"] for h in rep["history"]][-1] == "report.status"
    # the field's stale move now conflicts with the station's decision
    stale = dev.op("report.status", rep["id"], {"from": "registered", "to": "resolved", "note": None, "author": "A1024"})
    assert dev.push([stale])["results"][0]["status"] == "conflict"


def test_template_published_to_every_laptop(cli, hub, tmp_path):
    dev = hub.device()
    far = hub.device("B2048", "李强", "西村")
    f = tmp_path / "hotel.json"
    f.write_text(json.dumps({"id": "hotel", "version": 2, "items": [{"id": "licence", "text": "特种行业许可证"}]},
                            ensure_ascii=False), "utf-8")
    assert cli("hub", "template", str(f), "--data", hub.data_dir).code == 0
    before = snapshot(hub)
    one_line_error(cli("hub", "template", str(f), "--data", hub.data_dir))  # same version again
    f.write_text("[1, 2]")
    one_line_error(cli("hub", "template", str(f), "--data", hub.data_dir))
    f.write_text("{not json")
    one_line_error(cli("hub", "template", str(f), "--data", hub.data_dir))
    assert snapshot(hub) == before
    for d in (dev, far):
        got = [c for c in d.pull_all()[0] if c["type"] == "template.put"]
        assert got[0]["payload"]["template"]["version"] == 2


def test_every_hub_command_has_help_with_an_example(cli):
    from fieldreport.cli import build_app
    import typer

    group = typer.main.get_command(build_app()).commands["hub"]
    assert len(group.commands) >= 11
    for name in group.commands:
        r = cli("hub", name, "--help")
        assert r.code == 0 and "Example:" in r.out, name


def test_subprocess_error_has_no_traceback(run, tmp_path):
    r = run("hub", "decide", "HB-2026-000001", "--status", "closed", "--data", str(tmp_path / "nohub"))
    assert r.code == 2 and "Traceback" not in r.err and r.err.count("\n") == 1


def test_issue_command_names_device_add_list_revoke(cli, hub):
    """`hub device add/list/revoke` — the issue's names (enroll/devices/revoke stay as aliases)."""
    import re

    r = cli("hub", "device", "add", "--officer-id", "A1024", "--name", "王芳", "--area", "东村", "--data", hub.data_dir,
            "--json")
    assert r.code == 0, r.err
    out = r.json()
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", out["code"]) and out["expires_at"]
    text = cli("hub", "device", "add", "--officer-id", "A1024", "--name", "王芳", "--data", hub.data_dir)
    assert text.code == 0 and re.search(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", text.out) and "expires" in text.out
    import httpx

    from fieldreport import ids

    dev_id = ids.uuid7()
    r = httpx.post(hub.url + "/v1/enroll", json={"code": out["code"], "device_id": dev_id})
    assert r.status_code == 200
    token = r.json()["token"]
    listed = cli("hub", "device", "list", "--data", hub.data_dir, "--json").json()
    assert [d["device_id"] for d in listed] == [dev_id] and listed[0]["area"] == "东村"
    assert cli("hub", "device", "revoke", dev_id, "--data", hub.data_dir).code == 0
    assert httpx.get(hub.url + "/v1/pull", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    before = snapshot(hub)
    one_line_error(cli("hub", "device", "revoke", dev_id, "--data", hub.data_dir), 6)  # already revoked
    one_line_error(cli("hub", "device", "add", "--officer-id", "A1", "--name", " ", "--data", hub.data_dir))
    assert snapshot(hub) == before


def test_reports_filters_json_and_csv(cli, hub):
    import csv
    import io

    a = hub.device()
    b = hub.device("B2048", "李强", "西村")
    ra = a.push([a.create(title="楼道电动车", level="orange"), a.create(kind="dispute", category="neighbour",
                                                                     level="yellow", title="邻里纠纷")])["results"]
    rb = b.push([b.create(title="西村隐患", level="red")])["results"]
    d = str(hub.data_dir)

    def codes(*args):
        r = cli("hub", "reports", *args, "--data", d, "--json")
        assert r.code == 0, r.err
        return sorted(x["case_code"] for x in r.json())

    assert codes() == sorted(x["case_code"] for x in ra + rb)
    assert codes("--kind", "dispute") == [ra[1]["case_code"]]
    assert codes("--level", "orange") == [ra[0]["case_code"]]
    assert codes("--level", "红色") == [rb[0]["case_code"]]  # Chinese names accepted
    assert codes("--area", "西村") == [rb[0]["case_code"]]
    assert codes("--device", b.device_id) == [rb[0]["case_code"]]
    assert codes("--status", "registered", "--area", "东村") == sorted(x["case_code"] for x in ra)
    assert cli("hub", "route", ra[0]["case_code"], "--dept", "fire_rescue", "--data", d).code == 0
    assert codes("--dept", "fire_rescue") == [ra[0]["case_code"]]
    assert codes("--department", "fire_rescue", "--status", "routed") == [ra[0]["case_code"]]
    one = cli("hub", "reports", "--device", b.device_id, "--data", d, "--json").json()[0]
    assert one["device_id"] == b.device_id and one["received_at"] and one["ref"] and one["id"]
    assert one["case_code"] == rb[0]["case_code"]
    r = cli("hub", "reports", "--csv", "--data", d)
    assert r.code == 0, r.err
    rows = list(csv.DictReader(io.StringIO(r.out)))
    assert len(rows) == 3 and {"id", "ref", "case_code", "device_id", "received_at"} <= set(rows[0])
    assert {x["case_code"] for x in rows} == {x["case_code"] for x in ra + rb}
    assert "西村隐患" in r.out
    for bad in (("--level", "purple"), ("--dept", "army"), ("--kind", "crime")):
        one_line_error(cli("hub", "reports", *bad, "--data", d))


def test_route_assign_update_reach_the_field(cli, hub):
    dev = hub.device()
    hub.device("B2048", "李强", "东村")
    code = dev.push([dev.create()])["results"][0]["case_code"]
    d = str(hub.data_dir)
    before = snapshot(hub)
    one_line_error(cli("hub", "route", code, "--dept", "army", "--data", d))
    one_line_error(cli("hub", "assign", code, "--to", "nobody", "--data", d), 6)
    one_line_error(cli("hub", "update", code, "--status", "visited", "--data", d))
    one_line_error(cli("hub", "update", code, "--data", d))  # nothing to do
    one_line_error(cli("hub", "route", "HB-1999-000001", "--dept", "fire_rescue", "--data", d), 6)
    assert snapshot(hub) == before
    assert cli("hub", "route", code, "--dept", "消防救援", "--data", d).code == 0
    assert cli("hub", "assign", code, "--to", "B2048", "--data", d).code == 0
    r = cli("hub", "update", code, "--status", "in_progress", "--note", "整改中", "--data", d, "--json")
    assert r.code == 0, r.err
    changes = dev.pull_all()[0]
    assert [c["type"] for c in changes] == ["report.case_code", "report.route", "report.status", "report.assign",
                                            "report.status"]
    assert changes[-1]["payload"]["to"] == "in_progress" and changes[-1]["payload"]["note"] == "整改中"
    rep = hub.store.station().report(code)
    assert (rep["status"], rep["dept"], rep["assigned_to"]) == ("in_progress", "fire_rescue", "B2048")
