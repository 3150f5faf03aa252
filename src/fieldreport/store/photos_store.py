"""SQL of the photo part of the laptop store (issue 8): links between an original and its
transmission copy, what to upload, and which originals the hub has not confirmed.
``fieldreport.photos`` calls these; nothing else here knows about images."""

from __future__ import annotations

import json
from typing import Any

from .. import ids


def link(store, items: list[dict[str, Any]]) -> None:
    """Record (once each, in one transaction) what was made of some originals: each item has
    ``original``, ``copy_sha256``, ``copy_size``, ``width``, ``height``, ``taken_at``, ``gps``,
    ``note``. The original's ``blobs`` row is written by the report's own transaction; the
    copy's row is written here so that sync can mark it uploaded."""
    ts = ids.now_iso()
    with store.write() as c:
        for it in items:
            gps = it.get("gps") or {}
            if it.get("copy_sha256"):
                c.execute("INSERT INTO blobs (sha256, size, mime, created_at) VALUES (?,?,?,?) "
                          "ON CONFLICT(sha256) DO NOTHING", (it["copy_sha256"], it["copy_size"], "image/jpeg", ts))
            c.execute(
                "INSERT INTO photo_copies (original_sha256, copy_sha256, copy_size, width, height, taken_at, gps_lat, "
                "gps_lon, gps_alt, note, processed, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,1,?) "
                "ON CONFLICT(original_sha256) DO UPDATE SET processed = 1, "
                "copy_sha256 = coalesce(photo_copies.copy_sha256, excluded.copy_sha256), "
                "copy_size = coalesce(photo_copies.copy_size, excluded.copy_size), "
                "width = coalesce(photo_copies.width, excluded.width), "
                "height = coalesce(photo_copies.height, excluded.height), "
                "taken_at = coalesce(photo_copies.taken_at, excluded.taken_at), "
                "gps_lat = coalesce(photo_copies.gps_lat, excluded.gps_lat), "
                "gps_lon = coalesce(photo_copies.gps_lon, excluded.gps_lon), "
                "gps_alt = coalesce(photo_copies.gps_alt, excluded.gps_alt), "
                "note = CASE WHEN photo_copies.copy_sha256 IS NULL THEN excluded.note ELSE photo_copies.note END",
                (it["original"], it.get("copy_sha256"), it.get("copy_size"), it.get("width"), it.get("height"),
                 it.get("taken_at"), gps.get("lat"), gps.get("lon"), gps.get("alt"), it.get("note"), ts))


def copy_of(store, original: str) -> dict[str, Any] | None:
    row = store.conn.execute(
        "SELECT copy_sha256, copy_size, width, height, taken_at, gps_lat, gps_lon, gps_alt, note, "
        "original_requested_at, processed FROM photo_copies WHERE original_sha256 = ?", (original,)).fetchone()
    if row is None:
        return None
    gps = None
    if row[5] is not None and row[6] is not None:
        gps = {"lat": row[5], "lon": row[6]}
        if row[7] is not None:
            gps["alt"] = row[7]
    return {"copy_sha256": row[0], "copy_size": row[1], "width": row[2], "height": row[3], "taken_at": row[4],
            "gps": gps, "note": row[8], "original_requested_at": row[9], "processed": bool(row[10])}


def request_original(store, original: str) -> bool:
    """Remember that the hub asked for this original; False when it is not a photo here."""
    ts = ids.now_iso()
    with store.write() as c:
        known = c.execute("SELECT 1 FROM photos WHERE sha256 = ? LIMIT 1", (original,)).fetchone()
        if not known:
            return False
        c.execute("INSERT INTO photo_copies (original_sha256, note, original_requested_at, created_at) "
                  "VALUES (?, NULL, ?, ?) ON CONFLICT(original_sha256) DO UPDATE SET "
                  "original_requested_at = coalesce(photo_copies.original_requested_at, excluded.original_requested_at)",
                  (original, ts, ts))
    return True


def _requested_in_inbox(store) -> set[str]:
    """Hashes the hub asked for in its pull feed, if the sync engine keeps the feed in ``inbox``."""
    out = set()
    for (payload,) in store.conn.execute("SELECT payload FROM inbox WHERE type = 'blob.request_original'"):
        try:
            sha = json.loads(payload).get("sha256")
        except (ValueError, AttributeError):
            continue
        if isinstance(sha, str):
            out.add(sha)
    return out


def photo_blobs(store) -> list[dict[str, Any]]:
    """Every original attached to a report, once, oldest first, with its copy and upload state."""
    rows = store.conn.execute(
        "SELECT p.sha256, max(p.size), min(p.added_at), b.uploaded_at, pc.copy_sha256, pc.copy_size, "
        "cb.uploaded_at, pc.original_requested_at "
        "FROM photos p LEFT JOIN blobs b ON b.sha256 = p.sha256 "
        "LEFT JOIN photo_copies pc ON pc.original_sha256 = p.sha256 "
        "LEFT JOIN blobs cb ON cb.sha256 = pc.copy_sha256 "
        "GROUP BY p.sha256 ORDER BY min(p.rowid)").fetchall()
    asked = _requested_in_inbox(store) if rows else set()
    return [{"sha256": r[0], "size": r[1], "added_at": r[2], "uploaded_at": r[3], "copy_sha256": r[4],
             "copy_size": r[5], "copy_uploaded_at": r[6], "requested": bool(r[7]) or r[0] in asked} for r in rows]


def uploaded_at(store, sha256: str) -> str | None:
    row = store.conn.execute("SELECT uploaded_at FROM blobs WHERE sha256 = ?", (sha256,)).fetchone()
    return row[0] if row else None


def originals_local_only(store) -> tuple[int, int]:
    """(count, bytes) of originals attached to reports that the hub has not confirmed."""
    row = store.conn.execute(
        "SELECT count(*), coalesce(sum(size), 0) FROM (SELECT p.sha256, max(p.size) AS size FROM photos p "
        "LEFT JOIN blobs b ON b.sha256 = p.sha256 WHERE b.uploaded_at IS NULL GROUP BY p.sha256)").fetchone()
    return int(row[0]), int(row[1])
