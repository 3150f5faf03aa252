"""The hub: the station's server that laptops sync to (docs/protocol.md).

Layers, one way: ``app`` (HTTP, FastAPI) → ``service`` (what each endpoint means) →
``store`` (SQLAlchemy Core on SQLite or PostgreSQL; the only hub code that writes SQL) and
``blobs`` (tus-style resumable photo uploads on the file system). ``rules`` holds the pure
validation of operations, shared by nothing but the store. The station's own commands
(``fieldreport hub …``) call ``station``. Nothing here is imported by ``fieldreport add``.
"""
