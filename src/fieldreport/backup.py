"""``fieldreport backup`` and ``fieldreport restore``.

A backup is one tar file (``fieldreport-backup-<time>.tar``, mode 0600):

* ``fieldreport.db`` — a transaction-consistent snapshot taken with ``VACUUM INTO`` (safe while
  ``add`` or ``sync`` write; never a copy of the open file);
* ``blobs/<sha256>`` — every photo the snapshot names (photos are written before the row that
  names them, so a snapshot never names a photo that is not there yet);
* ``profile.json`` — the profile (never the hub token: log in again after restoring elsewhere);
* ``manifest.json`` — last member: format, device, time, counts, and the sha256 and size of
  every other member. A tar without it, or with a member that does not match, is refused.

The archive is written to a temp file next to the target, fsynced and renamed: a pulled-out
stick or a crash never leaves a half file under the final name.

Restore verifies everything before touching the store, refuses a store holding entries the
hub has not acknowledged unless ``force``, and then keeps both queues (see
``store.offline`` for how sequence numbers are kept safe). The replaced store is kept beside
it as ``fieldreport.db.before-restore-<time>``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from .bundle_format import tar_add_bytes
from .paths import atomic_file, fsync_dir as _fsync_dir
from . import __version__, ids
from .i18n import _
from .errors import FieldReportError, InputError, StoreCorrupt

FORMAT = "fieldreport-backup"
KEYFILE_MEMBER = "fieldreport.key"
VERSION = 1
CHUNK = 1 << 20


def _sha256_file(p: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    n = 0
    with open(p, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            n += len(chunk)
    return h.hexdigest(), n


def default_name() -> str:
    return f"fieldreport-backup-{ids.now().strftime('%Y%m%d-%H%M%S')}.tar"


def create(store, paths, *, out: str | os.PathLike | None = None, blobstore=None,
           key: str | None = None) -> dict[str, Any]:
    """Write a backup archive; returns its summary (path, sizes, counts, missing blobs).

    On an encrypted laptop the snapshot stays encrypted (SQLCipher's ``VACUUM INTO`` keeps the
    key), photos are copied sealed as they are, and the keyfile (itself locked by the
    passphrase) goes with them: the backup is no more readable than the laptop."""
    from . import crypto
    from .blobs import BlobStore
    from .store import Store, offline

    blobstore = blobstore or BlobStore(paths.blobs)

    target = Path(out) if out else Path.cwd() / default_name()
    if target.is_dir():
        target = target / default_name()
    if not target.parent.exists():
        raise InputError(_("out: the folder {parent} does not exist").format(parent=repr(str(target.parent))), "out")
    work = Path(tempfile.mkdtemp(prefix=".fieldreport-backup-", dir=paths.data_dir))
    try:
        snap = work / "fieldreport.db"
        offline.snapshot(store, snap)
        snap_store = Store.open(snap, key=key)
        try:
            sc = snap_store.conn
            hashes = offline.blob_hashes(sc)
            counts = {"reports": sc.execute("SELECT count(*) FROM reports").fetchone()[0],
                      "outbox": sc.execute("SELECT count(*) FROM outbox").fetchone()[0],
                      "unacknowledged": offline.unacked_count(snap_store)}
            max_seq = offline.max_seq(snap_store)
            dev = sc.execute("SELECT value FROM meta WHERE key = 'device_id'").fetchone()
            offline.checkpoint(snap_store)
        finally:
            snap_store.close()
        for suffix in ("-wal", "-shm"):
            Path(str(snap) + suffix).unlink(missing_ok=True)
        files: dict[str, dict[str, Any]] = {}
        missing: list[str] = []
        with atomic_file(target) as raw:
            with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
                digest, size = _sha256_file(snap)
                tar.add(str(snap), arcname="fieldreport.db")
                files["fieldreport.db"] = {"sha256": digest, "size": size}
                extras = [("profile.json", paths.profile)]
                kf = crypto.keyfile_path(paths.data_dir)
                if kf.exists():
                    extras.append((KEYFILE_MEMBER, kf))
                for name, src in extras:
                    if src.exists():
                        data = src.read_bytes()
                        tar_add_bytes(tar, name, data)
                        files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
                for h in hashes:
                    src = blobstore.path(h)
                    # a missing or damaged photo is not carried as if it were whole
                    if not src.exists() or not blobstore.verify(h):
                        missing.append(h)
                        continue
                    digest, size = _sha256_file(src)  # the bytes as stored (sealed on an encrypted laptop)
                    tar.add(str(src), arcname=f"blobs/{h}")
                    files[f"blobs/{h}"] = {"sha256": digest, "size": size}
                manifest = {"format": FORMAT, "version": VERSION, "fieldreport": __version__,
                            "created_at": ids.now_iso(), "device_id": dev[0] if dev else None, "counts": counts,
                            "max_seq": max_seq, "blobs": len(hashes) - len(missing), "missing_blobs": missing,
                            "encrypted": kf.exists(),
                            "files": files}
                tar_add_bytes(tar, "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"out": str(target), "bytes": target.stat().st_size, "device_id": manifest["device_id"],
            "reports": counts["reports"], "outbox": counts["outbox"], "unacknowledged": counts["unacknowledged"],
            "blobs": manifest["blobs"], "missing_blobs": missing}


# ---------------------------------------------------------------------------- reading
def read_archive(path: str | os.PathLike, dest: Path) -> dict[str, Any]:
    """Verify a backup archive and extract it into ``dest``; returns the manifest. Raises
    InputError naming what is wrong (not a backup, truncated, a member that does not match)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(_("file: {path} does not exist or is not a file").format(path=repr(str(path))), "file")
    try:
        tar = tarfile.open(p, mode="r:")
    except (tarfile.TarError, OSError) as e:
        raise InputError(_("file: {path} is not a fieldreport backup ({e})").format(path=repr(str(path)), e=e), "file") from None
    seen: dict[str, tuple[str, int]] = {}
    manifest = None
    try:
        with tar:
            for m in tar:
                name = m.name
                if not m.isfile() or name.startswith("/") or ".." in Path(name).parts:
                    raise InputError(_("file: {path} holds an unexpected member {name}; not restored").format(path=repr(str(path)), name=repr(name)), "file")
                f = tar.extractfile(m)
                data_h = hashlib.sha256()
                n = 0
                if name == "manifest.json":
                    raw = f.read()
                    try:
                        manifest = json.loads(raw)
                    except ValueError:
                        raise InputError(_("file: the manifest of {path} is damaged").format(path=repr(str(path))), "file") from None
                    continue
                out = dest / name
                out.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                with open(out, "wb") as w:
                    while chunk := f.read(CHUNK):
                        data_h.update(chunk)
                        n += len(chunk)
                        w.write(chunk)
                seen[name] = (data_h.hexdigest(), n)
    except tarfile.TarError as e:
        raise InputError(_("file: {path} is truncated or damaged ({e}); not restored").format(path=repr(str(path)), e=e), "file") from None
    except (EOFError, OSError) as e:
        raise InputError(_("file: {path} is truncated or damaged ({e}); not restored").format(path=repr(str(path)), e=e), "file") from None
    if manifest is None or manifest.get("format") != FORMAT:
        raise InputError(_("file: {path} has no backup manifest (truncated, or not a fieldreport backup); "
                         "not restored").format(path=repr(str(path))), "file")
    if int(manifest.get("version", 0)) > VERSION:
        raise InputError(_("file: the backup was made by a newer fieldreport (format {version}); "
                         "upgrade fieldreport").format(version=manifest.get('version')), "file")
    files = manifest.get("files") or {}
    for name, meta in files.items():
        got = seen.get(name)
        if got is None:
            raise InputError(_("file: {name} is missing from the backup (truncated); not restored").format(name=name), "file")
        if got[0] != meta.get("sha256") or got[1] != meta.get("size"):
            raise InputError(_("file: {name} in the backup does not match its sha256 (damaged or altered); "
                             "not restored").format(name=name), "file")
    extra = set(seen) - set(files)
    if extra:
        raise InputError(_("file: the backup holds {value}, which its manifest does not list; "
                         "not restored").format(value=repr(sorted(extra)[0])), "file")
    if "fieldreport.db" not in files:
        raise InputError(_("file: the backup holds no store; not restored"), "file")
    return manifest


def restore(paths, path: str | os.PathLike, *, force: bool = False, key_for=None) -> dict[str, Any]:
    """Restore a backup over the laptop's store (see the module docstring). Nothing is changed
    unless every check passes. ``key_for()`` gives the store key of an encrypted laptop; it is
    called after the backup's keyfile was put in place where the laptop had none."""
    from . import crypto
    from .paths import write_private
    from .store import Store, offline
    from .store.cipher import is_plain_file

    paths.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    work = Path(tempfile.mkdtemp(prefix=".fieldreport-restore-", dir=paths.data_dir))
    installed_keyfile = None
    try:
        manifest = read_archive(path, work)
        new_db = work / "fieldreport.db"
        current = paths.store
        kf_local, kf_backup = crypto.keyfile_path(paths.data_dir), work / KEYFILE_MEMBER
        other_keyfile = False
        if kf_backup.exists():
            if not kf_local.exists():
                write_private(kf_local, kf_backup.read_bytes())
                installed_keyfile = kf_local
            else:
                other_keyfile = kf_local.read_bytes() != kf_backup.read_bytes()
        key = key_for() if key_for else None
        if not is_plain_file(new_db) and not key:
            raise InputError(_("file: the backup's store is encrypted and no keyfile unlocks it; not restored"), "file")
        if other_keyfile and not is_plain_file(new_db):
            # a backup from before `fieldreport passphrase` holds the same key under the old
            # passphrase: this laptop's keyfile opens it. Another laptop's key does not.
            try:
                Store.open(new_db, key=key).close()
            except FieldReportError:
                raise InputError(_("the backup was encrypted with another key than this laptop's; restore it under "
                                   "another FIELDREPORT_HOME with the passphrase it was made with"), "file") from None
        if current.exists() and not is_plain_file(current) and is_plain_file(new_db):
            raise InputError(_("the current store is encrypted and the backup is not; run `fieldreport decrypt` first "
                             "or restore under another FIELDREPORT_HOME"))
        result: dict[str, Any] = {"restored_from": str(path), "device_id": manifest.get("device_id"),
                                  "backup_created_at": manifest.get("created_at"), "merged": None, "kept_aside": None}
        restored = Store.open(new_db, key=key)  # runs newer migrations on an older backup
        try:
            problems = offline.integrity(restored.conn)
            if problems:
                raise InputError(_("file: the store in the backup fails its integrity check ({value}); "
                                 "not restored").format(value=problems[0]), "file")
            cur_store = None
            if current.exists():
                try:
                    cur_store = Store.open(current, key=key)
                except FieldReportError:
                    cur_store = None
                    if not force:
                        raise InputError(_("the current store cannot be read, so its queue cannot be checked; give "
                                         "--force to replace it (it is kept beside the new one)")) from None
            if cur_store is not None:
                try:
                    cur_dev = cur_store.meta("device_id")
                    if cur_dev and manifest.get("device_id") and cur_dev != manifest.get("device_id"):
                        raise InputError(_("the backup is of device {device_id}, this store of device "
                                         "{cur_dev}; restore it under another FIELDREPORT_HOME").format(device_id=manifest.get('device_id'), cur_dev=cur_dev)) from None
                    pending = offline.unacked_count(cur_store)
                    if pending and not force:
                        raise InputError(_("the current store holds {pending} entries the hub has not acknowledged; "
                                         "sync or make a bundle first, or give --force to restore and keep both "
                                         "queues").format(pending=pending))
                    # always merged: even acknowledged operations made after the backup hold
                    # sequence numbers the hub knows, which the restored store must never reuse
                    offline.checkpoint(cur_store)
                    cur_key = None if is_plain_file(current) else key
                    result["merged"] = offline.merge_from(restored, current, key=cur_key)
                    result["merged"]["current_unacknowledged"] = pending
                    offline.checkpoint(restored)
                finally:
                    cur_store.close()
            check = offline.orphan_ops(restored.conn)
            result["orphan_ops"] = len(check)
            result["reports"] = restored.count_reports()
            result["unacknowledged"] = offline.unacked_count(restored)
        finally:
            restored.close()
        # blobs first (content-addressed, never removed), then the store swap
        from .blobs import BlobStore
        from .paths import private_dir

        bs = BlobStore(paths.blobs)
        n_blobs = 0
        for b in sorted((work / "blobs").glob("*")) if (work / "blobs").is_dir() else []:
            if not bs.has(b.name):  # copied as stored (sealed on an encrypted laptop), never re-sealed
                dest = bs.path(b.name)
                private_dir(dest.parent)
                tmp = dest.with_name(f".{dest.name}.{os.getpid()}.restore")
                shutil.copyfile(b, tmp)
                os.chmod(tmp, 0o600)
                with open(tmp, "rb") as f:
                    os.fsync(f.fileno())
                os.replace(tmp, dest)
                n_blobs += 1
        result["blobs_added"] = n_blobs
        if current.exists():
            aside = current.with_name(f"{current.name}.before-restore-{ids.now().strftime('%Y%m%d-%H%M%S')}")
            os.replace(current, aside)
            for suffix in ("-wal", "-shm"):
                side = Path(str(current) + suffix)
                if side.exists():
                    os.replace(side, Path(str(aside) + suffix))
            result["kept_aside"] = str(aside)
        for suffix in ("-wal", "-shm"):
            Path(str(new_db) + suffix).unlink(missing_ok=True)
        os.replace(new_db, current)
        os.chmod(current, 0o600)
        _fsync_dir(current.parent)
        prof = work / "profile.json"
        if prof.exists() and not paths.profile.exists():
            from .paths import write_private

            write_private(paths.profile, prof.read_bytes())
            result["profile_restored"] = True
        return result
    except BaseException as e:
        if installed_keyfile is not None:
            installed_keyfile.unlink(missing_ok=True)  # nothing changed: not even the keyfile
        if isinstance(e, StoreCorrupt):
            raise InputError(_("file: the store in the backup cannot be opened ({e}); not restored").format(e=e), "file") from None
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
