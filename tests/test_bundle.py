"""USB bundles: laptop → bundle → hub (no server running: `fieldreport hub import-bundle` as a
subprocess on the hub's SQLite file) → receipt → laptop, and the station's bundle back.
Idempotent both ways, refused whole when truncated, tampered or for the wrong device."""

import json
import os
import tarfile
from pathlib import Path

import pytest

from fieldreport import paths as _paths, profile as _profile


PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(3000)


class OfflineHub:
    """A hub database and folder with no server: only `fieldreport hub …` commands touch it."""

    def __init__(self, root: Path):
        from fieldreport.hub import station

        self.data = root / "hubdata"
        self.db = self.data / "hub.db"
        station.init(str(self.data), f"sqlite:///{self.db}")
        self.url = f"sqlite:///{self.db}"

    def store(self):
        from fieldreport.hub.store import HubStore

        return HubStore.open(self.url)

    def enroll(self, device_id: str, officer_id: str = "A1024", area: str = "东村") -> str:
        with self.store() as s:
            code = s.issue_code(officer_id, "王芳", area, None, 72)["code"]
            return s.enroll(code, device_id, "laptop")["token"]

    def ops(self, device_id: str):
        with self.store() as s:
            return s.station().device_ops(device_id)

    def reports(self):
        from fieldreport.hub import station

        return station.reports(limit=1000, data=str(self.data), db=self.url)

    def args(self):
        return ("--db", str(self.db), "--data", str(self.data))


def _device_id(home: Path) -> str:
    return json.loads((home / "profile.json").read_text())["device_id"]


def _enroll_here(hub: OfflineHub, home: Path) -> str:
    token = hub.enroll(_device_id(home))
    _profile.write_token(_paths.resolve(), token)
    return token


def _add(cli, title, *extra):
    r = cli("add", "--kind", "hazard", "--category", "fire", "--level", "red", "--title", title, "--no-input",
            "--json", *extra)
    assert r.code == 0, r.err
    return r.json()


def _status(cli):
    r = cli("status", "--json")
    assert r.code == 0, r.err
    return r.json()


@pytest.fixture
def offline_hub(tmp_path):
    return OfflineHub(tmp_path)


@pytest.fixture
def usb(tmp_path):
    d = tmp_path / "usb"
    d.mkdir()
    return d


@pytest.fixture
def laptop(cli, profile, home, offline_hub, tmp_path):
    _enroll_here(offline_hub, home)
    photo = tmp_path / "楼道.png"
    photo.write_bytes(PNG)
    a = _add(cli, "消防通道堵塞", "--photo", photo)
    b = _add(cli, "楼道电动车充电")
    assert cli("update", a["ref"], "--note", "已拍照").code == 0
    return a, b


def _create(cli, usb):
    r = cli("bundle", "create", "--out", usb, "--json")
    assert r.code == 0, r.err
    return r.json()


def test_round_trip_with_no_network(cli, run, laptop, offline_hub, usb, home):
    a, b = laptop
    made = _create(cli, usb)
    assert made["ops"] == 3 and made["seq_first"] == 1 and made["seq_last"] == 3 and made["photos"] == 1
    bundle = Path(made["out"])
    assert bundle.parent == usb and (bundle.stat().st_mode & 0o777) == 0o600
    raw = bundle.read_bytes()  # a lost stick shows no report and no photo
    assert "消防通道堵塞".encode() not in raw and PNG[8:100] not in raw and b"A1024" not in raw
    assert not [p for p in usb.iterdir() if p.name.endswith(".part")]
    assert _status(cli)["queued"] == 3  # nothing counts as sent before the receipt

    r = run("hub", "import-bundle", bundle, *offline_hub.args(), "--json")
    assert r.code == 0, r.err
    rec = r.json()
    assert rec["counts"] == {"applied": 3} and rec["acked_through"] == 3 and rec["chain_ok"] is True
    receipt = Path(rec["receipt"])
    assert receipt.exists() and receipt.parent == usb
    hub_reps = offline_hub.reports()
    assert sorted(x["title"] for x in hub_reps) == sorted(["消防通道堵塞", "楼道电动车充电"])
    sha = json.loads(cli("show", a["ref"], "--json").out)["photos"][0]["sha256"]
    assert (offline_hub.data / "blobs" / sha[:2] / sha).read_bytes() == PNG

    r = cli("bundle", "receipt", receipt, "--json")
    assert r.code == 0, r.err
    assert r.json()["marked"] == 3 and r.json()["case_codes"] == 2
    st = _status(cli)
    assert st["queued"] == 0 and st["acknowledged"] == 3 and st["hub_epoch"] == rec["epoch"]
    shown = json.loads(cli("show", a["ref"], "--json").out)
    code = shown["case_code"]
    assert code and code.startswith("HB-")
    # the receipt twice: harmless
    r = cli("bundle", "receipt", receipt, "--json")
    assert r.code == 0 and r.json()["marked"] == 0 and r.json()["already_marked"] == 3

    # the way back: the station's decision travels on the stick
    from fieldreport.hub import station

    station.decide(code, dept="fire_rescue", note="已通知消防", by="所长", data=str(offline_hub.data),
                   db=offline_hub.url)
    r = run("hub", "bundle-for", _device_id(home), "--out", usb, *offline_hub.args(), "--json")
    assert r.code == 0, r.err
    back = Path(r.json()["out"])
    assert r.json()["changes"] >= 3
    r = cli("bundle", "apply", back, "--json")
    assert r.code == 0, r.err
    assert r.json()["applied"] >= 3 and r.json()["already_applied"] is False
    shown = json.loads(cli("show", a["ref"], "--json").out)
    assert shown["dept"] == "fire_rescue" and "已通知消防" in [n["text"] for n in shown["notes"]]
    db = home / "fieldreport.db"
    before = _snapshot(db)
    # applying the same bundle again changes nothing
    r = cli("bundle", "apply", back, "--json")
    assert r.code == 0 and r.json()["already_applied"] is True
    assert _snapshot(db) == before
    # new work after the round trip gets new sequence numbers and bundles only what is new
    _add(cli, "新隐患")
    made2 = _create(cli, usb)
    assert made2["ops"] == 1 and made2["seq_first"] == 4 and made2["photos"] == 0


def _snapshot(db: Path):
    import sqlite3

    c = sqlite3.connect(db)
    try:
        return [c.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
                for t in ("reports", "notes", "outbox", "inbox", "conflicts")] + \
               [c.execute("SELECT * FROM meta WHERE key NOT IN ('last_sync', 'last_bundle') ORDER BY 1").fetchall()]
    finally:
        c.close()


def test_same_bundle_twice_gives_no_duplicates(cli, run, laptop, offline_hub, usb, home):
    bundle = Path(_create(cli, usb)["out"])
    r1 = run("hub", "import-bundle", bundle, *offline_hub.args(), "--json")
    r2 = run("hub", "import-bundle", bundle, *offline_hub.args(), "--receipt", usb / "second.json", "--json")
    assert r1.code == 0 and r2.code == 0, r2.err
    assert r2.json()["counts"] == {"duplicate": 3}
    assert len(offline_hub.reports()) == 2
    assert [o["seq"] for o in offline_hub.ops(_device_id(home))] == [1, 2, 3]
    # either receipt marks the entries; the other then finds nothing left to mark
    assert cli("bundle", "receipt", usb / "second.json").code == 0
    assert _status(cli)["queued"] == 0


def _rewrite(src: Path, dst: Path, edit):
    """Copy a bundle member by member, letting ``edit(name, data) -> data`` change some."""
    with tarfile.open(src) as t, tarfile.open(dst, "w", format=tarfile.PAX_FORMAT) as out:
        for m in t:
            data = t.extractfile(m).read()
            data = edit(m.name, data)
            info = tarfile.TarInfo(m.name)
            info.size = len(data)
            import io

            out.addfile(info, io.BytesIO(data))


def _flip(data: bytes) -> bytes:
    b = bytearray(data)
    b[len(b) // 2] ^= 0x01
    return bytes(b)


def _tamper_ops(name, data):
    return _flip(data) if name == "ops.json.enc" else data


def test_refused_bundles_apply_nothing(cli, run, laptop, offline_hub, usb, home, tmp_path):
    bundle = Path(_create(cli, usb)["out"])
    raw = bundle.read_bytes()
    cases = {}
    cases["truncated"] = raw[: len(raw) * 2 // 3]
    p = tmp_path / "tampered.tar"
    _rewrite(bundle, p, _tamper_ops)
    cases["tampered"] = p.read_bytes()

    # tampered with care: the part's sha256 fixed in the manifest too — only the HMAC catches it
    def deep(name, data, _state={}):
        import hashlib

        if name == "ops.json.enc":
            data = _tamper_ops(name, data)
            _state["sha"] = (hashlib.sha256(data).hexdigest(), len(data))
        if name == "manifest.json":
            m = json.loads(data)
            m["files"]["ops.json.enc"] = {"sha256": _state["sha"][0], "size": _state["sha"][1]}
            return json.dumps(m).encode()
        return data

    p = tmp_path / "deep.tar"
    _rewrite(bundle, p, deep)
    cases["resigned"] = p.read_bytes()

    # claims to be another enrolled device (its HMAC is this laptop's key)
    other = offline_hub.enroll("01900000-0000-7000-8000-0000000000ff", officer_id="B2048")

    def claim(name, data):
        if name in ("manifest.json",):
            m = json.loads(data)
            m["device_id"] = "01900000-0000-7000-8000-0000000000ff"
            return json.dumps(m).encode()
        return data

    p = tmp_path / "claim.tar"
    _rewrite(bundle, p, claim)
    cases["wrong_device"] = p.read_bytes()
    assert other

    expect = {"truncated": "truncated", "tampered": "sha256", "resigned": "HMAC", "wrong_device": "HMAC"}
    for name, data in cases.items():
        f = usb / f"{name}.tar"
        f.write_bytes(data)
        r = run("hub", "import-bundle", f, *offline_hub.args())
        assert r.code == 2, (name, r.err)
        assert r.err.count("\n") == 1 and "Traceback" not in r.err, (name, r.err)
        assert expect[name] in r.err and "nothing applied" in r.err, (name, r.err)
        assert not (usb / f"{name}.receipt.json").exists()
    assert offline_hub.reports() == [] and offline_hub.ops(_device_id(home)) == []
    blobs = offline_hub.data / "blobs"
    assert [p for p in blobs.rglob("*") if p.is_file() and len(p.name) == 64] == []


def test_bundle_from_a_laptop_the_hub_does_not_know(cli, run, offline_hub, usb, home, tmp_path, monkeypatch):
    monkeypatch.setenv("FIELDREPORT_HOME", str(tmp_path / "stranger"))
    from conftest import PROFILE_ARGS

    assert cli(*PROFILE_ARGS).code == 0
    _profile.write_token(_paths.resolve(), "a-token-no-hub-issued")
    _add(cli, "陌生设备的报告")
    bundle = Path(_create(cli, usb)["out"])
    r = run("hub", "import-bundle", bundle, *offline_hub.args())
    assert r.code == 2 and "not enrolled at this hub" in r.err and r.err.count("\n") == 1
    assert offline_hub.reports() == []


def test_laptop_refuses_foreign_or_tampered_station_bundles(cli, run, laptop, offline_hub, usb, home, tmp_path):
    bundle = Path(_create(cli, usb)["out"])
    assert run("hub", "import-bundle", bundle, *offline_hub.args()).code == 0
    other = "01900000-0000-7000-8000-0000000000ee"
    offline_hub.enroll(other, officer_id="C4096")
    r = run("hub", "bundle-for", other, "--out", usb / "other.tar", *offline_hub.args())
    assert r.code == 0, r.err
    db = home / "fieldreport.db"
    before = _snapshot(db)
    r = cli("bundle", "apply", usb / "other.tar")
    assert r.code == 2 and "not this laptop" in r.err and r.err.count("\n") == 1
    r = run("hub", "bundle-for", _device_id(home), "--out", usb / "mine.tar", *offline_hub.args())
    assert r.code == 0, r.err

    def edit(name, data):
        return _flip(data) if name == "changes.json.enc" else data

    _rewrite(usb / "mine.tar", usb / "mine-tampered.tar", edit)
    r = cli("bundle", "apply", usb / "mine-tampered.tar")
    assert r.code == 2 and "sha256" in r.err
    r = cli("bundle", "apply", usb / "mine.tar", "--json")
    assert r.code == 0
    r = cli("bundle", "apply", bundle)  # the laptop's own push bundle is not a pull bundle
    assert r.code == 2 and "not a bundle from the hub" in r.err
    # a forged receipt: valid JSON, wrong HMAC
    rec = json.loads((usb / (bundle.name[:-4] + ".receipt.json")).read_text())
    rec["results"][0]["status"] = "rejected"
    (usb / "forged.json").write_text(json.dumps(rec))
    before = _snapshot(db)
    r = cli("bundle", "receipt", usb / "forged.json")
    assert r.code == 2 and "HMAC" in r.err
    assert _snapshot(db) == before


def test_bundle_needs_a_token(cli, profile, usb):
    _add(cli, "未登记的电脑")
    r = cli("bundle", "create", "--out", usb)
    assert r.code == 2 and "login" in r.err and r.err.count("\n") == 1
    assert list(usb.iterdir()) == []


def test_import_then_online_sync_no_duplicates(cli, run, profile, home, any_hub, usb):
    """The bundle reached the hub but its receipt never came back; the laptop later syncs
    online: every entry is answered duplicate, the hub holds each once (SQLite and PostgreSQL)."""
    import httpx

    hub = any_hub
    dev = _device_id(home)
    code = hub.enroll()
    r = httpx.post(hub.url + "/v1/enroll", json={"code": code, "device_id": dev, "name": "laptop"}, timeout=30)
    assert r.status_code == 200, r.text
    _profile.write_token(_paths.resolve(), r.json()["token"])
    assert cli("init", "--hub", hub.url, "--no-input").code == 0
    for i in range(3):
        _add(cli, f"燃气隐患{i}")
    bundle = Path(_create(cli, usb)["out"])
    r = run("hub", "import-bundle", bundle, "--db", hub.db_url, "--data", hub.data_dir, "--json")
    assert r.code == 0, r.err
    assert r.json()["counts"] == {"applied": 3}
    _add(cli, "后来的隐患")  # made after the bundle: goes online
    r = cli("sync", "--json")
    assert r.code == 0, r.err + r.out
    res = r.json()
    assert res["duplicates"] == 3 and res["applied"] == 1, res
    assert _status(cli)["queued"] == 0
    ops = hub.store.station().device_ops(dev)
    assert [o["seq"] for o in ops] == [1, 2, 3, 4]
    reps = hub.store.station().reports(limit=100)
    assert len(reps) == 4 and len({r["id"] for r in reps}) == 4
    # the late receipt is harmless now
    r = cli("bundle", "receipt", usb / (bundle.name[:-4] + ".receipt.json"), "--json")
    assert r.code == 0 and r.json()["marked"] == 0


def test_hub_export_masks_unless_reveal(cli, run, laptop, offline_hub, usb, tmp_path):
    assert cli("add", "--kind", "dispute", "--category", "neighbour", "--level", "yellow", "--title", "邻里",
               "--party", "name=张三;role=applicant;phone=13812345678", "--lat", "30.5", "--lon", "114.3",
               "--no-input").code == 0
    bundle = Path(_create(cli, usb)["out"])
    assert run("hub", "import-bundle", bundle, *offline_hub.args()).code == 0
    out = tmp_path / "hub.geojson"
    r = run("hub", "export", "--format", "geojson", "--out", out, *offline_hub.args())
    assert r.code == 0, r.err
    doc = json.loads(out.read_text())
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == 1
    f = doc["features"][0]
    assert f["geometry"] == {"type": "Point", "coordinates": [114.3, 30.5]}
    assert "138****5678" in f["properties"]["parties"] and f["properties"]["case_code"].startswith("HB-")
    r = run("hub", "export", "--format", "json", "--reveal", "--kind", "dispute", *offline_hub.args())
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["source"] == "hub" and doc["reports"][0]["parties"][0]["phone"] == "13812345678"
    audit = (offline_hub.data / "audit.log").read_text().splitlines()
    assert json.loads(audit[-1])["command"] == "hub export"
    r = run("hub", "export", "--format", "xlsx", *offline_hub.args())
    assert r.code == 2 and "--out" in r.err


def test_encrypted_laptop_bundles_plain_photos_for_the_hub(cli, run, profile, home, offline_hub, usb, tmp_path,
                                                           monkeypatch):
    monkeypatch.setenv("FIELDREPORT_PASSPHRASE", "correct horse battery staple 42")
    _enroll_here(offline_hub, home)
    assert cli("encrypt").code == 0
    photo = tmp_path / "p.png"
    photo.write_bytes(PNG)
    a = _add(cli, "加密电脑的隐患", "--photo", photo)
    made = _create(cli, usb)
    assert made["photos"] == 1 and made["missing_photos"] == []
    r = run("hub", "import-bundle", made["out"], *offline_hub.args(), "--json")
    assert r.code == 0, r.err
    sha = json.loads(cli("show", a["ref"], "--json").out)["photos"][0]["sha256"]
    assert (offline_hub.data / "blobs" / sha[:2] / sha).read_bytes() == PNG  # the hub holds the photo itself
    assert cli("bundle", "receipt", r.json()["receipt"]).code == 0
    assert _status(cli)["queued"] == 0
