"""SQL of the privacy part of the laptop store (issue 6): which reports the hub has fully
confirmed (purge), removing a local copy, and reading the outbox chain back (verify).
``fieldreport.purge`` and ``fieldreport.verify`` call these."""

from __future__ import annotations

import json
from typing import Any, Iterator

from .. import ids

# An operation is confirmed only when the hub answered "applied" or "duplicate" (state acked).
_NOT_CONFIRMED = "o.state != 'acked'"


def _has_table(c, name: str) -> bool:
    return c.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


def candidates(c, cutoff: str) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Reports whose every operation the hub acknowledged, the last acknowledgement and the
    last change both before ``cutoff``, and every photo's ORIGINAL held by the hub (a confirmed
    transmission copy is not enough: the original is the evidence). Returns (eligible,
    kept-by-reason) — the reasons count the reports old enough that stay, and why."""
    photo_ok = "b.uploaded_at IS NOT NULL"
    rows = c.execute(
        f"""
        SELECT r.id, r.ref, r.kind, r.created_at, r.updated_at,
               (SELECT count(*) FROM outbox o WHERE o.entity = r.id) AS ops,
               (SELECT count(*) FROM outbox o WHERE o.entity = r.id AND {_NOT_CONFIRMED}) AS unconfirmed,
               (SELECT max(julianday(o.acked_at)) FROM outbox o WHERE o.entity = r.id) AS last_ack_jd,
               (SELECT o.acked_at FROM outbox o WHERE o.entity = r.id ORDER BY julianday(o.acked_at) DESC LIMIT 1) AS last_ack,
               (SELECT count(*) FROM photos p WHERE p.report_id = r.id) AS photos,
               (SELECT count(*) FROM photos p LEFT JOIN blobs b ON b.sha256 = p.sha256
                 WHERE p.report_id = r.id AND NOT ({photo_ok})) AS photos_unconfirmed
        FROM reports r
        WHERE julianday(r.updated_at) < julianday(?) AND julianday(r.created_at) < julianday(?)
        ORDER BY r.created_at, r.id
        """, (cutoff, cutoff)).fetchall()
    eligible, kept = [], {"not_confirmed": 0, "photos_not_confirmed": 0, "confirmed_recently": 0}
    cut_jd = c.execute("SELECT julianday(?)", (cutoff,)).fetchone()[0]
    for rid, ref, kind, created, updated, ops, unconfirmed, last_jd, last_ack, photos, ph_unconf in rows:
        if ops == 0 or unconfirmed:
            kept["not_confirmed"] += 1
        elif ph_unconf:
            kept["photos_not_confirmed"] += 1
        elif last_jd is None or last_jd >= cut_jd:
            kept["confirmed_recently"] += 1
        else:
            eligible.append({"id": rid, "ref": ref, "kind": kind, "created_at": created, "last_acked_at": last_ack,
                             "ops": ops, "photos": photos})
    return eligible, kept


def candidates_for(c, rids: list[str], cutoff: str):
    el, kept = candidates(c, cutoff)
    want = set(rids)
    return [e for e in el if e["id"] in want], kept


def remove_report(c, rep: dict[str, Any], now: str) -> list[str]:
    """Delete one report's local copy inside the caller's transaction: parties, notes, photos
    rows, hub changes, conflicts, the report; scrub its outbox payloads (rows, sequence and
    hashes stay, state ``purged``). Returns the photo hashes no other row references any more
    (their files can go once the transaction has committed)."""
    rid = rep["id"]
    shas = [r[0] for r in c.execute("SELECT DISTINCT sha256 FROM photos WHERE report_id = ?", (rid,))]
    c.execute("DELETE FROM parties WHERE report_id = ?", (rid,))
    c.execute("DELETE FROM notes WHERE report_id = ?", (rid,))
    c.execute("DELETE FROM photos WHERE report_id = ?", (rid,))
    c.execute("DELETE FROM inbox WHERE entity = ?", (rid,))
    if _has_table(c, "conflicts"):
        c.execute("DELETE FROM conflicts WHERE entity = ?", (rid,))
    n = c.execute("UPDATE outbox SET state = 'purged', payload = '{}', result = NULL, last_error = NULL "
                  "WHERE entity = ? AND state = 'acked'", (rid,)).rowcount
    left = c.execute("SELECT count(*) FROM outbox WHERE entity = ? AND state != 'purged'", (rid,)).fetchone()[0]
    if left:  # pragma: no cover — guarded by the re-check in purge(); never drop an unconfirmed entry
        raise RuntimeError(f"report {rid} has unconfirmed operations; purge aborted")
    c.execute("DELETE FROM reports WHERE id = ?", (rid,))
    c.execute("INSERT INTO purge_log (entity, ref, kind, created_at, last_acked_at, ops, photos, purged_at) "
              "VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(entity) DO UPDATE SET purged_at = excluded.purged_at",
              (rid, rep["ref"], rep["kind"], rep["created_at"], rep["last_acked_at"], n, len(shas), now))
    gone = []
    for sha in shas:
        if _referenced(c, sha):
            continue
        c.execute("DELETE FROM blobs WHERE sha256 = ?", (sha,))
        gone.append(sha)
        if _has_table(c, "photo_copies"):
            for (copy,) in c.execute("SELECT copy_sha256 FROM photo_copies WHERE original_sha256 = ?", (sha,)).fetchall():
                if copy and not _referenced(c, copy):
                    c.execute("DELETE FROM blobs WHERE sha256 = ?", (copy,))
                    gone.append(copy)
            c.execute("DELETE FROM photo_copies WHERE original_sha256 = ?", (sha,))
    return gone


def _referenced(c, sha: str) -> bool:
    if c.execute("SELECT 1 FROM photos WHERE sha256 = ? LIMIT 1", (sha,)).fetchone():
        return True
    if _has_table(c, "photo_copies"):
        # a copy of an original that some remaining report still shows
        row = c.execute("SELECT 1 FROM photo_copies pc JOIN photos p ON p.sha256 = pc.original_sha256 "
                        "WHERE pc.copy_sha256 = ? LIMIT 1", (sha,)).fetchone()
        if row:
            return True
    return False


def purge(store, eligible: list[dict[str, Any]], cutoff: str) -> tuple[list[dict], list[str]]:
    """Remove the local copies of ``eligible`` in one transaction, re-checking each inside it.
    Returns (purged reports, photo hashes whose files may now be deleted)."""
    now = ids.now_iso()
    done, files = [], []
    with store.write() as c:
        still, _ = candidates_for(c, [e["id"] for e in eligible], cutoff)
        for rep in still:
            files += remove_report(c, rep, now)
            done.append(rep)
    return done, files


def purge_log(c) -> list[dict[str, Any]]:
    if not _has_table(c, "purge_log"):
        return []
    return [{"entity": r[0], "ref": r[1], "kind": r[2], "created_at": r[3], "last_acked_at": r[4], "ops": r[5],
             "photos": r[6], "purged_at": r[7]}
            for r in c.execute("SELECT entity, ref, kind, created_at, last_acked_at, ops, photos, purged_at "
                               "FROM purge_log ORDER BY purged_at, entity")]


def chain(c) -> Iterator[dict[str, Any]]:
    """The outbox in sequence order, as the hashed fields plus state (for ``verify``)."""
    device = (c.execute("SELECT value FROM meta WHERE key = 'device_id'").fetchone() or [None])[0]
    for seq, op_id, type_, entity, payload, clock, ts, prev, h, state in c.execute(
            "SELECT seq, op_id, type, entity, payload, clock, ts, prev_hash, hash, state FROM outbox ORDER BY seq"):
        try:
            pl = json.loads(payload)
        except ValueError:
            pl = payload
        yield {"op_id": op_id, "device_id": device, "seq": seq, "clock": clock, "ts": ts, "type": type_,
               "entity": entity, "payload": pl, "prev_hash": prev, "hash": h, "state": state}


def referenced_blobs(c) -> set[str]:
    out = {r[0] for r in c.execute("SELECT sha256 FROM blobs")}
    out |= {r[0] for r in c.execute("SELECT DISTINCT sha256 FROM photos")}
    return out
