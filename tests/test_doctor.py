"""`fieldreport doctor`: each problem found on a real store, each with a line of what to do."""

import json
import os
import socket
import time

from fieldreport.store import Store

PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(500)


def _doctor(cli, *args):
    r = cli("doctor", "--json", *args)
    return r.code, {c["check"]: c for c in json.loads(r.out)["checks"]}


def test_healthy(cli, profile):
    assert cli("add", "--kind", "hazard", "--category", "fire", "--level", "red", "--title", "消防", "--no-input").code == 0
    code, checks = _doctor(cli)
    assert code == 0
    assert checks["store"]["status"] == "ok" and "integrity check ok" in checks["store"]["detail"]
    assert checks["photos"]["status"] == "ok" and checks["disk"]["status"] == "ok"
    assert checks["hub"]["status"] == "skip"
    r = cli("doctor")
    assert r.code == 0 and "No problems found." in r.out


def test_damaged_photo_and_clock(cli, profile, home, tmp_path):
    photo = tmp_path / "p.png"
    photo.write_bytes(PNG)
    r = cli("add", "--kind", "hazard", "--category", "fire", "--level", "red", "--title", "消防", "--photo", photo,
            "--no-input", "--json")
    assert r.code == 0, r.err
    sha = json.loads(cli("show", "R-0001", "--json").out)["photos"][0]["sha256"]
    blob = home / "blobs" / sha[:2] / sha
    blob.write_bytes(PNG[:-1] + b"\x00")
    s = Store.open(home / "fieldreport.db")
    with s.write() as c:
        s.set_meta("clock_offset_s", "-900.5", c)
    s.close()
    code, checks = _doctor(cli)
    assert code == 1
    assert checks["photos"]["status"] == "fail" and "1 damaged" in checks["photos"]["detail"]
    assert checks["photos"]["fix"]
    assert checks["clock"]["status"] == "warn" and "900" in checks["clock"]["detail"] and checks["clock"]["fix"]
    blob.unlink()
    r = cli("doctor")
    assert r.code == 1 and "1 missing" in r.out and "→" in r.out


def test_damaged_store(cli, profile, home):
    for i in range(30):
        cli("add", "--kind", "hazard", "--category", "fire", "--level", "red", "--title", f"消防隐患{i}" * 20,
            "--no-input")
    db = home / "fieldreport.db"
    s = Store.open(db)
    s.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    s.close()
    data = bytearray(db.read_bytes())
    page = 4096
    for off in range(page * 3, min(len(data), page * 8), 97):  # scribble over inner pages
        data[off] ^= 0x5A
    db.write_bytes(bytes(data))
    r = cli("doctor", "--offline")
    assert r.code == 1
    assert "✗ store" in r.out and "restore" in r.out
    assert "Traceback" not in r.out + r.err


def test_no_store(cli):
    r = cli("doctor", "--json")
    assert r.code == 1
    checks = {c["check"]: c for c in json.loads(r.out)["checks"]}
    assert checks["store"]["status"] == "fail" and "fieldreport init" in checks["store"]["fix"]


def test_unreachable_hub_is_quick(cli, profile):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there
    assert cli("init", "--hub", f"http://127.0.0.1:{port}", "--no-input").code == 0
    t = time.monotonic()
    code, checks = _doctor(cli)
    assert time.monotonic() - t < 8
    assert code == 0  # a hub out of reach is normal in the field: a warning, not a failure
    assert checks["hub"]["status"] == "warn" and "bundle" in checks["hub"]["fix"]
    assert checks["enrolled"]["status"] == "warn"


def test_captive_portal_is_not_a_hub(cli, profile):
    import http.server
    import threading

    class Portal(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"<html>Welcome to village Wi-Fi, please log in</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), Portal)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        assert cli("init", "--hub", f"http://127.0.0.1:{srv.server_port}", "--no-input").code == 0
        code, checks = _doctor(cli)
        assert checks["hub"]["status"] == "warn" and "not as a fieldreport hub" in checks["hub"]["detail"]
    finally:
        srv.shutdown()
