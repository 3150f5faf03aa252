"""Content-addressed blob store for photos: ``blobs/ab/abcdef…`` named by sha256.

A photo is streamed to a temp file while hashed, fsynced, then renamed into place; only then
does the store insert the row that names the hash. A crash leaves at worst an orphan temp
file or an unreferenced blob, never a row naming a missing or partial file.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .paths import fsync_dir as _fsync_dir
from .i18n import _
from .errors import InputError
from .paths import private_dir

_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"BM", "image/bmp"),
)
CHUNK = 1 << 20
MAX_PHOTO_BYTES = 64 * 1024 * 1024


def sniff_image(head: bytes) -> str | None:
    """The MIME type of an image from its first bytes, or None when it is not an image."""
    for sig, mime in _SIGNATURES:
        if head.startswith(sig):
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"heim", b"heis", b"avif"):
        return "image/avif" if head[8:12] == b"avif" else "image/heic"
    return None


class BlobStore:
    """``key`` (the photo key from :mod:`fieldreport.crypto`) seals every new file with AES-GCM;
    files are always named by the sha256 of their *plaintext*, and reads go through
    :meth:`open_read` / :meth:`read_bytes`, which open plain and sealed files alike (a store
    half-way through ``fieldreport encrypt`` holds both)."""

    def __init__(self, root: Path, key: bytes | None = None):
        self.root = root
        self._key = key

    @property
    def key(self) -> bytes | None:
        """The photo key: the one given, else the one this process unlocked for this folder
        (so a BlobStore made anywhere after the passphrase was given reads and seals alike)."""
        if self._key is not None:
            return self._key
        from .crypto import registered_blob_key

        return registered_blob_key(self.root)

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        return self.path(sha256).exists()

    def check_photo(self, src: str | os.PathLike) -> tuple[Path, str]:
        """Raise InputError unless ``src`` is a readable image file; return (path, mime)."""
        p = Path(src).expanduser()
        if not p.is_file():
            raise InputError(_("photo: {src!r} does not exist or is not a file").format(src=str(src)), "photo")
        try:
            with open(p, "rb") as f:
                head = f.read(32)
        except OSError as e:
            raise InputError(_("photo: cannot read {src!r}: {err}").format(src=str(src), err=e.strerror), "photo") from None
        mime = sniff_image(head)
        if mime is None:
            raise InputError(_("photo: {src!r} is not an image (JPEG, PNG, GIF, TIFF, BMP, WebP or HEIC)").format(src=str(src)), "photo")
        if p.stat().st_size > MAX_PHOTO_BYTES:
            raise InputError(_("photo: {src!r} is larger than {MAX_PHOTO_BYTES} MB").format(src=str(src), MAX_PHOTO_BYTES=MAX_PHOTO_BYTES // (1024 * 1024)), "photo")
        return p, mime

    def put_file(self, src: Path) -> tuple[str, int]:
        """Copy ``src`` into the store; return (sha256, size). Idempotent."""
        private_dir(self.root)
        tmp = self.root / f".incoming.{os.getpid()}.{os.urandom(4).hex()}"
        h = hashlib.sha256()
        size = 0
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            sink = self._sink(fd)
            with open(src, "rb") as f:
                while chunk := f.read(CHUNK):
                    h.update(chunk)
                    size += len(chunk)
                    sink.write(chunk)
            sink.close()
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        os.close(fd)
        digest = h.hexdigest()
        dest = self.path(digest)
        if dest.exists():
            tmp.unlink()
        else:
            private_dir(dest.parent)
            os.replace(tmp, dest)
            _fsync_dir(dest.parent)
        return digest, size

    def put_bytes(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        dest = self.path(digest)
        if not dest.exists():
            private_dir(dest.parent)
            tmp = dest.with_name(f".{digest}.{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                sink = self._sink(fd)
                sink.write(data)
                sink.close()
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, dest)
        return digest

    def _sink(self, fd: int):
        if self.key is None:
            return _PlainSink(fd)
        from .crypto import SealWriter

        return SealWriter(self.key, fd)

    def is_sealed(self, sha256: str) -> bool:
        with open(self.path(sha256), "rb") as f:
            return f.read(4) == b"FRB1"

    def open_read(self, sha256: str):
        """A binary, seekable file object over the photo's plaintext (plain or sealed file).
        Raises FileNotFoundError when the blob is missing; ``crypto.BlobCorrupt`` when a sealed
        chunk fails its tag; InputError when the file is sealed and no key was given."""
        p = self.path(sha256)
        f = open(p, "rb")
        if f.read(4) != b"FRB1":
            f.seek(0)
            return f
        f.close()
        if self.key is None:
            from .i18n import _

            raise InputError(_("photos on this laptop are encrypted: give the passphrase (FIELDREPORT_PASSPHRASE)"),
                             "passphrase")
        from .crypto import OpenReader

        return OpenReader(p, self.key)

    def read_bytes(self, sha256: str) -> bytes:
        with self.open_read(sha256) as f:
            return f.read()

    def size(self, sha256: str) -> int:
        """Size of the plaintext in bytes."""
        with self.open_read(sha256) as f:
            return f.seek(0, 2)

    def names(self):
        """Every blob's sha256 in the folder (not the temp files)."""
        if not self.root.is_dir():
            return
        for sub in sorted(self.root.iterdir()):
            if sub.is_dir() and len(sub.name) == 2:
                for f in sorted(sub.iterdir()):
                    if len(f.name) == 64 and f.name[:2] == sub.name:
                        yield f.name

    def verify(self, sha256: str) -> bool:
        """True when the blob exists and its plaintext hashes to its name (a sealed file must
        also pass every chunk's authentication tag)."""
        from .crypto import BlobCorrupt

        h = hashlib.sha256()
        try:
            with self.open_read(sha256) as f:
                while chunk := f.read(CHUNK):
                    h.update(chunk)
        except (OSError, BlobCorrupt, InputError):
            return False
        return h.hexdigest() == sha256

    def reseal(self, sha256: str, key: bytes | None) -> bool:
        """Rewrite one blob sealed with ``key`` (None = plain), atomically, after checking that
        the new file's plaintext still hashes to its name. Returns False when there was nothing
        to do. Used by ``fieldreport encrypt`` / ``decrypt``."""
        dest = self.path(sha256)
        sealed = self.is_sealed(sha256)
        if sealed == (key is not None):
            return False
        tmp = dest.with_name(f".{sha256}.{os.getpid()}.reseal")
        h = hashlib.sha256()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            sink = _PlainSink(fd) if key is None else BlobStore(self.root, key)._sink(fd)
            with self.open_read(sha256) as f:
                while chunk := f.read(CHUNK):
                    h.update(chunk)
                    sink.write(chunk)
            sink.close()
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        os.close(fd)
        if h.hexdigest() != sha256:
            tmp.unlink()
            raise InputError(_("photo {sha256}…: its content does not match its hash; run `fieldreport verify`").format(sha256=sha256[:16]))
        check_h = hashlib.sha256()
        with _open_tmp(tmp, key) as f:
            while chunk := f.read(CHUNK):
                check_h.update(chunk)
        if check_h.hexdigest() != sha256:  # pragma: no cover — would be a bug in the sealing
            tmp.unlink()
            raise InputError(_("photo {sha256}…: re-sealing produced a file that does not read back").format(sha256=sha256[:16]))
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)
        return True


class _PlainSink:
    def __init__(self, fd: int):
        self.fd = fd

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]

    def close(self) -> None:
        pass


def _open_tmp(path: Path, key: bytes | None):
    if key is None:
        return open(path, "rb")
    from .crypto import OpenReader

    return OpenReader(path, key)
