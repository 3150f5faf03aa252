"""SQLCipher under the store: open an encrypted store, and convert a store between plain and
encrypted without ever leaving a damaged file under the store's name.

``sqlcipher3`` is a fork of the stdlib ``sqlite3`` module with its *own* exception classes, so a
raw SQLCipher connection would slip past every ``except sqlite3.OperationalError`` in the store
(locked, busy…). :class:`CipherConnection` wraps it and re-raises each error as the stdlib
class of the same name: the rest of the store, and the feature stores, work unchanged.
"""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path

from ..crashpoints import crash_point
from ..i18n import _

_HEX_KEY = re.compile(r"^[0-9a-fA-F]{64}$")
_PLAIN_HEADER = b"SQLite format 3\x00"


def _mod():
    try:
        import sqlcipher3.dbapi2 as cipher
    except ImportError:  # pragma: no cover — installed with fieldreport on Linux x86_64
        from ..errors import FieldReportError

        raise FieldReportError(_("this store is encrypted but SQLCipher (the sqlcipher3-binary package) is not "
                                 "installed: pip install sqlcipher3-binary")) from None
    return cipher


def is_plain_file(path: Path) -> bool:
    """True when ``path`` is a plain (unencrypted) SQLite file."""
    try:
        with open(path, "rb") as f:
            return f.read(16) == _PLAIN_HEADER
    except OSError:
        return False


def _tr(e: Exception) -> Exception:
    cls = getattr(sqlite3, type(e).__name__, sqlite3.DatabaseError)
    if not (isinstance(cls, type) and issubclass(cls, sqlite3.Error)):
        cls = sqlite3.DatabaseError
    return cls(*e.args)


class CipherCursor:
    __slots__ = ("_raw",)

    def __init__(self, raw):
        self._raw = raw

    def __getattr__(self, name):
        return getattr(self._raw, name)

    def execute(self, sql, params=()):
        try:
            self._raw.execute(sql, params)
        except _mod().Error as e:
            raise _tr(e) from None
        return self

    def executemany(self, sql, seq):
        try:
            self._raw.executemany(sql, seq)
        except _mod().Error as e:
            raise _tr(e) from None
        return self

    def fetchone(self):
        try:
            return self._raw.fetchone()
        except _mod().Error as e:
            raise _tr(e) from None

    def fetchall(self):
        try:
            return self._raw.fetchall()
        except _mod().Error as e:
            raise _tr(e) from None

    def fetchmany(self, size=None):
        try:
            return self._raw.fetchmany(size) if size is not None else self._raw.fetchmany()
        except _mod().Error as e:
            raise _tr(e) from None

    def __iter__(self):
        err = _mod().Error
        it = iter(self._raw)
        while True:
            try:
                row = next(it)
            except StopIteration:
                return
            except err as e:
                raise _tr(e) from None
            yield row

    def close(self):
        self._raw.close()


class CipherConnection:
    """A SQLCipher connection that raises the stdlib ``sqlite3`` exception classes."""

    def __init__(self, raw):
        object.__setattr__(self, "_raw", raw)

    def __getattr__(self, name):
        return getattr(self._raw, name)

    def __setattr__(self, name, value):
        if name == "row_factory" and value is sqlite3.Row:
            value = _mod().Row
        setattr(self._raw, name, value)

    def execute(self, sql, params=()):
        try:
            return CipherCursor(self._raw.execute(sql, params))
        except _mod().Error as e:
            raise _tr(e) from None

    def executemany(self, sql, seq):
        try:
            return CipherCursor(self._raw.executemany(sql, seq))
        except _mod().Error as e:
            raise _tr(e) from None

    def executescript(self, script):
        try:
            return CipherCursor(self._raw.executescript(script))
        except _mod().Error as e:
            raise _tr(e) from None

    def cursor(self, *a, **k):
        return CipherCursor(self._raw.cursor(*a, **k))

    def commit(self):
        try:
            self._raw.commit()
        except _mod().Error as e:
            raise _tr(e) from None

    def rollback(self):
        try:
            self._raw.rollback()
        except _mod().Error as e:
            raise _tr(e) from None

    def close(self):
        self._raw.close()

    def __enter__(self):
        self._raw.__enter__()
        return self

    def __exit__(self, *exc):
        return self._raw.__exit__(*exc)


def key_pragma(key: str) -> str:
    """``PRAGMA key`` for a raw 64-hex-digit key (from fieldreport.crypto) or, for other
    callers, a passphrase that SQLCipher derives itself."""
    if _HEX_KEY.match(key):
        return f"PRAGMA key = \"x'{key}'\""
    return "PRAGMA key = '" + key.replace("'", "''") + "'"


def connect(path: Path, key: str, timeout: float):
    """A keyed SQLCipher connection (autocommit, like the plain one). Raises sqlite3.DatabaseError
    'file is not a database' at once when the key does not open the file."""
    cipher = _mod()
    raw = cipher.connect(str(path), isolation_level=None, timeout=timeout, check_same_thread=False)
    try:
        raw.execute("PRAGMA cipher_log_level = NONE")
        raw.execute(key_pragma(key))
        raw.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except cipher.Error as e:
        raw.close()
        raise _tr(e) from None
    return CipherConnection(raw)


# ---------------------------------------------------------------- conversion

def _tables(conn) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").fetchall()]


def _fingerprint(conn) -> dict[str, int]:
    out = {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in _tables(conn)}
    out["__user_version__"] = conn.execute("PRAGMA user_version").fetchone()[0]
    return out


class StoreInUse(Exception):
    pass


def discard_leftovers(path: Path) -> None:
    """Remove the copy an interrupted conversion may have left beside the store (it can be a
    plaintext copy when a `decrypt` was interrupted)."""
    tmp = Path(path).with_name(Path(path).name + ".converting")
    for p in (tmp, Path(str(tmp) + "-journal"), Path(str(tmp) + "-wal"), Path(str(tmp) + "-shm")):
        p.unlink(missing_ok=True)


def convert(path: Path, *, old_key: str | None, new_key: str | None, timeout: float = 10.0) -> dict[str, int]:
    """Rewrite the store at ``path`` under ``new_key`` (None = plain). Steps: take the store
    out of WAL (which fails while any other process has it open), hold an exclusive lock,
    ``sqlcipher_export`` into ``<store>.converting``, reopen that copy with the new key and
    check its integrity and every table's row count, fsync, then rename it over the store.
    Any failure leaves the original untouched. Returns the row counts."""
    cipher = _mod()
    path = Path(path)
    tmp = path.with_name(path.name + ".converting")
    discard_leftovers(path)
    src = cipher.connect(str(path), isolation_level=None, timeout=timeout, check_same_thread=False)
    try:
        src.execute("PRAGMA cipher_log_level = NONE")
        if old_key:
            src.execute(key_pragma(old_key))
        src.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        try:
            src.execute("SELECT count(*) FROM sqlite_master").fetchone()
            src.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            mode = src.execute("PRAGMA journal_mode = DELETE").fetchone()[0]
        except cipher.Error as e:
            if "locked" in str(e) or "busy" in str(e):
                raise StoreInUse("the store is open in another fieldreport process (a sync?); let it finish and "
                                 "try again") from None
            raise _tr(e) from None
        if str(mode).lower() != "delete":
            raise StoreInUse("the store is open in another fieldreport process (a sync?); let it finish and try again")
        # Keep the lock from the export until after the rename: nobody writes in between, and a
        # command that opened the store meanwhile notices the new file (store._connect).
        src.execute("PRAGMA main.locking_mode = EXCLUSIVE")
        old = os.umask(0o077)
        try:
            lit = "'" + str(tmp).replace("'", "''") + "'"
            if new_key:
                kp = key_pragma(new_key).split("=", 1)[1].strip()
                src.execute(f"ATTACH DATABASE {lit} AS converted KEY {kp}")
            else:
                src.execute(f"ATTACH DATABASE {lit} AS converted KEY ''")
        finally:
            os.umask(old)
        try:
            try:
                src.execute("BEGIN EXCLUSIVE")
            except cipher.OperationalError:
                raise StoreInUse("the store is open in another fieldreport process (a sync?); let it finish and "
                                 "try again") from None
            before = _fingerprint(src)
            src.execute("SELECT sqlcipher_export('converted')")
            src.execute(f"PRAGMA converted.user_version = {int(before['__user_version__'])}")
            src.execute("COMMIT")
        except cipher.Error as e:
            if src.in_transaction:
                src.execute("ROLLBACK")
            raise _tr(e) from None
        src.execute("DETACH DATABASE converted")
        crash_point("convert:after_export")
        # Verify the copy through a fresh connection with the new key, before it takes the name.
        chk = cipher.connect(str(tmp), isolation_level=None, check_same_thread=False)
        try:
            chk.execute("PRAGMA cipher_log_level = NONE")
            if new_key:
                chk.execute(key_pragma(new_key))
            ok = chk.execute("PRAGMA integrity_check").fetchone()[0]
            after = _fingerprint(chk)
        except cipher.Error as e:
            raise _tr(e) from None
        finally:
            chk.close()
        if ok != "ok" or after != before:
            tmp.unlink(missing_ok=True)
            raise sqlite3.DatabaseError(_("the converted copy did not verify ({result}); the store is unchanged").format(
                result=ok))
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        crash_point("convert:before_rename")
        # Still holding the exclusive lock, swap the verified copy in, then fsync the folder.
        os.replace(tmp, path)
        crash_point("convert:after_rename")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        src.close()
    for suffix in ("-journal", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    return {k: v for k, v in before.items() if not k.startswith("__")}
