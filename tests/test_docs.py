"""Every command is documented: its --help has a description and an example, in both
languages, and docs/cli.md is the current output of scripts/gen_cli_docs.py."""

import subprocess
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import gen_cli_docs  # noqa: E402

COMMANDS = [p for p, _ in gen_cli_docs.commands()]


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
def test_every_command_has_help_with_example(path, cli):
    r = cli(*path[1:], "--help")
    assert r.code == 0, r.err
    assert "Usage:" in r.out
    is_group = len(path) == 1 or "COMMAND [ARGS]" in r.out
    if not is_group or len(path) > 1:
        assert "Example:" in r.out, f"{' '.join(path)} --help has no example"


def test_cli_reference_is_current():
    p = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_cli_docs.py"), "--check"], capture_output=True)
    assert p.returncode == 0, "docs/cli.md is stale: run `.venv/bin/python scripts/gen_cli_docs.py`"


def test_readme_starts_with_the_two_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    head = text[: text.index("##")] if "##" in text else text
    assert "make demo" in head and "make test" in head
