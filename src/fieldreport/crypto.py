"""Encryption at rest: keys derived from the passphrase, and the photo (blob) file format.

The keyfile ``<data dir>/fieldreport.key`` (JSON, 0600) is the small header that says "this
laptop's data is encrypted": the KDF and its cost, a random salt, and a check value. It holds
no key. From the passphrase, scrypt (via ``cryptography``) derives a master key; HKDF-SHA256
splits it into

* the SQLCipher raw key of the store (so SQLCipher's own per-open PBKDF2 is skipped),
* the AES-256-GCM key of the photo files,
* the key of the check value, so a wrong passphrase is refused *before* anything is opened.

That is keyfile format 1, written by ``encrypt``. Changing the passphrase
(:func:`change_passphrase`) writes format 2 instead: the same master key, now *wrapped*
(AES-256-GCM) under a key that scrypt derives from the new passphrase and a new salt. The data
is not re-encrypted and the switch is one atomic rename of the keyfile: at every moment
exactly one passphrase, the old or the new, opens everything. (The master key itself stays:
whoever holds an old keyfile and its passphrase still holds the key. To replace the key, run
``decrypt`` then ``encrypt``.)

Photo files: ``FRB1`` + an 8-byte random nonce prefix, then the plaintext in 1 MiB chunks, each
sealed with AES-GCM under nonce = prefix ‖ chunk index (32-bit), with the associated data
marking the last chunk, so chunks cannot be reordered, dropped or the file truncated unseen.
The file keeps the sha256 of its *plaintext* as its name: sync and dedup are unchanged.
"""

from __future__ import annotations

import base64
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import FieldReportError, InputError
from .i18n import _

KEYFILE_FORMAT = "fieldreport-key/1"
KEYFILE_FORMAT_WRAPPED = "fieldreport-key/2"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 15, 8, 1
BLOB_MAGIC = b"FRB1"
BLOB_HEADER = len(BLOB_MAGIC) + 8
CHUNK = 1 << 20
TAG = 16
MIN_PASSPHRASE = 8
_CHECK_PLAIN = b"fieldreport passphrase check v1"


class WrongPassphrase(InputError):
    """The passphrase does not open this laptop's data (exit 2)."""


class BlobCorrupt(FieldReportError):
    """A photo file failed its authentication tag or is truncated."""


@dataclass(frozen=True)
class Keys:
    db: str       # SQLCipher raw key, 64 hex digits
    blob: bytes   # AES-256-GCM key for photo files

    def __repr__(self) -> str:  # never print a key, not even in a traceback's locals
        return "Keys(<hidden>)"


_BLOB_KEYS: dict[str, bytes] = {}


def register_blob_key(root: Path, key: bytes) -> None:
    """Remember the photo key of a blob folder for this process (set when the CLI unlocks)."""
    _BLOB_KEYS[os.path.abspath(root)] = key


def registered_blob_key(root: Path) -> bytes | None:
    return _BLOB_KEYS.get(os.path.abspath(root)) if _BLOB_KEYS else None


def forget_blob_key(root: Path) -> None:
    _BLOB_KEYS.pop(os.path.abspath(root), None)


def keyfile_path(data_dir: Path) -> Path:
    return Path(data_dir) / "fieldreport.key"


def is_encrypted(data_dir: Path) -> bool:
    return keyfile_path(data_dir).exists()


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def _unb64(s: str) -> bytes:
    return base64.b64decode(s.encode("ascii"))


def _master(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


def _sub(master: bytes, info: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"fieldreport/" + info).derive(master)


def _aead(key: bytes):
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


def check_new_passphrase(passphrase: str | None) -> str:
    if not passphrase:
        raise InputError(_("passphrase: must not be empty; set FIELDREPORT_PASSPHRASE or type it at the prompt"),
                         "passphrase")
    if len(passphrase) < MIN_PASSPHRASE:
        raise InputError(_("passphrase: use at least {n} characters (a short sentence is best)").format(
            n=MIN_PASSPHRASE), "passphrase")
    return passphrase


def create_keyfile(data_dir: Path, passphrase: str, *, n: int = SCRYPT_N) -> Keys:
    """Write a new keyfile (new salt) for ``passphrase``; return its keys. Refuses to replace
    an existing keyfile (that would lock the data away)."""
    from .paths import private_dir

    check_new_passphrase(passphrase)
    path = keyfile_path(data_dir)
    if path.exists():
        raise InputError(_("encrypt: this laptop's data already has a keyfile"), "passphrase")
    salt = os.urandom(16)
    master = _master(passphrase, salt, n, SCRYPT_R, SCRYPT_P)
    nonce = os.urandom(12)
    check = nonce + _aead(_sub(master, b"check")).encrypt(nonce, _CHECK_PLAIN, b"check")
    doc = {"format": KEYFILE_FORMAT, "kdf": "scrypt", "n": n, "r": SCRYPT_R, "p": SCRYPT_P, "salt": _b64(salt),
           "check": _b64(check), "cipher": {"store": "sqlcipher4-raw-key", "blobs": "aes-256-gcm-chunked/FRB1"}}
    private_dir(Path(data_dir))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, json.dumps(doc, indent=2).encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.link(tmp, path)  # fails if another process created one meanwhile
    tmp.unlink()
    return _keys(master)


def _keys(master: bytes) -> Keys:
    return Keys(db=_sub(master, b"sqlcipher").hex(), blob=_sub(master, b"blob"))


def unlock(data_dir: Path, passphrase: str) -> Keys:
    """The keys for ``passphrase``; :class:`WrongPassphrase` when it does not match."""
    return _keys(_unlock_master(data_dir, passphrase))


def _unlock_master(data_dir: Path, passphrase: str) -> bytes:
    path = keyfile_path(data_dir)
    try:
        doc = json.loads(path.read_bytes())
        fmt = doc.get("format")
        if fmt not in (KEYFILE_FORMAT, KEYFILE_FORMAT_WRAPPED) or doc.get("kdf") != "scrypt":
            raise ValueError(_("unknown keyfile format"))
        salt = _unb64(doc["salt"])
        sealed = _unb64(doc["check"] if fmt == KEYFILE_FORMAT else doc["wrapped"])
        n, r, p = int(doc["n"]), int(doc["r"]), int(doc["p"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise FieldReportError(_("the keyfile {path} is unreadable ({error}); restore it from a backup — without it "
                                 "the encrypted data cannot be opened").format(path=path, error=type(e).__name__)) from None
    derived = _master(passphrase, salt, n, r, p)
    from cryptography.exceptions import InvalidTag

    try:
        if fmt == KEYFILE_FORMAT:  # the passphrase's key is the master key; the check proves it
            _aead(_sub(derived, b"check")).decrypt(sealed[:12], sealed[12:], b"check")
            return derived
        return _aead(_sub(derived, b"wrap")).decrypt(sealed[:12], sealed[12:], b"master")
    except InvalidTag:
        raise WrongPassphrase(_("passphrase: wrong passphrase for this laptop's data; nothing was opened"),
                              "passphrase") from None


def change_passphrase(data_dir: Path, old: str, new: str, *, n: int | None = None) -> None:
    """Let ``new`` open this laptop's data instead of ``old``: the master key wrapped under the
    new passphrase (format 2, a new salt), the keyfile replaced by one atomic rename. Nothing
    else is rewritten; every other process keeps the keys it already holds."""
    from .crashpoints import crash_point
    from .paths import write_private

    master = _unlock_master(data_dir, old)
    check_new_passphrase(new)
    if new == old:
        raise InputError(_("passphrase: the new passphrase is the old one; nothing was changed"), "passphrase")
    path = keyfile_path(data_dir)
    doc = json.loads(path.read_bytes())
    n = int(n or doc.get("n") or SCRYPT_N)
    salt = os.urandom(16)
    nonce = os.urandom(12)
    wrapped = nonce + _aead(_sub(_master(new, salt, n, SCRYPT_R, SCRYPT_P), b"wrap")).encrypt(nonce, master, b"master")
    new_doc = {"format": KEYFILE_FORMAT_WRAPPED, "kdf": "scrypt", "n": n, "r": SCRYPT_R, "p": SCRYPT_P,
               "salt": _b64(salt), "wrapped": _b64(wrapped), "cipher": doc.get("cipher")}
    crash_point("passphrase:before_keyfile_replaced")
    write_private(path, json.dumps(new_doc, indent=2).encode("ascii"))
    crash_point("passphrase:after_keyfile_replaced")


def remove_keyfile(data_dir: Path) -> None:
    keyfile_path(data_dir).unlink(missing_ok=True)


# ---------------------------------------------------------------- photo files

def is_sealed(head: bytes) -> bool:
    return head[:4] == BLOB_MAGIC


def _nonce(prefix: bytes, i: int) -> bytes:
    return prefix + i.to_bytes(4, "big")


class SealWriter:
    """Encrypt a stream into an open binary file descriptor, chunk by chunk."""

    def __init__(self, key: bytes, fd: int):
        self.aead = _aead(key)
        self.prefix = os.urandom(8)
        self.fd = fd
        self.i = 0
        self.buf = bytearray()
        os.write(fd, BLOB_MAGIC + self.prefix)

    def write(self, data: bytes) -> None:
        self.buf += data
        while len(self.buf) > CHUNK:  # keep at least one byte back: the last chunk is sealed as last
            self._seal(bytes(self.buf[:CHUNK]), last=False)
            del self.buf[:CHUNK]

    def _seal(self, chunk: bytes, last: bool) -> None:
        if self.i >= 2 ** 32:
            raise InputError(_("photo: too large to encrypt"), "photo")
        os.write(self.fd, self.aead.encrypt(_nonce(self.prefix, self.i), chunk, b"\x01" if last else b"\x00"))
        self.i += 1

    def close(self) -> None:
        self._seal(bytes(self.buf), last=True)
        self.buf = bytearray()


def seal_bytes(key: bytes, data: bytes) -> bytes:
    out = io.BytesIO()
    aead = _aead(key)
    prefix = os.urandom(8)
    out.write(BLOB_MAGIC + prefix)
    chunks = [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)] or [b""]
    for i, c in enumerate(chunks):
        out.write(aead.encrypt(_nonce(prefix, i), c, b"\x01" if i == len(chunks) - 1 else b"\x00"))
    return out.getvalue()


def plain_size(sealed_size: int) -> int:
    body = sealed_size - BLOB_HEADER
    if body < TAG:
        raise BlobCorrupt(_("photo file is truncated"))
    n = -(-body // (CHUNK + TAG))
    return body - TAG * n


class OpenReader(io.RawIOBase):
    """A read-only, seekable view of the plaintext of a sealed photo file."""

    def __init__(self, path: Path, key: bytes):
        super().__init__()
        self._f = open(path, "rb")
        try:
            head = self._f.read(BLOB_HEADER)
            if not is_sealed(head) or len(head) < BLOB_HEADER:
                raise BlobCorrupt(_("photo file {name}… is not a sealed photo").format(name=Path(path).name[:16]))
            self._prefix = head[4:]
            self._sealed = os.fstat(self._f.fileno()).st_size
            self._size = plain_size(self._sealed)
            self._nchunks = max(1, -(-(self._sealed - BLOB_HEADER) // (CHUNK + TAG)))
        except BaseException:
            self._f.close()
            raise
        self._aead = _aead(key)
        self._pos = 0
        self._cache: tuple[int, bytes] | None = None
        self.name = str(path)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    @property
    def size(self) -> int:
        return self._size

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def _chunk(self, i: int) -> bytes:
        if self._cache and self._cache[0] == i:
            return self._cache[1]
        from cryptography.exceptions import InvalidTag

        self._f.seek(BLOB_HEADER + i * (CHUNK + TAG))
        sealed = self._f.read(CHUNK + TAG)
        last = i == self._nchunks - 1
        try:
            plain = self._aead.decrypt(_nonce(self._prefix, i), sealed, b"\x01" if last else b"\x00")
        except InvalidTag:
            raise BlobCorrupt(_("photo file {name}… failed its integrity check (chunk {i}): damaged, or sealed with "
                                "another key").format(name=Path(self.name).name[:16], i=i)) from None
        self._cache = (i, plain)
        return plain

    def readinto(self, b) -> int:
        if self._pos >= self._size:
            return 0
        i, off = divmod(self._pos, CHUNK)
        data = self._chunk(i)[off:off + len(b)]
        b[:len(data)] = data
        self._pos += len(data)
        return len(data)

    def readall(self) -> bytes:
        parts = []
        while True:
            piece = self.read(CHUNK)
            if not piece:
                break
            parts.append(piece)
        return b"".join(parts)

    def close(self) -> None:
        if not self.closed:
            self._f.close()
        super().close()


# ---------------------------------------------------------------- converting a laptop

def encrypt_laptop(paths, passphrase: str) -> dict:
    """Encrypt this laptop's store and photos under ``passphrase`` (resumable: run again after
    an interruption, with the same passphrase, to finish). Order: keyfile first (from then on
    every command seals new photos and expects the passphrase), then the store is converted
    into a verified copy renamed over it, then every photo is re-sealed in place (each one a
    verified temp file renamed over the plain one). Every intermediate state opens."""
    from .blobs import BlobStore
    from .errors import StoreLocked
    from .store import cipher

    from .crashpoints import crash_point

    if is_encrypted(paths.data_dir):
        keys = unlock(paths.data_dir, passphrase)
    else:
        check_new_passphrase(passphrase)
        keys = create_keyfile(paths.data_dir, passphrase)
    crash_point("encrypt:after_keyfile")
    cipher.discard_leftovers(paths.store)
    counts: dict = {}
    if paths.store.exists() and cipher.is_plain_file(paths.store):
        try:
            counts = cipher.convert(paths.store, old_key=None, new_key=keys.db, timeout=_busy_s())
        except cipher.StoreInUse as e:
            raise StoreLocked(_("the store is open in another fieldreport process (a sync?); let it finish and try "
                                "again")) from None
    register_blob_key(paths.blobs, keys.blob)
    photos, damaged = _reseal_all(BlobStore(paths.blobs, keys.blob), keys.blob)
    return {"encrypted": True, "reports": counts.get("reports"), "photos_converted": photos, "damaged_photos": damaged}


def decrypt_laptop(paths, passphrase: str) -> dict:
    """Undo :func:`encrypt_laptop`: store first, then photos, and the keyfile last (so until the
    very end the passphrase still opens whatever is left encrypted)."""
    from .blobs import BlobStore
    from .errors import StoreLocked
    from .store import cipher

    if not is_encrypted(paths.data_dir):
        raise InputError(_("decrypt: this laptop's data is not encrypted"), "passphrase")
    keys = unlock(paths.data_dir, passphrase)
    counts: dict = {}
    if paths.store.exists() and not cipher.is_plain_file(paths.store):
        try:
            counts = cipher.convert(paths.store, old_key=keys.db, new_key=None, timeout=_busy_s())
        except cipher.StoreInUse as e:
            raise StoreLocked(_("the store is open in another fieldreport process (a sync?); let it finish and try "
                                "again")) from None
    photos, damaged = _reseal_all(BlobStore(paths.blobs, keys.blob), None)
    from .crashpoints import crash_point

    crash_point("decrypt:before_keyfile_removed")
    if damaged:
        raise FieldReportError(_("decrypt: {n} photo(s) could not be decrypted (damaged); the keyfile is kept so they "
                                 "stay readable — run `fieldreport verify`").format(n=len(damaged)))
    remove_keyfile(paths.data_dir)
    forget_blob_key(paths.blobs)
    return {"encrypted": False, "reports": counts.get("reports"), "photos_converted": photos, "damaged_photos": damaged}


def _busy_s() -> float:
    from .store import _busy_ms

    return _busy_ms() / 1000


def _reseal_all(bs, key: bytes | None) -> tuple[int, list[str]]:
    from .crashpoints import crash_point

    n, damaged = 0, []
    for sha in list(bs.names()):
        try:
            if bs.reseal(sha, key):
                n += 1
                crash_point("reseal:after_first")
        except (InputError, BlobCorrupt, OSError):
            damaged.append(sha)
    return n, damaged
