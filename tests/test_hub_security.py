"""The issue's security and bad-input list, against a real hub on loopback: 401 without a
valid token on every device route, 403 for another device's operations or another area's
data, 413 naming the limit, 400 for broken JSON or gzip, a rejected operation never failing
its batch, and no token or enrollment code in the real server's log output."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time

import httpx
import pytest

from fieldreport import ids
from fieldreport.protocol import MAX_BODY_BYTES

ROUTES = [("POST", "/v1/push", b'{"device_id": "x", "ops": []}'), ("GET", "/v1/pull", None),
          ("POST", "/v1/blobs/missing", b'{"hashes": []}'), ("HEAD", "/v1/blobs/" + "a" * 64, None)]


@pytest.mark.parametrize("method,path,body", ROUTES)
def test_401_without_a_valid_unrevoked_token(hub, method, path, body):
    dev = hub.device()
    other = hub.device()
    hub.store.revoke(other.device_id)
    for auth in (None, "Bearer", "Basic " + dev.token, "Bearer not-a-token", "Bearer " + dev.token[:-2],
                 "Bearer " + other.token):
        headers = {"Authorization": auth} if auth else {}
        r = httpx.request(method, hub.url + path, content=body, headers=headers)
        assert r.status_code == 401, (auth, r.status_code, r.text)
        if method != "HEAD":
            assert r.json()["field"] == "Authorization"
    r = httpx.request(method, hub.url + path, content=body.replace(b'"x"', json.dumps(dev.device_id).encode())
                      if body else None, headers={"Authorization": f"Bearer {dev.token}"})
    assert r.status_code == 200, r.text


def test_403_for_another_devices_operations_and_another_areas_data(any_hub):
    a = any_hub.device()
    b = any_hub.device("B2048", "李强", "西村")
    forged = b.create()
    r = a.push([a.create(), forged], raw=True)
    assert r.status_code == 403 and r.json()["field"] == "device_id"
    assert any_hub.store.station().device_ops(a.device_id) == []
    # pulling: the laptop may name its area; any other is refused, its own is served
    pid = ids.uuid7()
    b.push([b.op("premises.create", pid, {"name": "西村旅馆"})])
    r = a.http.get("/v1/pull", params={"area": "西村"})
    assert r.status_code == 403 and r.json()["field"] == "area"
    page = a.http.get("/v1/pull", params={"area": "东村"}).json()
    assert all(c["entity"] != pid for c in page["changes"])
    assert [c["entity"] for c in b.pull_all()[0] if c["type"] == "premises.put"] == [pid]


def test_413_names_the_limit_also_for_a_chunked_body(hub):
    dev = hub.device()

    def chunks():
        for _ in range(MAX_BODY_BYTES // (1 << 20) + 2):
            yield b" " * (1 << 20)

    r = dev.http.post("/v1/push", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and str(MAX_BODY_BYTES) in r.json()["detail"] and r.json()["field"] == "body"


@pytest.mark.parametrize("body,headers", [
    (b'{"device_id": ', {}),
    (b"\xff\xfe not utf-8", {}),
    (b"[1, 2", {}),
    (b"not gzip at all", {"Content-Encoding": "gzip"}),
    (gzip.compress(b'{"device_id": "x", "ops": [')[:-4], {"Content-Encoding": "gzip"}),
    (gzip.compress(b'{"device_id": "x", "ops": ['), {"Content-Encoding": "gzip"}),  # valid gzip, broken JSON
])
def test_400_for_malformed_json_or_gzip(hub, body, headers):
    dev = hub.device()
    r = dev.http.post("/v1/push", content=body, headers={"Content-Type": "application/json", **headers})
    assert r.status_code == 400, r.text
    assert r.json()["error"] and r.json()["field"] == "body"
    assert hub.store.station().device_ops(dev.device_id) == []


def test_a_rejected_operation_never_fails_its_batch(any_hub):
    dev = any_hub.device()
    good1, bad, good2 = dev.create(), dev.create(level="purple"), dev.create(title="第二条")
    res = dev.push([good1, bad, good2])
    assert [r["status"] for r in res["results"]] == ["applied", "rejected", "applied"]
    assert res["results"][1]["field"] == "level" and "purple" in res["results"][1]["reason"]
    assert res["acked_through"] == 3


def test_the_fast_hash_agrees_with_the_reference_encoder():
    """``store_push.hash_of`` (orjson bytes first) answers exactly what ``canon.op_hash``
    answers, floats, huge integers and odd characters included."""
    from fieldreport.canon import op_hash
    from fieldreport.hub.store_push import hash_of

    payloads = [{"t": "楼道\u2028电动车\x00\x1f\"\\/"}, {"f": 1e16, "g": 1e-7, "h": 0.1 + 0.2, "i": -0.0},
                {"big": 2 ** 70, "neg": -(2 ** 63) - 1}, {"nan": float("nan")}, {"z": {"b": 1, "a": [True, None]}},
                {"emoji": "😀", "ключ": "значение"}, {"float_int": 3.0, "e": 1.5e300}]
    for p in payloads:
        op = {"op_id": ids.uuid7(), "device_id": "d", "seq": 1, "clock": 1, "ts": ids.now_iso(), "type": "report.note",
              "entity": "e", "payload": p, "prev_hash": None}
        ref = op_hash(op)
        assert hash_of({**op, "hash": ref}) == ref, p
        assert hash_of({**op, "hash": "0" * 64}) == ref, p
        assert hash_of({**op, "hash": None}) == ref, p


def test_tokens_and_codes_never_appear_in_the_servers_log(tmp_path):
    """A real ``hub serve`` at debug level (access log on): enrolment, pushes, pulls, bad and
    revoked tokens — its whole output holds no token and no enrolment code."""
    from hubfixtures import Device, Hub, free_port

    data = tmp_path / "hub"
    h = Hub(data, f"sqlite:///{data / 'hub.db'}")
    from fieldreport.hub import station

    station.init(str(data), h.db_url)
    port = free_port()
    h.url = f"http://127.0.0.1:{port}"
    log = open(tmp_path / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "fieldreport", "hub", "serve", "--port", str(port), "--log-level",
                             "debug"], env=dict(os.environ, FIELDREPORT_HUB_HOME=str(data)), stdout=log,
                            stderr=subprocess.STDOUT)
    secrets = []
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(h.url + "/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, "the hub did not start"
            time.sleep(0.05)
        code = h.enroll()
        dev_id = ids.uuid7()
        r = httpx.post(h.url + "/v1/enroll", json={"code": code, "device_id": dev_id})
        token = r.json()["token"]
        secrets += [code, code.replace("-", ""), token]
        dev = Device(h, dev_id, token, "A1024")
        assert dev.push([dev.create(), dev.create(level="purple")])["results"][0]["status"] == "applied"
        dev.pull()
        wrong = httpx.post(h.url + "/v1/enroll", json={"code": code, "device_id": ids.uuid7()})  # spent code
        assert wrong.status_code == 401
        h.store.revoke(dev_id)
        assert httpx.get(h.url + "/v1/pull", headers={"Authorization": f"Bearer {token}"}).status_code == 401
        dev.close()
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()
        h.close()
    out = (tmp_path / "serve.log").read_text("utf-8", errors="replace")
    assert "/v1/push" in out and "/v1/enroll" in out, out[-2000:]  # the access log did run
    for s in secrets:
        assert s not in out, "a secret reached the log"
