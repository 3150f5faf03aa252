"""Ordered, named migrations of the laptop store. Each runs once, inside one transaction,
and is recorded in the ``migrations`` table; ``PRAGMA user_version`` holds their count so
opening an up-to-date store costs one pragma. Never edit a released migration: add one."""

from __future__ import annotations

import sqlite3
from typing import Callable


def m001_initial(db) -> None:
    db.executescript_in_txn(
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
        CREATE TABLE reports (
            id TEXT PRIMARY KEY,
            ref TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            category TEXT,
            level TEXT,
            title TEXT NOT NULL,
            details TEXT NOT NULL DEFAULT '',
            place TEXT NOT NULL DEFAULT '',
            lat REAL,
            lon REAL,
            premises_id TEXT,
            inspection_id TEXT,
            item_id TEXT,
            dept TEXT,
            deadline TEXT,
            status TEXT NOT NULL,
            case_code TEXT,
            assigned_to TEXT,
            archived INTEGER NOT NULL DEFAULT 0,
            author TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX reports_created ON reports(created_at);
        CREATE TABLE parties (
            id TEXT PRIMARY KEY,
            report_id TEXT NOT NULL REFERENCES reports(id),
            idx INTEGER NOT NULL,
            name TEXT NOT NULL,
            role TEXT NOT NULL,
            id_number TEXT,
            phone TEXT,
            address TEXT,
            id_verified INTEGER NOT NULL DEFAULT 1
        );
        CREATE INDEX parties_report ON parties(report_id);
        CREATE TABLE photos (
            id TEXT PRIMARY KEY,
            report_id TEXT NOT NULL REFERENCES reports(id),
            sha256 TEXT NOT NULL,
            size INTEGER NOT NULL,
            mime TEXT NOT NULL,
            name TEXT NOT NULL DEFAULT '',
            added_at TEXT NOT NULL
        );
        CREATE INDEX photos_report ON photos(report_id);
        CREATE TABLE notes (
            id TEXT PRIMARY KEY,
            report_id TEXT NOT NULL REFERENCES reports(id),
            text TEXT NOT NULL,
            author TEXT,
            created_at TEXT NOT NULL,
            source TEXT NOT NULL DEFAULT 'local'
        );
        CREATE INDEX notes_report ON notes(report_id);
        CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY,
            op_id TEXT NOT NULL UNIQUE,
            type TEXT NOT NULL,
            entity TEXT NOT NULL,
            payload TEXT NOT NULL,
            clock INTEGER NOT NULL,
            ts TEXT NOT NULL,
            prev_hash TEXT,
            hash TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending',
            result TEXT,
            acked_at TEXT,
            epoch TEXT
        );
        CREATE INDEX outbox_state ON outbox(state, seq);
        CREATE INDEX outbox_entity ON outbox(entity);
        CREATE TABLE blobs (
            sha256 TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            mime TEXT NOT NULL,
            created_at TEXT NOT NULL,
            uploaded_at TEXT
        );
        CREATE TABLE inbox (
            cursor INTEGER PRIMARY KEY,
            type TEXT NOT NULL,
            entity TEXT NOT NULL,
            payload TEXT NOT NULL,
            ts TEXT NOT NULL,
            received_at TEXT NOT NULL
        );
        CREATE INDEX inbox_entity ON inbox(entity);
        """
    )


def m002_outbox_retry(db) -> None:
    """Retry bookkeeping for sync (attempts, last error) and the conflicts a pull can find.
    Written with sqlite-utils, which joins the migration's open transaction."""
    import sqlite_utils

    sdb = sqlite_utils.Database(db.conn)
    sdb["outbox"].add_column("attempts", int, not_null_default=0)
    sdb["outbox"].add_column("last_error", str)
    sdb.create_table("conflicts", {"id": int, "entity": str, "field": str, "local_value": str, "hub_value": str,
                                   "source": str, "created_at": str, "resolved_at": str},
                     pk="id", not_null={"entity", "field", "source", "created_at"})


def m003_search(db) -> None:
    """Substring search that works on Chinese: an FTS5 trigram index over title, details and
    place (queries of three or more characters); shorter queries fall back to LIKE. External
    content kept current by triggers, all inside the migration's transaction."""
    db.executescript_in_txn(
        """
        CREATE VIRTUAL TABLE reports_fts USING fts5(title, details, place, content=reports,
            content_rowid=rowid, tokenize='trigram');
        INSERT INTO reports_fts (rowid, title, details, place) SELECT rowid, title, details, place FROM reports;
        CREATE TRIGGER reports_ai AFTER INSERT ON reports BEGIN
            INSERT INTO reports_fts (rowid, title, details, place) VALUES (new.rowid, new.title, new.details, new.place);
        END;
        CREATE TRIGGER reports_ad AFTER DELETE ON reports BEGIN
            INSERT INTO reports_fts (reports_fts, rowid, title, details, place) VALUES ('delete', old.rowid, old.title, old.details, old.place);
        END;
        CREATE TRIGGER reports_au AFTER UPDATE OF title, details, place ON reports BEGIN
            INSERT INTO reports_fts (reports_fts, rowid, title, details, place) VALUES ('delete', old.rowid, old.title, old.details, old.place);
            INSERT INTO reports_fts (rowid, title, details, place) VALUES (new.rowid, new.title, new.details, new.place);
        END
        """
    )


MIGRATIONS: list[Callable] = [m001_initial, m002_outbox_retry, m003_search]

# Feature parts of the store keep their migrations in their own modules (each exports a
# MIGRATIONS list of named functions); they run after the core ones, in this fixed order.
_FEATURE_MODULES = ("schema_sync", "schema_checklist", "schema_photos", "schema_privacy", "schema_bundle")


def _load_features() -> None:
    import importlib

    for name in _FEATURE_MODULES:
        try:
            mod = importlib.import_module(f"{__package__}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{__package__}.{name}":
                raise
            continue
        MIGRATIONS.extend(mod.MIGRATIONS)


_load_features()


class _Migrator:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def executescript_in_txn(self, script: str) -> None:
        """Run each statement of ``script`` inside the caller's open transaction (unlike
        ``sqlite3.executescript``, which commits first)."""
        buf = ""
        for line in script.splitlines(keepends=True):
            buf += line
            if sqlite3.complete_statement(buf):
                self.conn.execute(buf)
                buf = ""
        if buf.strip():
            self.conn.execute(buf)


def migrate(conn: sqlite3.Connection, upto: int | None = None) -> list[str]:
    """Apply the migrations not yet recorded, each in its own BEGIN IMMEDIATE transaction.
    Safe to run from two processes at once: the second sees the first's work and skips it."""
    applied: list[str] = []
    target = len(MIGRATIONS) if upto is None else upto
    for i, fn in enumerate(MIGRATIONS[:target], start=1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
            done = conn.execute("SELECT 1 FROM migrations WHERE name = ?", (fn.__name__,)).fetchone()
            if not done:
                fn(_Migrator(conn))
                conn.execute("INSERT INTO migrations (name, applied_at) VALUES (?, datetime('now'))", (fn.__name__,))
                applied.append(fn.__name__)
            if conn.execute("PRAGMA user_version").fetchone()[0] < i:
                conn.execute(f"PRAGMA user_version = {i}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return applied
