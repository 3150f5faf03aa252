"""Benchmark of `fieldreport sync` (issue 4).

1. Loopback: N queued reports (default 10,000) synced by a real `fieldreport sync` subprocess
   to a real SQLite hub (`fieldreport hub serve` subprocess): reports/s end to end and the
   client's peak memory (ru_maxrss of the sync process), at several queue sizes to show it
   stays flat (`--full` adds 100,000).
2. Weak link: the same client through an emulated link (its own proxy: one-way latency 300 ms,
   128 kbit/s up, 256 kbit/s down, random stalls): 500 reports and 5 photos of 100 KB.
   (a) the link's floor from the bytes that actually crossed it plus the round trips a sync
   cannot avoid (TCP handshake, one push, one pull, one blob query, HEAD + PATCH per photo)
   plus the stalls the link injected; (b) fieldreport's time and its ratio to that floor;
   (c) an OpenRosa-style baseline client posting one report per request (same link, same
   hub, its own device), timed on `--baseline-reports` reports (default 50) and scaled to the
   full count; bytes on the wire per report.

    .venv/bin/python bench/sync_bench.py            # ~3 minutes
    .venv/bin/python bench/sync_bench.py --full     # 100k queue, full 500-report baseline
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------------- hub + laptops
class Hub:
    def __init__(self, root: Path):
        from fieldreport.hub import station

        self.dir = root / "hub"
        self.db = f"sqlite:///{self.dir / 'hub.db'}"
        station.init(str(self.dir), self.db)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, FIELDREPORT_HUB_HOME=str(self.dir))
        self.proc = subprocess.Popen([PY, "-m", "fieldreport", "hub", "serve", "--port", str(self.port),
                                      "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL,
                                     stderr=open(root / "hub.log", "wb"))
        self.log = root / "hub.log"
        import requests

        for _ in range(400):
            try:
                if requests.get(self.url + "/v1/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.05)
        else:
            raise RuntimeError("hub did not start")

    def code(self, officer: str) -> str:
        from fieldreport.hub.store import HubStore

        with HubStore.open(self.db) as s:
            return s.issue_code(officer, "王芳", "东村", None, 72)["code"]

    def ops(self) -> int:
        import sqlalchemy as sa

        eng = sa.create_engine(self.db)
        with eng.connect() as c:
            n = c.execute(sa.text("SELECT count(*) FROM ops")).scalar()
        eng.dispose()
        return n

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:  # a half-open upload from a stopped client keeps it waiting
            self.proc.kill()
            self.proc.wait(timeout=20)


class Laptop:
    def __init__(self, root: Path, name: str, hub: Hub, officer: str):
        import requests

        from fieldreport import profile as prof
        from fieldreport.paths import resolve

        self.home = root / name
        self.env = dict(os.environ, FIELDREPORT_HOME=str(self.home), FIELDREPORT_LANG="en")
        subprocess.run([PY, "-m", "fieldreport", "init", "--name", "王芳", "--officer-id", officer, "--role",
                        "auxiliary-police", "--station", "城关派出所", "--area", "东村", "--lang", "en", "--no-input"],
                       env=self.env, check=True, capture_output=True)
        self.paths = resolve(str(self.home))
        from fieldreport.store import Store

        with Store.open(self.paths.store) as st:
            self.device_id = st.meta("device_id")
        r = requests.post(hub.url + "/v1/enroll", json={"code": hub.code(officer), "device_id": self.device_id,
                                                        "name": name}, timeout=10)
        r.raise_for_status()
        self.token = r.json()["token"]
        p = prof.load(self.paths)
        p.hub_url = hub.url
        prof.save(self.paths, p)
        prof.write_token(self.paths, self.token)

    def queue(self, n: int, photos: list[Path] = ()) -> None:
        from fieldreport import reports
        from fieldreport.blobs import BlobStore
        from fieldreport.store import Store

        rng = random.Random(n)
        with Store.open(self.paths.store) as st:
            blobs = BlobStore(self.paths.blobs)
            batch = []
            for i in range(n):
                f, ph = reports.prepare({"kind": "hazard", "category": "ebike", "level": "orange",
                                         "title": f"楼道电动车充电 {i}",
                                         "details": "三楼楼道有电动车整夜充电，堵塞消防通道，已口头告知住户。" * rng.randint(1, 3),
                                         "place": f"东村3组{i % 97}号", "lat": 30.1 + i * 1e-6, "lon": 120.2,
                                         "dept": "fire_rescue"}, blobs)
                batch.append((f, ph))
                if len(batch) == 2000 or i == n - 1:
                    items = [reports._store_photos(blobs, f, p) for f, p in batch]
                    st.insert_reports(items, author="A1024")
                    batch = []
            for i, p in enumerate(photos):
                rid = st.conn.execute("SELECT id FROM reports ORDER BY created_at LIMIT 1 OFFSET ?", (i,)).fetchone()[0]
                reports.update(st, blobs, rid, photos=[str(p)], author="A1024")

    def sync(self, url: str | None = None, extra_env: dict | None = None) -> tuple[dict, float, int]:
        """Run `fieldreport sync --json` as a subprocess: (summary, wall seconds, peak RSS KiB)."""
        env = dict(self.env, **(extra_env or {}))
        args = [PY, "-m", "fieldreport", "sync", "--json"] + (["--hub", url] if url else [])
        t0 = time.perf_counter()
        p = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out = p.stdout.read()
        err = p.stderr.read()
        _pid, status, ru = os.wait4(p.pid, 0)
        dt = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        try:
            res = json.loads(out)
        except ValueError:
            raise RuntimeError(f"sync failed ({p.returncode}): {err.decode()[-2000:]}") from None
        res["_cpu_s"] = ru.ru_utime + ru.ru_stime
        return res, dt, ru.ru_maxrss


# ----------------------------------------------------------------------------- weak link
class WeakLink:
    """One-way latency, a bandwidth per direction, random stalls. Bytes are delivered as the
    link would: serialised at the bandwidth, then delayed by the latency."""

    def __init__(self, upstream: int, latency=0.3, up_bps=128_000, down_bps=256_000, stall_every=20.0,
                 stall_len=(0.5, 1.5), seed=1):
        self.upstream, self.latency, self.up, self.down = upstream, latency, up_bps, down_bps
        self.rng = random.Random(seed)
        self.stall_every, self.stall_len = stall_every, stall_len
        self.bytes_up = self.bytes_down = 0
        self.stalled = 0.0
        self.connections = 0
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run():
            asyncio.set_event_loop(self.loop)
            self.server = self.loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
            self.port = self.server.sockets[0].getsockname()[1]
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait()
        self.url = f"http://127.0.0.1:{self.port}"
        self._line_free = {"up": 0.0, "down": 0.0}
        self._next_stall = time.monotonic() + self.rng.expovariate(1 / stall_every)

    def reset(self):
        self.bytes_up = self.bytes_down = 0
        self.stalled = 0.0
        self.connections = 0

    def _transmit(self, direction: str, n: int) -> float:
        """When the last of n bytes leaves the sender (serialisation at the bandwidth, stalls)."""
        now = time.monotonic()
        start = max(now, self._line_free[direction])
        if start >= self._next_stall:
            d = self.rng.uniform(*self.stall_len)
            self.stalled += d
            start += d
            self._next_stall = start + self.rng.expovariate(1 / self.stall_every)
        bps = self.up if direction == "up" else self.down
        done = start + n * 8 / bps
        self._line_free[direction] = done
        return done

    async def _pipe(self, r, w, direction: str):
        q: asyncio.Queue = asyncio.Queue()

        async def deliver():
            while True:
                item = await q.get()
                if item is None:
                    try:
                        w.write_eof()
                    except OSError:
                        pass
                    return
                at, data = item
                delay = at - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                w.write(data)
                await w.drain()

        t = asyncio.ensure_future(deliver())
        try:
            while True:
                data = await r.read(1460)
                if not data:
                    break
                if direction == "up":
                    self.bytes_up += len(data) + 40
                else:
                    self.bytes_down += len(data) + 40
                done = self._transmit(direction, len(data) + 40)
                await q.put((done + self.latency, data))
        except (ConnectionError, OSError):
            pass
        await q.put(None)
        await t

    async def _client(self, cr, cw):
        self.connections += 1
        await asyncio.sleep(2 * self.latency)       # the TCP handshake over the link
        ur, uw = await asyncio.open_connection("127.0.0.1", self.upstream)
        try:
            await asyncio.gather(self._pipe(cr, uw, "up"), self._pipe(ur, cw, "down"))
        except Exception:  # noqa: BLE001
            pass
        finally:
            cw.close()
            uw.close()

    def close(self):
        self.loop.call_soon_threadsafe(self.loop.stop)


def baseline_sync(lap: Laptop, url: str, limit: int) -> tuple[float, int]:
    """An OpenRosa-style client: one report per request, uncompressed, waits for each answer;
    photos in one request each. Returns (seconds, reports sent)."""
    import requests

    from fieldreport.store import Store
    from fieldreport.sync.engine import push_body

    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {lap.token}"
    with Store.open(lap.paths.store) as st:
        rows = st.conn.execute("SELECT seq, op_id, type, entity, payload, clock, ts, prev_hash, hash FROM outbox "
                               "WHERE state = 'pending' ORDER BY seq LIMIT ?", (limit,)).fetchall()
        blobs = st.conn.execute("SELECT sha256 FROM blobs").fetchall()
    t0 = time.perf_counter()
    for r in rows:
        resp = s.post(url + "/v1/push", data=push_body(lap.device_id, None, [r]),
                      headers={"Content-Type": "application/json"}, timeout=(30, 120))
        resp.raise_for_status()
    dt = time.perf_counter() - t0
    return dt, len(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reports", type=int, default=10_000)
    ap.add_argument("--sizes", default="2000,10000", help="queue sizes for the memory check")
    ap.add_argument("--full", action="store_true", help="add a 100,000 queue and the full baseline")
    ap.add_argument("--weak-reports", type=int, default=500)
    ap.add_argument("--weak-photos", type=int, default=5)
    ap.add_argument("--baseline-reports", type=int, default=50)
    ap.add_argument("--skip-weak", action="store_true")
    ap.add_argument("--skip-loopback", action="store_true")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    sizes = sorted({int(x) for x in a.sizes.split(",")} | {a.reports} | ({100_000} if a.full else set()))
    if a.full:
        a.baseline_reports = a.weak_reports
    out: dict = {"loopback": [], "weak": None}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        hub = Hub(root)
        try:
            if not a.skip_loopback:
                for n in sizes:
                    lap = Laptop(root, f"lap{n}", hub, f"L{n}")
                    t = time.perf_counter()
                    lap.queue(n)
                    qt = time.perf_counter() - t
                    res, dt, rss = lap.sync()
                    if not (res["outcome"] == "done" and res["applied"] == n):
                        print(hub.log.read_text()[-3000:])
                        raise SystemExit(f"sync did not finish: {res}")
                    row = {"reports": n, "seconds": round(dt, 2), "reports_per_s": round(n / dt),
                           "peak_rss_mib": round(rss / 1024, 1), "batches": res["batches"],
                           "client_cpu_s": round(res["_cpu_s"], 2),
                           "bytes_up_per_report": round(res["bytes_up"] / n, 1), "queue_s": round(qt, 1)}
                    out["loopback"].append(row)
                    print(f"loopback  {n:>7} reports  {dt:6.2f} s  {n / dt:8.0f} reports/s  peak RSS "
                          f"{rss / 1024:6.1f} MiB  client CPU {res['_cpu_s']:.2f} s ({n / res['_cpu_s']:.0f} reports per client CPU-s)  ({res['batches']} batches, {res['bytes_up'] / n:.0f} B/report up)",
                          flush=True)
            if not a.skip_weak:
                out["weak"] = weak(root, hub, a)
        finally:
            hub.stop()
    if a.json:
        print(json.dumps(out, indent=2))
    return 0


def weak(root: Path, hub: Hub, a) -> dict:
    link = WeakLink(hub.port)
    photos = []
    for i in range(a.weak_photos):
        p = root / f"photo{i}.jpg"
        p.write_bytes(b"\xff\xd8\xff\xe0" + random.Random(i).randbytes(100 * 1024 - 4))
        photos.append(p)
    lap = Laptop(root, "weak", hub, "W1")
    lap.queue(a.weak_reports, photos)
    link.reset()
    env = {"FIELDREPORT_SYNC_READ_TIMEOUT": "60", "FIELDREPORT_SYNC_CONNECT_TIMEOUT": "20"}
    res, dt, rss = lap.sync(link.url, env)
    assert res["outcome"] == "done", res
    rtt = 2 * link.latency
    up, down = link.bytes_up, link.bytes_down
    needed_rtts = 1 + 1 + 1 + 1 + 2 * a.weak_photos     # handshake, push, pull, blobs/missing, HEAD+PATCH each
    floor = up * 8 / link.up + down * 8 / link.down + needed_rtts * rtt + link.stalled
    report_bytes = up - sum(p.stat().st_size for p in photos)
    w = {"reports": a.weak_reports, "photos": a.weak_photos, "seconds": round(dt, 1), "floor_s": round(floor, 1),
         "ratio_to_floor": round(dt / floor, 2), "bytes_up": up, "bytes_down": down, "stalls_s": round(link.stalled, 1),
         "requests": res["requests"], "batches": res["batches"],
         "wire_bytes_per_report": round(report_bytes / a.weak_reports, 1), "connections": link.connections,
         "peak_rss_mib": round(rss / 1024, 1)}
    print(f"weak link fieldreport: {dt:.1f} s for {a.weak_reports} reports + {a.weak_photos} photos; floor "
          f"{floor:.1f} s (up {up} B, down {down} B, {needed_rtts} RTT, stalls {link.stalled:.1f} s) → "
          f"{dt / floor:.2f}× floor; {w['wire_bytes_per_report']:.0f} B on the wire per report (compressed, "
          f"headers and TCP/IP overhead included); {res['requests']} requests", flush=True)
    base = Laptop(root, "baseline", hub, "B1")
    base.queue(a.weak_reports)
    link.reset()
    bt, bn = baseline_sync(base, link.url, a.baseline_reports)
    per = bt / bn
    est = per * a.weak_reports
    # fieldreport's time for the reports alone (no photos) is what the baseline is compared with
    lap2 = Laptop(root, "weak2", hub, "W2")
    lap2.queue(a.weak_reports)
    link.reset()
    res2, dt2, _ = lap2.sync(link.url, env)
    w.update({"baseline_s_per_report": round(per, 3), "baseline_reports_timed": bn,
              "baseline_estimated_s": round(est, 1), "fieldreport_reports_only_s": round(dt2, 1),
              "speedup_vs_baseline": round(est / dt2, 1),
              "baseline_bytes_per_report": round(link.bytes_up / max(1, bn), 1)})
    print(f"weak link baseline (one report per request): {per:.2f} s per report, timed on {bn} → {est:.0f} s for "
          f"{a.weak_reports}; fieldreport (reports only) {dt2:.1f} s → {est / dt2:.1f}× faster; baseline "
          f"{w['baseline_bytes_per_report']:.0f} B up per report", flush=True)
    link.close()
    return w


if __name__ == "__main__":
    sys.exit(main())
