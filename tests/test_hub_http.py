"""The hub's HTTP contract at its edges: headers on every answer, body limits, gzip, errors,
authentication and enrollment — against a real hub on loopback."""

from __future__ import annotations

import gzip
import json

import httpx
import pytest
import sqlalchemy as sa

from fieldreport import ids
from fieldreport.protocol import MAX_BODY_BYTES


def _is_hub(r: httpx.Response, epoch: str | None = None):
    assert r.headers["X-Fieldreport-Protocol"] == "1"
    if epoch:
        assert r.headers["X-Fieldreport-Epoch"] == epoch
    assert r.headers.get("date")


def _err(r: httpx.Response, status: int, field: str | None = "-") -> dict:
    assert r.status_code == status, r.text
    _is_hub(r)
    body = r.json()
    assert set(body) == {"error", "detail", "field"} and body["detail"] and "\n" not in body["detail"]
    if field != "-":
        assert body["field"] == field
    return body


def test_health(hub):
    r = httpx.get(hub.url + "/v1/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["protocol"] == "1" and body["epoch"] == hub.store.epoch
    _is_hub(r, hub.store.epoch)


def test_every_error_carries_the_headers_and_the_error_shape(hub):
    _err(httpx.get(hub.url + "/nowhere"), 404)
    _err(httpx.get(hub.url + "/v1/push"), 405)
    _err(httpx.post(hub.url + "/v1/push", content=b"{}"), 401, "Authorization")


def test_internal_error_is_a_500_in_wire_shape_without_traceback(hub, monkeypatch):
    dev = hub.device()

    def boom(*a, **k):
        raise RuntimeError("secret 110105194912310020")

    monkeypatch.setattr(hub.server_store, "pull", boom)
    r = dev.http.get("/v1/pull")
    body = _err(r, 500)
    assert "secret" not in r.text and "Traceback" not in r.text and body["error"] == "internal"


def test_auth(hub):
    dev = hub.device()
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer"},
                    {"Authorization": "Bearer not-a-token"}):
        _err(httpx.get(hub.url + "/v1/pull", headers=headers), 401, "Authorization")
    assert dev.http.get("/v1/pull").status_code == 200
    hub.store.revoke(dev.device_id)
    _err(dev.http.get("/v1/pull"), 401)


def test_enroll_once_and_only_a_hash_is_kept(hub):
    code = hub.enroll("A1024", "王芳", "东村")
    dev_id = ids.uuid7()
    r = httpx.post(hub.url + "/v1/enroll", json={"code": code.lower().replace("-", " "), "device_id": dev_id,
                                                 "name": "ThinkPad"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["officer_id"] == "A1024" and body["area"] == "东村" and body["device_id"] == dev_id
    assert body["epoch"] == hub.store.epoch and len(body["token"]) >= 40
    _err(httpx.post(hub.url + "/v1/enroll", json={"code": code, "device_id": ids.uuid7()}), 401, "code")
    from fieldreport.hub import store_schema as t

    with hub.store.engine.connect() as c:
        tokens = [r.token_hash for r in c.execute(sa.select(t.devices))]
        codes = [r.code_hash for r in c.execute(sa.select(t.enroll_codes))]
    assert body["token"] not in tokens and len(tokens[0]) == 64
    assert code not in codes and code.replace("-", "") not in codes
    # the database file holds neither
    raw = (hub.data_dir / "hub.db").read_bytes() + ((hub.data_dir / "hub.db-wal").read_bytes()
                                                    if (hub.data_dir / "hub.db-wal").exists() else b"")
    assert body["token"].encode() not in raw and code.encode() not in raw


def test_enroll_expired_code_and_reenroll(hub):
    code = hub.enroll("A1024", "王芳", "东村", ttl_hours=-1)
    _err(httpx.post(hub.url + "/v1/enroll", json={"code": code, "device_id": ids.uuid7()}), 401, "code")
    dev = hub.device()
    old = dev.token
    code = hub.enroll("A1024", "王芳", "东村")
    r = httpx.post(hub.url + "/v1/enroll", json={"code": code, "device_id": dev.device_id})
    assert r.status_code == 200
    assert httpx.get(hub.url + "/v1/pull", headers={"Authorization": f"Bearer {old}"}).status_code == 401
    other = hub.enroll("B2048", "李强", "西村")
    _err(httpx.post(hub.url + "/v1/enroll", json={"code": other, "device_id": dev.device_id}), 403, "device_id")


def test_bad_bodies(hub):
    dev = hub.device()
    h = {"Content-Type": "application/json"}
    _err(dev.http.post("/v1/push", content=b"{not json", headers=h), 400, "body")
    _err(dev.http.post("/v1/push", content=b"", headers=h), 400, "body")
    _err(dev.http.post("/v1/push", content=b"\x1f\x8b garbage", headers={**h, "Content-Encoding": "gzip"}), 400,
         "body")
    _err(dev.http.post("/v1/push", content=gzip.compress(b'{"device_id": "x", "ops": []}')[:-9],
                       headers={**h, "Content-Encoding": "gzip"}), 400, "body")
    _err(dev.http.post("/v1/push", content=b"{}", headers={**h, "Content-Encoding": "br"}), 400, "Content-Encoding")
    body = _err(dev.http.post("/v1/push", content=json.dumps({"device_id": dev.device_id, "ops": [{"op_id": "x"}]}),
                              headers=h), 422)
    assert body["field"].startswith("ops.0")
    _err(dev.http.post("/v1/push", content=json.dumps({"device_id": dev.device_id, "ops": [], "extra": 1}),
                       headers=h), 422, "extra")
    _err(dev.http.post("/v1/push", content=json.dumps({"device_id": "someone-else", "ops": []}), headers=h), 403,
         "device_id")
    assert dev.push([])["results"] == []


def test_body_limits(hub):
    dev = hub.device()
    big = b'{"device_id": "' + b"x" * (MAX_BODY_BYTES + 10) + b'"}'
    body = _err(dev.http.post("/v1/push", content=big, headers={"Content-Type": "application/json"}), 413, "body")
    assert str(MAX_BODY_BYTES) in body["detail"]
    # a small gzip that inflates past the limit (a zip bomb) is refused too
    bomb = gzip.compress(b'{"device_id": "' + b"x" * (MAX_BODY_BYTES * 2) + b'", "ops": []}')
    assert len(bomb) < 100_000
    _err(dev.http.post("/v1/push", content=bomb, headers={"Content-Type": "application/json",
                                                          "Content-Encoding": "gzip"}), 413, "body")
    ops = [dev.create() for _ in range(5001)]
    _err(dev.push(ops, raw=True), 422, "ops")
    assert hub.store.station().device_ops(dev.device_id) == []


def test_pull_parameters(hub):
    dev = hub.device()
    for params in ({"cursor": "abc"}, {"cursor": -1}, {"limit": 0}, {"limit": 5001}):
        _err(dev.http.get("/v1/pull", params=params), 422)
    page = dev.pull(0)
    assert page["epoch"] == hub.store.epoch and page["cursor"] == 0 and page["changes"] == []


def test_busy_answers_503_with_retry_after(hub):
    dev = hub.device()
    state = hub.state
    held = []
    while state.pushes.acquire(blocking=False):
        held.append(1)
    try:
        op = dev.create()
        r = dev.push([op], raw=True)
        _err(r, 503)
        assert int(r.headers["Retry-After"]) >= 1
    finally:
        for _ in held:
            state.pushes.release()
    assert hub.store.station().device_ops(dev.device_id) == []
    assert dev.push([op])["results"][0]["status"] == "applied"  # the retry of the same operation


@pytest.mark.parametrize("path", ["/v1/pull", "/v1/health"])
def test_epoch_header_follows_a_restore_in_place(hub, path):
    dev = hub.device()
    old = hub.store.epoch
    new = hub.store.new_epoch()
    assert new != old
    import time

    time.sleep(1.1)  # the app re-reads the epoch at most once a second
    r = dev.http.get(path)
    _is_hub(r, new)
