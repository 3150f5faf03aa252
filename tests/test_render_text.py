"""People's text is shown exactly as typed. Titles, places, names, notes and templates pulled
from the hub may hold square brackets and colons; rich would read ``[/b]`` as a closing tag
(and fail on the whole table: `list` and `show` answered "internal error (MarkupError)"),
``[red]`` as a colour and ``:fire:`` as an emoji."""

from __future__ import annotations

import pytest

from conftest import docs_template_example

TITLE = "[/b] 紧急 [red]消防通道[/red]"
DETAILS = "[bold]楼道堆物 :fire: [link=http://x]点此[/link]"
PLACE = "东村[3]组 [/]"
NOTE = "[/i] 已通知 :warning:"


@pytest.fixture
def wide(monkeypatch):
    """Wide enough that no cell folds (the console took its width when first imported)."""
    from fieldreport.cli import term

    monkeypatch.setattr(term.console, "_width", 250)


def test_markup_like_text_is_shown_as_typed_in_every_view(cli, profile, wide):
    r = cli("add", "--kind", "dispute", "--category", "neighbour", "--level", "blue", "--title", TITLE,
            "--details", DETAILS, "--place", PLACE, "--party", "name=张[/]三;role=applicant", "--no-input")
    assert r.code == 0, r.err
    assert cli("update", "R-0001", "--note", NOTE).code == 0
    r = cli("list")
    assert r.code == 0, r.err
    assert TITLE in r.out and PLACE in r.out
    r = cli("show", "R-0001", "--reveal")
    assert r.code == 0, r.err
    for text in (TITLE, DETAILS, PLACE, "张[/]三", NOTE):
        assert text in r.out, text
    for args in (("status",), ("outbox",), ("outbox", "list", "--all")):
        r = cli(*args)
        assert r.code == 0, (args, r.err)


def test_bare_outbox_lists_the_queue(cli, profile):
    """`fieldreport outbox` with no subcommand is `outbox list` (it crashed: typer's option
    objects were passed as the defaults)."""
    assert cli("add", "--kind", "zero", "--title", "x", "--place", "p", "--no-input").code == 0
    bare, listed = cli("outbox"), cli("outbox", "list")
    assert bare.code == 0, bare.err
    assert bare.out == listed.out and "report.create" in bare.out


def test_template_text_with_brackets_is_shown_as_typed(cli, profile, tmp_path, wide):
    block = docs_template_example()
    block = block.replace("村级小商店检查", "村级小商店检查[/b]").replace("安全出口是否畅通、未锁闭？", "安全出口[/]是否畅通？")
    f = tmp_path / "shop.toml"
    f.write_text(block, encoding="utf-8")
    assert cli("checklist", "template", "import", str(f)).code == 0
    r = cli("--lang", "zh", "checklist", "template", "show", "village_shop")
    assert r.code == 0, r.err
    assert "村级小商店检查[/b]" in r.out and "安全出口[/]是否畅通？" in r.out
