"""Store operations for working with no network: consistent snapshots (backups), the checks of
``fieldreport doctor``, merging a current store's queue into a restored one, and reading what a
bundle carries. Part of the store: the only laptop code besides ``store/__init__`` that runs SQL.

Merging (``restore --force``) — how sequence numbers are kept safe
-------------------------------------------------------------------
An operation is immutable once written: its ``op_id``, ``seq`` and ``hash`` may already be at the
hub (a push whose answer was lost), so a merge never changes them when it can avoid it.

* An operation of the current store whose ``op_id`` the restored store already holds is skipped
  (no duplicate op ids, ever).
* An operation whose ``seq`` is free in the restored store keeps its ``seq``, ``op_id``, ``clock``,
  ``prev_hash`` and ``hash`` byte for byte. Within one device's history (a backup is a snapshot of
  an ancestor of the current store) this is every operation: the restored store ends up holding
  the union, and the hash chain is unbroken.
* Only when two histories diverged (an older backup was restored and new work done, then another
  restore) can a ``seq`` be taken by a *different* operation. Such an operation keeps its
  ``op_id`` (so the hub still answers ``duplicate`` if it holds it) but gets the next free
  ``seq`` at the end, with ``prev_hash``/``hash`` recomputed; it is counted as ``renumbered``.
* The device counters ``op_seq`` and ``clock`` become the maximum of both stores and of every
  ``seq`` held, so a new operation never reuses a sequence number the device has ever sent.
  ``report_seq`` likewise; a report whose short ref collides with another report gets a new ref.
* Reports and everything keyed by a text id (parties, photos, notes, premises, inspections…) are
  united by id; a report present in both keeps the version updated last. Hub changes (``inbox``,
  keyed by the hub's cursor) are united too; the pull cursor and epoch stay the restored store's
  (older, so at worst the next pull re-reads changes, which is harmless).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from ..canon import op_hash

UNACKED_EXCLUDE = ("acked", "discarded")
_SKIP_TABLES = {"meta", "migrations", "outbox", "reports", "inbox", "conflicts"}


# ---------------------------------------------------------------------------- snapshots
def snapshot(store, dest: Path) -> None:
    """A transaction-consistent copy of the store in ``dest`` (``VACUUM INTO``): safe while other
    processes write; readers and writers are not blocked for long (WAL)."""
    dest = Path(dest)
    if dest.exists():
        dest.unlink()
    store.conn.execute("VACUUM INTO ?", (str(dest),))


def blob_hashes(conn: sqlite3.Connection) -> list[str]:
    """Every blob the store names (blobs table and photo rows)."""
    rows = conn.execute("SELECT sha256 FROM blobs UNION SELECT sha256 FROM photos").fetchall()
    return sorted(r[0] for r in rows)


def unacked_count(store) -> int:
    q = f"SELECT count(*) FROM outbox WHERE state NOT IN ({','.join('?' * len(UNACKED_EXCLUDE))})"
    return store.conn.execute(q, UNACKED_EXCLUDE).fetchone()[0]


def max_seq(store) -> int:
    return store.conn.execute("SELECT coalesce(max(seq), 0) FROM outbox").fetchone()[0]


# ---------------------------------------------------------------------------- checks
def integrity(conn: sqlite3.Connection, limit: int = 20) -> list[str]:
    """``PRAGMA integrity_check`` messages; empty when the file is sound."""
    rows = [r[0] for r in conn.execute(f"PRAGMA integrity_check({int(limit)})").fetchall()]
    return [] if rows == ["ok"] else rows


def orphan_ops(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Report operations in the outbox whose report row is missing."""
    rows = conn.execute("SELECT seq, type, entity FROM outbox WHERE type LIKE 'report.%' "
                        "AND entity NOT IN (SELECT id FROM reports) ORDER BY seq LIMIT 100").fetchall()
    return [{"seq": r[0], "type": r[1], "entity": r[2]} for r in rows]


def chain_breaks(conn: sqlite3.Connection, limit: int = 10) -> list[int]:
    """Sequence numbers whose ``prev_hash`` is not the previous operation's ``hash``."""
    out, prev_seq, prev_hash = [], None, None
    for seq, ph, h in conn.execute("SELECT seq, prev_hash, hash FROM outbox ORDER BY seq"):
        if prev_seq is not None and seq == prev_seq + 1 and ph != prev_hash:
            out.append(seq)
            if len(out) >= limit:
                break
        prev_seq, prev_hash = seq, h
    return out


# ---------------------------------------------------------------------------- bundles
def unacked_ops(store, limit: int = 1_000_000) -> list[dict[str, Any]]:
    """Every operation not yet acknowledged (pending), in seq order, in wire form."""
    device_id = store.meta("device_id")
    rows = store.conn.execute(
        "SELECT seq, op_id, type, entity, payload, clock, ts, prev_hash, hash FROM outbox WHERE state = 'pending' "
        "ORDER BY seq LIMIT ?", (limit,)).fetchall()
    return [{"op_id": r[1], "device_id": device_id, "seq": r[0], "clock": r[5], "ts": r[6], "type": r[2],
             "entity": r[3], "payload": json.loads(r[4]), "prev_hash": r[7], "hash": r[8]} for r in rows]


def blob_meta(conn: sqlite3.Connection, hashes: list[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for h in hashes:
        r = conn.execute("SELECT size, mime FROM blobs WHERE sha256 = ?", (h,)).fetchone()
        if r:
            out[h] = {"size": r[0], "mime": r[1]}
    return out


# ---------------------------------------------------------------------------- merging
def _cols(conn: sqlite3.Connection, schema: str, table: str) -> list[tuple[str, str, int]]:
    return [(r[1], (r[2] or "").upper(), r[5]) for r in conn.execute(f'PRAGMA "{schema}".table_info("{table}")')]


def _tables(conn: sqlite3.Connection, schema: str) -> set[str]:
    return {r[0] for r in conn.execute(f"SELECT name FROM \"{schema}\".sqlite_master WHERE type = 'table' "
                                       "AND sql NOT LIKE 'CREATE VIRTUAL%' AND name NOT LIKE 'sqlite_%'")}


def _meta_int(conn: sqlite3.Connection, schema: str, key: str) -> int:
    r = conn.execute(f'SELECT value FROM "{schema}".meta WHERE key = ?', (key,)).fetchone()
    try:
        return int(r[0]) if r and r[0] is not None else 0
    except ValueError:
        return 0


def _set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT INTO main.meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                 (key, value))


def merge_from(restored, current_path: Path, key: str | None = None) -> dict[str, int]:
    """Merge the current store at ``current_path`` into the open ``restored`` store, in one
    transaction (see the module docstring for the rules). ``key``: the current store's SQLCipher
    key when it is encrypted. Returns counts."""
    c = restored.conn
    stats = {"ops_added": 0, "ops_kept_seq": 0, "renumbered": 0, "ops_skipped": 0, "reports_added": 0,
             "reports_updated": 0, "refs_changed": 0, "rows_added": 0}
    lit = "'" + str(current_path).replace("'", "''") + "'"
    if key:
        from .cipher import key_pragma

        c.execute(f"ATTACH DATABASE {lit} AS cur KEY {key_pragma(key).split('=', 1)[1].strip()}")
    elif _is_cipher(c):  # a SQLCipher main attaching a plain file
        c.execute(f"ATTACH DATABASE {lit} AS cur KEY ''")
    else:
        c.execute(f"ATTACH DATABASE {lit} AS cur")
    try:
        with restored.write():
            common = _tables(c, "main") & _tables(c, "cur")
            _merge_reports(c, stats)
            for t in sorted(common - _SKIP_TABLES):
                main_cols = _cols(c, "main", t)
                pk = [n for n, _typ, k in main_cols if k]
                if len(pk) != 1:
                    continue
                ptype = next(typ for n, typ, k in main_cols if k)
                if "INT" in ptype:  # integer keys are local counters, not identities
                    continue
                cur_names = {n for n, _t, _k in _cols(c, "cur", t)}
                names = [n for n, _t, _k in main_cols if n in cur_names]
                cl = ",".join(f'"{n}"' for n in names)
                before = c.total_changes
                c.execute(f'INSERT OR IGNORE INTO main."{t}" ({cl}) SELECT {cl} FROM cur."{t}"')
                stats["rows_added"] += c.total_changes - before
            if "inbox" in common:
                c.execute("INSERT OR IGNORE INTO main.inbox (cursor, type, entity, payload, ts, received_at) "
                          "SELECT cursor, type, entity, payload, ts, received_at FROM cur.inbox")
            if "conflicts" in common:
                c.execute("INSERT INTO main.conflicts (entity, field, local_value, hub_value, source, created_at, "
                          "resolved_at) SELECT entity, field, local_value, hub_value, source, created_at, resolved_at "
                          "FROM cur.conflicts k WHERE NOT EXISTS (SELECT 1 FROM main.conflicts m WHERE "
                          "m.entity = k.entity AND m.field = k.field AND m.created_at = k.created_at)")
            _merge_outbox(restored, c, stats)
    finally:
        c.execute("DETACH DATABASE cur")
    return stats


def _is_cipher(conn) -> bool:
    from .cipher import CipherConnection

    return isinstance(conn, CipherConnection)


def _merge_reports(c: sqlite3.Connection, stats: dict[str, int]) -> None:
    cols = [n for n, _t, _k in _cols(c, "main", "reports")]
    cur_cols = {n for n, _t, _k in _cols(c, "cur", "reports")}
    cols = [n for n in cols if n in cur_cols]
    next_ref = max(_meta_int(c, "main", "report_seq"), _meta_int(c, "cur", "report_seq"))
    for n in c.execute("SELECT ref FROM main.reports UNION SELECT ref FROM cur.reports"):
        ref = n[0] or ""
        if ref.startswith("R-") and ref[2:].isdigit():
            next_ref = max(next_ref, int(ref[2:]))
    cl = ",".join(f'"{n}"' for n in cols)
    rows = c.execute(f"SELECT {cl} FROM cur.reports").fetchall()
    for row in rows:
        rec = dict(zip(cols, row))
        have = c.execute("SELECT updated_at FROM main.reports WHERE id = ?", (rec["id"],)).fetchone()
        if have is None:
            clash = c.execute("SELECT 1 FROM main.reports WHERE ref = ?", (rec["ref"],)).fetchone()
            if clash:
                next_ref += 1
                rec["ref"] = f"R-{next_ref:04d}"
                stats["refs_changed"] += 1
            c.execute(f"INSERT INTO main.reports ({cl}) VALUES ({','.join('?' * len(cols))})",
                      [rec[n] for n in cols])
            stats["reports_added"] += 1
        elif (rec.get("updated_at") or "") > (have[0] or ""):
            sets = [n for n in cols if n not in ("id", "ref")]
            c.execute(f"UPDATE main.reports SET {','.join(f'{n} = ?' for n in sets)} WHERE id = ?",
                      [rec[n] for n in sets] + [rec["id"]])
            stats["reports_updated"] += 1
    _set_meta(c, "report_seq", str(next_ref))


def _merge_outbox(restored, c: sqlite3.Connection, stats: dict[str, int]) -> None:
    device_id = restored.meta("device_id")
    main_cols = [n for n, _t, _k in _cols(c, "main", "outbox")]
    cur_cols = {n for n, _t, _k in _cols(c, "cur", "outbox")}
    cols = [n for n in main_cols if n in cur_cols]
    cl = ",".join(f'"{n}"' for n in cols)
    incoming = c.execute(f"SELECT {cl} FROM cur.outbox k WHERE NOT EXISTS "
                         f"(SELECT 1 FROM main.outbox m WHERE m.op_id = k.op_id) ORDER BY seq").fetchall()
    stats["ops_skipped"] = c.execute("SELECT count(*) FROM cur.outbox k WHERE EXISTS "
                                     "(SELECT 1 FROM main.outbox m WHERE m.op_id = k.op_id)").fetchone()[0]
    clash = []
    for row in incoming:
        rec = dict(zip(cols, row))
        if c.execute("SELECT 1 FROM main.outbox WHERE seq = ?", (rec["seq"],)).fetchone():
            clash.append(rec)
            continue
        c.execute(f"INSERT INTO main.outbox ({cl}) VALUES ({','.join('?' * len(cols))})", [rec[n] for n in cols])
        stats["ops_kept_seq"] += 1
    top_seq = max(_meta_int(c, "main", "op_seq"), _meta_int(c, "cur", "op_seq"),
                  c.execute("SELECT coalesce(max(seq), 0) FROM main.outbox").fetchone()[0])
    clock = max(_meta_int(c, "main", "clock"), _meta_int(c, "cur", "clock"),
                c.execute("SELECT coalesce(max(clock), 0) FROM main.outbox").fetchone()[0])
    for rec in clash:
        top_seq += 1
        clock += 1
        prev = c.execute("SELECT hash FROM main.outbox WHERE seq < ? ORDER BY seq DESC LIMIT 1", (top_seq,)).fetchone()
        rec["seq"], rec["clock"], rec["prev_hash"] = top_seq, clock, prev[0] if prev else None
        op = {"op_id": rec["op_id"], "device_id": device_id, "seq": rec["seq"], "clock": rec["clock"],
              "ts": rec["ts"], "type": rec["type"], "entity": rec["entity"], "payload": json.loads(rec["payload"]),
              "prev_hash": rec["prev_hash"]}
        rec["hash"] = op_hash(op)
        c.execute(f"INSERT INTO main.outbox ({cl}) VALUES ({','.join('?' * len(cols))})", [rec[n] for n in cols])
        stats["renumbered"] += 1
    stats["ops_added"] = stats["ops_kept_seq"] + stats["renumbered"]
    _set_meta(c, "op_seq", str(top_seq))
    _set_meta(c, "clock", str(clock))


def checkpoint(store) -> None:
    """Fold the WAL into the main file (before the file is moved aside)."""
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
