"""``fieldreport login HUB_URL CODE`` and ``init --hub --code``: a laptop enrolls with the real
hub on loopback, then its reports reach the hub and the station's decisions come back."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from conftest import PROFILE_ARGS


def test_login_then_sync_round_trip(cli, profile, hub, home):
    code = hub.enroll("A1024", "王芳", "东村")
    r = cli("login", hub.url, code.lower(), "--json")
    assert r.code == 0, r.err
    out = r.json()
    assert out["officer_id"] == "A1024" and out["area"] == "东村" and out["officer_mismatch"] is False
    token = home / "token"
    assert token.stat().st_mode & 0o777 == 0o600 and len(token.read_text()) >= 40
    assert token.read_text() not in r.out
    assert json.loads((home / "profile.json").read_text())["hub_url"] == hub.url
    devices = hub.store.devices()
    assert [d["device_id"] for d in devices] == [out["device_id"]]
    r = cli("add", "--kind", "hazard", "--category", "ebike", "--level", "orange", "--title", "楼道电动车充电",
            "--no-input", "--json")
    assert r.code == 0, r.err
    r = cli("sync", "--json")
    assert r.code == 0, (r.out, r.err)
    rep = hub.store.station().reports()[0]
    assert rep["title"] == "楼道电动车充电" and rep["officer_id"] == "A1024"
    assert cli("hub", "decide", rep["case_code"], "--dept", "fire_rescue", "--data", hub.data_dir).code == 0
    assert cli("sync").code == 0
    mine = cli("list", "--json").json()[0]
    assert mine["case_code"] == rep["case_code"] and mine["status"] == "routed" and mine["dept"] == "fire_rescue"


def test_init_with_hub_and_code(cli, hub, home):
    code = hub.enroll("A1024", "王芳", "东村")
    r = cli(*PROFILE_ARGS, "--hub", hub.url, "--code", code)
    assert r.code == 0, r.err
    assert (home / "token").exists() and len(hub.store.devices()) == 1


def test_login_warns_when_the_station_enrolled_another_officer(cli, profile, hub):
    code = hub.enroll("B2048", "李强", "西村")
    r = cli("login", hub.url, code)
    assert r.code == 0 and "B2048" in r.err and "Warning" in r.err


@pytest.mark.parametrize("code", ["K7QF-2MXD", "not a code at all"])
def test_malformed_code_contacts_nothing(cli, profile, hub, home, code):
    r = cli("login", hub.url, code)
    assert r.code == 2 and r.err.startswith("fieldreport: code:") and r.err.count("\n") == 1
    assert not (home / "token").exists() and hub.store.devices() == []


def test_used_code_and_bad_url_save_nothing(cli, profile, hub, home):
    code = hub.enroll()
    assert cli("login", hub.url, code).code == 0
    before = (home / "token").read_text()
    r = cli("login", hub.url, code)
    assert r.code == 2 and "new one" in r.err and r.err.count("\n") == 1
    assert (home / "token").read_text() == before
    r = cli("login", "ftp://hub", hub.enroll())
    assert r.code == 2 and r.err.count("\n") == 1


def test_login_to_something_that_is_not_a_hub(cli, profile, home):
    """A captive portal answers 200 with a login page: that is no enrollment."""

    class Portal(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = b'{"token": "portal", "device_id": "x", "officer_id": "x", "epoch": "x"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Portal)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    try:
        r = cli("login", f"http://127.0.0.1:{srv.server_address[1]}", "K7QF-2MXD-9TPA")
    finally:
        srv.shutdown()
        srv.server_close()
    assert r.code == 1 and "not come from a fieldreport hub" in r.err and r.err.count("\n") == 1
    assert not (home / "token").exists()
    assert json.loads((home / "profile.json").read_text()).get("hub_url") is None


def test_login_before_init(cli, hub):
    r = cli("login", hub.url, hub.enroll())
    assert r.code == 2 and "init" in r.err and r.err.count("\n") == 1
