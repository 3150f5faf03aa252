"""Sneakernet sync, hub side: ``fieldreport hub import-bundle``, ``hub bundle-for`` and
``hub export``. No network involved: these open the hub's database directly.

``import_bundle`` checks the whole file first — structure, the sha256 of every part, the HMAC
against the device's enrollment (key = sha256 of its token, which is what the hub stores), the
device (enrolled, not revoked, every operation its own), every operation's shape — and refuses
with a clear reason before anything is applied. Then the photos go into the hub's blob store
(content-addressed) and the operations through ``HubStore.push``: the same transaction, the
same exactly-once rule and the same answers as ``POST /v1/push``. The same bundle twice, or a
bundle and a later online sync of the same entries, gives ``duplicate`` answers and nothing new.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from .. import bundle_format as bf
from .. import ids
from ..i18n import _
from ..errors import InputError
from . import config as _config

RETRY_BUSY = 5


def _config_for(data: str | None, db: str | None):
    if db and "://" not in db:
        db = f"sqlite:///{Path(db).expanduser().resolve()}"
    return _config.load(data, db)


def _device(store, device_id: Any) -> dict[str, Any]:
    from .store_bundles import device_by_id

    if not isinstance(device_id, str) or not device_id:
        raise bf.BundleRefused(_("file: the bundle names no device; nothing applied"), "file")
    dev = device_by_id(store, device_id)
    if dev is None:
        raise bf.BundleRefused(_("file: device {device_id} is not enrolled at this hub (wrong hub, or a wrong-device "
                               "bundle); nothing applied").format(device_id=device_id), "file")
    if dev["revoked_at"]:
        raise bf.BundleRefused(_("file: device {device_id} was revoked on {revoked_at}; nothing applied").format(device_id=device_id, revoked_at=dev['revoked_at']), "file")
    return dev


def default_receipt_path(bundle: Path) -> Path:
    name = bundle.name[:-4] if bundle.name.endswith(".tar") else bundle.name
    return bundle.with_name(name + ".receipt.json")


def import_bundle(path: str | os.PathLike, *, receipt: str | os.PathLike | None = None, data: str | None = None,
                  db: str | None = None) -> dict[str, Any]:
    """Verify and apply a laptop's bundle; write the receipt. Returns the receipt (without hmac)."""
    from ..protocol import MAX_BATCH_OPS, PushRequest
    from .blobs import HubBlobs
    from .errors import HubBusy
    from .store import HubStore

    cfg = _config_for(data, db)
    src = Path(path)
    receipt_path = Path(receipt) if receipt else default_receipt_path(src)
    if not receipt_path.parent.exists():
        raise InputError(_("receipt: the folder {parent} does not exist").format(parent=repr(str(receipt_path.parent))), "receipt")
    cfg.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    work = Path(tempfile.mkdtemp(prefix=".import-", dir=cfg.data_dir))
    try:
        manifest, sealed, blobs = bf.read_bundle(src, kind="push", blob_dir=work / "blobs")
        with HubStore.open(cfg.db_url) as store:
            dev = _device(store, manifest.get("device_id"))
            if not bf.verify(manifest, bf.key_from_token_hash(dev["token_hash"])):
                raise bf.BundleRefused(_("file: the bundle's HMAC does not match device {device_id}'s key "
                                       "(tampered, or made by another device or enrollment); nothing applied").format(device_id=dev['device_id']), "file")
            key = bf.key_from_token_hash(dev["token_hash"])
            body = bf.open_payload(sealed, key)
            plain: dict[str, Path] = {}
            (work / "plain").mkdir(mode=0o700)
            for sha, p in blobs.items():  # one photo in memory at a time
                plain[sha] = work / "plain" / sha
                plain[sha].write_bytes(bf.open_blob(p, sha, key))
            ops = body.get("ops")
            if body.get("device_id") != dev["device_id"] or not isinstance(ops, list):
                raise bf.BundleRefused(_("file: the bundle's operations are not this device's; nothing applied"), "file")
            if len(ops) != manifest.get("ops"):
                raise bf.BundleRefused(_("file: the bundle holds another number of operations than its manifest says; "
                                       "nothing applied"), "file")
            batches = []
            for i in range(0, len(ops), MAX_BATCH_OPS):
                chunk = ops[i:i + MAX_BATCH_OPS]
                try:
                    req = PushRequest.model_validate({"device_id": dev["device_id"], "epoch": body.get("epoch"),
                                                      "ops": chunk})
                except ValueError as e:
                    first = str(e).splitlines()
                    raise bf.BundleRefused(_("file: an operation in the bundle is malformed ({value}); "
                                           "nothing applied").format(value=first[1] if len(first) > 1 else e), "file") from None
                batch = [op.model_dump() for op in req.ops]
                if any(op["device_id"] != dev["device_id"] for op in batch):
                    raise bf.BundleRefused(_("file: the bundle holds another device's operations; nothing applied"),
                                           "file")
                batches.append(batch)
            # everything checked: photos first (content-addressed, harmless twice), then the operations
            hb = HubBlobs(cfg.blobs_dir)
            stored = 0
            for sha, p in plain.items():
                if not hb.store.has(sha):
                    hb.store.put_file(p)
                    stored += 1
            results: list[dict[str, Any]] = []
            acked, chain_ok = store.acked_through(dev["device_id"]), True
            device = {k: dev[k] for k in ("device_id", "officer_id", "area", "officer_name")}
            for batch in batches:
                for attempt in range(RETRY_BUSY):
                    try:
                        out = store.push(device, batch)
                        break
                    except HubBusy:
                        if attempt == RETRY_BUSY - 1:
                            raise
                        time.sleep(0.2 * (attempt + 1))
                results += out["results"]
                acked = out["acked_through"]
                chain_ok = chain_ok and out.get("chain_ok", True)
            counts: dict[str, int] = {}
            for r in results:
                counts[r["status"]] = counts.get(r["status"], 0) + 1
            doc = {"format": bf.RECEIPT_FORMAT, "version": bf.VERSION, "device_id": dev["device_id"],
                   "bundle": {"name": src.name, "created_at": manifest.get("created_at"),
                              "seq_first": manifest.get("seq_first"), "seq_last": manifest.get("seq_last"),
                              "ops": len(ops), "hmac": manifest.get("hmac")},
                   "epoch": store.epoch, "hub_time": ids.utc_now_iso(), "acked_through": acked, "chain_ok": chain_ok,
                   "cursor": store.counter("cursor"), "laptop_pull_cursor": manifest.get("pull_cursor"),
                   "counts": counts, "results": results, "blobs_held": sorted(s for s in blobs if hb.store.has(s)),
                   "blobs_stored": stored}
            doc["hmac"] = bf.sign(doc, bf.key_from_token_hash(dev["token_hash"]))
        bf.write_json_atomic(receipt_path, doc)
        out_doc = {k: v for k, v in doc.items() if k != "hmac"}
        out_doc["receipt"] = str(receipt_path)
        return out_doc
    finally:
        shutil.rmtree(work, ignore_errors=True)


def bundle_for(device_id: str, *, out: str | os.PathLike | None = None, cursor: int = 0, data: str | None = None,
               db: str | None = None) -> dict[str, Any]:
    """Write what ``device_id`` would pull after ``cursor`` into a bundle for its laptop."""
    from .store import HubStore

    if cursor < 0:
        raise InputError(_("cursor: must be 0 or more"), "cursor")
    cfg = _config_for(data, db)
    with HubStore.open(cfg.db_url) as store:
        try:
            dev = _device(store, device_id.strip())
        except bf.BundleRefused as e:
            raise InputError(str(e).replace("file: ", "device: ", 1).replace("; nothing applied", ""), "device") from None
        device = {k: dev[k] for k in ("device_id", "officer_id", "area", "officer_name")}
        changes, cur = [], cursor
        acked = 0
        while True:
            page = store.pull(device, cur, 5000)
            changes += page["changes"]
            acked = page["acked_through"]
            if not page["has_more"] or page["cursor"] <= cur:
                cur = page["cursor"]
                break
            cur = page["cursor"]
        epoch = store.epoch
        payload = {"epoch": epoch, "hub_time": ids.utc_now_iso(), "cursor": cur, "has_more": False,
                   "acked_through": acked, "changes": changes}
        name = f"fieldreport-pull-{dev['device_id'][:8]}-{cursor}-{cur}-{ids.now().strftime('%Y%m%d-%H%M%S')}.tar"
        target = bf.check_out(out, name)
        bf.write_bundle(target, kind="pull", device_id=dev["device_id"],
                        payload=payload, key=bf.key_from_token_hash(dev["token_hash"]),
                        extra={"epoch": epoch, "cursor_from": cursor, "cursor": cur, "changes": len(changes),
                               "acked_through": acked})
    return {"out": str(target), "device_id": dev["device_id"], "epoch": epoch, "cursor_from": cursor, "cursor": cur,
            "changes": len(changes), "acked_through": acked, "bytes": target.stat().st_size}


def export(fmt: str, *, out: str | os.PathLike | None, filters: dict[str, Any], reveal: bool = False,
           excel: bool = False, archived: bool = False, lang: str = "zh", data: str | None = None,
           db: str | None = None) -> tuple[bytes | None, dict[str, Any], list[str]]:
    """``fieldreport hub export``: the hub's reports in the laptop's export formats."""
    from .. import exporting
    from ..privacy import mask_report
    from .store import HubStore
    from .store_bundles import export_reports

    fmt = exporting.check_format(fmt, out)
    cfg = _config_for(data, db)
    with HubStore.open(cfg.db_url) as store:
        rows = export_reports(store, kind=filters.get("kind"), status=filters.get("status"),
                              area=filters.get("area"), since=filters.get("since"), archived=archived)
    ids_ = [r["id"] for r in rows]
    if not reveal:
        rows = [mask_report(r) for r in rows]
    else:
        from types import SimpleNamespace

        from ..privacy import record_reveal

        record_reveal(SimpleNamespace(data_dir=cfg.data_dir, audit_log=cfg.data_dir / "audit.log"), None,
                      "hub export", ids_)
    data_, info = exporting.render(rows, fmt, masked=not reveal, filters=filters, excel=excel, lang=lang,
                                   source="hub")
    if out is not None:
        exporting.write_atomic(out, data_)
        info["out"] = str(out)
        return None, info, ids_
    return data_, info, ids_
