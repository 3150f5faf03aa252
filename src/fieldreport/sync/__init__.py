"""``fieldreport sync``: push the outbox, pull the station's decisions, upload photos — over any
link, without losing or doubling a report. See docs/sync.md for the guarantees."""

from .engine import SyncBusy, SyncConfig, SyncError, run_sync, sync_lock  # noqa: F401
