"""Migrations of the photo part of the store (issue 8): transmission copies and provenance.

``photo_copies`` is keyed by the *original's* hash (a blob fact, not a report fact: the same
photo attached twice shares one row). ``copy_sha256`` is NULL when no copy could be made (a
HEIC without a decoder, a corrupt file…); ``note`` says why, and the original is then sent
as is. ``original_requested_at`` is set when the hub asked for the original
(``blob.request_original``).

``reports.location_source`` records where lat/lon came from (``photo:<sha256>``). It is set by
a trigger from the ``report.create`` operation's payload, so it is written in the very
transaction that inserts the report and its operation, with no change to ``insert_report``.
"""

from __future__ import annotations


def m005_photo_copies(db) -> None:
    db.executescript_in_txn(
        """
        CREATE TABLE photo_copies (
            original_sha256 TEXT PRIMARY KEY,
            copy_sha256 TEXT,
            copy_size INTEGER,
            width INTEGER,
            height INTEGER,
            taken_at TEXT,
            gps_lat REAL,
            gps_lon REAL,
            gps_alt REAL,
            note TEXT,
            original_requested_at TEXT,
            processed INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL
        );
        CREATE INDEX photo_copies_copy ON photo_copies(copy_sha256);
        ALTER TABLE reports ADD COLUMN location_source TEXT;
        CREATE TRIGGER outbox_location_source AFTER INSERT ON outbox
        WHEN new.type = 'report.create' AND json_extract(new.payload, '$.location_source') IS NOT NULL
        BEGIN
            UPDATE reports SET location_source = json_extract(new.payload, '$.location_source') WHERE id = new.entity;
        END;
        """
    )


MIGRATIONS = [m005_photo_copies]
