"""pydantic's validation errors in the interface language.

pydantic phrases its errors in English ("Field required", "String should have at least 1
character"…). What the laptop shows a person comes from ``message`` instead: it picks our own
catalogue text by the error's stable ``type`` and fills its placeholders from the error's
``ctx`` (``min_length``, ``ge``, ``expected``…) and ``input``. A ``value_error`` is raised by
one of our validators and already translated: its text is kept without pydantic's
"Value error, " prefix. A type not listed here keeps pydantic's English ``msg``.

The hub's answers travel on the wire and stay English: ``models.first_error`` (the hub's) does
not use this. Needs no pydantic import: it reads the dicts of ``ValidationError.errors()``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .i18n import N_, _

# type → message; placeholders are filled from the error's ctx
_PLAIN = {
    "missing": N_("missing"),
    "extra_forbidden": N_("unknown field; remove it or check its spelling"),
    "too_long": N_("too many entries: {actual_length} (at most {max_length})"),
    "greater_than_equal": N_("must be {ge} or more"),
    "greater_than": N_("must be more than {gt}"),
    "less_than_equal": N_("must be {le} or less"),
    "less_than": N_("must be less than {lt}"),
}
# type → what the value must be; ", not <the value given>" is added when the value is short and plain
_WRONG_TYPE = {
    "string_type": N_("must be text"),
    "int_type": N_("must be a whole number"),
    "int_parsing": N_("must be a whole number"),
    "int_from_float": N_("must be a whole number"),
    "float_type": N_("must be a number"),
    "float_parsing": N_("must be a number"),
    "bool_type": N_("must be true or false"),
    "bool_parsing": N_("must be true or false"),
    "list_type": N_("must be a list"),
    "dict_type": N_("must be a table/object"),
    "model_type": N_("must be a table/object"),
    "model_attributes_type": N_("must be a table/object"),
}
_PREFIXES = ("Value error, ", "Assertion failed, ")


def shown(value: Any) -> str | None:
    """A value as the person wrote it, for one line: TOML/JSON spelling of true/false/null,
    strings and numbers as repr (cut at 40 characters); None for a list or a table."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        r = repr(value)
        return r if len(r) <= 40 else r[:39] + "…"
    return None


def _choices(expected: Any) -> str:
    """pydantic's ``expected`` ("'pass', 'fail' or 'na'") as our list of choices ("pass fail na")."""
    parts = re.split(r", | or ", str(expected))
    return " ".join(p.strip().strip("'\"") for p in parts if p.strip())


def message(err: Mapping[str, Any]) -> str:
    """The message of one pydantic error (an item of ``ValidationError.errors()``) in the
    interface language, without the field: the caller names it."""
    t = err.get("type")
    ctx = err.get("ctx") or {}
    msg = str(err.get("msg", "invalid"))
    try:
        if t in ("value_error", "assertion_error"):
            for p in _PREFIXES:
                msg = msg.removeprefix(p)
            return msg
        if t in _PLAIN:
            return _(_PLAIN[t]).format(**ctx)
        if t in _WRONG_TYPE:
            v = shown(err.get("input"))
            what = _(_WRONG_TYPE[t])
            return what if v is None else _("{problem}, not {value}").format(problem=what, value=v)
        if t == "string_too_long":
            return _("too long (at most {limit} characters)").format(limit=ctx["max_length"])
        if t == "string_too_short":
            if ctx.get("min_length") == 1:
                return _("must not be empty")
            return _("too short (at least {min_length} characters)").format(**ctx)
        if t == "too_short":
            if ctx.get("min_length") == 1:
                return _("must not be empty")
            return _("too few entries: {actual_length} (at least {min_length})").format(**ctx)
        if t in ("literal_error", "enum"):
            return _("{value} is not one of the allowed values; choose one of: {choices}").format(
                value=shown(err.get("input")) or "?", choices=_choices(ctx.get("expected", "")))
        if t == "string_pattern_mismatch":
            return _("{value} does not have the required form (pattern {pattern})").format(
                value=shown(err.get("input")) or "?", pattern=ctx.get("pattern", "?"))
    except (KeyError, IndexError, ValueError):  # a ctx without the expected keys: pydantic's own words
        pass
    return msg
