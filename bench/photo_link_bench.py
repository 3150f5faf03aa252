"""Five real-size photos over the emulated weak link (issue 8), measured end to end.

A real `fieldreport sync` process pushes five reports, each with a generated 4000×3000 JPEG
(EXIF, ~3.5 MB), through bench/sync_bench.py's weak-link proxy (one-way latency 300 ms,
128 kbit/s up, 256 kbit/s down, random stalls) to a real `fieldreport hub serve`:

  1. the default sync: report text, then the transmission copies — measured;
  2. `sync --originals` afterwards, for `--window` seconds (default 120: all five originals
     would take ~20 minutes on this link): the bytes it got through in that time give the
     link's achieved throughput for bulk photo bytes, and the time for all five originals is
     extrapolated from their sizes at that rate.

Prints the bytes per photo both ways, both times, and the ratio (goal: ≥ 10× less time).

    .venv/bin/python bench/photo_link_bench.py [--photos 5] [--measured-originals 1]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import photo_bench  # noqa: E402
import sync_bench  # noqa: E402

PY = sys.executable


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=5)
    ap.add_argument("--window", type=float, default=120.0, help="seconds of `sync --originals` to measure")
    a = ap.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="frphotolink-"))
    hub = sync_bench.Hub(root)
    link = sync_bench.WeakLink(hub.port)
    env_t = {"FIELDREPORT_SYNC_READ_TIMEOUT": "120", "FIELDREPORT_SYNC_CONNECT_TIMEOUT": "20"}
    try:
        lap = sync_bench.Laptop(root, "lap", hub, "P1")
        photos = [photo_bench.make_photo(root / f"p{i}.jpg", seed=i) for i in range(a.photos)]
        for i, p in enumerate(photos):
            subprocess.run([PY, "-m", "fieldreport", "add", "--kind", "hazard", "--category", "fire", "--level", "red",
                            "--title", f"消防通道堵塞 {i}", "--photo", str(p), "--no-input"], env=lap.env, check=True,
                           capture_output=True)
        orig_bytes = [p.stat().st_size for p in photos]
        link.reset()
        res, t_copies, _ = lap.sync(link.url, env_t)
        assert res["outcome"] == "done", res
        copies_up = link.bytes_up
        print(f"copies first: {t_copies:.1f} s for {a.photos} reports with photos; {copies_up} B up "
              f"({copies_up / a.photos:.0f} B per report+copy); stalls {link.stalled:.1f} s", flush=True)
        # the originals: time a few through the same link, then extrapolate by bytes
        link.reset()
        t0 = time.perf_counter()
        env_o = dict(lap.env, **env_t)
        proc = subprocess.Popen([PY, "-m", "fieldreport", "sync", "--json", "--originals", "--hub", link.url],
                                env=env_o, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=a.window)
        except subprocess.TimeoutExpired:
            proc.terminate()  # like Ctrl-C: the upload resumes next time from the hub's offset
            proc.wait(timeout=30)
        t_orig_all = time.perf_counter() - t0
        p = proc
        sent_up = link.bytes_up
        rate = sent_up / t_orig_all if t_orig_all else float("nan")
        total_orig = sum(orig_bytes)
        est_orig = t_copies + total_orig / rate
        print(f"originals: {sent_up} B up in {t_orig_all:.1f} s ({rate * 8 / 1000:.1f} kbit/s achieved of the "
              f"link's 128; stopped after the {a.window:.0f} s window)", flush=True)
        print(f"bytes per photo: originals {total_orig / a.photos:,.0f} B, sent first {copies_up / a.photos:,.0f} B "
              f"(report + copy)", flush=True)
        print(f"time to get {a.photos} photo reports to the hub: copies first {t_copies:.1f} s; sending originals "
              f"{est_orig:.1f} s (text + originals at the achieved rate) → {est_orig / t_copies:.1f}× less time "
              f"(goal >= 10)", flush=True)
    finally:
        link.close()
        hub.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
