"""Resumable photo uploads to a real hub: offsets, chunk checksums, the whole-file hash."""

from __future__ import annotations

import hashlib
import os
import threading

from hubfixtures import patch_headers


def _photo(n: int = 300_000) -> bytes:
    return b"\xff\xd8\xff\xe0" + os.urandom(n)


def test_missing_then_upload_then_not_missing(hub):
    dev = hub.device()
    a, b = _photo(), _photo(1000)
    sa_, sb = hashlib.sha256(a).hexdigest(), hashlib.sha256(b).hexdigest()
    r = dev.http.post("/v1/blobs/missing", json={"hashes": [sa_, sb, sa_]})
    assert r.status_code == 200 and r.json()["missing"] == [sa_, sb]
    dev.upload(a)
    assert dev.http.post("/v1/blobs/missing", json={"hashes": [sa_, sb]}).json()["missing"] == [sb]
    stored = hub.data_dir / "blobs" / sa_[:2] / sa_
    assert stored.read_bytes() == a and stored.stat().st_mode & 0o077 == 0
    h = dev.http.head(f"/v1/blobs/{sa_}")
    assert h.headers["Upload-Offset"] == str(len(a)) and h.headers["Upload-Length"] == str(len(a))
    # a repeated upload of a held photo is answered complete, without rewriting it
    r = dev.http.patch(f"/v1/blobs/{sa_}", content=a[:10], headers=patch_headers(0, len(a), a[:10]))
    assert r.status_code == 204 and r.headers["Upload-Complete"] == "1"
    assert r.headers["Upload-Offset"] == str(len(a))


def test_resume_from_the_held_offset(hub):
    dev = hub.device()
    data = _photo()
    sha = hashlib.sha256(data).hexdigest()
    part = data[:100_000]
    r = dev.http.patch(f"/v1/blobs/{sha}", content=part, headers=patch_headers(0, len(data), part))
    assert r.status_code == 204 and r.headers["Upload-Offset"] == "100000" and "Upload-Complete" not in r.headers
    # the link dropped; the laptop asks where to resume
    h = dev.http.head(f"/v1/blobs/{sha}")
    assert h.headers["Upload-Offset"] == "100000" and h.headers["Upload-Length"] == str(len(data))
    # a stale offset is refused with the one held
    r = dev.http.patch(f"/v1/blobs/{sha}", content=part, headers=patch_headers(0, len(data), part))
    assert r.status_code == 409 and r.headers["Upload-Offset"] == "100000"
    assert r.headers["X-Fieldreport-Protocol"] == "1" and r.json()["field"] == "Upload-Offset"
    rest = data[100_000:]
    r = dev.http.patch(f"/v1/blobs/{sha}", content=rest, headers=patch_headers(100_000, len(data), rest))
    assert r.status_code == 204 and r.headers["Upload-Complete"] == "1"
    assert (hub.data_dir / "blobs" / sha[:2] / sha).read_bytes() == data
    assert not (hub.data_dir / "blobs" / "partial" / sha).exists()


def test_bad_chunk_checksum_drops_the_chunk(hub):
    dev = hub.device()
    data = _photo(50_000)
    sha = hashlib.sha256(data).hexdigest()
    r = dev.http.patch(f"/v1/blobs/{sha}", content=data[:1000],
                       headers=patch_headers(0, len(data), data[:1000], checksum=hashlib.sha256(b"x").digest()))
    assert r.status_code == 460 and r.json()["error"] == "checksum_mismatch"
    assert dev.http.head(f"/v1/blobs/{sha}").headers["Upload-Offset"] == "0"
    assert dev.upload(data) == sha


def test_whole_hash_mismatch_discards_the_partial(hub):
    dev = hub.device()
    data = _photo(20_000)
    wrong = hashlib.sha256(b"another photo").hexdigest()
    r = dev.http.patch(f"/v1/blobs/{wrong}", content=data, headers=patch_headers(0, len(data), data))
    assert r.status_code == 422 and r.json()["field"] == "sha256"
    assert dev.http.head(f"/v1/blobs/{wrong}").headers["Upload-Offset"] == "0"
    assert dev.http.post("/v1/blobs/missing", json={"hashes": [wrong]}).json()["missing"] == [wrong]


def test_bad_requests(hub):
    dev = hub.device()
    data = _photo(1000)
    sha = hashlib.sha256(data).hexdigest()
    h = patch_headers(0, len(data), data)
    assert dev.http.patch("/v1/blobs/NOTAHASH", content=data, headers=h).status_code == 422
    assert dev.http.head("/v1/blobs/abc").status_code == 422
    assert dev.http.post("/v1/blobs/missing", json={"hashes": ["xyz"]}).status_code == 422
    assert dev.http.patch(f"/v1/blobs/{sha}", content=data, headers={**h, "Content-Type": "image/jpeg"}).status_code == 415
    assert dev.http.patch(f"/v1/blobs/{sha}", content=data,
                          headers={k: v for k, v in h.items() if k != "Upload-Checksum"}).status_code == 400
    assert dev.http.patch(f"/v1/blobs/{sha}", content=data,
                          headers={**h, "Upload-Length": str(len(data) - 1)}).status_code == 400
    assert dev.http.patch(f"/v1/blobs/{sha}", content=data,
                          headers={**h, "Upload-Length": str(200 * 1024 * 1024)}).status_code == 413
    assert dev.http.patch(f"/v1/blobs/{sha}", content=data, headers={**h, "Upload-Offset": "x"}).status_code == 400
    import httpx

    assert httpx.head(hub.url + f"/v1/blobs/{sha}").status_code == 401
    # nothing of it was kept
    assert dev.http.head(f"/v1/blobs/{sha}").headers["Upload-Offset"] == "0"


def test_length_is_fixed_by_the_first_chunk(hub):
    dev = hub.device()
    data = _photo(10_000)
    sha = hashlib.sha256(data).hexdigest()
    dev.http.patch(f"/v1/blobs/{sha}", content=data[:10], headers=patch_headers(0, len(data), data[:10]))
    r = dev.http.patch(f"/v1/blobs/{sha}", content=data[10:20], headers=patch_headers(10, len(data) + 5, data[10:20]))
    assert r.status_code == 409 and r.json()["field"] == "Upload-Length"


def test_two_laptops_uploading_the_same_photo_at_once(hub):
    a, b = hub.device(), hub.device("B2048", "李强", "西村")
    data = _photo(600_000)
    sha = hashlib.sha256(data).hexdigest()
    errors = []

    def up(dev):
        # a laptop that follows 409s to the held offset, as the protocol says
        off = 0
        while off < len(data):
            part = data[off:off + 32_768]
            r = dev.http.patch(f"/v1/blobs/{sha}", content=part, headers=patch_headers(off, len(data), part))
            if r.status_code == 409:
                off = int(r.headers["Upload-Offset"])
            elif r.status_code == 204:
                off = int(r.headers["Upload-Offset"])
            else:
                errors.append(r.text)
                return

    ts = [threading.Thread(target=up, args=(d,)) for d in (a, b)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert errors == []
    assert (hub.data_dir / "blobs" / sha[:2] / sha).read_bytes() == data
