"""Issue 8 figures: photos over a 2G link — transmission copies first, originals later.

For five real-size phone-like photos (4000×3000 JPEG, EXIF with GPS, capture time, orientation,
make/model; generated here) it measures:

- bytes per photo before (the original) and after (the transmission copy);
- time ``fieldreport add`` gains per photo (in-process ``reports.add``: with the copy vs the
  original alone, median of runs);
- time to send the five photos over the weak link, copies vs originals, as a ratio.

The weak link is the model 128 kbit/s up + 300 ms one-way latency, computed from the bytes
and the upload's round trips (one HEAD and one PATCH per 256 KiB chunk, plus one ``missing``
query), unless ``bench/sync_bench.py`` provides a weak-link proxy (then say so in the output).

Run: ``.venv/bin/python bench/photo_bench.py [--photos 5] [--json]``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

LINK_BPS = 128_000          # bits per second, upstream
ONE_WAY_S = 0.300           # one-way latency
CHUNK = 256 * 1024          # bytes per PATCH over a weak link


def make_photo(path: str | Path, size: tuple[int, int] = (4000, 3000), *, exif: bool = True, orientation: int = 6,
               gps: tuple[float, float] | None = (30.5868056, 114.2959028), taken: str = "2026:12:03 09:15:42",
               make: str = "Xiaomi", model: str = "Redmi Note 12", quality: int = 92, seed: int = 0,
               fmt: str = "JPEG", mark: bool = True) -> Path:
    """A phone-like test photo: smooth shapes and gradients plus sensor noise, so it compresses
    like a real scene (3–6 MB at 4000×3000, quality 92). With ``mark``, the stored image's
    top-left corner is pure red, so a test can see where the orientation put it."""
    from PIL import Image, ImageDraw, ImageFilter

    rnd = random.Random(seed)
    w, h = size
    sw, sh = max(2, w // 16), max(2, h // 16)
    base = Image.frombytes("RGB", (sw, sh), bytes(rnd.randrange(256) for _ in range(sw * sh * 3)))
    base = base.filter(ImageFilter.GaussianBlur(2)).resize((w, h), Image.Resampling.BICUBIC)
    d = ImageDraw.Draw(base)
    for _ in range(60):
        x, y = rnd.randrange(w), rnd.randrange(h)
        r = rnd.randrange(max(2, min(w, h) // 40), max(3, min(w, h) // 6))
        colour = tuple(rnd.randrange(256) for _ in range(3))
        if rnd.random() < 0.5:
            d.rectangle([x, y, x + r, y + r // 2], fill=colour)
        else:
            d.ellipse([x, y, x + r, y + r], fill=colour, outline=(0, 0, 0), width=3)
    for i in range(0, w, max(1, w // 80)):
        d.line([i, 0, i + h // 3, h], fill=(rnd.randrange(256),) * 3, width=1)
    noise = Image.effect_noise((w, h), 40).convert("RGB")
    img = Image.blend(base, noise, 0.10)
    if mark:
        img.paste((255, 0, 0), (0, 0, max(1, w // 8), max(1, h // 8)))
    kw = {}
    if exif:
        ex = Image.Exif()
        ex[0x010F], ex[0x0110] = make, model
        ex[0x0112] = orientation
        ex[0x0131] = "MIUI Camera"
        ex[0x0132] = "2026:12:03 09:16:00"
        sub = ex.get_ifd(0x8769)
        sub[0x9003], sub[0x9004], sub[0x9011] = taken, taken, "+08:00"
        sub[0x927C] = b"MAKERNOTE:device-secret-0123456789"
        sub[0xA431] = "SN-998877"
        if gps:
            g = ex.get_ifd(0x8825)
            lat, lon = gps
            g[0] = b"\x02\x02\x00\x00"
            g[1], g[3] = ("N" if lat >= 0 else "S"), ("E" if lon >= 0 else "W")
            g[2], g[4] = _dms(abs(lat)), _dms(abs(lon))
            g[5], g[6] = b"\x00", 42.5
        kw["exif"] = ex.tobytes()
    p = Path(path)
    if fmt == "JPEG":
        img.save(p, "JPEG", quality=quality, **kw)
    else:
        img.save(p, fmt, **kw)
    return p


def _dms(v: float) -> tuple[float, float, float]:
    deg = int(v)
    minutes = int((v - deg) * 60)
    sec = round(((v - deg) * 60 - minutes) * 60, 4)
    return (float(deg), float(minutes), sec)


def link_seconds(sizes: list[int]) -> float:
    """Upload time of blobs of ``sizes`` over the model link: one ``missing`` round trip, then per
    blob a HEAD and one PATCH per chunk (each a round trip), plus the bytes at LINK_BPS."""
    rtt = 2 * ONE_WAY_S
    total = rtt
    for n in sizes:
        chunks = max(1, -(-n // CHUNK))
        total += rtt * (1 + chunks) + n * 8 / LINK_BPS
    return total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=5)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["FIELDREPORT_HOME"] = str(tmp / "home")
        os.environ["FIELDREPORT_LANG"] = "en"
        srcs = [make_photo(tmp / f"p{i}.jpg", seed=i) for i in range(a.photos)]
        from fieldreport.blobs import BlobStore
        from fieldreport.store import Store

        from fieldreport import photos, reports

        store = Store.open(tmp / "home" / "fieldreport.db", create=True)
        with store.write() as c:
            store.set_meta("device_id", "bench-device", c)
        blobs = BlobStore(tmp / "home" / "blobs")
        data = {"kind": "hazard", "category": "ebike", "level": "orange", "title": "bench"}

        def one(path: Path, with_copy: bool) -> float:
            bs = BlobStore(tmp / f"blobs-{time.monotonic_ns()}")
            t0 = time.perf_counter()
            if with_copy:
                reports.add(store, bs, {**data, "photos": [str(path)]}, author="bench")
            else:  # the original alone, as before issue 8
                fields, paths = reports.prepare({**data, "photos": [str(path)]}, bs)
                fields, status = reports._store_photos(bs, fields, paths)
                store.insert_report(fields, author="bench", status=status)
            return time.perf_counter() - t0

        one(srcs[0], True)  # warm-up: Pillow import, page cache
        with_copy = [one(s, True) for s in srcs for _ in range(a.runs)]
        without = [one(s, False) for s in srcs for _ in range(a.runs)]
        reports.add(store, blobs, {**data, "photos": [str(s) for s in srcs]}, author="bench")
        first = photos.blobs_to_send(store, False, blobs=blobs)
        originals = photos.blobs_to_send(store, True, blobs=blobs)
        orig_sizes = [s.stat().st_size for s in srcs]
        copy_sizes = [int(b["size"]) for b in first if b["role"] == "copy"]
        assert len(copy_sizes) == len(srcs), first
        dims = []
        from PIL import Image

        for b in first:
            with Image.open(b["path"]) as im:
                dims.append(im.size)
        store.close()
    t_orig, t_copy = link_seconds(orig_sizes), link_seconds(copy_sizes)
    proxy = (Path(__file__).resolve().parent / "sync_bench.py").exists()
    out = {
        "photos": len(srcs),
        "original_bytes_mean": round(statistics.mean(orig_sizes)),
        "copy_bytes_mean": round(statistics.mean(copy_sizes)),
        "bytes_ratio": round(sum(orig_sizes) / sum(copy_sizes), 1),
        "copy_dimensions": sorted(set(dims)),
        "add_ms_per_photo_with_copy": round(statistics.median(with_copy) * 1000, 1),
        "add_ms_per_photo_original_only": round(statistics.median(without) * 1000, 1),
        "add_ms_added_per_photo": round((statistics.median(with_copy) - statistics.median(without)) * 1000, 1),
        "link_model": f"{LINK_BPS // 1000} kbit/s up, {int(ONE_WAY_S * 1000)} ms one-way, {CHUNK // 1024} KiB chunks",
        "link_measured": False,
        "link_note": ("computed from bytes and round trips with the link model"
                      + ("; bench/sync_bench.py exists: its weak-link proxy can measure it" if proxy else
                         " (bench/sync_bench.py's weak-link proxy does not exist yet)")),
        "sync_five_originals_s": round(t_orig, 1),
        "sync_five_copies_s": round(t_copy, 1),
        "time_ratio": round(t_orig / t_copy, 1),
        "originals_later_bytes": sum(int(b["size"]) for b in originals if b["role"] == "original"),
    }
    if a.json:
        print(json.dumps(out, indent=2))
    else:
        for k, v in out.items():
            print(f"{k:32} {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
