"""Sneakernet sync, laptop side: ``fieldreport bundle create / receipt / apply``.

* ``create`` writes every operation not yet acknowledged, and the photo bytes the hub still
  lacks, into one bundle (``bundle_format``), signed with the key derived from this laptop's
  token. Nothing is marked: an entry counts as sent only when a receipt says so.
* ``receipt`` reads the hub's receipt (from ``fieldreport hub import-bundle``) and marks the
  entries through ``store.sync_state.mark_results`` — the very function an online push's
  answer goes through, so epochs, case codes, dead letters and conflicts behave the same.
* ``apply`` reads a bundle from ``fieldreport hub bundle-for`` and applies its change page
  through ``store.sync_state.apply_pull`` — the function an online pull uses — with its cursor,
  in one transaction. Applying it twice, or after a newer sync, changes nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from . import bundle_format as bf
from . import ids
from .i18n import _
from .errors import InputError
from .profile import read_token


def _key(paths) -> bytes:
    token = read_token(paths)
    if not token:
        raise InputError(_("this laptop has no hub token, so a bundle cannot be signed or checked; enroll once at the "
                         "station: `fieldreport login HUB_URL CODE`"), "token")
    return bf.key_from_token(token)


def default_push_name(device_id: str, first: int | None, last: int | None) -> str:
    rng = f"{first}-{last}" if first else "empty"
    return f"fieldreport-push-{device_id[:8]}-{rng}-{ids.now().strftime('%Y%m%d-%H%M%S')}.tar"


def create(store, paths, blobstore, *, out: str | os.PathLike | None = None) -> dict[str, Any]:
    """Write a bundle of everything not yet acknowledged; returns its summary."""
    from .store import offline, sync_state

    key = _key(paths)
    device_id = store.meta("device_id")
    if not device_id:
        raise InputError(_("this store has no device id: run `fieldreport init`"))
    ops = offline.unacked_ops(store)
    first = ops[0]["seq"] if ops else None
    last = ops[-1]["seq"] if ops else None
    target = bf.check_out(out, default_push_name(device_id, first, last))
    cands = sync_state.blobs_pending(store, blobstore)
    uniq: dict[str, dict[str, Any]] = {}
    for c in cands:
        uniq.setdefault(c["sha256"], c)
    opener = getattr(blobstore, "open_read", None)
    blobs, missing = [], []
    for sha, entry in uniq.items():
        path = Path(entry.get("path") or blobstore.path(sha))
        if opener is not None and blobstore.has(sha):  # copies too: sealed on an encrypted laptop
            blobs.append((sha, lambda s=sha: opener(s)))
        elif path.exists():
            blobs.append((sha, lambda p=path: open(p, "rb")))
        else:
            missing.append(sha)
    payload = {"device_id": device_id, "epoch": store.meta("hub_epoch"), "ops": ops}
    extra = {"seq_first": first, "seq_last": last, "ops": len(ops), "hub_epoch": store.meta("hub_epoch"),
             "pull_cursor": int(store.meta("pull_cursor") or 0), "missing_blobs": missing}
    manifest = bf.write_bundle(target, kind="push", device_id=device_id, payload=payload,
                               blobs=blobs, key=key, extra=extra)
    n_blobs = sum(1 for n in manifest["files"] if n.startswith("blobs/"))
    return {"out": str(target), "bytes": target.stat().st_size, "device_id": device_id, "ops": len(ops),
            "seq_first": first, "seq_last": last, "photos": n_blobs, "missing_photos": manifest["missing_blobs"],
            "pull_cursor": extra["pull_cursor"]}


def receipt(store, paths, path: str | os.PathLike) -> dict[str, Any]:
    """Mark the entries a hub receipt names, exactly as an online push's answer would."""
    from .store import sync_state

    key = _key(paths)
    doc = bf.read_receipt(path)
    device_id = store.meta("device_id")
    if doc.get("device_id") != device_id:
        raise bf.BundleRefused(_("file: the receipt is for device {device_id}, not this laptop "
                               "({this_device}); nothing marked").format(device_id=doc.get('device_id'), this_device=device_id), "file")
    if not bf.verify(doc, key):
        raise bf.BundleRefused(_("file: the receipt's HMAC does not match this laptop's key (altered, or from "
                               "another hub enrollment); nothing marked"), "file")
    results = doc.get("results")
    if not isinstance(results, list) or not isinstance(doc.get("epoch"), str):
        raise bf.BundleRefused(_("file: the receipt has no results or epoch; nothing marked"), "file")
    by_id = {r.get("op_id"): r for r in results if isinstance(r, dict)}
    rows = []
    if by_id:
        wanted = list(by_id)
        for i in range(0, len(wanted), 500):
            chunk = wanted[i:i + 500]
            q = ("SELECT seq, op_id, type, entity, payload, clock, ts, prev_hash, hash FROM outbox "
                 f"WHERE state = 'pending' AND op_id IN ({','.join('?' * len(chunk))}) ORDER BY seq")
            rows += store.conn.execute(q, chunk).fetchall()
    already = len(by_id) - len(rows)
    resp = {"epoch": doc["epoch"], "hub_time": doc.get("hub_time"), "acked_through": doc.get("acked_through") or 0,
            "chain_ok": doc.get("chain_ok", True), "results": [by_id[r[1]] for r in rows]}
    m = sync_state.mark_results(store, rows, resp) if rows else None
    held = [h for h in doc.get("blobs_held") or [] if isinstance(h, str)]
    for sha in held:
        sync_state.mark_blob_uploaded(store, sha)
    return {"device_id": device_id, "epoch": doc["epoch"], "marked": len(rows), "already_marked": already,
            "applied": m.applied if m else 0, "duplicates": m.duplicates if m else 0,
            "rejected": m.rejected if m else 0, "conflicts": m.conflicts if m else 0,
            "case_codes": m.case_codes if m else 0, "requeued": m.requeued if m else 0,
            "photos_confirmed": len(held), "dead_letters": m.dead if m else []}


def apply(store, paths, path: str | os.PathLike) -> dict[str, Any]:
    """Apply a hub bundle's changes with their cursor (``sync_state.apply_pull``)."""
    from .store import sync_state

    key = _key(paths)
    manifest, sealed, _blobs = bf.read_bundle(path, kind="pull", blob_dir=None)
    device_id = store.meta("device_id")
    if manifest.get("device_id") != device_id:
        raise bf.BundleRefused(_("file: the bundle is for device {device_id}, not this laptop "
                               "({this_device}); nothing applied").format(device_id=manifest.get('device_id'), this_device=device_id), "file")
    if not bf.verify(manifest, key):
        raise bf.BundleRefused(_("file: the bundle's HMAC does not match this laptop's key (tampered, or made for "
                               "another enrollment); nothing applied"), "file")
    page = bf.open_payload(sealed, key)
    for k in ("epoch", "cursor", "changes"):
        if k not in page:
            raise bf.BundleRefused(_("file: the bundle's changes lack {k}; nothing applied").format(k=repr(k)), "file")
    if page.get("epoch") != manifest.get("epoch") or page.get("cursor") != manifest.get("cursor"):
        raise bf.BundleRefused(_("file: the bundle's changes do not match its manifest; nothing applied"), "file")
    start = int(manifest.get("cursor_from") or 0)
    local_epoch = store.meta("hub_epoch")
    local = int(store.meta("pull_cursor") or 0) if local_epoch in (None, page["epoch"]) else 0
    end = int(page["cursor"])
    if local_epoch == page["epoch"] and end <= local:
        return {"device_id": device_id, "epoch": page["epoch"], "cursor": local, "changes": 0, "applied": 0,
                "conflicts": 0, "already_applied": True}
    if start > local:
        raise InputError(_("file: the bundle starts after hub cursor {start}, but this laptop holds changes only up to "
                         "{local}; ask the station for `fieldreport hub bundle-for {device_id} --cursor {local}`").format(start=start, local=local, device_id=device_id),
                         "file")
    page = dict(page)
    page["changes"] = [ch for ch in page["changes"] if int(ch.get("cursor") or 0) > local]
    page["has_more"] = False
    # A bundle is a snapshot the station made earlier: its acked_through may be older than a
    # receipt applied since, which is no sign of a rolled-back hub (check_rollback=False).
    a = sync_state.apply_pull(store, page, check_rollback=False)
    if a.epoch_changed:  # the laptop knew another hub epoch: the cursor went back to 0, apply again
        if start > 0:
            raise InputError(_("file: the hub's database was replaced since this laptop last heard from it; ask the "
                             "station for a full bundle: `fieldreport hub bundle-for {device_id} --cursor 0`").format(device_id=device_id), "file")
        a = sync_state.apply_pull(store, page, check_rollback=False)
    return {"device_id": device_id, "epoch": page["epoch"], "cursor": int(store.meta("pull_cursor") or 0),
            "changes": a.changes, "applied": a.applied, "conflicts": a.conflicts, "kept": a.kept,
            "requeued": a.requeued, "already_applied": False}
