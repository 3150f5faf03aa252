"""Hub ingest: how many operations a second a real ``fieldreport hub serve`` (a subprocess,
real HTTP on loopback) applies when several laptops push gzip batches of ``report.create``
operations at once — SQLite and PostgreSQL side by side in one run, against the goals of
issue 3.

    .venv/bin/python bench/hub_ingest.py                 # both backends, serve --workers 2 and 1, ~1-2 min
    .venv/bin/python bench/hub_ingest.py --full          # + the SQLite hub already holding 2M operations
    .venv/bin/python bench/hub_ingest.py --backends sqlite --ops 40000 --json

Each device's operations are built (hashed, chained) and gzipped before the clock starts;
each device pushes its batches one after the other on its own keep-alive connection, all
devices at once. Figures: fresh operations applied per second (wall time of the whole run),
p50/p99 latency of one push, the same batches pushed again (all duplicates), and the hub's
resident memory (peak, from /proc). Every answer is checked: all applied, one case code each.
PostgreSQL: a throwaway database on FIELDREPORT_BENCH_PG (default
postgresql://postgres@127.0.0.1:5432/test), dropped afterwards.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

GOALS = {"sqlite": 15_000, "postgresql": 10_000, "sqlite_2m": 10_000, "p99_ms": 300}
PG_BASE = os.environ.get("FIELDREPORT_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
# ~330 bytes of Chinese text per operation (title + details + place), as a real hazard report
DETAILS = ("三楼楼道有两辆电动车在充电，插线板从窗户拉出，旁边堆放纸箱和旧家具，楼道狭窄，"
           "住户反映夜间经常有人充电到天亮，已口头提醒房东，需要消防部门上门检查。")
PLACE = "东村3组12号出租屋"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tree(pid: int) -> list[int]:
    """The process and its descendants (``serve --workers`` runs its workers as children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    return out


def _rss_kb(pid: int) -> dict[str, int]:
    """Resident memory of the hub (all its processes): now, and the sum of each one's peak."""
    out = {"VmRSS": 0, "VmHWM": 0}
    for p in _tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                k, _, v = line.partition(":")
                if k in out:
                    out[k] += int(v.split()[0])
        except OSError:
            pass
    return out


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds the hub's processes have used so far."""
    total = 0.0
    for p in _tree(pid):
        try:
            f = Path(f"/proc/{p}/stat").read_text().rpartition(")")[2].split()
            total += (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            pass
    return total


def _machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine so far (/proc/stat)."""
    f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = f[3] + f[4]
    return sum(f) - idle, sum(f)


def make_ops(dev_id: str, officer: str, n: int, first_seq: int = 1, prev: str | None = None) -> list[dict]:
    from fieldreport import ids
    from fieldreport.canon import op_hash

    ops = []
    for i in range(first_seq, first_seq + n):
        now = ids.now_iso()
        op = {"op_id": ids.uuid7(), "device_id": dev_id, "seq": i, "clock": i, "ts": now, "type": "report.create",
              "entity": ids.uuid7(),
              "payload": {"kind": "hazard", "category": "ebike", "level": "orange", "title": f"楼道电动车充电隐患 第{i}号",
                          "details": DETAILS, "place": PLACE, "parties": [], "photos": [], "ref": f"R-{i:06d}",
                          "status": "registered", "created_at": now, "author": officer},
              "prev_hash": prev}
        op["hash"] = prev = op_hash(op)
        ops.append(op)
    return ops


class Bench:
    """One hub (a database URL and a data folder) with ``devices`` enrolled laptops."""

    def __init__(self, db_url: str, data_dir: Path, devices: int, workers: int = 1):
        from fieldreport.hub import station
        from fieldreport.hub.store import HubStore

        self.db_url, self.data_dir, self.workers = db_url, data_dir, workers
        station.init(str(data_dir), db_url)
        self.codes = []
        with HubStore.open(db_url) as s:
            for i in range(devices):
                self.codes.append((f"A{1000 + i}", s.issue_code(f"A{1000 + i}", f"警员{i}", "东村")["code"]))
        self.port = _free_port()
        self.proc = None
        self.devices: list[dict] = []

    def start(self) -> None:
        env = dict(os.environ, FIELDREPORT_HUB_HOME=str(self.data_dir))
        self.proc = subprocess.Popen([sys.executable, "-m", "fieldreport", "hub", "serve", "--port", str(self.port),
                                      "--log-level", "warning", "--workers", str(self.workers)], env=env)
        deadline = time.monotonic() + 30
        while True:
            try:
                status, _ = self.request("GET", "/v1/health")
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit("the hub did not start")
            time.sleep(0.05)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def enroll(self) -> None:
        from fieldreport import ids

        for officer, code in self.codes:
            dev_id = ids.uuid7()
            status, body = self.request("POST", "/v1/enroll", json.dumps({"code": code, "device_id": dev_id}).encode(),
                                        {"Content-Type": "application/json"})
            assert status == 200, body
            self.devices.append({"device_id": dev_id, "officer": officer, "token": json.loads(body)["token"],
                                 "seq": 0, "prev": None})

    def batches(self, per_device: int, batch: int) -> list[list[bytes]]:
        out = []
        for d in self.devices:
            ops = make_ops(d["device_id"], d["officer"], per_device, d["seq"] + 1, d["prev"])
            d["seq"], d["prev"] = ops[-1]["seq"], ops[-1]["hash"]
            out.append([gzip.compress(json.dumps({"device_id": d["device_id"], "epoch": None,
                                                  "ops": ops[i:i + batch]}, ensure_ascii=False).encode(), 6)
                        for i in range(0, len(ops), batch)])
        return out

    def push_all(self, bodies: list[list[bytes]], expect: str) -> dict:
        """Every device pushes its batches at once; (wall seconds, latencies, ops answered)."""
        lat: list[float] = []
        counts = {"ops": 0, "bad": 0}
        lock = threading.Lock()
        errors: list[str] = []

        def run(dev: dict, mine: list[bytes]):
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            headers = {"Authorization": f"Bearer {dev['token']}", "Content-Type": "application/json",
                       "Content-Encoding": "gzip"}
            try:
                for b in mine:
                    t0 = time.perf_counter()
                    conn.request("POST", "/v1/push", body=b, headers=headers)
                    r = conn.getresponse()
                    raw = r.read()
                    dt = time.perf_counter() - t0
                    if r.status != 200:
                        errors.append(f"{r.status} {raw[:200]!r}")
                        return
                    res = json.loads(raw)["results"]
                    bad = sum(1 for x in res if x["status"] != expect or (expect == "applied" and not x.get("case_code")))
                    with lock:
                        lat.append(dt)
                        counts["ops"] += len(res)
                        counts["bad"] += bad
            finally:
                conn.close()

        threads = [threading.Thread(target=run, args=(d, b)) for d, b in zip(self.devices, bodies)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        if errors:
            raise SystemExit(f"push failed: {errors[0]}")
        lat.sort()
        return {"wall_s": wall, "ops": counts["ops"], "bad": counts["bad"], "ops_per_s": counts["ops"] / wall,
                "p50_ms": lat[len(lat) // 2] * 1000, "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000,
                "max_ms": lat[-1] * 1000}

    def held(self) -> tuple[int, int]:
        import sqlalchemy as sa

        from fieldreport.hub import store_schema as t
        from fieldreport.hub.store import HubStore

        with HubStore.open(self.db_url) as s, s.engine.connect() as c:
            n = c.execute(sa.select(sa.func.count()).select_from(t.ops)).scalar()
            codes = c.execute(sa.select(sa.func.count(sa.distinct(t.reports.c.case_code)))).scalar()
        return int(n), int(codes)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def seed(db_url: str, total: int, devices: int = 40, chunk: int = 50_000) -> float:
    """Put ``total`` report.create operations (ledger, reports, history, pull feed) straight
    into the hub's tables through the store's bulk insert, in big transactions, as if
    ``devices`` other laptops had pushed them. Returns seconds taken."""
    from fieldreport import ids
    from fieldreport.hub import store_schema as t
    from fieldreport.hub.store import HubStore, dumps, insert_rows

    t0 = time.perf_counter()
    with HubStore.open(db_url) as s:
        prefix, year = s.prefix, ids.utc_now_iso()[:4]
        dev_ids = [f"seed-{i:03d}" for i in range(devices)]
        with s.write() as c:
            insert_rows(c, t.officers, ("officer_id", "name", "area", "role", "created_at"),
                        [(f"S{i:03d}", f"种子{i}", f"村{i % 7}", None, ids.utc_now_iso()) for i in range(devices)])
            insert_rows(c, t.devices, ("device_id", "officer_id", "name", "token_hash", "enrolled_at", "acked_through"),
                        [(d, f"S{i:03d}", "", uuid.uuid4().hex * 2, ids.utc_now_iso(), 0)
                         for i, d in enumerate(dev_ids)])
        per_dev = total // devices
        done = 0
        seqs = [0] * devices
        payload_base = {"kind": "hazard", "category": "ebike", "level": "orange", "details": DETAILS, "place": PLACE,
                        "parties": [], "photos": [], "status": "registered"}
        while done < total:
            n = min(chunk, total - done)
            now = ids.utc_now_iso()
            ops, reps, hist, changes = [], [], [], []
            with s.write() as c:
                code0 = s._bump(c, f"case:{year}", n) - n
                cur0 = s._bump(c, "cursor", n) - n
                for k in range(n):
                    d = (done + k) % devices
                    seqs[d] += 1
                    seq = seqs[d]
                    op_id, ent = ids.uuid7(), ids.uuid7()
                    title = f"楼道电动车充电隐患 第{seq}号"
                    payload = dumps({**payload_base, "title": title, "ref": f"R-{seq:06d}", "created_at": now,
                                     "author": f"S{d:03d}"})
                    code = f"{prefix}-{year}-{code0 + k + 1:06d}"
                    result = dumps({"op_id": op_id, "seq": seq, "status": "applied", "case_code": code})
                    ops.append((op_id, dev_ids[d], seq, seq, now, "report.create", ent, payload, None,
                                uuid.uuid4().hex * 2, now, "applied", result))
                    reps.append((ent, code, f"R-{seq:06d}", dev_ids[d], f"S{d:03d}", f"村{d % 7}", "hazard", "ebike",
                                 "orange", title, DETAILS, PLACE, None, None, None, None, None, None, None, None,
                                 "registered", None, False, f"S{d:03d}", now, now, now))
                    hist.append((ent, op_id, "field", "report.create",
                                 dumps({"case_code": code, "status": "registered"}), f"S{d:03d}", now))
                    changes.append((cur0 + k + 1, "report.case_code", ent, dumps({"case_code": code}), now,
                                    dev_ids[d], None, None))
                insert_rows(c, t.ops, tuple(col.name for col in t.ops.columns), ops)
                insert_rows(c, t.reports, tuple(col.name for col in t.reports.columns), reps)
                insert_rows(c, t.history, ("entity", "op_id", "source", "type", "detail", "by", "at"), hist)
                insert_rows(c, t.changes, ("cursor", "type", "entity", "payload", "ts", "device_id", "officer_id",
                                           "area"), changes)
            done += n
            print(f"  seeded {done:,} operations ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
        with s.write() as c:
            for d, n in zip(dev_ids, seqs):
                c.execute(t.devices.update().where(t.devices.c.device_id == d).values(acked_through=n))
    return time.perf_counter() - t0


def run_backend(name: str, db_url: str, data_dir: Path, args, workers: int, *, seed_ops: int = 0) -> dict:
    b = Bench(db_url, data_dir, args.devices, workers)
    out: dict = {"backend": name, "workers": workers}
    if seed_ops:
        out["seed_s"] = round(seed(db_url, seed_ops), 1)
        out["held_before"] = seed_ops
    b.start()
    try:
        b.enroll()
        per_dev = args.ops // args.devices
        warm = b.batches(args.batch, args.batch)  # one batch each: connections, caches, statements
        b.push_all(warm, "applied")
        bodies = b.batches(per_dev, args.batch)
        cpu0, m0 = _cpu_s(b.proc.pid), _machine_busy()
        fresh = b.push_all(bodies, "applied")
        cpu, m1 = _cpu_s(b.proc.pid) - cpu0, _machine_busy()
        rss = _rss_kb(b.proc.pid)
        dup = b.push_all(bodies, "duplicate")
        held, codes = b.held()
        expect = seed_ops + (per_dev + args.batch) * args.devices
        out.update({
            "ops": fresh["ops"], "devices": args.devices, "batch": args.batch,
            "ops_per_s": round(fresh["ops_per_s"]), "p50_ms": round(fresh["p50_ms"], 1),
            "p99_ms": round(fresh["p99_ms"], 1), "max_ms": round(fresh["max_ms"], 1),
            "duplicate_ops_per_s": round(dup["ops_per_s"]),
            "hub_cpu_us_per_op": round(cpu / fresh["ops"] * 1e6, 1),
            "hub_cores": round(cpu / fresh["wall_s"], 2),
            "machine_busy": f"{(m1[0] - m0[0]) / max(1, m1[1] - m0[1]):.0%}",
            "rss_mb": round(rss.get("VmRSS", 0) / 1024), "peak_rss_mb": round(rss.get("VmHWM", 0) / 1024),
            "gzip_batch_kb": round(sum(map(len, bodies[0])) / len(bodies[0]) / 1024, 1),
            "all_answers_ok": fresh["bad"] == 0 and dup["bad"] == 0, "held_ok": held == expect and codes == held,
        })
    finally:
        b.stop()
    return out


def _pg_database():
    import psycopg

    name = f"fr_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = psycopg.connect(PG_BASE, autocommit=True, connect_timeout=5)
    admin.execute(f'CREATE DATABASE "{name}"')
    head, _, _ = PG_BASE.rpartition("/")
    return admin, name, f"{head}/{name}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ops", type=int, default=60_000, help="fresh operations per backend (all devices together)")
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--devices", type=int, default=4)
    ap.add_argument("--workers", default="2,1", help="hub serve --workers: one run per value (default 2,1)")
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--full", action="store_true", help="also: the SQLite hub already holding --seed operations")
    ap.add_argument("--seed", type=int, default=2_000_000)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON lines only")
    args = ap.parse_args()

    results = []
    workers = [int(w) for w in str(args.workers).split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="hubbench-"))
    try:
        for w in workers:
            for name in filter(None, args.backends.split(",")):
                if name == "sqlite":
                    d = tmp / f"sqlite-{w}"
                    results.append(run_backend("sqlite", f"sqlite:///{d / 'hub.db'}", d, args, w))
                elif name == "postgresql":
                    try:
                        admin, dbname, url = _pg_database()
                    except Exception as e:  # noqa: BLE001
                        print(f"postgresql: skipped ({type(e).__name__}: {e})", file=sys.stderr)
                        continue
                    try:
                        results.append(run_backend("postgresql", url, tmp / f"pg-{w}", args, w))
                    finally:
                        admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
                        admin.close()
                else:
                    raise SystemExit(f"unknown backend {name!r}")
        if args.full:
            d = tmp / "sqlite2m"
            r = run_backend("sqlite", f"sqlite:///{d / 'hub.db'}", d, args, max(workers), seed_ops=args.seed)
            r["backend"] = f"sqlite+{args.seed // 1_000_000}M" if args.seed >= 1_000_000 else f"sqlite+{args.seed}"
            results.append(r)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    for r in results:
        goal = GOALS["sqlite_2m"] if "+" in r["backend"] else GOALS.get(r["backend"])
        r["goal_ops_per_s"] = goal
        r["vs_goal"] = round(r["ops_per_s"] / goal, 2) if goal else None
        r["p99_vs_goal"] = round(r["p99_ms"] / GOALS["p99_ms"], 2)
    if args.json:
        for r in results:
            print(json.dumps(r, ensure_ascii=False))
        return
    cols = [("backend", "backend"), ("workers", "workers"), ("ops", "new ops"), ("ops_per_s", "ops/s"), ("goal_ops_per_s", "goal"),
            ("vs_goal", "×goal"), ("p50_ms", "p50 ms"), ("p99_ms", "p99 ms"), ("p99_vs_goal", "p99/300"),
            ("duplicate_ops_per_s", "dup ops/s"),
            ("hub_cpu_us_per_op", "hub CPU µs/op"), ("hub_cores", "hub cores"),
            ("machine_busy", "machine busy"), ("rss_mb", "RSS MB"), ("peak_rss_mb", "peak MB"),
            ("all_answers_ok", "answers ok"), ("held_ok", "held ok")]
    print(f"{args.devices} devices at once, {args.batch}-op gzip batches "
          f"(~{results[0]['gzip_batch_kb'] if results else '?'} KB), real HTTP on loopback, {os.cpu_count()} cores")
    widths = [max(len(h), *(len(str(r.get(k))) for r in results)) for k, h in cols]
    print("  ".join(h.rjust(w) for (_, h), w in zip(cols, widths)))
    for r in results:
        print("  ".join(str(r.get(k)).rjust(w) for (k, _), w in zip(cols, widths)))
    for r in results:
        if "seed_s" in r:
            print(f"{r['backend']}: {r['held_before']:,} operations seeded in {r['seed_s']} s before the run")


if __name__ == "__main__":
    main()
