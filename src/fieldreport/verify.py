"""``fieldreport verify``: the tamper-evident local log and the photos, checked end to end.

Each outbox operation carries ``prev_hash`` — the hash of the device's previous operation —
and its own ``hash`` (``canon.op_hash``). Verify walks the outbox in sequence order and
recomputes both; any edit, deletion, insertion or reordering shows as a break at the first
operation affected. Purged operations (content removed by ``fieldreport purge``) keep their
hashes: their own hash cannot be recomputed, but the links through them are still checked.
Every photo the store names, and every photo file, is re-hashed (sha256 of the plaintext,
through the decryption of an encrypted laptop).
"""

from __future__ import annotations

from typing import Any

from .canon import op_hash


def verify(store, blobs, *, photos: bool = True) -> dict[str, Any]:
    from .store import privacy_store as ps

    breaks: list[dict[str, Any]] = []
    n = purged = 0
    expected_prev = None
    last_seq = 0
    for op in ps.chain(store.conn):
        n += 1
        if op["seq"] != last_seq + 1:
            breaks.append({"seq": op["seq"], "op_id": op["op_id"], "problem": "gap",
                           "detail": f"sequence jumps from {last_seq} to {op['seq']}"})
        last_seq = op["seq"]
        if op["prev_hash"] != expected_prev:
            breaks.append({"seq": op["seq"], "op_id": op["op_id"], "problem": "link",
                           "detail": "prev_hash is not the hash of the previous operation"})
        if op["state"] == "purged":
            purged += 1
        elif op_hash(op) != op["hash"]:
            breaks.append({"seq": op["seq"], "op_id": op["op_id"], "problem": "hash",
                           "detail": "the operation's content does not match its hash (edited?)"})
        expected_prev = op["hash"]
    blob_problems: list[dict[str, Any]] = []
    named = files = orphans = 0
    if photos:
        wanted = ps.referenced_blobs(store.conn)
        on_disk = set(blobs.names())
        named, files = len(wanted), len(on_disk)
        for sha in sorted(wanted):
            if sha not in on_disk:
                blob_problems.append({"sha256": sha, "problem": "missing"})
            elif not blobs.verify(sha):
                blob_problems.append({"sha256": sha, "problem": "damaged"})
        for sha in sorted(on_disk - wanted):
            orphans += 1
            if not blobs.verify(sha):
                blob_problems.append({"sha256": sha, "problem": "damaged"})
    return {"ok": not breaks and not blob_problems, "ops": n, "purged_ops": purged, "chain_breaks": breaks,
            "photos_named": named, "photo_files": files, "unreferenced_files": orphans,
            "photo_problems": blob_problems}
