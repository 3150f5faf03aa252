"""A real hub on loopback for the hub and sync tests (imported by conftest.py).

``hub``: a fresh SQLite hub served by uvicorn in a thread of the test process, on a free
127.0.0.1 port — real HTTP, real database, real files. ``hub_pg``: the same on a fresh
PostgreSQL schema (skips where no server is reachable, fails under CI). ``hub_process``:
``fieldreport hub serve`` as a real subprocess, for kills and restarts. Each hub has
``enroll(officer_id, name, area)`` → code, and ``device(...)`` → an enrolled ``Device`` that
pushes and pulls like a laptop (``Device.op(...)`` builds hashed, chained operations).
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Device:
    """A laptop as the hub sees it: a device id, a token and its operation log."""

    def __init__(self, hub, device_id: str, token: str, officer_id: str):
        import httpx

        self.hub, self.device_id, self.token, self.officer_id = hub, device_id, token, officer_id
        self.http = httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        self.seq = 0
        self.last_hash = None

    def op(self, type_: str, entity: str, payload: dict, *, seq: int | None = None) -> dict:
        """The next operation of this device's log (seq, Lamport clock, hash chain)."""
        from fieldreport import ids
        from fieldreport.canon import op_hash

        self.seq = seq or self.seq + 1
        op = {"op_id": ids.uuid7(), "device_id": self.device_id, "seq": self.seq, "clock": self.seq,
              "ts": ids.now_iso(), "type": type_, "entity": entity, "payload": payload, "prev_hash": self.last_hash}
        op["hash"] = op_hash(op)
        self.last_hash = op["hash"]
        return op

    def create(self, **fields) -> dict:
        from fieldreport import ids

        payload = {"kind": "hazard", "category": "ebike", "level": "orange", "title": "楼道电动车充电",
                   "details": "", "place": "东村3组12号", "parties": [], "photos": [], "ref": f"R-{self.seq + 1:04d}",
                   "status": "registered", "created_at": ids.now_iso(), "author": self.officer_id}
        payload.update(fields)
        return self.op("report.create", ids.uuid7(), payload)

    def push(self, ops: list[dict], *, gzip_body: bool = True, epoch: str | None = None, raw: bool = False):
        body = json.dumps({"device_id": self.device_id, "epoch": epoch, "ops": ops}, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json"}
        if gzip_body:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        r = self.http.post("/v1/push", content=body, headers=headers)
        if raw:
            return r
        assert r.status_code == 200, r.text
        return r.json()

    def pull(self, cursor: int = 0, limit: int | None = None):
        params = {"cursor": cursor}
        if limit:
            params["limit"] = limit
        r = self.http.get("/v1/pull", params=params)
        assert r.status_code == 200, r.text
        return r.json()

    def pull_all(self, cursor: int = 0, limit: int = 500) -> tuple[list[dict], int]:
        out = []
        while True:
            page = self.pull(cursor, limit)
            out += page["changes"]
            cursor = page["cursor"]
            if not page["has_more"]:
                return out, cursor

    def upload(self, data: bytes, chunk: int = 64 * 1024) -> str:
        sha = hashlib.sha256(data).hexdigest()
        off = int(self.http.head(f"/v1/blobs/{sha}").headers["Upload-Offset"])
        while off < len(data):
            part = data[off:off + chunk]
            r = self.http.patch(f"/v1/blobs/{sha}", content=part, headers=patch_headers(off, len(data), part))
            assert r.status_code == 204, r.text
            off = int(r.headers["Upload-Offset"])
        return sha

    def close(self):
        self.http.close()


def patch_headers(offset: int, length: int, chunk: bytes, checksum: bytes | None = None) -> dict[str, str]:
    digest = checksum if checksum is not None else hashlib.sha256(chunk).digest()
    return {"Upload-Offset": str(offset), "Upload-Length": str(length),
            "Upload-Checksum": "sha256 " + base64.b64encode(digest).decode(),
            "Content-Type": "application/offset+octet-stream"}


class Hub:
    """A hub served on loopback. ``store`` opens the same database for direct inspection."""

    def __init__(self, data_dir: Path, db_url: str):
        self.data_dir, self.db_url = data_dir, db_url
        self.url = ""
        self._devices: list[Device] = []
        self._store = None

    @property
    def store(self):
        from fieldreport.hub.store import HubStore

        if self._store is None:
            self._store = HubStore.open(self.db_url)
        return self._store

    def enroll(self, officer_id: str = "A1024", name: str = "王芳", area: str = "东村", ttl_hours: float = 72) -> str:
        return self.store.issue_code(officer_id, name, area, None, ttl_hours)["code"]

    def device(self, officer_id: str = "A1024", name: str = "王芳", area: str = "东村",
               device_id: str | None = None) -> Device:
        import httpx

        from fieldreport import ids

        code = self.enroll(officer_id, name, area)
        device_id = device_id or ids.uuid7()
        r = httpx.post(self.url + "/v1/enroll", json={"code": code, "device_id": device_id, "name": "laptop"},
                       timeout=30)
        assert r.status_code == 200, r.text
        dev = Device(self, device_id, r.json()["token"], officer_id)
        self._devices.append(dev)
        return dev

    def close(self):
        for d in self._devices:
            d.close()
        if self._store is not None:
            self._store.close()
            self._store = None


class ThreadHub(Hub):
    """uvicorn in a thread of the test process."""

    def start(self) -> "ThreadHub":
        import uvicorn

        from fieldreport.hub import station
        from fieldreport.hub.app import HubState, create_app
        from fieldreport.hub.blobs import HubBlobs
        from fieldreport.hub.store import HubStore

        station.init(str(self.data_dir), self.db_url)
        self.server_store = HubStore.open(self.db_url)
        self.state = HubState(self.server_store, HubBlobs(self.data_dir / "blobs"))
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        cfg = uvicorn.Config(create_app(self.state), log_level="warning", lifespan="on")
        self.server = uvicorn.Server(cfg)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the hub did not start")
            time.sleep(0.01)
        self._sock = sock
        return self

    def close(self):
        super().close()
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self._sock.close()
        self.server_store.close()


class ProcessHub(Hub):
    """``fieldreport hub serve`` as a subprocess (``kill()`` sends SIGKILL, ``start()`` again)."""

    def __init__(self, data_dir: Path, db_url: str, *, cert: str | None = None, key: str | None = None):
        super().__init__(data_dir, db_url)
        self.port = free_port()
        self.tls = (cert, key) if cert else None
        self.url = f"{'https' if cert else 'http'}://127.0.0.1:{self.port}"
        self.proc = None
        from fieldreport.hub import station

        station.init(str(data_dir), db_url)

    def start(self) -> "ProcessHub":
        import httpx

        env = dict(os.environ, FIELDREPORT_HUB_HOME=str(self.data_dir))
        tls = ["--cert", self.tls[0], "--key", self.tls[1]] if self.tls else []
        self.proc = subprocess.Popen([PY, "-m", "fieldreport", "hub", "serve", "--port", str(self.port),
                                      "--log-level", "warning", *tls], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(self.url + "/v1/health", timeout=1, verify=self._verify()).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                out, err = self.proc.communicate(timeout=5)
                raise RuntimeError(f"hub did not start: {err.decode(errors='replace')[-2000:]}")
            time.sleep(0.05)

    def _verify(self):
        import ssl

        return ssl.create_default_context(cafile=self.tls[0]) if self.tls else True

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self):
        """Stop the server (SIGTERM) and let go of the database, as before a restore."""
        if self._store is not None:
            self._store.close()
            self._store = None
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def close(self):
        super().close()
        self.stop()


@pytest.fixture
def hub(tmp_path):
    h = ThreadHub(tmp_path / "hubdata", f"sqlite:///{tmp_path / 'hubdata' / 'hub.db'}").start()
    yield h
    h.close()


@contextlib.contextmanager
def pg_schema(pg_url: str):
    """A throwaway schema on the test PostgreSQL: the database URL that uses it, dropped after."""
    import sqlalchemy as sa

    schema = "t_" + uuid.uuid4().hex[:12]
    eng = sa.create_engine(pg_url)
    with eng.begin() as c:
        c.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{pg_url}?options=-csearch_path%3D{schema}"
    finally:
        with eng.begin() as c:
            c.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        eng.dispose()


@pytest.fixture
def hub_pg(tmp_path, pg_url):
    with pg_schema(pg_url) as url:
        h = ThreadHub(tmp_path / "hubdata", url).start()
        yield h
        h.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_hub(request, tmp_path):
    """The same test against both databases (the store's shared suite)."""
    name = "hub" if request.param == "sqlite" else "hub_pg"
    return request.getfixturevalue(name)


@pytest.fixture
def hub_process(tmp_path):
    h = ProcessHub(tmp_path / "hubproc", f"sqlite:///{tmp_path / 'hubproc' / 'hub.db'}").start()
    yield h
    h.close()
