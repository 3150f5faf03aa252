"""Helpers for the end-to-end sync tests: a laptop profile enrolled with a real hub, reports
added through the library, the hub's database read directly (what it really holds)."""

from __future__ import annotations

import os
import random
from pathlib import Path

import sqlalchemy as sa

from fieldreport.store import Store

PROFILE_ARGS = ("init", "--name", "王芳", "--officer-id", "A1024", "--role", "auxiliary-police", "--station",
                "城关派出所", "--area", "东村", "--grid", "3组", "--lang", "en", "--no-input")


class Laptop:
    def __init__(self, home: Path, hub, *, hub_url: str | None = None, officer_id: str = "A1024"):
        from fieldreport import profile as prof
        from fieldreport.blobs import BlobStore
        from fieldreport.paths import resolve

        self.home = home
        self.paths = resolve(str(home))
        self.store = Store.open(self.paths.store)
        self.blobs = BlobStore(self.paths.blobs)
        self.device_id = self.store.meta("device_id")
        dev = hub.device(officer_id=officer_id, device_id=self.device_id)
        self.token = dev.token
        p = prof.load(self.paths)
        p.hub_url = hub_url or hub.url
        prof.save(self.paths, p)
        prof.write_token(self.paths, self.token)
        self.hub = hub

    def add(self, n: int = 1, title: str = "楼道电动车充电", photos=()) -> list[dict]:
        from fieldreport import reports

        return [reports.add(self.store, self.blobs, {"kind": "hazard", "category": "ebike", "level": "orange",
                                                     "title": f"{title} {i}", "details": "电动车在楼道充电，堵塞通道" * 3,
                                                     "place": "东村3组12号", "photos": list(photos)}, author="A1024")
                for i in range(n)]

    def queued(self) -> set[str]:
        return {r[0] for r in self.store.conn.execute("SELECT op_id FROM outbox")}

    def engine(self, url: str | None = None, *, read_timeout: float = 0.5, **cfg):
        from fieldreport.sync.engine import Engine, SyncConfig
        from fieldreport.sync.transport import HttpTransport

        base = dict(connect_timeout=0.5, read_timeout=read_timeout, backoff_base=0.005, backoff_max=0.02,
                    max_failures=8, batch_initial=4, batch_max=64, chunk_size=16 * 1024)
        base.update(cfg)
        c = SyncConfig(**base)
        t = HttpTransport(url or self.hub.url, self.token, connect_timeout=c.connect_timeout,
                          read_timeout=c.read_timeout)
        return Engine(self.store, t, blobstore=self.blobs, config=c, hub_url=url or self.hub.url)

    def sync(self, url: str | None = None, **kw) -> dict:
        max_time = kw.pop("max_time", None)
        e = self.engine(url, **kw)
        e.max_time = max_time
        if max_time:
            import time

            e.deadline = time.monotonic() + max_time
        try:
            return e.run()
        finally:
            e.t.close()

    def close(self):
        self.store.close()


def hub_ops(hub, device_id: str) -> list[str]:
    """Every op_id the hub's database holds for the device (a list: a double would show)."""
    with hub.store.engine.connect() as c:
        return [r[0] for r in c.execute(sa.text("SELECT op_id FROM ops WHERE device_id = :d"), {"d": device_id})]


def hub_reports(hub, device_id: str) -> dict[str, dict]:
    with hub.store.engine.connect() as c:
        rows = c.execute(sa.text("SELECT id, case_code, status, dept FROM reports WHERE device_id = :d"),
                         {"d": device_id}).mappings().all()
    return {r["id"]: dict(r) for r in rows}


def assert_exactly_once(lap: Laptop) -> None:
    held = hub_ops(lap.hub, lap.device_id)
    assert len(held) == len(set(held)), "an operation is on the hub twice"
    queued = lap.queued()
    assert set(held) == queued, (f"lost: {len(queued - set(held))}, extra: {len(set(held) - queued)}")
    pending = lap.store.conn.execute("SELECT count(*) FROM outbox WHERE state = 'pending'").fetchone()[0]
    assert pending == 0
    # nothing is marked acknowledged that the hub lacks
    acked = {r[0] for r in lap.store.conn.execute("SELECT op_id FROM outbox WHERE state = 'acked'")}
    assert acked <= set(held)


def make_photo(path: Path, n: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    path.write_bytes(b"\xff\xd8\xff\xe0" + rng.randbytes(n))
    return str(path)


def trials(default: int) -> int:
    return int(os.environ.get("FIELDREPORT_SYNC_TRIALS", default))
