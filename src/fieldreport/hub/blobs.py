"""Resumable, hash-addressed photo uploads (the tus core protocol, in the hub's words).

A blob in progress is ``partial/<sha256>`` plus ``partial/<sha256>.len`` (its announced
length). A chunk is accepted only at the offset held and only when its own checksum matches;
it is appended and fsynced before the new offset is answered. When the last byte arrives the
whole file is hashed: on a match it is renamed into the content-addressed store (the same
layout as the laptop's), otherwise the partial bytes are discarded. Every step for one hash
runs under an exclusive file lock, so two uploads of the same photo cannot interleave.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..blobs import MAX_PHOTO_BYTES, BlobStore, _fsync_dir
from ..paths import private_dir, write_private
from ..protocol import BLOB_CHUNK_MAX
from .errors import BadRequest, Conflict, HubError, TooLarge, Unprocessable

SHA_RE = re.compile(r"^[0-9a-f]{64}$")
MAX_BLOB_BYTES = MAX_PHOTO_BYTES


class ChecksumMismatch(HubError):
    status, code = 460, "checksum_mismatch"


def check_sha(sha: str) -> str:
    if not SHA_RE.match(sha or ""):
        raise Unprocessable("sha256: give 64 lowercase hex digits", "sha256")
    return sha


class HubBlobs:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.store = BlobStore(self.root)
        self.partial_dir = self.root / "partial"

    def _partial(self, sha: str) -> Path:
        return self.partial_dir / sha

    def _length_file(self, sha: str) -> Path:
        return self.partial_dir / f"{sha}.len"

    @contextmanager
    def _locked(self, sha: str) -> Iterator[None]:
        private_dir(self.partial_dir)
        fd = os.open(self.partial_dir / f"{sha}.lock", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def missing(self, hashes: list[str]) -> list[str]:
        """The hashes (in the order given, once each) the hub does not hold whole."""
        out, seen = [], set()
        for h in hashes:
            check_sha(h)
            if h not in seen and not self.store.has(h):
                out.append(h)
            seen.add(h)
        return out

    def offset(self, sha: str) -> tuple[int, int | None]:
        """(bytes held, announced length or None)."""
        check_sha(sha)
        done = self.store.path(sha)
        if done.exists():
            size = done.stat().st_size
            return size, size
        p = self._partial(sha)
        held = p.stat().st_size if p.exists() else 0
        try:
            length = int(self._length_file(sha).read_text())
        except (OSError, ValueError):
            length = None
        return held, length

    def patch(self, sha: str, offset: int, length: int, checksum: str | None, chunk: bytes) -> tuple[int, bool]:
        """Append ``chunk`` at ``offset``; returns (new offset, complete)."""
        check_sha(sha)
        if length < 0 or length > MAX_BLOB_BYTES:
            raise TooLarge(f"Upload-Length: a photo may be at most {MAX_BLOB_BYTES} bytes", "Upload-Length")
        if len(chunk) > BLOB_CHUNK_MAX:
            raise TooLarge(f"chunk: at most {BLOB_CHUNK_MAX} bytes per PATCH", "body")
        digest = _parse_checksum(checksum)
        with self._locked(sha):
            done = self.store.path(sha)
            if done.exists():
                size = done.stat().st_size
                return size, True
            held, known = self.offset(sha)
            if known is not None and known != length:
                raise Conflict(f"Upload-Length: this upload was announced with {known} bytes", "Upload-Length",
                               headers={"Upload-Offset": str(held), "Upload-Length": str(known)})
            if offset != held:
                raise Conflict(f"Upload-Offset: the hub holds {held} bytes; resume there", "Upload-Offset",
                               headers={"Upload-Offset": str(held)})
            if offset + len(chunk) > length:
                raise BadRequest("body: the chunk runs past Upload-Length", "body")
            if hashlib.sha256(chunk).digest() != digest:
                raise ChecksumMismatch("Upload-Checksum: the chunk does not match its checksum; it was dropped, "
                                       "send it again", "Upload-Checksum")
            if known is None:
                write_private(self._length_file(sha), str(length).encode())
            p = self._partial(sha)
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                if chunk:
                    os.write(fd, chunk)
                os.fsync(fd)
            finally:
                os.close(fd)
            new = held + len(chunk)
            if new < length:
                return new, False
            return self._finish(sha, p, new)

    def _finish(self, sha: str, p: Path, size: int) -> tuple[int, bool]:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
        if h.hexdigest() != sha:
            p.unlink(missing_ok=True)
            self._length_file(sha).unlink(missing_ok=True)
            raise Unprocessable("sha256: the uploaded bytes do not hash to this name; they were discarded, "
                                "upload the photo again from offset 0", "sha256")
        dest = self.store.path(sha)
        private_dir(dest.parent)
        os.replace(p, dest)
        _fsync_dir(dest.parent)
        self._length_file(sha).unlink(missing_ok=True)
        return size, True


def _parse_checksum(value: str | None) -> bytes:
    if not value:
        raise BadRequest("Upload-Checksum: missing; send `sha256 <base64 of the chunk's digest>`", "Upload-Checksum")
    algo, _, b64 = value.strip().partition(" ")
    if algo.lower() != "sha256":
        raise BadRequest("Upload-Checksum: only sha256 is supported", "Upload-Checksum")
    try:
        digest = base64.b64decode(b64.strip(), validate=True)
    except ValueError:
        raise BadRequest("Upload-Checksum: not base64", "Upload-Checksum") from None
    if len(digest) != 32:
        raise BadRequest("Upload-Checksum: a sha256 digest has 32 bytes", "Upload-Checksum")
    return digest
