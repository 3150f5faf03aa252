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


MIGRATIONS = [m006_privacy_purge_log]
