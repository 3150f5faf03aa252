"""Migrations of the privacy part of the laptop store (issue 6).

``purge_log`` remembers which reports ``fieldreport purge`` removed from this laptop (ref,
kind, times, how many operations — never their content), so ``verify`` and the officer can
tell a purged report from a lost one. Purged outbox entries keep their row, sequence and
hashes (the chain stays checkable) but lose their payload, and take the state ``purged``,
which sync never sends again.
"""

from __future__ import annotations


def m006_privacy_purge_log(db) -> None:
    db.executescript_in_txn(
        """
        CREATE TABLE purge_log (
            entity TEXT PRIMARY KEY,
            ref TEXT,
            kind TEXT,
            created_at TEXT,
            last_acked_at TEXT,
            ops INTEGER NOT NULL,
            photos INTEGER NOT NULL,
            purged_at TEXT NOT NULL
        );
        """
    )


def m007_privacy_list_order(db) -> None:
    """`list` orders by (created_at, id): with this index both SQLite 3.40 (the plain store) and
    SQLCipher's SQLite 3.51 (which otherwise scans and sorts the whole table — 10x slower on an
    encrypted store of 100,000 reports) read just the newest rows."""
    db.executescript_in_txn("CREATE INDEX IF NOT EXISTS reports_created_id ON reports(created_at, id);")


MIGRATIONS = [m006_privacy_purge_log, m007_privacy_list_order]
