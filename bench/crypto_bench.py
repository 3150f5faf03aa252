"""The cost of encryption at rest (issue 6), as a ratio to the plain store, same machine, same run.

Two laptops' homes with the same N reports (each with a party carrying a name, an ID number
and a phone number): one plain, one converted with `fieldreport encrypt`. Then, interleaved
so machine load hits both alike (median of --runs):

  * `fieldreport add` end to end (a real process: scrypt key derivation + SQLCipher + a sealed photo)
  * `fieldreport list` (newest 50), `list --search 电动车` (trigram), `list --search 燃气`
    (2 characters: a LIKE scan of the whole table — every page decrypted), `list --unsynced`
  * in process, without process start-up or key derivation: 1,000 `Store.insert_report` and
    1,000 `list_reports(limit=50)` — SQLCipher's own cost per write and per read
  * the key derivation alone (scrypt n=2^15, r=8) and the time to convert the N-report store

    .venv/bin/python bench/crypto_bench.py [--runs 11] [--reports 100000]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
PASS = "bench passphrase 东村"
sys.path.insert(0, str(ROOT / "src"))


def run(cmd, env):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{cmd[2:5]} failed: {p.stderr.decode()[-800:]}")
    return dt


def seed(home: Path, n: int) -> None:
    from fieldreport.store import Store

    words = ["电动车", "燃气", "消防通道", "私拉电线", "邻里纠纷", "欠薪", "危房", "网吧", "群租", "液化气瓶"]
    places = ["东村", "西村", "南湾", "北岭", "城关"]
    s = Store.open(home / "fieldreport.db")
    batch = []
    for i in range(n):
        w = words[i % len(words)]
        batch.append(({"kind": "dispute" if i % 3 == 0 else "hazard", "category": "neighbour" if i % 3 == 0 else "fire",
                       "level": "yellow", "title": f"{w}隐患排查第{i}号",
                       "details": f"{places[i % 5]}{i % 40}组发现{w}问题，已建议整改。" * 2,
                       "place": f"{places[i % 5]}{i % 40}组{i % 97}号", "lat": 30.5, "lon": 114.3, "dept": "fire_rescue",
                       "parties": [{"name": f"张{i % 1000}", "role": "applicant", "id": "11010519491231002X",
                                    "phone": f"138{i % 100000000:08d}", "address": f"{places[i % 5]}{i % 97}号"}],
                       "photos": []}, "registered"))
        if len(batch) == 5000:
            s.insert_reports(batch, author="B1")
            batch = []
    if batch:
        s.insert_reports(batch, author="B1")
    with s.write() as c:
        c.execute("UPDATE outbox SET state = 'acked' WHERE seq % 100 != 0")
    s.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    s.close()


def in_process(home: Path, key: str | None, n: int) -> tuple[float, float]:
    from fieldreport.store import Store

    s = Store.open(home / "fieldreport.db", key=key)
    try:
        t0 = time.perf_counter()
        for i in range(n):
            s.insert_report({"kind": "dispute", "category": "neighbour", "level": "yellow", "title": f"邻里纠纷{i}",
                             "details": "3单元一楼楼道停放电动自行车2辆", "place": "东村3组12号",
                             "parties": [{"name": "李四", "role": "applicant", "id": "11010519491231002X",
                                          "phone": "13812345678"}], "photos": []}, author="B1")
        w = (time.perf_counter() - t0) / n
        t0 = time.perf_counter()
        for _ in range(n):
            s.list_reports(limit=50)
        r = (time.perf_counter() - t0) / n
    finally:
        s.close()
    return w, r


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--reports", type=int, default=100_000)
    ap.add_argument("--inproc", type=int, default=1000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="frcrypto-"))
    photo = tmp / "楼道.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200_000))
    envs = {}
    fr = [PY, "-m", "fieldreport"]
    for name in ("plain", "encrypted"):
        env = dict(os.environ, FIELDREPORT_HOME=str(tmp / name), FIELDREPORT_LANG="en")
        env.pop("FIELDREPORT_PASSPHRASE", None)
        subprocess.run(fr + ["init", "--name", "测", "--officer-id", "B1", "--role", "auxiliary-police", "--station",
                             "s", "--area", "a", "--no-input"], env=env, check=True, capture_output=True)
        envs[name] = env
    t0 = time.perf_counter()
    seed(tmp / "plain", args.reports)
    seeded = time.perf_counter() - t0
    shutil.rmtree(tmp / "encrypted")
    shutil.copytree(tmp / "plain", tmp / "encrypted")
    envs["encrypted"]["FIELDREPORT_PASSPHRASE"] = PASS
    convert = run(fr + ["encrypt"], envs["encrypted"])
    sizes = {k: (tmp / k / "fieldreport.db").stat().st_size for k in envs}

    from fieldreport import crypto

    t0 = time.perf_counter()
    keys = crypto.unlock(tmp / "encrypted", PASS)
    kdf = time.perf_counter() - t0

    add = ["add", "--kind", "dispute", "--category", "neighbour", "--level", "yellow", "--title", "楼道电动车充电引发邻里纠纷",
           "--details", "3单元一楼楼道停放电动自行车2辆，私拉电线充电", "--place", "东村3组12号",
           "--party", "name=李四;role=applicant;id=11010519491231002X;phone=13812345678", "--no-input"]
    add_photo = add + ["--photo", str(photo)]
    cmds = {
        "add": add,
        "add --photo (200 KB)": add_photo,
        "list (newest 50)": ["list"],
        "list --search 电动车 (trigram)": ["list", "--search", "电动车"],
        "list --search 燃气 (LIKE scan)": ["list", "--search", "燃气"],
        "list --unsynced": ["list", "--unsynced"],
    }
    for name, env in envs.items():  # warm caches and .pyc
        for c in cmds.values():
            run(fr + c, env)
    t: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.runs):
        for label, c in cmds.items():
            for name, env in envs.items():
                t.setdefault((label, name), []).append(run(fr + c, env))
    med = {k: statistics.median(v) for k, v in t.items()}

    ip = {"plain": in_process(tmp / "plain", None, args.inproc),
          "encrypted": in_process(tmp / "encrypted", keys.db, args.inproc)}

    print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"median of {args.runs} runs, interleaved")
    print(f"store of {args.reports} reports (one party each): seeded in {seeded:.1f} s; "
          f"plain {sizes['plain'] / 1e6:.1f} MB, encrypted {sizes['encrypted'] / 1e6:.1f} MB; "
          f"`fieldreport encrypt` converted it in {convert:.1f} s")
    print(f"key derivation (scrypt n=2^15 r=8 p=1), once per command: {kdf * 1000:.0f} ms")
    print()
    print(f"| command (end to end, a real process) | plain ms | encrypted ms | ratio |")
    print(f"|---|---:|---:|---:|")
    for label in cmds:
        a, b = med[(label, "plain")], med[(label, "encrypted")]
        print(f"| `{label}` | {a * 1000:.0f} | {b * 1000:.0f} | {b / a:.2f} |")
    (wp, rp), (we, re_) = ip["plain"], ip["encrypted"]
    print(f"| in process: `Store.insert_report` (one transaction) | {wp * 1000:.2f} | {we * 1000:.2f} | {we / wp:.2f} |")
    print(f"| in process: `list_reports(limit=50)` | {rp * 1000:.2f} | {re_ * 1000:.2f} | {re_ / rp:.2f} |")
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
