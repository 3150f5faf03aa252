"""Encryption at rest (issue 6): the raw bytes of the store and of every photo file hold none of
a known ID number, name or phone number; every command works the same encrypted (including
sync against the real hub); a wrong passphrase is one line, exit 2, nothing changed; encrypt /
decrypt convert an existing store safely and resume after an interruption; sealed photos
detect tampering and read back by seek."""

from __future__ import annotations

import hashlib
import io
import json
import os

import pytest

from fieldreport import crypto
from fieldreport.blobs import BlobStore

PASS = "东村 correct horse 电池"
ID = "11010519491231002X"
NAME = "欧阳锋华"
PHONE = "13812345678"
SECRET_PHOTO = "SECRETPHOTO-张家后院".encode()
NEEDLES = [ID.encode(), NAME.encode(), PHONE.encode(), SECRET_PHOTO, "邻里噪音纠纷".encode(), b"1101051949"]


def _png(extra: bytes = b"") -> bytes:
    import struct
    import zlib

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b"") + extra)


@pytest.fixture
def photo(tmp_path):
    p = tmp_path / "院子.png"
    p.write_bytes(_png(SECRET_PHOTO * 50))
    return p


def _add(cli, photo=None, title="邻里噪音纠纷"):
    args = ["add", "--kind", "dispute", "--category", "neighbour", "--level", "yellow", "--title", title,
            "--details", f"当事人{NAME}，电话{PHONE}，身份证{ID}", "--place", "东村3组12号",
            "--party", f"name={NAME};role=applicant;id={ID};phone={PHONE};address=东村3组12号", "--no-input", "--json"]
    if photo:
        args += ["--photo", str(photo)]
    r = cli(*args)
    assert r.code == 0, r.err
    return r.json()


def _raw_files(home):
    for root, _dirs, files in os.walk(home):
        for f in files:
            p = os.path.join(root, f)
            if f.endswith(".log") or f == "profile.json":
                continue
            yield p


def _assert_no_plaintext(home):
    hits = []
    for p in _raw_files(home):
        data = open(p, "rb").read()
        for n in NEEDLES:
            if n in data:
                hits.append((p, n))
    assert not hits, hits


def _plaintext_somewhere(home) -> bool:
    return any(n in open(p, "rb").read() for p in _raw_files(home) for n in NEEDLES)


@pytest.fixture
def enc(cli, monkeypatch):
    from conftest import PROFILE_ARGS

    monkeypatch.setenv("FIELDREPORT_PASSPHRASE", PASS)
    r = cli(*PROFILE_ARGS, "--encrypt")
    assert r.code == 0, r.err
    return r


def test_init_encrypt_end_to_end(enc, cli, home, photo):
    assert (home / "fieldreport.key").exists() and oct((home / "fieldreport.key").stat().st_mode)[-3:] == "600"
    rec = _add(cli, photo)
    r = cli("list", "--json")
    assert r.code == 0 and r.json()[0]["parties"][0]["id"] == "1101**********002X"
    r = cli("show", rec["ref"], "--reveal", "--json")
    assert r.code == 0 and r.json()["parties"][0]["id"] == ID and r.json()["parties"][0]["name"] == NAME
    r = cli("list", "--search", "噪音纠", "--json")
    assert r.code == 0 and [x["ref"] for x in r.json()] == [rec["ref"]]
    r = cli("list", "--search", "噪音", "--json")  # the two-character LIKE fallback
    assert [x["ref"] for x in r.json()] == [rec["ref"]]
    r = cli("update", rec["ref"], "--status", "routed", "--dept", "judicial_mediation", "--note", f"已电话联系{PHONE}")
    assert r.code == 0, r.err
    r = cli("status", "--json")
    assert r.code == 0 and r.json()["reports"] == 1 and r.json()["encrypted"] is True
    assert "Encryption: on" in cli("status").out
    r = cli("verify", "--json")
    assert r.code == 0 and r.json()["ok"] and r.json()["photo_files"] >= 1, r.out
    # the photo reads back exactly through the blob store, and its name is the plaintext's hash
    sha = cli("show", rec["ref"], "--json").json()["photos"][0]["sha256"]
    from fieldreport.cli.common import keys_for
    from fieldreport.paths import resolve

    keys = keys_for(resolve())
    assert BlobStore(home / "blobs", keys.blob).read_bytes(sha) == photo.read_bytes()
    assert hashlib.sha256(photo.read_bytes()).hexdigest() == sha
    # and no file under the home (store, WAL, photos, key) holds any of it in the clear
    _assert_no_plaintext(home)


def test_raw_bytes_while_the_store_is_open(enc, cli, home, photo):
    """Also the WAL and shared-memory files of an open connection."""
    _add(cli, photo)
    from fieldreport.cli.common import passphrase_for
    from fieldreport.paths import resolve
    from fieldreport.store import Store

    p = resolve()
    with Store.open(p.store, key=passphrase_for(p)) as s:
        s.conn.execute("SELECT count(*) FROM reports").fetchone()
        _add(cli)  # another writer while this connection holds the WAL open
        assert (home / "fieldreport.db-wal").exists()
        _assert_no_plaintext(home)


def test_wrong_passphrase_is_one_line_exit_2_nothing_changed(enc, cli, run, home, photo, monkeypatch):
    _add(cli, photo)
    before = {p: hashlib.sha256(open(p, "rb").read()).hexdigest() for p in _raw_files(home)}
    for args in (("list",), ("show", "R-0001"), ("add", "--kind", "zero", "--title", "本月零报告", "--no-input"),
                 ("status",), ("verify",), ("purge", "--dry-run"), ("decrypt", "--yes"), ("encrypt",)):
        r = run(*args, env={"FIELDREPORT_PASSPHRASE": "not the passphrase"})
        assert r.code == 2, (args, r.out, r.err)
        assert r.err.count("\n") == 1 and "Traceback" not in r.err and "passphrase" in r.err, r.err
        assert "not the passphrase" not in r.err + r.out
    after = {p: hashlib.sha256(open(p, "rb").read()).hexdigest() for p in _raw_files(home)}
    assert before == after
    # no passphrase at all and no terminal: a clear error too
    e = dict(os.environ)
    e.pop("FIELDREPORT_PASSPHRASE", None)
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-m", "fieldreport", "list"], env=e, capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=60)
    assert p.returncode == 2 and b"FIELDREPORT_PASSPHRASE" in p.stderr and p.stderr.count(b"\n") == 1
    r = run("list", "--json", env={"FIELDREPORT_PASSPHRASE": PASS})
    assert r.code == 0 and r.json()[0]["ref"] == "R-0001"


def test_chinese_output_of_a_wrong_passphrase(enc, run):
    r = run("list", "--lang", "zh", env={"FIELDREPORT_PASSPHRASE": "wrong wrong"})
    assert r.code == 2 and r.err.count("\n") == 1


def test_the_store_refuses_a_key_that_does_not_open_it(enc, cli, home):
    from fieldreport.crypto import WrongPassphrase
    from fieldreport.store import Store

    with pytest.raises(WrongPassphrase):
        Store.open(home / "fieldreport.db", key="00" * 32)
    # and without any key, the encrypted file is named as such, not as "damaged"
    os.rename(home / "fieldreport.key", home / "key.aside")
    r = cli("list")
    assert r.code == 5 and "encrypted" in r.err and "keyfile" in r.err and r.err.count("\n") == 1


def test_encrypt_then_decrypt_an_existing_store(profile, cli, home, photo, monkeypatch):
    recs = [_add(cli, photo), _add(cli, title="楼道堆物隐患")]
    assert _plaintext_somewhere(home)
    before = cli("list", "--reveal", "--json").json()
    # a passphrase that is too short is refused before anything is written
    monkeypatch.setenv("FIELDREPORT_PASSPHRASE", "short")
    r = cli("encrypt")
    assert r.code == 2 and r.err.count("\n") == 1 and not (home / "fieldreport.key").exists()
    monkeypatch.setenv("FIELDREPORT_PASSPHRASE", PASS)
    r = cli("encrypt", "--json")
    assert r.code == 0, r.err
    assert r.json()["encrypted"] and r.json()["photos_converted"] >= 1 and r.json()["reports"] == 2
    _assert_no_plaintext(home)
    assert not list(home.glob("*.converting*"))
    assert cli("list", "--reveal", "--json").json() == before
    r = cli("verify")
    assert r.code == 0, r.out + r.err
    # running it again is harmless
    r = cli("encrypt", "--json")
    assert r.code == 0 and r.json()["photos_converted"] == 0
    # decrypt needs --yes without a terminal
    r = cli("decrypt")
    assert r.code == 2 and "--yes" in r.err
    r = cli("decrypt", "--yes", "--json")
    assert r.code == 0, r.err
    assert not (home / "fieldreport.key").exists()
    assert cli("list", "--reveal", "--json").json() == before
    assert _plaintext_somewhere(home)
    assert cli("status", "--json").json()["encrypted"] is False
    monkeypatch.delenv("FIELDREPORT_PASSPHRASE")
    assert cli("show", recs[0]["ref"]).code == 0
    assert cli("verify").code == 0
    r = cli("decrypt", "--yes")
    assert r.code == 2 and "not encrypted" in r.err


def test_an_interrupted_encrypt_still_opens_and_finishes(profile, cli, home, photo, monkeypatch):
    """Keyfile written, store converted, photos half done (a kill in the middle): every command
    still works, and a second `encrypt` finishes the job."""
    _add(cli, photo)
    _add(cli, photo)
    from fieldreport.paths import resolve

    p = resolve()
    keys = crypto.create_keyfile(p.data_dir, PASS)
    monkeypatch.setenv("FIELDREPORT_PASSPHRASE", PASS)
    # state 1: keyfile but store still plain — opens plain, new photos are sealed
    r = cli("list", "--json")
    assert r.code == 0 and len(r.json()) == 2
    other = photo.with_name("另一张.png")
    other.write_bytes(_png(b"another photo"))
    _add(cli, other)
    bs = BlobStore(p.blobs, keys.blob)
    assert any(bs.is_sealed(s) for s in bs.names()) and not all(bs.is_sealed(s) for s in bs.names())
    assert cli("verify").code == 0
    # state 2: store converted, photos left mixed
    from fieldreport.store import cipher

    cipher.convert(p.store, old_key=None, new_key=keys.db)
    r = cli("show", "R-0001", "--reveal", "--json")
    assert r.code == 0 and r.json()["parties"][0]["id"] == ID
    assert cli("verify").code == 0
    r = cli("encrypt", "--json")
    assert r.code == 0, r.err
    _assert_no_plaintext(home)
    assert cli("verify").code == 0


def test_conversion_refuses_a_store_open_elsewhere(profile, cli, home, monkeypatch):
    """Another process reading the store (WAL mode): nothing is converted, one line, exit 4."""
    import subprocess
    import sys

    _add(cli)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('BEGIN'); "
         "c.execute('SELECT count(*) FROM reports').fetchone(); print('ready', flush=True); sys.stdin.read()",
         str(home / "fieldreport.db")], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == b"ready"
        monkeypatch.setenv("FIELDREPORT_PASSPHRASE", PASS)
        monkeypatch.setenv("FIELDREPORT_BUSY_TIMEOUT_MS", "300")
        r = cli("encrypt")
        assert r.code == 4 and r.err.count("\n") == 1 and "another fieldreport process" in r.err, r.err
        from fieldreport.store import cipher

        assert cipher.is_plain_file(home / "fieldreport.db")
        assert not list(home.glob("*.converting*"))
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    # the keyfile was written first: the store is in the "encrypt started" state, which opens
    assert cli("list", "--json").json()[0]["ref"] == "R-0001"
    r = cli("encrypt", "--json")
    assert r.code == 0, r.err
    _assert_no_plaintext(home)


def test_sealed_photo_reads_by_seek_and_detects_tampering(tmp_path):
    key = os.urandom(32)
    bs = BlobStore(tmp_path / "blobs", key)
    data = os.urandom(crypto.CHUNK * 2 + 12345)
    sha = bs.put_bytes(data)
    assert sha == hashlib.sha256(data).hexdigest()
    raw = bs.path(sha).read_bytes()
    assert raw[:4] == b"FRB1" and data[:1000] not in raw
    with bs.open_read(sha) as f:
        assert f.seek(0, 2) == len(data)
        for off in (0, 1, crypto.CHUNK - 3, crypto.CHUNK, crypto.CHUNK * 2 + 12000, len(data)):
            f.seek(off)
            got = b""
            while len(got) < 5000:
                piece = f.read(5000 - len(got))
                if not piece:
                    break
                got += piece
            assert got == data[off:off + 5000], off
    assert bs.verify(sha) and bs.size(sha) == len(data)
    # an empty photo and one of exactly one chunk round-trip too
    for n in (0, crypto.CHUNK):
        d = os.urandom(n)
        assert bs.read_bytes(bs.put_bytes(d)) == d
    # streaming put_file gives the same name as put_bytes
    src = tmp_path / "x.jpg"
    src.write_bytes(b"\xff\xd8\xff" + data)
    s2, size = bs.put_file(src)
    assert s2 == hashlib.sha256(src.read_bytes()).hexdigest() and bs.read_bytes(s2) == src.read_bytes()
    # flip one byte of the ciphertext: the photo no longer verifies, reading it is a clear error
    b = bytearray(raw)
    b[len(b) // 2] ^= 1
    bs.path(sha).write_bytes(bytes(b))
    assert not bs.verify(sha)
    with pytest.raises(crypto.BlobCorrupt):
        bs.read_bytes(sha)
    # truncation (dropping the last chunk) is detected as well
    bs.path(sha).write_bytes(raw[:crypto.BLOB_HEADER + 2 * (crypto.CHUNK + crypto.TAG)])
    assert not bs.verify(sha)
    # a wrong key
    bs.path(sha).write_bytes(raw)
    assert not BlobStore(tmp_path / "blobs", os.urandom(32)).verify(sha)
    # without any key: a clear InputError, not garbage
    from fieldreport.errors import InputError

    with pytest.raises(InputError):
        BlobStore(tmp_path / "blobs").read_bytes(sha)


def test_keyfile_holds_no_key_and_keys_never_print(tmp_path):
    keys = crypto.create_keyfile(tmp_path, PASS)
    doc = json.loads((tmp_path / "fieldreport.key").read_text())
    assert doc["kdf"] == "scrypt" and doc["n"] >= 2 ** 15
    text = (tmp_path / "fieldreport.key").read_text()
    assert keys.db not in text and keys.blob.hex() not in text and PASS not in text
    assert keys.db not in repr(keys) and "hidden" in repr(keys)
    with pytest.raises(crypto.WrongPassphrase):
        crypto.unlock(tmp_path, PASS + "x")
    assert crypto.unlock(tmp_path, PASS) == keys
    from fieldreport.errors import InputError

    with pytest.raises(InputError):
        crypto.create_keyfile(tmp_path, PASS)  # never replace a keyfile: that would lock the data away


def test_sync_works_the_same_encrypted(enc, cli, home, hub, photo, tmp_path):
    """Report text and the photo reach the real hub in the clear (TLS is the link's job);
    nothing on the laptop is."""
    from fieldreport import profile as prof
    from fieldreport.paths import resolve

    p = resolve()
    from fieldreport.cli.common import passphrase_for
    from fieldreport.store import Store

    with Store.open(p.store, key=passphrase_for(p)) as s:
        device_id = s.meta("device_id")
    dev = hub.device(officer_id="A1024", device_id=device_id)
    pr = prof.load(p)
    pr.hub_url = hub.url
    prof.save(p, pr)
    prof.write_token(p, dev.token)
    rec = _add(cli, photo)
    r = cli("sync", "--originals", "--json")
    assert r.code == 0, r.err + r.out
    res = r.json()
    assert res["applied"] == 1 and not res.get("photo_errors"), res
    from sync_support import hub_ops, hub_reports

    assert rec["id"] in hub_reports(hub, device_id) and len(hub_ops(hub, device_id)) == 1
    # the hub holds the photo's plaintext under its plaintext hash
    sha = hashlib.sha256(photo.read_bytes()).hexdigest()
    held = list((hub.data_dir / "blobs").rglob(sha))
    assert held and held[0].read_bytes() == photo.read_bytes()
    r = cli("status", "--json")
    assert r.code == 0 and r.json()["queued"] == 0
    r = cli("list", "--json")
    assert r.json()[0]["synced"] is True
    _assert_no_plaintext(home)
    # the token never appears in any output
    for args in (("status",), ("status", "--json"), ("sync", "--json"), ("list",), ("verify",)):
        r = cli(*args)
        assert dev.token not in r.out + r.err and PASS not in r.out + r.err


def test_open_reader_is_a_real_file_object(tmp_path):
    key = os.urandom(32)
    bs = BlobStore(tmp_path / "b", key)
    sha = bs.put_bytes(b"abc" * 1000)
    with bs.open_read(sha) as f:
        assert isinstance(f, io.RawIOBase) and f.readable() and f.seekable()
        assert f.read(3) == b"abc" and f.tell() == 3
        assert f.read() == b"abc" * 999 and f.read() == b""


ENCRYPT_POINTS = ("encrypt:after_keyfile", "convert:after_export", "convert:before_rename", "convert:after_rename",
                  "reseal:after_first")
DECRYPT_POINTS = ("convert:after_export", "convert:before_rename", "convert:after_rename", "reseal:after_first",
                  "decrypt:before_keyfile_removed")


@pytest.mark.parametrize("point", ENCRYPT_POINTS)
def test_encrypt_killed_at_any_point_loses_nothing(point, profile, cli, run, home, photo):
    """`fieldreport encrypt` killed (SIGKILL-like exit) at each named point: the store opens,
    every report and photo is intact, and running encrypt again finishes the job."""
    other = photo.with_name("第二张.png")
    other.write_bytes(_png(b"second photo " * 20))
    _add(cli, photo)
    _add(cli, other, title="楼道堆物隐患")
    before = cli("list", "--reveal", "--json").json()
    r = run("encrypt", env={"FIELDREPORT_PASSPHRASE": PASS, "FIELDREPORT_CRASH_AT": point})
    assert r.code == 137, (point, r.err)
    e = {"FIELDREPORT_PASSPHRASE": PASS}
    r = run("list", "--reveal", "--json", env=e)
    assert r.code == 0 and r.json() == before, (point, r.err)
    assert run("verify", env=e).code == 0
    r = run("add", "--kind", "zero", "--title", "本月零报告", "--no-input", env=e)  # still writable
    assert r.code == 0, r.err
    r = run("encrypt", env=e)
    assert r.code == 0, (point, r.err)
    assert not list(home.glob("*.converting*"))
    _assert_no_plaintext(home)
    r = run("list", "--reveal", "--json", env=e)
    assert [x for x in r.json() if x["kind"] != "zero"] == before
    assert run("verify", env=e).code == 0


@pytest.mark.parametrize("point", DECRYPT_POINTS)
def test_decrypt_killed_at_any_point_loses_nothing(point, enc, cli, run, home, photo):
    other = photo.with_name("第二张.png")
    other.write_bytes(_png(b"second photo " * 20))
    _add(cli, photo)
    _add(cli, other, title="楼道堆物隐患")
    before = cli("list", "--reveal", "--json").json()
    e = {"FIELDREPORT_PASSPHRASE": PASS}
    r = run("decrypt", "--yes", env=dict(e, FIELDREPORT_CRASH_AT=point))
    assert r.code == 137, (point, r.err)
    assert (home / "fieldreport.key").exists()  # removed last: the passphrase still opens everything
    r = run("list", "--reveal", "--json", env=e)
    assert r.code == 0 and r.json() == before, (point, r.err)
    assert run("verify", env=e).code == 0
    # changing one's mind: encrypt again leaves no plaintext copy behind
    assert run("encrypt", env=e).code == 0
    _assert_no_plaintext(home)
    r = run("decrypt", "--yes", env=e)
    assert r.code == 0, (point, r.err)
    assert not (home / "fieldreport.key").exists()
    r = run("list", "--reveal", "--json")
    assert r.code == 0 and r.json() == before
    assert run("verify").code == 0


def test_commands_racing_an_encrypt_never_lose_a_report(profile, cli, home):
    """`add` processes started while `encrypt` converts the store: each one either records its
    report (found afterwards, once) or fails cleanly with one line — never writes into the old
    file that is being replaced, never leaves a damaged store."""
    import subprocess
    import sys
    import time

    from fieldreport.paths import resolve
    from fieldreport.store import Store

    s = Store.open(resolve().store)
    s.insert_reports([({"kind": "hazard", "category": "fire", "level": "yellow", "title": f"消防隐患{i}",
                        "details": "楼道堆放杂物，堵塞消防通道。" * 20, "place": "东村", "parties": [], "photos": []},
                       "registered") for i in range(3000)], author="A1024")
    s.close()
    env = dict(os.environ, FIELDREPORT_PASSPHRASE=PASS, FIELDREPORT_BUSY_TIMEOUT_MS="20000")
    enc = subprocess.Popen([sys.executable, "-m", "fieldreport", "encrypt"], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
    adders = []
    deadline = time.monotonic() + 60
    i = 0
    while enc.poll() is None and time.monotonic() < deadline and i < 6:
        title = f"并发登记{i}"
        adders.append((title, subprocess.Popen(
            [sys.executable, "-m", "fieldreport", "add", "--kind", "zero", "--title", title, "--no-input"], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)))
        i += 1
        time.sleep(0.1)
    out, err = enc.communicate(timeout=120)
    assert enc.returncode in (0, 4), err
    print(f"encrypt exit {enc.returncode}, {i} adders started while it ran")
    recorded = set()
    for title, p in adders:
        o, e = p.communicate(timeout=120)
        if p.returncode == 0:
            recorded.add(title)
        else:
            assert p.returncode in (2, 4) and e.count(b"\n") == 1 and b"Traceback" not in e, (p.returncode, e)
    print(f"{len(recorded)} of {len(adders)} adds recorded")
    if enc.returncode == 4:
        assert subprocess.run([sys.executable, "-m", "fieldreport", "encrypt"], env=env).returncode == 0
    r = subprocess.run([sys.executable, "-m", "fieldreport", "list", "--kind", "zero", "--limit", "0", "--json"],
                       env=env, capture_output=True)
    assert r.returncode == 0, r.stderr
    titles = [x["title"] for x in json.loads(r.stdout)]
    assert sorted(titles) == sorted(recorded) and len(titles) == len(set(titles))
    assert subprocess.run([sys.executable, "-m", "fieldreport", "verify"], env=env,
                          capture_output=True).returncode == 0
    _assert_no_plaintext(home)


NEW_PASS = "新的口令 another long one"


def test_change_passphrase(enc, cli, run, home, photo):
    """`fieldreport passphrase`: the new one opens everything, the old one nothing; the data is
    not rewritten (the store's and photos' bytes are unchanged) and nothing is in the clear."""
    rec = _add(cli, photo)
    before = cli("list", "--reveal", "--json").json()
    data_files = {p: hashlib.sha256(open(p, "rb").read()).hexdigest() for p in _raw_files(home)
                  if os.path.basename(p) in ("fieldreport.db",) or "/blobs/" in p}
    old_keyfile = (home / "fieldreport.key").read_bytes()
    swap = {"FIELDREPORT_PASSPHRASE": PASS, "FIELDREPORT_NEW_PASSPHRASE": NEW_PASS}
    # bad input: one line, exit 2, the keyfile untouched
    for env, why in (({"FIELDREPORT_PASSPHRASE": "not it at all", "FIELDREPORT_NEW_PASSPHRASE": NEW_PASS}, "wrong"),
                     ({"FIELDREPORT_PASSPHRASE": PASS, "FIELDREPORT_NEW_PASSPHRASE": "x7Q"}, "characters"),
                     ({"FIELDREPORT_PASSPHRASE": PASS, "FIELDREPORT_NEW_PASSPHRASE": PASS}, "old one")):
        r = run("passphrase", env=env)
        assert r.code == 2 and r.err.count("\n") == 1 and why in r.err and "Traceback" not in r.err, r.err
        assert all(v not in r.out + r.err for v in env.values())
        assert (home / "fieldreport.key").read_bytes() == old_keyfile
    r = run("passphrase", env=swap)
    assert r.code == 0, r.err
    assert PASS not in r.out + r.err and NEW_PASS not in r.out + r.err
    kf = home / "fieldreport.key"
    assert oct(kf.stat().st_mode)[-3:] == "600" and json.loads(kf.read_bytes())["format"] == "fieldreport-key/2"
    r = run("list", env={"FIELDREPORT_PASSPHRASE": PASS})
    assert r.code == 2 and "wrong passphrase" in r.err
    e = {"FIELDREPORT_PASSPHRASE": NEW_PASS}
    r = run("list", "--reveal", "--json", env=e)
    assert r.code == 0 and r.json() == before, r.err
    assert run("verify", env=e).code == 0
    r = run("show", rec["ref"], "--reveal", "--json", env=e)
    assert r.json()["parties"][0]["id"] == ID
    keys = crypto.unlock(home, NEW_PASS)
    sha = r.json()["photos"][0]["sha256"]
    assert BlobStore(home / "blobs", keys.blob).read_bytes(sha) == photo.read_bytes()
    assert keys.db.encode() not in kf.read_bytes() and keys.blob not in kf.read_bytes()
    assert {p: hashlib.sha256(open(p, "rb").read()).hexdigest() for p in data_files} == data_files
    _assert_no_plaintext(home)
    # again, from a wrapped keyfile; and the laptop still writes and syncs its queue as before
    r = run("passphrase", env={"FIELDREPORT_PASSPHRASE": NEW_PASS, "FIELDREPORT_NEW_PASSPHRASE": PASS + " 2"})
    assert r.code == 0, r.err
    r = run("add", "--kind", "zero", "--title", "本月零报告", "--no-input", env={"FIELDREPORT_PASSPHRASE": PASS + " 2"})
    assert r.code == 0, r.err


def test_change_passphrase_on_a_plain_laptop_is_refused(profile, run):
    r = run("passphrase", env={"FIELDREPORT_PASSPHRASE": PASS, "FIELDREPORT_NEW_PASSPHRASE": NEW_PASS})
    assert r.code == 2 and "not encrypted" in r.err and r.err.count("\n") == 1


@pytest.mark.parametrize("point", ("passphrase:before_keyfile_replaced", "passphrase:after_keyfile_replaced"))
def test_change_passphrase_killed_leaves_exactly_one_that_opens(point, enc, cli, run, home, photo):
    """Killed before the keyfile's rename the old passphrase opens everything, after it the new
    one; never neither, never half a keyfile."""
    _add(cli, photo)
    before = cli("list", "--reveal", "--json").json()
    r = run("passphrase", env={"FIELDREPORT_PASSPHRASE": PASS, "FIELDREPORT_NEW_PASSPHRASE": NEW_PASS,
                               "FIELDREPORT_CRASH_AT": point})
    assert r.code == 137, r.err
    opens = {p: run("list", "--reveal", "--json", env={"FIELDREPORT_PASSPHRASE": p}) for p in (PASS, NEW_PASS)}
    good = [p for p, r in opens.items() if r.code == 0]
    assert good == ([PASS] if point.startswith("passphrase:before") else [NEW_PASS])
    assert opens[good[0]].json() == before
    assert not [p for p in home.iterdir() if p.name.endswith(".part")]
