"""The USB bundle file, shared by the laptop (``fieldreport bundle``) and the hub
(``fieldreport hub import-bundle`` / ``bundle-for``) — part of the wire contract, like
``protocol``; see docs/offline.md.

A bundle is a tar file (PAX), members in this order:

* the payload: ``ops.json.enc`` (kind ``push``: a ``PushRequest`` body, laptop → hub) or
  ``changes.json.enc`` (kind ``pull``: a ``PullResponse`` page, hub → laptop);
* ``blobs/<sha256>`` — photo bytes (push only), named by the plain photo's sha256;
* ``manifest.json`` — last, so a truncated file has none: ``format``, ``version``, ``kind``,
  ``device_id``, kind-specific fields, ``files`` (name → sha256 and size of every other member)
  and ``hmac``.

``hmac`` is HMAC-SHA256 over the canonical JSON (``canon.canonical``) of the manifest without
its ``hmac`` field, keyed with **sha256(device token)** — the 32 raw bytes. The hub stores only
that hash of each token (never the token), so this is the key both sides hold: the laptop
derives it from its token, the hub reads it from the device's enrollment. A receipt (JSON, not a
tar) carries an ``hmac`` made the same way. Since the manifest names the sha256 of every part,
the HMAC authenticates the whole bundle; anyone who can read the hub's database could forge one,
exactly as they could read everything else there.

The payload and every photo are sealed with AES-256-GCM (``magic "FRB1" | 12-byte nonce |
ciphertext | tag``) under HMAC-SHA256(key, "fieldreport bundle encryption v1"): a lost USB
stick shows the device id and the counts in the manifest, never a report, a name or a photo.
``files`` lists the sha256 of the sealed bytes (checked before anything is decrypted) and, for
photos, ``plain_sha256`` (checked after).

Every file is written to a temp file next to the target, fsynced and renamed: a stick pulled
out mid-write leaves a ``.part`` file, never a half bundle under the final name.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import tarfile
from pathlib import Path
from typing import Any, Iterable

from .paths import atomic_file
from . import ids
from .canon import canonical
from .i18n import _
from .errors import InputError

FORMAT = "fieldreport-bundle"
RECEIPT_FORMAT = "fieldreport-receipt"
VERSION = 1
CHUNK = 1 << 20
MAX_JSON_BYTES = 512 * 1024 * 1024


ENCRYPTION = "aes-256-gcm"
_SEALED_MAGIC = b"FRB1"
PAYLOAD = {"push": "ops.json.enc", "pull": "changes.json.enc"}


class BundleRefused(InputError):
    """The file is not a whole, genuine bundle for this side; nothing was applied."""


def key_from_token(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def key_from_token_hash(token_hash_hex: str) -> bytes:
    return bytes.fromhex(token_hash_hex)


def _enc_key(key: bytes) -> bytes:
    return hmac.new(key, b"fieldreport bundle encryption v1", hashlib.sha256).digest()


def seal(key: bytes, data: bytes) -> bytes:
    """AES-256-GCM under a key derived from ``key``: magic, 12-byte nonce, ciphertext and tag."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    return _SEALED_MAGIC + nonce + AESGCM(_enc_key(key)).encrypt(nonce, data, _SEALED_MAGIC)


def unseal(key: bytes, blob: bytes) -> bytes:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if not blob.startswith(_SEALED_MAGIC) or len(blob) < len(_SEALED_MAGIC) + 12 + 16:
        raise BundleRefused(_("file: a part of the bundle is not sealed as expected (tampered); nothing applied"),
                            "file")
    nonce, body = blob[4:16], blob[16:]
    try:
        return AESGCM(_enc_key(key)).decrypt(nonce, body, _SEALED_MAGIC)
    except InvalidTag:
        raise BundleRefused(_("file: a part of the bundle does not decrypt with this device's key (tampered or "
                              "another device's); nothing applied"), "file") from None


def sign(doc: dict[str, Any], key: bytes) -> str:
    body = {k: v for k, v in doc.items() if k != "hmac"}
    return hmac.new(key, canonical(body), hashlib.sha256).hexdigest()


def verify(doc: dict[str, Any], key: bytes) -> bool:
    got = doc.get("hmac")
    return isinstance(got, str) and hmac.compare_digest(got, sign(doc, key))


def check_out(out: str | os.PathLike | None, default_name: str) -> Path:
    target = Path(out) if out else Path.cwd() / default_name
    if target.is_dir():
        target = target / default_name
    if not target.parent.exists():
        raise InputError(_("out: the folder {parent} does not exist").format(parent=repr(str(target.parent))), "out")
    return target


def write_bundle(target: Path, *, kind: str, device_id: str, payload: dict[str, Any],
                 blobs: Iterable[tuple[str, Any]] = (), key: bytes, extra: dict[str, Any]) -> dict[str, Any]:
    """Write a bundle atomically: payload and photos sealed (AES-256-GCM), the manifest in clear
    and signed. ``blobs``: (sha256, opener) where ``opener()`` returns a binary file object of the
    plain photo. Returns the manifest."""
    files: dict[str, dict[str, Any]] = {}
    payload_name = PAYLOAD[kind]
    data = seal(key, json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    with atomic_file(target) as raw:
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            tar_add_bytes(tar, payload_name, data)
            files[payload_name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            for sha, opener in blobs:
                with opener() as f:
                    body = f.read()
                digest = hashlib.sha256(body).hexdigest()
                if digest != sha:  # a damaged photo is not carried as if it were whole
                    extra.setdefault("missing_blobs", []).append(sha)
                    continue
                body = seal(key, body)
                tar_add_bytes(tar, f"blobs/{sha}", body)
                files[f"blobs/{sha}"] = {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body),
                                         "plain_sha256": sha}
            manifest = {"format": FORMAT, "version": VERSION, "kind": kind, "device_id": device_id,
                        "created_at": ids.now_iso(), "encryption": ENCRYPTION, **extra, "files": files}
            manifest["hmac"] = sign(manifest, key)
            tar_add_bytes(tar, "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8"))
    return manifest


def tar_add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    """One member of a backup or bundle archive from bytes (owner-only mode, now as its time)."""
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    info.mtime = int(ids.now().timestamp())
    tar.addfile(info, io.BytesIO(data))


def read_bundle(path: str | os.PathLike, *, kind: str, blob_dir: Path | None = None) -> tuple[dict, bytes, dict[str, Path]]:
    """Read and check a bundle's structure and every part's sha256 (not yet its HMAC: the
    caller knows the key only from ``manifest['device_id']``). Blobs are written to
    ``blob_dir`` (named by their sha256, still sealed). Returns (manifest, sealed payload,
    {sha256: path}); ``open_payload`` and ``open_blob`` decrypt once the HMAC was checked."""
    p = Path(path)
    if not p.is_file():
        raise BundleRefused(_("file: {path} does not exist or is not a file").format(path=repr(str(path))), "file")
    seen: dict[str, tuple[str, int]] = {}
    payload_raw: dict[str, bytes] = {}
    blobs: dict[str, Path] = {}
    manifest = None
    try:
        with tarfile.open(p, mode="r:") as tar:
            for m in tar:
                name = m.name
                if not m.isfile() or name.startswith("/") or ".." in Path(name).parts:
                    raise BundleRefused(_("file: unexpected member {name}: not a fieldreport bundle; nothing applied").format(name=repr(name)),
                                        "file")
                f = tar.extractfile(m)
                if name == "manifest.json" or name in PAYLOAD.values():
                    if m.size > MAX_JSON_BYTES:
                        raise BundleRefused(_("file: {name} is too large; nothing applied").format(name=name), "file")
                    data = f.read()
                    if len(data) != m.size:
                        raise BundleRefused(_("file: {path} is truncated (in {name}); nothing applied").format(path=repr(str(path)), name=name), "file")
                    if name == "manifest.json":
                        try:
                            manifest = json.loads(data)
                        except ValueError:
                            raise BundleRefused(_("file: the bundle's manifest is damaged; nothing applied"), "file") from None
                        continue
                    payload_raw[name] = data
                    seen[name] = (hashlib.sha256(data).hexdigest(), len(data))
                    continue
                if not name.startswith("blobs/"):
                    raise BundleRefused(_("file: unexpected member {name}; nothing applied").format(name=repr(name)), "file")
                sha = name.split("/", 1)[1]
                if len(sha) != 64 or any(ch not in "0123456789abcdef" for ch in sha):
                    raise BundleRefused(_("file: unexpected member {name}; nothing applied").format(name=repr(name)), "file")
                h, n = hashlib.sha256(), 0
                w = None
                if blob_dir is not None:
                    blob_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
                    w = open(blob_dir / sha, "wb")
                try:
                    while chunk := f.read(CHUNK):
                        h.update(chunk)
                        n += len(chunk)
                        if w is not None:
                            w.write(chunk)
                finally:
                    if w is not None:
                        w.close()
                seen[name] = (h.hexdigest(), n)
                if blob_dir is not None:
                    blobs[sha] = blob_dir / sha
    except (tarfile.TarError, EOFError, OSError) as e:
        raise BundleRefused(_("file: {path} is truncated or damaged ({e}); nothing applied").format(path=repr(str(path)), e=e), "file") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleRefused(_("file: {path} has no bundle manifest (truncated, or not a fieldreport bundle); "
                            "nothing applied").format(path=repr(str(path))), "file")
    if int(manifest.get("version") or 0) > VERSION:
        raise BundleRefused(_("file: the bundle was made by a newer fieldreport (format {version}); "
                            "upgrade fieldreport").format(version=manifest.get('version')), "file")
    if manifest.get("kind") != kind:
        want = {"push": "a laptop's bundle (from `fieldreport bundle create`)",
                "pull": "a bundle from the hub (from `fieldreport hub bundle-for`)"}[kind]
        raise BundleRefused(_("file: this is a {kind} bundle, not {want}; nothing applied").format(kind=repr(manifest.get('kind')), want=want), "file")
    files = manifest.get("files") if isinstance(manifest.get("files"), dict) else {}
    for name, meta in files.items():
        got = seen.get(name)
        if got is None:
            raise BundleRefused(_("file: {name} is missing from the bundle (truncated); nothing applied").format(name=name), "file")
        if not isinstance(meta, dict) or got != (meta.get("sha256"), meta.get("size")):
            raise BundleRefused(_("file: {name} does not match its sha256 in the manifest (damaged or tampered); "
                                "nothing applied").format(name=name), "file")
        if name.startswith("blobs/") and name.split("/", 1)[1] != meta.get("plain_sha256"):
            raise BundleRefused(_("file: {name} is not named by its sha256 (tampered); nothing applied").format(name=name), "file")
    extra = set(seen) - set(files)
    if extra:
        raise BundleRefused(_("file: {value} is not listed in the manifest (tampered); nothing applied").format(value=sorted(extra)[0]),
                            "file")
    payload_name = PAYLOAD[kind]
    if payload_name not in payload_raw:
        raise BundleRefused(_("file: the bundle has no {payload_name}; nothing applied").format(
            payload_name=payload_name), "file")
    if manifest.get("encryption") != ENCRYPTION:
        raise BundleRefused(_("file: the bundle is not sealed the way this fieldreport expects; nothing applied"),
                            "file")
    return manifest, payload_raw[payload_name], blobs


def open_payload(raw: bytes, key: bytes) -> dict[str, Any]:
    """The bundle's payload, decrypted and parsed (after its HMAC was verified)."""
    try:
        payload = json.loads(unseal(key, raw))
    except ValueError:
        raise BundleRefused(_("file: the bundle's contents are not JSON; nothing applied"), "file") from None
    if not isinstance(payload, dict):
        raise BundleRefused(_("file: the bundle's contents are not an object; nothing applied"), "file")
    return payload


def open_blob(path: Path, sha: str, key: bytes) -> bytes:
    """One photo of the bundle, decrypted and checked against its sha256."""
    data = unseal(key, Path(path).read_bytes())
    if hashlib.sha256(data).hexdigest() != sha:
        raise BundleRefused(_("file: photo {sha} in the bundle does not match its sha256 (tampered); nothing "
                              "applied").format(sha=sha[:12]), "file")
    return data



def write_json_atomic(target: Path, doc: dict[str, Any]) -> None:
    with atomic_file(target) as f:
        f.write(json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8"))


def read_receipt(path: str | os.PathLike) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise BundleRefused(_("file: {path} does not exist or is not a file").format(path=repr(str(path))), "file")
    try:
        doc = json.loads(p.read_bytes())
    except ValueError:
        raise BundleRefused(_("file: {path} is not a receipt (truncated or damaged JSON); nothing marked").format(path=repr(str(path))),
                            "file") from None
    if not isinstance(doc, dict) or doc.get("format") != RECEIPT_FORMAT:
        raise BundleRefused(_("file: {path} is not a fieldreport receipt; nothing marked").format(path=repr(str(path))), "file")
    return doc
