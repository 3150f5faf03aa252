"""Snapshots of what a field worker reads, in both languages: the --help of every command (the
list comes from the app itself, so a new command is covered the moment it is registered) and
the main outputs of a short working session (init, add, list, show, update, status, verify,
purge, audit, a usage error, a bad input), masked as on screen.

Regenerate after a deliberate change of wording:

    FIELDREPORT_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest -q tests/test_snapshots.py

and review the diff of tests/snapshots/ before committing it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from i18n_support import help_dump

SNAP = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("FIELDREPORT_UPDATE_SNAPSHOTS") == "1"
LANGS = ("en", "zh")


def _check(path: Path, text: str) -> None:
    text = "\n".join(line.rstrip() for line in text.strip("\n").splitlines()) + "\n"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), (f"no snapshot {path.relative_to(SNAP.parent)}: run "
                           f"FIELDREPORT_UPDATE_SNAPSHOTS=1 pytest tests/test_snapshots.py and review it")
    want = path.read_text(encoding="utf-8")
    assert text == want, (f"{path.relative_to(SNAP.parent)} changed (FIELDREPORT_UPDATE_SNAPSHOTS=1 to accept):\n"
                          + _diff(want, text))


def _diff(a: str, b: str) -> str:
    import difflib

    return "".join(difflib.unified_diff(a.splitlines(True), b.splitlines(True), "snapshot", "now", n=1))[:4000]


def _name(key: str) -> str:
    parts = key.split()[1:]
    return ("_".join(parts) or "fieldreport") + ".txt"


def _help_keys():
    return sorted(help_dump("en"))


@pytest.mark.parametrize("lang", LANGS)
def test_help_snapshots(lang):
    dump = help_dump(lang)
    seen = set()
    for key in sorted(dump):
        assert dump[key]["code"] == 0, (key, dump[key]["err"])
        p = SNAP / "help" / lang / _name(key)
        seen.add(p.name)
        _check(p, dump[key]["help"])
    stale = {p.name for p in (SNAP / "help" / lang).glob("*.txt")} - seen
    if UPDATE:
        for n in stale:
            (SNAP / "help" / lang / n).unlink()
    else:
        assert not stale, f"snapshots of commands that no longer exist: {sorted(stale)}"


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{8}-[0-9a-f]{4}…")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}")
_MB = re.compile(r"\d+\.\d MB")


def _norm(text: str, home: Path, tmp: Path) -> str:
    text = text.replace(str(home), "<home>").replace(str(tmp), "<tmp>")
    text = _UUID.sub("<uuid>", text)
    text = _TIME.sub("<time>", text)
    return _MB.sub("<n> MB", text)


@pytest.mark.parametrize("lang", LANGS)
def test_main_output_snapshots(lang, cli, home, tmp_path, monkeypatch):
    from fieldreport.cli import render

    monkeypatch.setattr(render.console, "width", 200)
    monkeypatch.setattr(render.err, "width", 200)
    monkeypatch.setenv("FIELDREPORT_TZ", "Asia/Shanghai")
    photo = tmp_path / "楼道.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0" + b"fieldreport snapshot photo" * 40)
    session = [
        ("init", ["init", "--name", "王芳", "--officer-id", "A1024", "--role", "auxiliary-police", "--station",
                  "城关派出所", "--area", "东村", "--grid", "3组", "--lang", lang, "--no-input"]),
        ("add_dispute", ["add", "--kind", "dispute", "--category", "neighbour", "--level", "yellow", "--title",
                         "邻里噪音纠纷", "--details", "欧阳锋华反映楼上噪音，电话13812345678", "--place", "东村3组12号",
                         "--party", "name=欧阳锋华;role=applicant;id=11010519491231002X;phone=13812345678",
                         "--party", "name=李四;role=respondent;phone=13998765432", "--no-input"]),
        ("add_hazard", ["add", "--kind", "hazard", "--category", "ebike", "--level", "orange", "--title",
                        "楼道电动车充电", "--place", "东村5组", "--dept", "fire_rescue", "--photo", str(photo),
                        "--no-input"]),
        ("list", ["list"]),
        ("show", ["show", "R-0001"]),
        ("show_reveal", ["show", "R-0001", "--reveal"]),
        ("update", ["update", "R-0002", "--status", "routed", "--note", "已通知消防救援"]),
        ("status", ["status"]),
        ("verify", ["verify"]),
        ("purge_dry_run", ["purge", "--dry-run"]),
        ("audit", ["audit"]),
        ("usage_error", ["list", "--bogus"]),
        ("bad_input", ["add", "--kind", "nope", "--title", "x", "--no-input"]),
    ]
    for name, args in session:
        r = cli("--lang", lang, *args)
        text = f"$ fieldreport {' '.join(args)}\nexit {int(r.code)}\n--- stdout\n{r.out}--- stderr\n{r.err}"
        _check(SNAP / "output" / lang / f"{name}.txt", _norm(text, home, tmp_path))
    # whatever the language, the unmasked ID number shows only where it was asked for
    for name, _args in session:
        body = (SNAP / "output" / lang / f"{name}.txt").read_text(encoding="utf-8").split("--- stdout", 1)[1]
        assert ("11010519491231002X" in body) == (name == "show_reveal"), name
