"""The report lifecycle through the real CLI on a real SQLite file."""

import hashlib
import json
import sqlite3

import pytest

from conftest import EXAMPLES

HAZARD = ("add", "--kind", "hazard", "--category", "ebike", "--level", "orange", "--title", "楼道电动车充电",
          "--details", "3单元楼道私拉电线给电动车充电", "--place", "东村3组12号", "--lat", "30.59", "--lon", "114.30",
          "--dept", "fire_rescue", "--deadline", "2030-01-31", "--no-input", "--json")


def db(home):
    c = sqlite3.connect(home / "fieldreport.db")
    return c


def test_add_all_fields_and_outbox_in_same_store(cli, profile, home):
    r = cli(*HAZARD)
    assert r.code == 0, r.err
    out = r.json()
    assert out["ref"] == "R-0001" and len(out["id"]) == 36
    c = db(home)
    row = c.execute("SELECT kind, category, level, title, lat, lon, dept, deadline, status FROM reports").fetchone()
    assert row == ("hazard", "ebike", "orange", "楼道电动车充电", 30.59, 114.30, "fire_rescue", "2030-01-31", "registered")
    ops = c.execute("SELECT seq, type, entity, payload, prev_hash, hash FROM outbox").fetchall()
    assert len(ops) == 1 and ops[0][1] == "report.create" and ops[0][2] == out["id"]
    payload = json.loads(ops[0][3])
    assert payload["ref"] == "R-0001" and payload["title"] == "楼道电动车充电" and payload["author"] == "A1024"


def test_refs_are_per_device_sequence(cli, profile):
    refs = [cli(*HAZARD).json()["ref"] for _ in range(3)]
    assert refs == ["R-0001", "R-0002", "R-0003"]


def test_human_output_reads_out_ref_and_id(cli, profile):
    r = cli(*HAZARD[:-1])
    assert r.code == 0
    assert "R-0001" in r.out and len(r.out.split("(")[1].split(")")[0]) == 36


def test_chinese_codes_accepted(cli, profile, home):
    r = cli("add", "--kind", "隐患", "--category", "电动自行车", "--level", "重大", "--title", "x", "--dept", "消防救援",
            "--no-input")
    assert r.code == 0, r.err
    assert db(home).execute("SELECT kind, category, level, dept FROM reports").fetchone() == \
        ("hazard", "ebike", "major", "fire_rescue")


def test_general_major_only_for_hazards(cli, profile):
    r = cli("add", "--kind", "dispute", "--category", "neighbour", "--level", "major", "--title", "x", "--no-input")
    assert r.code == 2 and "level" in r.err and "red orange yellow blue" in r.err


def test_zero_report_is_a_record(cli, profile, home):
    r = cli("add", "--kind", "zero", "--title", "本周排查未发现隐患", "--no-input", "--json")
    assert r.code == 0, r.err
    assert db(home).execute("SELECT kind, category, status FROM reports").fetchone() == ("zero", None, "closed")


def test_from_file_many_and_list_json_schema_roundtrip(cli, profile, home, tmp_path):
    r = cli("add", "--from", EXAMPLES / "reports.json", "--json")
    assert r.code == 0, r.err
    assert [x["ref"] for x in r.json()] == ["R-0001", "R-0002", "R-0003", "R-0004"]
    listed = cli("list", "--json", "--reveal").json()
    assert {x["kind"] for x in listed} == {"hazard", "dispute", "sentiment", "zero"}
    for x in listed:
        for k in ("id", "ref", "status", "created_at", "updated_at", "kind", "category", "level", "title", "details",
                  "place", "lat", "lon", "dept", "parties", "photos", "deadline"):
            assert k in x
    # what list --json prints is accepted again by add --from
    f = tmp_path / "again.json"
    f.write_text(json.dumps(listed, ensure_ascii=False), encoding="utf-8")
    r = cli("add", "--from", f, "--json")
    assert r.code == 0, r.err
    assert len(r.json()) == 4
    dispute = [x for x in listed if x["kind"] == "dispute"][0]
    assert dispute["parties"][0]["id"] == "11010519491231002X"


def test_from_stdin(cli, profile):
    r = cli("add", "--from", "-", "--json",
            input='{"kind": "sentiment", "category": "suggestion", "level": "blue", "title": "建议增设监控"}')
    assert r.code == 0, r.err and r.json()["ref"] == "R-0001"


def test_parties_masked_in_list_and_show_revealed_on_request(cli, profile, home):
    cli("add", "--kind", "dispute", "--category", "debt", "--level", "yellow", "--title", "民间借贷纠纷", "--no-input",
        "--party", "name=张三丰;role=applicant;id=11010519491231002X;phone=13812345678",
        "--party", "name=李四;role=respondent")
    lst = cli("list", "--json").json()[0]
    assert lst["parties"][0] == {"name": "张**", "role": "applicant", "id": "1101**********002X",
                                 "phone": "138****5678", "address": None, "id_verified": True}
    table = cli("list")
    assert "13812345678" not in table.out and "11010519491231002X" not in table.out
    shown = cli("show", "R-0001").out
    assert "11010519491231002X" not in shown and "1101**********002X" in shown
    rev = cli("show", "R-0001", "--reveal", "--json").json()
    assert rev["parties"][0]["id"] == "11010519491231002X"
    audit = (home / "audit.log").read_text(encoding="utf-8").splitlines()
    assert len(audit) == 1 and json.loads(audit[0])["command"] == "show"


def test_unverified_id_recorded_flagged(cli, profile):
    bad = "name=王五;id=110105194912310021"
    r = cli("add", "--kind", "dispute", "--category", "debt", "--level", "blue", "--title", "x", "--party", bad,
            "--no-input")
    assert r.code == 2 and "check digit" in r.err and "--allow-unverified-id" in r.err
    r = cli("add", "--kind", "dispute", "--category", "debt", "--level", "blue", "--title", "x", "--party", bad,
            "--no-input", "--allow-unverified-id")
    assert r.code == 0
    assert cli("show", "R-0001", "--json", "--reveal").json()["parties"][0]["id_verified"] is False


def test_photos_copied_into_content_addressed_store(cli, profile, home, tmp_path):
    img = tmp_path / "楼道.png"
    data = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100 + b"picture"
    img.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    r = cli("add", "--kind", "hazard", "--category", "fire", "--level", "red", "--title", "x", "--photo", img,
            "--photo", img, "--no-input")
    assert r.code == 0, r.err
    blob = home / "blobs" / sha[:2] / sha
    assert blob.read_bytes() == data
    photos = cli("show", "R-0001", "--json").json()["photos"]
    assert [p["sha256"] for p in photos] == [sha, sha]  # the same photo twice is fine
    img.unlink()
    assert blob.exists()


def test_show_accepts_ref_forms_and_id_prefix(cli, profile):
    rid = cli(*HAZARD).json()["id"]
    for ref in ("R-0001", "r-1", "1", "R1", rid, rid[:13]):
        r = cli("show", ref, "--json")
        assert r.code == 0, (ref, r.err)
        assert r.json()["id"] == rid
    r = cli("show", "R-0099")
    assert r.code == 6 and "R-0099" in r.err


def test_update_workflow(cli, profile, home):
    cli(*HAZARD)
    assert cli("update", "R-0001", "--status", "routed", "--note", "已通知消防").code == 0
    assert cli("update", "R-0001", "--status", "in_progress").code == 0
    r = cli("update", "R-0001", "--status", "closed")
    assert r.code == 2 and "in_progress" in r.err and "resolved" in r.err  # illegal move lists the legal ones
    assert cli("update", "R-0001", "--status", "已化解/已整改").code == 0
    assert cli("update", "R-0001", "--level", "red", "--dept", "housing", "--deadline", "7d").code == 0
    assert cli("update", "R-0001", "--note", "户主已整改").code == 0
    assert cli("update", "R-0001", "--archive").code == 0
    shown = cli("show", "R-0001", "--json").json()
    assert shown["status"] == "resolved" and shown["level"] == "red" and shown["dept"] == "housing"
    assert shown["archived"] is True
    assert [n["text"] for n in shown["notes"]] == ["已通知消防", "户主已整改"]
    types = [h["type"] for h in shown["history"]]
    assert types == ["report.create", "report.status", "report.status", "report.status", "report.set", "report.set",
                     "report.set", "report.note", "report.archive"]
    # archived reports leave the default list, never the store
    assert cli("list", "--json").json() == []
    assert len(cli("list", "--archived", "--json").json()) == 1
    seqs = [r[0] for r in db(home).execute("SELECT seq FROM outbox ORDER BY seq")]
    assert seqs == list(range(1, 10))


def test_update_with_nothing_to_change(cli, profile):
    cli(*HAZARD)
    r = cli("update", "R-0001")
    assert r.code == 2 and "nothing to change" in r.err


def test_list_filters_and_chinese_search(cli, profile, home):
    cli("add", "--from", EXAMPLES / "reports.json")
    def refs(*a):
        r = cli("list", "--json", *a)
        assert r.code == 0, r.err
        return sorted(x["ref"] for x in r.json())
    assert refs("--kind", "hazard") == ["R-0001"]
    assert refs("--kind", "纠纷") == ["R-0002"]
    assert refs("--level", "blue") == ["R-0003"]
    assert refs("--status", "closed") == ["R-0004"]
    assert refs("--search", "电动自行车") == ["R-0001"]      # trigram index (≥ 3 characters)
    assert refs("--search", "路灯") == ["R-0003"]          # 2 characters: LIKE fallback
    assert refs("--search", "灯") == ["R-0003"]
    assert refs("--search", "宅基地边界") == ["R-0002"]
    assert refs("--search", "东村5组") == ["R-0002"]        # place is searched too
    assert refs("--search", "100%_") == []                 # LIKE wildcards are literal
    assert refs("--since", "1d") == ["R-0001", "R-0002", "R-0003", "R-0004"]
    assert refs("--since", "2099-01-01") == []
    assert refs("--unsynced") == ["R-0001", "R-0002", "R-0003", "R-0004"]
    c = db(home)
    c.execute("UPDATE outbox SET state = 'acked' WHERE seq IN (1, 2)")
    c.commit()
    assert refs("--unsynced") == ["R-0003", "R-0004"]
    assert len(cli("list", "--json", "--limit", "2").json()) == 2


def test_status_reports_queue(cli, profile):
    cli("add", "--from", EXAMPLES / "reports.json")
    s = cli("status", "--json").json()
    assert s["queued"] == 4 and s["queued_by_kind"] == {"hazard": 1, "dispute": 1, "sentiment": 1, "zero": 1}
    assert s["rejected"] == 0 and s["last_sync"] is None and s["store_bytes"] > 0
    human = cli("status")
    assert human.code == 0 and "4" in human.out


def test_init_rerun_changes_profile_keeps_device(cli, profile, home):
    dev = cli("init", "--json", "--no-input").json()["device_id"]
    r = cli("init", "--area", "西村", "--hub", "https://hub.example.org/", "--no-input", "--json")
    assert r.code == 0, r.err
    p = r.json()
    assert p["area"] == "西村" and p["device_id"] == dev and p["hub_url"] == "https://hub.example.org"
    assert p["name"] == "王芳"


def test_init_non_interactive_requires_fields(cli):
    r = cli("init", "--name", "x", "--no-input")
    assert r.code == 2 and "--officer-id" in r.err and "--role" in r.err


def test_init_rejects_unknown_role(cli):
    r = cli("init", "--name", "x", "--officer-id", "1", "--role", "sheriff", "--station", "s", "--area", "a",
            "--no-input")
    assert r.code == 2 and "role" in r.err and "auxiliary-police" in r.err


def test_add_before_init_is_a_clear_error(cli):
    r = cli("add", "--kind", "zero", "--title", "x", "--no-input")
    assert r.code == 2 and "fieldreport init" in r.err
