"""Content-addressed blob store for photos: ``blobs/ab/abcdef…`` named by sha256.

A photo is streamed to a temp file while hashed, fsynced, then renamed into place; only then
does the store insert the row that names the hash. A crash leaves at worst an orphan temp
file or an unreferenced blob, never a row naming a missing or partial file.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

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
    def __init__(self, root: Path):
        self.root = root

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        return self.path(sha256).exists()

    def check_photo(self, src: str | os.PathLike) -> tuple[Path, str]:
        """Raise InputError unless ``src`` is a readable image file; return (path, mime)."""
        p = Path(src).expanduser()
        if not p.is_file():
            raise InputError(f"photo: {str(src)!r} does not exist or is not a file", "photo")
        try:
            with open(p, "rb") as f:
                head = f.read(32)
        except OSError as e:
            raise InputError(f"photo: cannot read {str(src)!r}: {e.strerror}", "photo") from None
        mime = sniff_image(head)
        if mime is None:
            raise InputError(f"photo: {str(src)!r} is not an image (JPEG, PNG, GIF, TIFF, BMP, WebP or HEIC)", "photo")
        if p.stat().st_size > MAX_PHOTO_BYTES:
            raise InputError(f"photo: {str(src)!r} is larger than {MAX_PHOTO_BYTES // (1024 * 1024)} MB", "photo")
        return p, mime

    def put_file(self, src: Path) -> tuple[str, int]:
        """Copy ``src`` into the store; return (sha256, size). Idempotent."""
        private_dir(self.root)
        tmp = self.root / f".incoming.{os.getpid()}.{os.urandom(4).hex()}"
        h = hashlib.sha256()
        size = 0
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with open(src, "rb") as f:
                while chunk := f.read(CHUNK):
                    h.update(chunk)
                    size += len(chunk)
                    os.write(fd, chunk)
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
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, dest)
        return digest

    def verify(self, sha256: str) -> bool:
        p = self.path(sha256)
        if not p.exists():
            return False
        h = hashlib.sha256()
        with open(p, "rb") as f:
            while chunk := f.read(CHUNK):
                h.update(chunk)
        return h.hexdigest() == sha256


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
