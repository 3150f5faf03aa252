"""The two rich consoles every renderer draws on.

Markup, emoji codes and highlighting are off: the text shown is people's text (titles, places,
names, notes, templates pulled from the hub), and rich would read ``[/b]`` in a title as a
closing tag and fail on the whole table, ``[red]`` as a colour and ``:fire:`` as an emoji. Our
own styling goes through ``style=`` and :func:`styled`, never through markup."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

console = Console(markup=False, emoji=False, highlight=False)
err = Console(stderr=True, markup=False, emoji=False, highlight=False)


def styled(*parts: str | tuple[str, str]) -> Text:
    """A line of plain text pieces and (text, style) pieces, none of them read as markup."""
    return Text.assemble(*parts)
