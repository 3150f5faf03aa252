"""Hub ingest: how many operations a second a real ``fieldreport hub serve`` applies when one
laptop pushes gzip batches of report.create operations over loopback.

    .venv/bin/python bench/hub_ingest.py --ops 20000 --batch 500
    .venv/bin/python bench/hub_ingest.py --db postgresql://postgres@127.0.0.1/test_bench

Prints one JSON line: ops/s for fresh operations, ops/s for a full re-push (all duplicates),
and the p50/max time of a batch.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ops", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--db", default=None, help="database URL (default: a fresh SQLite file)")
    args = ap.parse_args()

    import httpx

    from fieldreport import ids
    from fieldreport.canon import op_hash
    from fieldreport.hub import station
    from fieldreport.hub.store import HubStore

    tmp = Path(tempfile.mkdtemp(prefix="hubbench-"))
    db = args.db or f"sqlite:///{tmp / 'hub.db'}"
    station.init(str(tmp), db)
    with HubStore.open(db) as s:
        code = s.issue_code("A1024", "王芳", "东村")["code"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = dict(os.environ, FIELDREPORT_HUB_HOME=str(tmp))
    proc = subprocess.Popen([sys.executable, "-m", "fieldreport", "hub", "serve", "--port", str(port),
                             "--log-level", "warning"], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(url + "/v1/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        dev_id = ids.uuid7()
        token = httpx.post(url + "/v1/enroll", json={"code": code, "device_id": dev_id}).json()["token"]
        ops, prev = [], None
        for i in range(1, args.ops + 1):
            op = {"op_id": ids.uuid7(), "device_id": dev_id, "seq": i, "clock": i, "ts": ids.now_iso(),
                  "type": "report.create", "entity": ids.uuid7(),
                  "payload": {"kind": "hazard", "category": "ebike", "level": "orange", "title": f"楼道电动车充电 {i}",
                              "details": "三楼楼道有两辆电动车在充电，插线板从窗户拉出。", "place": "东村3组12号",
                              "parties": [], "photos": [], "ref": f"R-{i:04d}", "status": "registered",
                              "created_at": ids.now_iso(), "author": "A1024"},
                  "prev_hash": prev}
            op["hash"] = prev = op_hash(op)
            ops.append(op)
        bodies = [gzip.compress(json.dumps({"device_id": dev_id, "epoch": None, "ops": ops[i:i + args.batch]},
                                           ensure_ascii=False).encode())
                  for i in range(0, len(ops), args.batch)]
        client = httpx.Client(base_url=url, timeout=120, headers={"Authorization": f"Bearer {token}",
                                                                  "Content-Type": "application/json",
                                                                  "Content-Encoding": "gzip"})

        def run() -> tuple[float, list[float]]:
            times = []
            t0 = time.perf_counter()
            for b in bodies:
                t1 = time.perf_counter()
                r = client.post("/v1/push", content=b)
                assert r.status_code == 200, r.text
                times.append(time.perf_counter() - t1)
            return time.perf_counter() - t0, times

        fresh, times = run()
        dup, _ = run()
        times.sort()
        print(json.dumps({"db": db.split(":")[0], "ops": args.ops, "batch": args.batch,
                          "fresh_ops_per_s": round(args.ops / fresh), "duplicate_ops_per_s": round(args.ops / dup),
                          "batch_p50_ms": round(times[len(times) // 2] * 1000, 1),
                          "batch_max_ms": round(times[-1] * 1000, 1),
                          "gzip_batch_kb": round(sum(map(len, bodies)) / len(bodies) / 1024, 1)}))
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
