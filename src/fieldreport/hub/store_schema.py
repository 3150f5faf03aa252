"""The hub's tables (SQLAlchemy Core), portable between SQLite and PostgreSQL.

Timestamps are ISO 8601 UTC strings with milliseconds; JSON documents are stored as text.
Anything a laptop or the station types is ``Text``: a length the models do not bound must
never fail a batch on PostgreSQL (which enforces ``VARCHAR(n)``) while SQLite took it.
``ops`` is the ledger of every operation a device pushed, with its answer: its primary key
on ``op_id`` is what makes a retried push a ``duplicate``. ``changes`` is the pull feed,
ordered by ``cursor``, which is allocated from the ``counters`` row inside the committing
transaction, so cursor order is commit order (no reader can move past an uncommitted change).
"""

from __future__ import annotations

from sqlalchemy import (BigInteger, Boolean, Column, Float, Index, Integer, MetaData, String, Table, Text,
                        UniqueConstraint)

SCHEMA_VERSION = 1

metadata = MetaData()

hub_meta = Table(
    "hub_meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

counters = Table(
    "counters", metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

officers = Table(
    "officers", metadata,
    Column("officer_id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("area", Text),
    Column("role", Text),
    Column("created_at", String(40), nullable=False),
)

enroll_codes = Table(
    "enroll_codes", metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("officer_id", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("expires_at", String(40), nullable=False),
    Column("used_at", String(40)),
    Column("device_id", String(64)),
)

devices = Table(
    "devices", metadata,
    Column("device_id", String(64), primary_key=True),
    Column("officer_id", Text, nullable=False),
    Column("name", Text, nullable=False, default=""),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("enrolled_at", String(40), nullable=False),
    Column("revoked_at", String(40)),
    Column("acked_through", BigInteger, nullable=False, default=0),
    Column("last_seen_at", String(40)),
)

ops = Table(
    "ops", metadata,
    Column("op_id", String(36), primary_key=True),
    Column("device_id", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("clock", BigInteger, nullable=False),
    Column("ts", String(40), nullable=False),
    Column("type", String(40), nullable=False),
    Column("entity", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("prev_hash", String(64)),
    Column("hash", String(64), nullable=False),
    Column("received_at", String(40), nullable=False),
    Column("status", String(16), nullable=False),
    Column("result", Text, nullable=False),
    UniqueConstraint("device_id", "seq", name="ops_device_seq"),
)
Index("ops_entity", ops.c.entity)

reports = Table(
    "reports", metadata,
    Column("id", String(64), primary_key=True),
    Column("case_code", String(40), nullable=False, unique=True),
    Column("ref", Text),
    Column("device_id", String(64), nullable=False),
    Column("officer_id", Text, nullable=False),
    Column("area", Text),
    Column("kind", String(20), nullable=False),
    Column("category", String(40)),
    Column("level", String(20)),
    Column("title", Text, nullable=False),
    Column("details", Text, nullable=False, default=""),
    Column("place", Text, nullable=False, default=""),
    Column("lat", Float),
    Column("lon", Float),
    Column("premises_id", Text),
    Column("inspection_id", Text),
    Column("item_id", Text),
    Column("location_source", Text),   # e.g. "photo:<sha256>" when lat/lon came from EXIF
    Column("dept", String(40)),
    Column("deadline", String(10)),
    Column("status", String(20), nullable=False),
    Column("assigned_to", Text),
    Column("archived", Boolean, nullable=False, default=False),
    Column("author", Text),
    Column("created_at", Text),       # the device's time, with its zone
    Column("received_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
)
Index("reports_area_status", reports.c.area, reports.c.status)

parties = Table(
    "parties", metadata,
    Column("report_id", String(64), primary_key=True),
    Column("idx", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("id_number", Text),
    Column("phone", Text),
    Column("address", Text),
    Column("id_verified", Boolean, nullable=False, default=True),
)

photos = Table(
    "photos", metadata,
    Column("op_id", Text, primary_key=True),   # report.create photos: "<op_id>:<index>"
    Column("report_id", String(64), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("mime", Text, nullable=False),
    Column("name", Text, nullable=False, default=""),
    Column("meta", Text),   # JSON: copy_sha256, copy_size, taken_at, gps — when the laptop sent them
    Column("added_at", String(40), nullable=False),
)
Index("photos_report", photos.c.report_id)

notes = Table(
    "notes", metadata,
    Column("note_id", Text, primary_key=True),
    Column("report_id", String(64), nullable=False),
    Column("text", Text, nullable=False),
    Column("author", Text),
    Column("source", String(10), nullable=False),   # field | station
    Column("created_at", String(40), nullable=False),
)
Index("notes_report", notes.c.report_id)

history = Table(
    "history", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("entity", String(64), nullable=False),
    Column("op_id", String(36)),
    Column("source", String(10), nullable=False),   # field | station
    Column("type", String(40), nullable=False),
    Column("detail", Text, nullable=False),
    Column("by", Text),
    Column("at", String(40), nullable=False),
)
Index("history_entity", history.c.entity)

premises = Table(
    "premises", metadata,
    Column("id", String(64), primary_key=True),
    Column("area", Text),
    Column("device_id", String(64)),
    Column("doc", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
)

inspections = Table(
    "inspections", metadata,
    Column("id", String(64), primary_key=True),
    Column("device_id", String(64), nullable=False),
    Column("premises_id", Text),
    Column("doc", Text, nullable=False),
    Column("finished", Text),
    Column("created_at", String(40), nullable=False),
)

answers = Table(
    "answers", metadata,
    Column("op_id", String(36), primary_key=True),
    Column("inspection_id", String(64), nullable=False),
    Column("item_id", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("received_at", String(40), nullable=False),
)
Index("answers_inspection", answers.c.inspection_id)

templates = Table(
    "templates", metadata,
    Column("id", Text, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("doc", Text, nullable=False),
    Column("updated_at", String(40), nullable=False),
)

changes = Table(
    "changes", metadata,
    Column("cursor", BigInteger, primary_key=True, autoincrement=False),
    Column("type", String(40), nullable=False),
    Column("entity", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("ts", String(40), nullable=False),
    # who sees it: the device, the officer (any of their devices), the area; all null = everyone
    Column("device_id", String(64)),
    Column("officer_id", Text),
    Column("area", Text),
)
Index("changes_device", changes.c.device_id, changes.c.cursor)
Index("changes_officer", changes.c.officer_id, changes.c.cursor)
Index("changes_area", changes.c.area, changes.c.cursor)
