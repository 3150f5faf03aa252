"""Issue 8: photos that cross a 2G link — a transmission copy first, the original later.

Real-size photos are generated here (4000×3000 JPEG with EXIF GPS, capture time, Orientation=6,
make/model, maker note and serial number); every test goes through the real command line and a
real store and blob folder."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import struct
import subprocess
import sys

import pytest
from PIL import Image

from conftest import PY, ROOT

sys.path.insert(0, str(ROOT / "bench"))
from photo_bench import make_photo  # noqa: E402

ADD = ("add", "--kind", "hazard", "--category", "ebike", "--level", "orange", "--title", "楼道电动车充电",
       "--no-input")
GPS = (30.5868056, 114.2959028)


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    return make_photo(tmp_path_factory.mktemp("ph") / "楼道.jpg")


@pytest.fixture(scope="module")
def noexif(tmp_path_factory):
    return make_photo(tmp_path_factory.mktemp("ph") / "plain.jpg", exif=False, seed=3)


def sha(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def db(home):
    return sqlite3.connect(home / "fieldreport.db")


def created_payload(home) -> dict:
    row = db(home).execute("SELECT payload FROM outbox WHERE type = 'report.create' ORDER BY seq DESC").fetchone()
    return json.loads(row[0])


def blob(home, h):
    return home / "blobs" / h[:2] / h


def add(cli, *extra):
    r = cli(*ADD, *map(str, extra), "--json")
    assert r.code == 0, r.err
    return r


def test_transmission_copy_small_rotated_clean_and_original_untouched(cli, profile, home, big):
    r = add(cli, "--photo", big)
    ph = created_payload(home)["photos"][0]
    # the report names the original, byte for byte the source file
    assert ph["sha256"] == sha(big) and ph["size"] == big.stat().st_size
    assert blob(home, ph["sha256"]).read_bytes() == big.read_bytes()
    # the copy: ≤ 1600 px, orientation applied (stored top-left red corner shown top-right)
    assert ph["copy_sha256"] != ph["sha256"] and ph["copy_size"] == blob(home, ph["copy_sha256"]).stat().st_size
    assert ph["copy_size"] * 8 < ph["size"]
    with Image.open(blob(home, ph["copy_sha256"])) as im:
        assert im.format == "JPEG" and im.size == (1200, 1600)
        rgb = im.convert("RGB")
        r_, g_, b_ = rgb.getpixel((im.size[0] - 5, 5))
        assert r_ > 200 and g_ < 60 and b_ < 60, "orientation 6 puts the stored top-left at the top right"
        ex = im.getexif()
        sub, gps = ex.get_ifd(0x8769), ex.get_ifd(0x8825)
        assert sub.get(0x9003) == "2026:12:03 09:15:42"
        assert gps.get(1) == "N" and gps.get(3) == "E" and gps.get(2) and gps.get(4)
        for tag in (0x010F, 0x0110, 0x0112, 0x0131, 0x0132):  # make, model, orientation, software, datetime
            assert tag not in ex, hex(tag)
        for tag in (0x927C, 0xA431, 0x9004):  # maker note, body serial, digitized
            assert tag not in sub, hex(tag)
        assert ex.get_ifd(1) == {} or not ex.get_ifd(1), "no thumbnail IFD"
        assert "icc_profile" not in im.info and "xmp" not in im.info
        raw = blob(home, ph["copy_sha256"]).read_bytes()
        assert b"Xiaomi" not in raw and b"Redmi" not in raw and b"MAKERNOTE" not in raw and b"SN-998877" not in raw
    # what the EXIF said is in the report
    assert ph["taken_at"] == "2026-12-03T09:15:42+08:00"
    assert ph["gps"]["lat"] == pytest.approx(GPS[0], abs=1e-5) and ph["gps"]["lon"] == pytest.approx(GPS[1], abs=1e-5)
    assert ph["gps"]["alt"] == pytest.approx(42.5)
    # both linked in the store
    row = db(home).execute("SELECT copy_sha256, width, height FROM photo_copies WHERE original_sha256 = ?",
                           (ph["sha256"],)).fetchone()
    assert row == (ph["copy_sha256"], 1200, 1600)
    assert r.err == ""


def test_profile_photo_max_edge(cli, profile, home, big):
    p = home / "profile.json"
    prof = json.loads(p.read_text())
    prof["extra"] = {"photo_max_edge": 800}
    p.write_text(json.dumps(prof))
    add(cli, "--photo", big)
    ph = created_payload(home)["photos"][0]
    with Image.open(blob(home, ph["copy_sha256"])) as im:
        assert max(im.size) == 800
    prof["extra"] = {"photo_max_edge": "huge"}
    p.write_text(json.dumps(prof))
    before = db(home).execute("SELECT count(*) FROM reports").fetchone()[0]
    r = cli(*ADD, "--photo", str(big))
    assert r.code == 2 and "photo_max_edge" in r.err and len(r.err.strip().splitlines()) == 1
    assert "Traceback" not in r.err
    assert db(home).execute("SELECT count(*) FROM reports").fetchone()[0] == before


def test_non_image_is_refused_and_nothing_written(cli, profile, home, tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("not a photo")
    r = cli(*ADD, "--photo", str(f))
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1 and "not an image" in r.err
    assert db(home).execute("SELECT count(*) FROM reports").fetchone()[0] == 0
    assert not (home / "blobs").exists() or not any(p.is_file() and not p.name.startswith(".")
                                                   for p in (home / "blobs").rglob("*"))


def test_corrupt_jpeg_keeps_the_original_and_says_so(cli, profile, home, big, tmp_path):
    trunc = tmp_path / "truncated.jpg"
    trunc.write_bytes(big.read_bytes()[:200_000])
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + bytes(range(256)) * 40)
    r = cli(*ADD, "--photo", str(trunc), "--photo", str(garbage))
    assert r.code == 0, r.err
    lines = r.err.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in r.err
    assert "truncated.jpg" in lines[0] and "damaged" in lines[0] and "sent as is" in lines[0]
    assert "garbage.jpg" in lines[1] and "cannot be read as an image" in lines[1]
    phs = created_payload(home)["photos"]
    assert [p["sha256"] for p in phs] == [sha(trunc), sha(garbage)]
    assert all("copy_sha256" not in p for p in phs)
    assert blob(home, phs[0]["sha256"]).read_bytes() == trunc.read_bytes()
    from fieldreport import photos
    from fieldreport.store import Store

    with Store.open(home / "fieldreport.db") as st:
        send = photos.blobs_to_send(st, False)
    assert [(b["sha256"], b["role"], b["why"]) for b in send] == [(sha(trunc), "original", "no_copy"),
                                                                 (sha(garbage), "original", "no_copy")]


def test_heic_without_decoder_in_a_real_process(run, home, tmp_path):
    from conftest import PROFILE_ARGS

    assert run(*PROFILE_ARGS).code == 0
    heic = tmp_path / "IMG_0001.HEIC"
    heic.write_bytes(struct.pack(">I", 24) + b"ftypheic" + b"\x00\x00\x00\x00mif1heic" + b"\x00" * 4000)
    r = run(*ADD, "--photo", str(heic))
    assert r.code == 0, r.err
    assert "HEIC" in r.err and "decoder" in r.err and "sent as is" in r.err and "Traceback" not in r.err
    ph = created_payload(home)["photos"][0]
    assert ph["sha256"] == sha(heic) and ph["mime"] == "image/heic" and "copy_sha256" not in ph
    assert blob(home, ph["sha256"]).read_bytes() == heic.read_bytes()


def test_huge_panorama(cli, profile, home, tmp_path):
    pano = make_photo(tmp_path / "pano.jpg", (30000, 1000), orientation=1, quality=80)
    add(cli, "--photo", pano)
    ph = created_payload(home)["photos"][0]
    with Image.open(blob(home, ph["copy_sha256"])) as im:
        assert im.size[0] == 1600 and 50 <= im.size[1] <= 54


def test_over_the_decompression_bomb_limit(cli, profile, home, tmp_path, monkeypatch):
    """Over Image.MAX_IMAGE_PIXELS: a JPEG is still shrunk (decoded at 1/8 scale); another
    format is kept as is with a message; neither crashes."""
    jpg = make_photo(tmp_path / "wide.jpg", (12000, 1500), orientation=1, quality=80)
    png = tmp_path / "wide.png"
    Image.new("RGB", (6000, 1500), (90, 120, 30)).save(png)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2_000_000)  # both are over twice this: a bomb error
    r = cli(*ADD, "--photo", str(jpg), "--photo", str(png))
    assert r.code == 0, r.err
    assert "wide.png" in r.err and "too large" in r.err and "Traceback" not in r.err and "wide.jpg" not in r.err
    phs = created_payload(home)["photos"]
    with Image.open(blob(home, phs[0]["copy_sha256"])) as im:
        assert im.size[0] == 1500 or max(im.size) <= 1600
        assert max(im.size) <= 1600
    assert "copy_sha256" not in phs[1] and blob(home, phs[1]["sha256"]).read_bytes() == png.read_bytes()
    assert Image.MAX_IMAGE_PIXELS == 2_000_000, "the guard is restored"


def test_no_exif(cli, profile, home, noexif):
    r = add(cli, "--photo", noexif, "--location-from-photo")
    ph = created_payload(home)["photos"][0]
    assert "taken_at" not in ph and "gps" not in ph and ph["copy_sha256"]
    with Image.open(blob(home, ph["copy_sha256"])) as im:
        assert im.size == (1600, 1200) and not dict(im.getexif())
    out = r.json()
    assert any("no photo carries a GPS position" in n for n in out["photo_notes"])
    rep = cli("show", out["ref"], "--json").json()
    assert rep["lat"] is None and rep["lon"] is None


def test_location_from_photo(cli, profile, home, big):
    r = add(cli, "--photo", big, "--location-from-photo")
    rid = r.json()["id"]
    lat, lon, src = db(home).execute("SELECT lat, lon, location_source FROM reports WHERE id = ?", (rid,)).fetchone()
    assert lat == pytest.approx(GPS[0], abs=1e-5) and lon == pytest.approx(GPS[1], abs=1e-5)
    assert src == f"photo:{sha(big)}"
    p = created_payload(home)
    assert p["lat"] == lat and p["location_source"] == src
    # typed coordinates win; without the flag (and no terminal) nothing is taken
    r = add(cli, "--photo", big, "--location-from-photo", "--lat", "31", "--lon", "115")
    assert db(home).execute("SELECT lat, lon, location_source FROM reports WHERE id = ?",
                            (r.json()["id"],)).fetchone() == (31.0, 115.0, None)
    assert "location_source" not in created_payload(home)
    r = add(cli, "--photo", big)
    assert db(home).execute("SELECT lat, location_source FROM reports WHERE id = ?",
                            (r.json()["id"],)).fetchone() == (None, None)


def test_location_offer_is_asked_and_can_be_declined(profile, home, big):
    from fieldreport import reports
    from fieldreport.blobs import BlobStore
    from fieldreport.store import Store

    asked = []
    data = {"kind": "hazard", "category": "ebike", "level": "orange", "title": "t", "photos": [str(big)]}
    with Store.open(home / "fieldreport.db") as st:
        bs = BlobStore(home / "blobs")
        no = reports.add(st, bs, dict(data), author="A1", location_from_photo=lambda ph: asked.append(ph) or False)
        yes = reports.add(st, bs, dict(data), author="A1", location_from_photo=lambda ph: True)
        assert asked and asked[0]["name"] == "楼道.jpg" and asked[0]["gps"]["lat"] == pytest.approx(GPS[0], abs=1e-5)
        assert st.report(no["id"])["lat"] is None
        assert st.report(yes["id"])["lat"] == pytest.approx(GPS[0], abs=1e-5)
        assert st.report(yes["id"])["location_source"] == f"photo:{sha(big)}"


def test_add_without_photo_never_imports_pillow(home, big):
    from conftest import PROFILE_ARGS

    code = ("import sys; from fieldreport.cli import main; rc = main(sys.argv[1:]); "
            "print(rc, any(m == 'PIL' or m.startswith('PIL.') for m in sys.modules))")
    env = dict(__import__("os").environ)
    assert subprocess.run([PY, "-c", code, *PROFILE_ARGS], env=env, capture_output=True).returncode == 0
    p = subprocess.run([PY, "-c", code, *ADD], env=env, capture_output=True, text=True)
    assert p.stdout.split()[-2:] == ["0", "False"], p.stderr
    p = subprocess.run([PY, "-c", code, *ADD, "--photo", str(big)], env=env, capture_output=True, text=True)
    assert p.stdout.split()[-2:] == ["0", "True"], p.stderr


def test_update_photo_carries_the_copy(cli, profile, home, big):
    ref = add(cli).json()["ref"]
    r = cli("update", ref, "--photo", str(big))
    assert r.code == 0, r.err
    row = db(home).execute("SELECT payload FROM outbox WHERE type = 'report.photo'").fetchone()
    p = json.loads(row[0])
    assert p["sha256"] == sha(big) and p["copy_sha256"] and p["taken_at"].startswith("2026-12-03")
    assert cli("show", ref, "--json").json()["photos"][0]["sha256"] == sha(big)


def test_same_photo_twice_one_copy(cli, profile, home, big):
    add(cli, "--photo", big, "--photo", big)
    phs = created_payload(home)["photos"]
    assert len(phs) == 2 and phs[0]["copy_sha256"] == phs[1]["copy_sha256"]
    add(cli, "--photo", big)  # again in another report: the copy is reused, not made anew
    assert created_payload(home)["photos"][0]["copy_sha256"] == phs[0]["copy_sha256"]
    assert db(home).execute("SELECT count(*) FROM photo_copies").fetchone()[0] == 1
    from fieldreport import photos
    from fieldreport.store import Store

    with Store.open(home / "fieldreport.db") as st:
        assert [b["role"] for b in photos.blobs_to_send(st, False)] == ["copy"]
        assert [b["role"] for b in photos.blobs_to_send(st, True)] == ["copy", "original"]


def test_send_order_status_confirmation_and_requests(cli, profile, home, big, noexif, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(big.read_bytes()[:50_000])
    add(cli, "--photo", big, "--photo", bad, "--photo", noexif)
    from fieldreport import photos
    from fieldreport.store import Store

    st = Store.open(home / "fieldreport.db")
    try:
        first = photos.blobs_to_send(st, False)
        assert [(b["role"], b["original_sha256"]) for b in first] == [
            ("copy", sha(big)), ("original", sha(bad)), ("copy", sha(noexif))]
        assert all(open(b["path"], "rb").read(3) == b"\xff\xd8\xff" for b in first)
        both = photos.blobs_to_send(st, True)
        assert [b["sha256"] for b in both[3:]] == [sha(big), sha(noexif)] and both[3]["why"] == "originals"
        s = cli("status", "--json").json()["originals_local_only"]
        assert s == {"count": 3, "bytes": big.stat().st_size + bad.stat().st_size + noexif.stat().st_size}
        assert "Photo originals on this laptop only: 3" in cli("status").out
        # the hub confirms the copy of big and the as-is original of bad
        assert not photos.original_confirmed(st, sha(bad))
        with st.write() as c:
            c.execute("UPDATE blobs SET uploaded_at = 'x' WHERE sha256 IN (?, ?)", (first[0]["sha256"], sha(bad)))
        assert photos.original_confirmed(st, sha(bad)) and not photos.original_confirmed(st, sha(big))
        assert [b["original_sha256"] for b in photos.blobs_to_send(st, False)] == [sha(noexif)]
        assert cli("status", "--json").json()["originals_local_only"]["count"] == 2
        # the hub asks for big's original (pull feed kept in the inbox, or recorded directly)
        with st.write() as c:
            c.execute("INSERT INTO inbox (cursor, type, entity, payload, ts, received_at) VALUES "
                      "(1, 'blob.request_original', 'r', ?, 't', 't')", (json.dumps({"sha256": sha(big)}),))
        send = photos.blobs_to_send(st, False)
        assert [(b["sha256"], b["role"], b["why"]) for b in send] == [
            (first[2]["sha256"], "copy", "copy"), (sha(big), "original", "requested")]
        assert photos.request_original(st, sha(noexif)) is True
        assert photos.request_original(st, "0" * 64) is False
        assert [b["why"] for b in photos.blobs_to_send(st, False)][-2:] == ["requested", "requested"]
    finally:
        st.close()


def test_checklist_answer_photo_gets_its_copy(profile, home, big):
    """A photo taken during an inspection walk is linked to a transmission copy too."""
    from fieldreport import photos
    from fieldreport.blobs import BlobStore
    from fieldreport.checklist.walk import Walk
    from fieldreport.store import Store

    with Store.open(home / "fieldreport.db") as st:
        w = Walk.__new__(Walk)  # only the photo step: no template or inspection needed
        w.store, w.blobs = st, BlobStore(home / "blobs")
        ref = w._photo(str(big))
        assert ref["sha256"] == sha(big) and ref["copy_sha256"]
        assert photos.original_confirmed(st, sha(big)) is False
        row = st.conn.execute("SELECT copy_sha256 FROM photo_copies WHERE original_sha256 = ?", (sha(big),)).fetchone()
        assert row == (ref["copy_sha256"],)
