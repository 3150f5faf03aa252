"""Sync and enrollment errors in the interface language, through the real command line: the
link's own failures (sync/transport.py) and the hub's refusals, which the laptop translates by
the hub's machine ``error`` code while the hub's wire ``detail`` stays English."""

from __future__ import annotations

import pytest

from hubfixtures import free_port

SHORT = {"FIELDREPORT_SYNC_READ_TIMEOUT": "3", "FIELDREPORT_SYNC_CONNECT_TIMEOUT": "2",
         "FIELDREPORT_SYNC_BACKOFF_BASE": "0.01", "FIELDREPORT_SYNC_BACKOFF_MAX": "0.05",
         "FIELDREPORT_SYNC_MAX_FAILURES": "2",
         "COLUMNS": "400"}  # rich wraps the summary at the terminal width: one message, one line


@pytest.fixture
def back_to_english():
    """``--lang zh`` switches the process's language; give the next test English back."""
    yield
    from fieldreport import i18n

    i18n.set_lang("en")


@pytest.fixture
def enrolled(cli, profile, hub):
    r = cli("login", hub.url, hub.enroll())
    assert r.code == 0, r.err
    return hub


def test_sync_cannot_reach_in_chinese(run, enrolled):
    """Nothing listens at the hub URL: sync stops as offline (exit 3, "something left") and says
    so in Chinese, on one line, without a traceback; the English run still says it in English."""
    url = f"http://127.0.0.1:{free_port()}"
    r = run("--lang", "zh", "sync", "--hub", url, env=SHORT)
    assert r.code == 3, (r.out, r.err)
    assert "Traceback" not in r.out + r.err and r.err == "", r.err
    said = [line for line in r.out.splitlines() if url in line]
    assert len(said) == 1, r.out
    assert said[0].startswith(f"无法连接所端：无法连接 {url}（连接被拒绝）。下次尝试时间不早于 "), said
    assert not any(w in r.out for w in ("cannot reach", "connection refused", "Could not")), r.out
    r = run("--lang", "en", "sync", "--hub", url, env=SHORT)
    assert r.code == 3 and f"Could not reach the hub: cannot reach {url} (connection refused). Next attempt" in r.out


def test_login_cannot_reach_in_chinese(cli, profile, home, back_to_english):
    url = f"http://127.0.0.1:{free_port()}"
    r = cli("--lang", "zh", "login", url, "K7QF-2MXD-9TPA")
    assert r.code == 1 and r.err == f"fieldreport: 无法在 {url} 注册：无法连接 {url}（连接被拒绝）\n", r.err
    r = cli("--lang", "en", "login", url, "K7QF-2MXD-9TPA")
    assert r.code == 1 and r.err == f"fieldreport: could not enroll with {url}: cannot reach {url} (connection " \
                                    f"refused)\n", r.err
    assert not (home / "token").exists()


# ------------------------------------------------------------------ the hub's refusals, by error code
@pytest.mark.parametrize("case", ["bad_code", "another_officer"])
def test_login_refused_in_chinese(cli, profile, hub, home, back_to_english, case):
    """`fieldreport login` against the real hub: an unknown code is the user's input (exit 2), a
    laptop the hub holds for another officer is an error (exit 1). Under zh neither shows the
    hub's English detail; under en the message is the English one."""
    if case == "bad_code":
        code, rc = "K7QF-2MXD-9TPA", 2
        zh = "fieldreport: code：所端不接受该注册码（不存在、已使用或已过期）；请向派出所申请新的注册码\n"
        en = "fieldreport: code: the hub does not accept this code (unknown, used or expired); ask the station for a " \
             "new one\n"
    else:
        assert cli("login", hub.url, hub.enroll("A1024")).code == 0
        (home / "token").unlink()
        code, rc = hub.enroll("B2048", "李强", "西村"), 1
        dev = hub.store.devices()[0]["device_id"]
        zh = f"fieldreport: 本机（设备 {dev}）已在所端注册给另一位民警；须先由派出所吊销（`fieldreport hub revoke " \
             f"{dev}`），然后再次运行本次注册命令\n"
        en = f"fieldreport: this laptop (device {dev}) is enrolled with the hub for another officer; the station must " \
             f"revoke it first (`fieldreport hub revoke {dev}`), then run this login again\n"
    r = cli("--lang", "zh", "login", hub.url, code)
    assert (r.code, r.err) == (rc, zh), r.err
    r = cli("--lang", "en", "login", hub.url, code)
    assert (r.code, r.err) == (rc, en), r.err
    assert not (home / "token").exists()


def test_sync_refused_in_chinese(cli, profile, hub, home, back_to_english):
    """The token is another laptop's (a home folder copied over): the hub answers 403
    `forbidden` on `device_id`, and sync says what to do in the interface language (exit 1)."""
    other = hub.device("A1024")
    tok = home / "token"
    tok.write_text(other.token)
    tok.chmod(0o600)
    assert cli("add", "--kind", "hazard", "--category", "ebike", "--level", "orange", "--title", "楼道电动车充电",
               "--no-input").code == 0
    r = cli("--lang", "zh", "sync", "--hub", hub.url)
    assert r.code == 1 and r.err == "fieldreport: 所端不接受本机令牌对应的设备编号（本机数据已重新初始化，或派出所已删除该注册）；" \
                                    "请用派出所发放的新注册码运行 `fieldreport login 所端地址 注册码`\n", r.err
    r = cli("--lang", "en", "sync", "--hub", hub.url)
    assert r.code == 1 and r.err.startswith("fieldreport: the hub does not accept this laptop's device id with its "
                                            "token"), r.err
    assert other.token not in r.out + r.err


def test_refusal_codes_are_the_hubs():
    """Every code the laptop translates is one the hub sends (hub/errors.py, hub/blobs.py, hub/app.py,
    hub/store.py): a renamed code on the hub would silently bring the English detail back."""
    from fieldreport.hub import blobs, errors
    from fieldreport.sync import refusals
    from conftest import ROOT

    sent = {c.code for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.HubError)}
    sent.add(blobs.ChecksumMismatch.code)
    hub_src = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "src" / "fieldreport" / "hub").glob("*.py"))
    for table in (refusals.ENROLL, refusals.SYNC):
        for code, _field in table:
            assert code in sent or f'"{code}"' in hub_src, code


def test_unknown_refusal_code_shows_the_hubs_detail(back_to_english):
    """A code the laptop does not know: its own words around the hub's (English) detail."""
    from fieldreport import i18n
    from fieldreport.sync.refusals import enroll_message, sync_message
    from fieldreport.sync.transport import HubRefused

    e = HubRefused(422, "invalid", "ops.0.payload: numbers must fit in 64 bits", "ops.0.payload")
    i18n.set_lang("zh")
    assert sync_message(e) == "所端拒绝了请求（HTTP 422：ops.0.payload: numbers must fit in 64 bits）"
    assert enroll_message(e, "d1") == "所端拒绝了注册（HTTP 422）：ops.0.payload: numbers must fit in 64 bits"
    assert sync_message(HubRefused(413, "too_large", "body: over the limit of 16 bytes", "body")) == \
        "请求超过所端允许的大小（HTTP 413）"


def test_rejected_and_conflicting_entries_in_chinese(cli, profile, hub, home, back_to_english, monkeypatch):
    """The hub's per-operation refusals carry a code and its values (docs/protocol.md,
    "Rejection codes"); `outbox` and `status` word them in the interface language, the hub's
    English reason kept in the JSON beside the code."""
    from fieldreport.cli import term
    from fieldreport.store import Store

    monkeypatch.setattr(term.console, "_width", 400)
    for k, v in SHORT.items():
        monkeypatch.setenv(k, v)
    assert cli("login", hub.url, hub.enroll()).code == 0
    r = cli("add", "--kind", "hazard", "--category", "ebike", "--level", "orange", "--title", "楼道电动车充电",
            "--no-input", "--json")
    rid = r.json()["id"]
    ghost = "0193a9c2-7b1d-7000-8000-aaaaaaaaaaaa"
    s = Store.open(home / "fieldreport.db")
    with s.write() as c:  # what a laptop of another version might send: the hub refuses both
        s.append_op(c, "report.set", ghost, {"field": "level", "old": None, "new": "red"})
        s.append_op(c, "report.status", rid, {"from": "registered", "to": "visited"})
    s.close()
    assert cli("sync").code == 3
    hub.store.station().set_status(rid, "routed", note="已转消防")
    assert cli("update", rid[:13], "--status", "in_progress").code == 0
    assert cli("sync").code == 3  # the station moved it first: a conflict
    out = {e["type"] + ":" + (e["code"] or ""): e for e in cli("outbox", "list", "--json").json()["entries"]}
    assert set(out) == {"report.set:no_entity", "report.status:transition", "report.status:status_moved"}
    assert out["report.set:no_entity"]["reason"].startswith("entity: the hub holds no report")  # the wire's words
    r = cli("--lang", "zh", "outbox")
    assert r.code == 0, r.err
    assert f"所端没有报告 {ghost}（创建它的条目是否被拒收？）" in r.out
    assert "状态不能从“已登记”改为“已回访”；可改为：" in r.out
    assert "所里已将该报告改为“已分流”（本机这次修改的起点是“已登记”）" in r.out
    assert "被拒收" in r.out and "rejected" not in r.out.replace("是否被拒收", "")
    st = cli("--lang", "zh", "status")
    assert st.code == 0 and f"所端没有报告 {ghost}" in st.out
    r = cli("--lang", "en", "outbox")
    assert f"the hub holds no report {ghost} (was the entry that created it rejected?)" in r.out


def test_rejection_codes_are_the_hubs(back_to_english):
    """Every code the laptop words is one the hub sends, and every code the hub sends is worded."""
    import ast

    from conftest import ROOT
    from fieldreport import i18n
    from fieldreport.sync.refusals import OP, op_reason

    sent = {"invalid"}  # Reject's default
    for p in (ROOT / "src" / "fieldreport" / "hub").glob("*.py"):
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Reject" and len(node.args) >= 3:
                sent.add(node.args[2].value)
            if isinstance(node, ast.Dict):  # a result built by hand: {"status": "rejected", "code": ...}
                for k, v in zip(node.keys, node.values):
                    if isinstance(k, ast.Constant) and k.value == "code" and isinstance(v, ast.Constant):
                        sent.add(v.value)
    assert sent == set(OP), sent ^ set(OP)
    # a code this laptop does not know (a newer hub): the hub's own words
    i18n.set_lang("zh")
    assert op_reason({"code": "martian", "field": "x", "reason": "x: too green"}) == "x: too green"
    assert op_reason({"code": "invalid", "field": "title", "reason": "title: must not be empty"}) == \
        "title：所端不接受该值（must not be empty）"
    assert op_reason({"http_status": 413, "error": "too_large", "reason": "over"}) == "请求超过所端允许的大小（HTTP 413）"
    # a hub's params never stand in for the laptop's own {field} and {detail}
    assert op_reason({"code": "invalid", "field": "dept", "reason": "dept: unknown department 'x'",
                      "params": {"field": "other", "detail": "other"}}) == "dept：所端不接受该值（unknown department 'x'）"
