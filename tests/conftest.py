"""Shared fixtures. Every test gets its own FIELDREPORT_HOME (a temp dir) and English output
unless it asks for Chinese; ``cli`` runs the real command line in-process, ``run`` as a real
subprocess; ``pg_url`` is a PostgreSQL database made for this test run and dropped after it."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
PY = sys.executable


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    h = tmp_path / "home"
    monkeypatch.setenv("FIELDREPORT_HOME", str(h))
    monkeypatch.setenv("FIELDREPORT_LANG", "en")
    monkeypatch.setenv("FIELDREPORT_BUSY_TIMEOUT_MS", "3000")
    monkeypatch.delenv("FIELDREPORT_PASSPHRASE", raising=False)
    from fieldreport.cli import common

    common.reset_env()
    yield h
    common.reset_env()


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


@pytest.fixture
def cli(monkeypatch, capsys):
    """Run ``fieldreport ARGS`` in-process; returns Result(code, out, err)."""

    def run(*args: str, input: str | bytes | None = None) -> Result:
        from fieldreport.cli import common, main

        common.reset_env()
        if input is not None:
            data = input.encode("utf-8") if isinstance(input, str) else input
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
        capsys.readouterr()
        code = main([str(a) for a in args])
        cap = capsys.readouterr()
        return Result(code, cap.out, cap.err)

    return run


@pytest.fixture
def run():
    """Run ``fieldreport ARGS`` as a real subprocess (environment of the test)."""

    def go(*args: str, input: bytes | str | None = None, env: dict | None = None, timeout: float = 60) -> Result:
        e = dict(os.environ)
        if env:
            e.update(env)
        data = input.encode("utf-8") if isinstance(input, str) else input
        p = subprocess.run([PY, "-m", "fieldreport", *map(str, args)], input=data, capture_output=True, env=e,
                           timeout=timeout)
        return Result(p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace"))

    return go


def docs_template_example() -> str:
    """The example template of docs/checklists.md ("### Example"), as TOML text."""
    import re

    doc = (ROOT / "docs" / "checklists.md").read_text(encoding="utf-8")
    return re.search(r"```toml\n(.*?)```", doc[doc.index("### Example"):], re.S).group(1)


PROFILE_ARGS = ("init", "--name", "王芳", "--officer-id", "A1024", "--role", "auxiliary-police", "--station",
                "城关派出所", "--area", "东村", "--grid", "3组", "--lang", "en", "--no-input")


@pytest.fixture
def profile(cli):
    r = cli(*PROFILE_ARGS)
    assert r.code == 0, r.err
    return r


def _pg_base() -> str | None:
    return os.environ.get("FIELDREPORT_TEST_PG") or "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def pg_url():
    """SQLAlchemy URL of a fresh PostgreSQL database for this run (dropped afterwards).
    Skips with the reason where no server is reachable — but fails under CI, where one must be."""
    base = _pg_base()
    try:
        import psycopg
    except ImportError:  # pragma: no cover
        pytest.skip("psycopg is not installed")
    try:
        admin = psycopg.connect(base, autocommit=True, connect_timeout=3)
    except Exception as e:  # noqa: BLE001
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL not reachable at {base} under CI: {e}")
        pytest.skip(f"PostgreSQL not reachable at {base}: {e}")
    name = f"fr_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    head, _, _ = base.rpartition("/")
    url = f"{head}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield url
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


try:  # fixtures for a real hub on loopback, shared by the hub and sync tests
    from hubfixtures import *  # noqa: F401,F403,E402
except ImportError as _e:  # pragma: no cover
    if "hubfixtures" not in str(_e):
        raise
