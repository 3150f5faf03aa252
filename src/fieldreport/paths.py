"""Where fieldreport keeps its files: ``FIELDREPORT_HOME`` if set, else platformdirs'
user data and config dirs. Everything is created owner-only (0700 dirs, 0600 files)."""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator


@dataclass(frozen=True)
class Paths:
    data_dir: Path
    config_dir: Path

    @property
    def store(self) -> Path:
        return self.data_dir / "fieldreport.db"

    @property
    def blobs(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def profile(self) -> Path:
        return self.config_dir / "profile.json"

    @property
    def token(self) -> Path:
        return self.config_dir / "token"

    @property
    def audit_log(self) -> Path:
        return self.data_dir / "audit.log"

    @property
    def sync_lock(self) -> Path:
        return self.data_dir / "sync.lock"


def resolve(home: str | os.PathLike | None = None) -> Paths:
    home = home or os.environ.get("FIELDREPORT_HOME")
    if home:
        h = Path(home).expanduser()
        return Paths(h, h)
    import platformdirs

    return Paths(Path(platformdirs.user_data_dir("fieldreport")), Path(platformdirs.user_config_dir("fieldreport")))


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) readable by the owner only."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Atomically write ``data`` to ``path`` with mode 0600 (its folder made private first)."""
    private_dir(path.parent)
    with atomic_file(path) as f:
        f.write(data)


@contextmanager
def atomic_file(target: Path) -> Iterator[BinaryIO]:
    """A file (mode 0600) written in full under ``.NAME.PID.part`` beside ``target``, fsynced,
    renamed over it and the folder synced. On an error the ``.part`` is removed; a kill or a
    power cut leaves at most a ``.part``, never half a file under the final name."""
    part = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(part, target)
        fsync_dir(target.parent)
    except BaseException:
        part.unlink(missing_ok=True)
        raise


def fsync_dir(path: Path) -> None:
    """fsync a directory so a rename into it survives a power cut (best effort)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
