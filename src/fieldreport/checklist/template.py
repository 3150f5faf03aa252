"""Checklist templates: the versioned, bilingual format of docs/checklists.md, validated with
pydantic, loaded from TOML or JSON. Validation reports *every* problem, each with the field
path and, where the source text is known, its line.

A template holds sections; a section holds items; an item asks one question with a typed
answer (``yesno``, ``choice``, ``number``, ``text``, ``photo``) and may carry failure rules:
the answer that counts as a failure, its code (I/R/M/P of domain.md), the default deadline,
the department in charge, the legal basis and a hint for the inspector.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .. import pydantic_msgs
from .. import taxonomy as tx
from ..errors import InputError
from ..i18n import _

FORMAT_VERSION = 1
ANSWER_TYPES = ("yesno", "choice", "number", "text", "photo")
ID_RE = r"^[a-z][a-z0-9_]{0,63}$"
NA_WORDS = ("na", "n/a", "不适用", "无此项")
YES_WORDS = ("yes", "y", "是", "有", "符合")
NO_WORDS = ("no", "n", "否", "无", "不符合")
# Failure code → default hazard level and deadline (days) when the item gives none.
CODE_LEVEL = {"I": "general", "R": "general", "M": "major", "P": "major"}
CODE_DEADLINE = {"I": 0, "R": 7, "M": 30, "P": 0}


class Text(BaseModel):
    """A text in both languages."""

    model_config = ConfigDict(extra="forbid")

    zh: str = Field(min_length=1, max_length=500)
    en: str = Field(min_length=1, max_length=500)

    def get(self, lang: str) -> str:
        return self.zh if lang.startswith("zh") else self.en


def _dept(v: Any) -> Any:
    if v is None:
        return v
    code = tx.resolve(tx.DEPARTMENTS, str(v))
    if code is None:
        raise ValueError(_("unknown department {value!r}; choose one of: {choices}").format(
            value=v, choices=" ".join(tx.DEPARTMENTS)))
    return code


def _category(v: Any) -> Any:
    if v is None:
        return v
    code = tx.resolve(tx.CATEGORIES["hazard"], str(v), tx.CATEGORY_ALIASES.get("hazard"))
    if code is None:
        raise ValueError(_("unknown hazard category {value!r}; choose one of: {choices}").format(
            value=v, choices=" ".join(tx.CATEGORIES["hazard"])))
    return code


def _level(v: Any) -> Any:
    if v is None:
        return v
    code = tx.resolve_field("level", str(v))
    if code not in tx.HAZARD_LEVELS:
        raise ValueError(_("unknown level {value!r}; choose one of: {choices}").format(
            value=v, choices=" ".join(tx.HAZARD_LEVELS)))
    return code


Condition = str | list[str] | dict[str, float]


class FailRule(BaseModel):
    """When an answer counts as a failure. ``when``: ``"no"``/``"yes"`` for yesno, option ids for
    choice, ``{lt, le, gt, ge}`` bounds for number. ``if_item``/``if_answer``: the rule holds only
    when another item was answered so (e.g. exits locked *at a crowded venue* → M)."""

    model_config = ConfigDict(extra="forbid")

    when: Condition
    code: str
    if_item: str | None = None
    if_answer: Condition | None = None
    deadline_days: int | None = Field(default=None, ge=0, le=3650)
    level: str | None = None

    @field_validator("code", mode="before")
    @classmethod
    def _code(cls, v: Any) -> str:
        if not isinstance(v, str) or v.strip().upper() not in tx.FAIL_CODES:
            raise ValueError(_("unknown failure code {value!r}; choose one of: {choices}").format(
                value=v, choices=" ".join(tx.FAIL_CODES)))
        return v.strip().upper()

    _lvl = field_validator("level", mode="before")(classmethod(lambda cls, v: _level(v)))


class Option(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=ID_RE)
    text: Text


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=ID_RE)
    text: Text
    type: Literal["yesno", "choice", "number", "text", "photo"]
    required: bool = True
    options: list[Option] | None = None
    unit: str | None = Field(default=None, max_length=20)
    min: float | None = None
    max: float | None = None
    fail: list[FailRule] = Field(default_factory=list)
    deadline_days: int | None = Field(default=None, ge=0, le=3650)
    dept: str | None = None
    category: str | None = None
    level: str | None = None
    basis: str = Field(default="", max_length=300)
    hint: Text | None = None
    finding: Text | None = None

    @field_validator("fail", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, dict) else v

    _d = field_validator("dept", mode="before")(classmethod(lambda cls, v: _dept(v)))
    _c = field_validator("category", mode="before")(classmethod(lambda cls, v: _category(v)))
    _l = field_validator("level", mode="before")(classmethod(lambda cls, v: _level(v)))


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=ID_RE)
    title: Text
    dept: str | None = None
    category: str | None = None
    items: list[Item] = Field(min_length=1, max_length=200)

    _d = field_validator("dept", mode="before")(classmethod(lambda cls, v: _dept(v)))
    _c = field_validator("category", mode="before")(classmethod(lambda cls, v: _category(v)))


class Template(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal[1] = 1
    name: str = Field(pattern=r"^[a-z][a-z0-9_\-]{0,63}$")
    id: str | None = None  # the hub publishes templates by ``id``: when given it must equal ``name``
    version: int = Field(ge=1)
    premises_type: str
    title: Text
    description: Text | None = None
    dept: str | None = None
    category: str | None = None
    sections: list[Section] = Field(min_length=1, max_length=50)

    @field_validator("premises_type", mode="before")
    @classmethod
    def _ptype(cls, v: Any) -> str:
        code = tx.resolve(tx.PREMISES_TYPES, str(v)) if v is not None else None
        if code is None:
            raise ValueError(_("unknown premises type {value!r}; choose one of: {choices}").format(
                value=v, choices=" ".join(tx.PREMISES_TYPES)))
        return code

    _d = field_validator("dept", mode="before")(classmethod(lambda cls, v: _dept(v)))
    _c = field_validator("category", mode="before")(classmethod(lambda cls, v: _category(v)))

    # ------------------------------------------------------------ helpers
    def items(self) -> list[tuple[Section, Item]]:
        return [(s, it) for s in self.sections for it in s.items]

    def item(self, item_id: str) -> Item:
        for _s, it in self.items():
            if it.id == item_id:
                return it
        raise KeyError(item_id)

    def section_of(self, item_id: str) -> Section:
        for s, it in self.items():
            if it.id == item_id:
                return s
        raise KeyError(item_id)

    def dept_for(self, item_id: str) -> str | None:
        s = self.section_of(item_id)
        return self.item(item_id).dept or s.dept or self.dept

    def category_for(self, item_id: str) -> str:
        s = self.section_of(item_id)
        return self.item(item_id).category or s.category or self.category or "fire"

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


# ---------------------------------------------------------------- problems
@dataclass
class Problem:
    field: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        if self.line:
            return _("line {line}: {field}: {message}").format(line=self.line, field=self.field or "template",
                                                               message=self.message)
        return _("{field}: {message}").format(field=self.field or "template", message=self.message)


class TemplateError(InputError):
    """A template with one or more problems; ``problems`` lists every one."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = problems
        first = problems[0]
        if len(problems) > 1:
            msg = _("{source}: {problem} (and {n} more problem(s); `fieldreport checklist template validate` lists "
                    "them)").format(source=source, problem=first, n=len(problems) - 1)
        else:
            msg = _("{source}: {problem}").format(source=source, problem=first)
        super().__init__(msg, first.field)


def _path(loc: tuple | list) -> str:
    out = ""
    for p in loc:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out


def _match_kind(cond: Any, typ: str, options: set[str]) -> str | None:
    """Why ``cond`` cannot be a condition on an answer of type ``typ``; None when it can."""
    if typ == "yesno":
        vals = cond if isinstance(cond, list) else [cond]
        bad = [v for v in vals if not isinstance(v, str) or v not in ("yes", "no", "na")]
        return _("a yesno condition is \"yes\" or \"no\", not {value!r}").format(value=bad[0]) if bad else None
    if typ == "choice":
        vals = cond if isinstance(cond, list) else [cond]
        bad = [v for v in vals if not isinstance(v, str) or v not in options]
        return _("{value!r} is not one of this item's options ({options})").format(
            value=bad[0], options=", ".join(sorted(options))) if bad else None
    if typ == "number":
        if not isinstance(cond, dict) or not cond or set(cond) - {"lt", "le", "gt", "ge"}:
            return _("a number condition is a table of lt / le / gt / ge bounds, e.g. {example}").format(
                example="{ lt = 2 }")
        if any(not isinstance(v, (int, float)) or isinstance(v, bool) for v in cond.values()):
            return _("number bounds must be numbers")
        return None
    return _("a {type} answer cannot fail; remove the rule").format(type=typ)


def _semantic(raw: Any) -> list[tuple[tuple, str]]:
    """Cross-field and cross-item problems pydantic cannot see, found on the raw data so they
    are reported even when other parts of the template are malformed."""
    out: list[tuple[tuple, str]] = []
    if not isinstance(raw, dict) or not isinstance(raw.get("sections"), list):
        return out
    if raw.get("id") is not None and raw.get("name") is not None and raw["id"] != raw["name"]:
        out.append((("id",), _("id {id!r} must equal name {name!r} (or be left out)").format(id=raw["id"],
                                                                                              name=raw["name"])))
    items: dict[str, tuple] = {}
    types: dict[str, tuple[str, set[str]]] = {}
    sec_ids: dict[str, int] = {}
    for si, sec in enumerate(raw["sections"]):
        if not isinstance(sec, dict):
            continue
        sid = sec.get("id")
        if isinstance(sid, str):
            if sid in sec_ids:
                out.append((("sections", si, "id"), _("duplicate section id {id!r} (also sections[{index}])").format(
                    id=sid, index=sec_ids[sid])))
            else:
                sec_ids[sid] = si
        for ii, it in enumerate(sec.get("items") or [] if isinstance(sec.get("items"), list) else []):
            if not isinstance(it, dict):
                continue
            iid = it.get("id")
            loc = ("sections", si, "items", ii)
            if isinstance(iid, str):
                if iid in items:
                    out.append((loc + ("id",), _("duplicate item id {id!r} (also {path}); item ids must be unique in "
                                                 "the whole template").format(id=iid, path=_path(items[iid]))))
                else:
                    items[iid] = loc
            typ = it.get("type")
            opts = it.get("options")
            opt_ids = {o.get("id") for o in opts if isinstance(o, dict)} if isinstance(opts, list) else set()
            if isinstance(iid, str) and typ in ANSWER_TYPES:
                types.setdefault(iid, (typ, opt_ids))
            if typ == "choice" and not opts:
                out.append((loc + ("options",), _("a choice item needs options")))
            if typ in ANSWER_TYPES and typ != "choice" and opts is not None:
                out.append((loc + ("options",), _("only a choice item has options (this one is {type})").format(type=typ)))
            if typ in ANSWER_TYPES and typ != "number":
                for k in ("unit", "min", "max"):
                    if it.get(k) is not None:
                        out.append((loc + (k,), _("only a number item has {field} (this one is {type})").format(
                            field=k, type=typ)))
            mn, mx = it.get("min"), it.get("max")
            if isinstance(mn, (int, float)) and isinstance(mx, (int, float)) and mn > mx:
                out.append((loc + ("min",), _("min {min} is greater than max {max}").format(min=mn, max=mx)))
            if isinstance(opts, list):
                seen = set()
                for oi, o in enumerate(opts):
                    if isinstance(o, dict) and o.get("id") in seen:
                        out.append((loc + ("options", oi, "id"), _("duplicate option id {id!r}").format(id=o.get("id"))))
                    elif isinstance(o, dict):
                        seen.add(o.get("id"))
    # failure rules: their condition fits the item; their if_item exists and its answer fits
    for si, sec in enumerate(raw["sections"]):
        if not isinstance(sec, dict) or not isinstance(sec.get("items"), list):
            continue
        for ii, it in enumerate(sec["items"]):
            if not isinstance(it, dict):
                continue
            rules = it.get("fail")
            rules = [rules] if isinstance(rules, dict) else rules if isinstance(rules, list) else []
            typ = it.get("type")
            opt_ids = types.get(it.get("id"), (typ, set()))[1]
            for ri, rule in enumerate(rules):
                if not isinstance(rule, dict):
                    continue
                loc = ("sections", si, "items", ii, "fail", ri)
                if typ in ANSWER_TYPES and "when" in rule:
                    why = _match_kind(rule["when"], typ, opt_ids)
                    if why:
                        out.append((loc + ("when",), why))
                ref = rule.get("if_item")
                if ref is not None:
                    if ref not in items:
                        out.append((loc + ("if_item",), _("no item {id!r} in this template; the rule must refer to an "
                                                          "existing item id").format(id=ref)))
                    elif ref == it.get("id"):
                        out.append((loc + ("if_item",), _("a rule cannot depend on its own item")))
                    elif "if_answer" not in rule:
                        out.append((loc + ("if_answer",), _("if_item needs if_answer")))
                    elif ref in types:
                        why = _match_kind(rule["if_answer"], *types[ref])
                        if why:
                            out.append((loc + ("if_answer",), why))
                elif "if_answer" in rule:
                    out.append((loc + ("if_item",), _("if_answer needs if_item")))
    return out


def _pydantic_problems(e: ValidationError) -> list[tuple[tuple, str]]:
    out = []
    for err in e.errors():
        loc = tuple(err.get("loc", ()))
        # drop pydantic's union branch tags such as 'str' / 'list[str]' / 'function-after[…]'
        loc = tuple(p for p in loc if not (isinstance(p, str) and (p in ("str", "list[str]", "dict[str,float]")
                                                                  or "[" in p or p.startswith("function"))))
        t = err.get("type")
        if t == "literal_error" and loc and loc[-1] == "type":
            msg = _("unknown answer type {value!r}; choose one of: {choices}").format(value=err.get("input"),
                                                                                     choices=" ".join(ANSWER_TYPES))
        elif t == "string_pattern_mismatch":
            msg = _("{value!r} is not a valid id (lower-case letters, digits and _ , starting with a letter)").format(
                value=err.get("input"))
        else:
            msg = pydantic_msgs.message(err)
        out.append((loc, msg))
    # one problem per place: unions report each branch; keep the first message per location
    seen, uniq = set(), []
    for loc, msg in out:
        if loc in seen:
            continue
        seen.add(loc)
        uniq.append((loc, msg))
    return uniq


def validate(raw: Any, lines: dict[tuple, int] | None = None, source: str = "template") -> Template:
    """Validate a parsed template; raises TemplateError listing every problem."""
    if not isinstance(raw, dict):
        raise TemplateError(source, [Problem("template", _("a template is a table/object with name, version, "
                                                           "premises_type, title and sections"))])
    found: list[tuple[tuple, str]] = []
    tpl = None
    try:
        tpl = Template.model_validate(raw)
    except ValidationError as e:
        found += _pydantic_problems(e)
    found += _semantic(raw)
    if found:
        probs = [Problem(_path(loc), msg, _line(lines, loc)) for loc, msg in found]
        probs.sort(key=lambda p: (p.line or 0))
        raise TemplateError(source, probs)
    assert tpl is not None
    return tpl


def _line(lines: dict[tuple, int] | None, loc: tuple) -> int | None:
    if not lines:
        return None
    loc = tuple(loc)
    while loc:
        if loc in lines:
            return lines[loc]
        loc = loc[:-1]
    return lines.get((), None)


# ---------------------------------------------------------------- loading
def parse_text(text: str, fmt: str, source: str = "template") -> tuple[Any, dict[tuple, int]]:
    """Parse TOML or JSON text; returns (data, line map of field paths)."""
    if fmt == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise TemplateError(source, [Problem("json", _("malformed JSON: {error}").format(error=e.msg), e.lineno)]) \
                from None
        return data, _json_lines(text)
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"line (\d+)", str(e))
        raise TemplateError(source, [Problem("toml", _("malformed TOML: {error}").format(error=e),
                                             int(m.group(1)) if m else None)]) from None
    return data, _toml_lines(text)


def load_file(path: str | Path) -> Template:
    """Read and validate a template file (``.toml`` or ``.json``, UTF-8 with or without BOM)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise InputError(_("file: cannot read {path}: {error}; check the path").format(path=p, error=e.strerror),
                         "file") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(_("file: {path} is not UTF-8 (byte {byte}); save it as UTF-8").format(path=p, byte=e.start),
                         "file") from None
    fmt = "json" if p.suffix.lower() == ".json" or text.lstrip().startswith("{") else "toml"
    data, lines = parse_text(text, fmt, source=p.name)
    return validate(data, lines, source=p.name)


_HEADER = re.compile(r"^\s*\[\[\s*([A-Za-z0-9_.]+)\s*\]\]\s*(#.*)?$")
_TABLE = re.compile(r"^\s*\[\s*([A-Za-z0-9_.]+)\s*\]\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=")


def _toml_lines(text: str) -> dict[tuple, int]:
    """Map field paths to line numbers for TOML written as docs/checklists.md shows
    (``[[sections]]``, ``[[sections.items]]``, ``[[sections.items.options]]``/``.fail``, keys)."""
    lines: dict[tuple, int] = {}
    sec = item = sub = -1
    prefix: tuple = ()
    for n, line in enumerate(text.splitlines(), start=1):
        m = _HEADER.match(line)
        if m:
            name = m.group(1)
            if name == "sections":
                sec, item = sec + 1, -1
                prefix = ("sections", sec)
            elif name == "sections.items":
                item, sub = item + 1, -1
                prefix = ("sections", sec, "items", item)
            elif name.startswith("sections.items."):
                sub += 1
                prefix = ("sections", sec, "items", item, name.rsplit(".", 1)[1], sub)
            else:
                prefix = tuple(name.split("."))
            lines.setdefault(prefix, n)
            continue
        m = _TABLE.match(line)
        if m:
            name = m.group(1)
            if name.startswith("sections.items."):
                prefix = ("sections", sec, "items", item) + tuple(name.split(".")[2:])
            elif name.startswith("sections."):
                prefix = ("sections", sec) + tuple(name.split(".")[1:])
            else:
                prefix = tuple(name.split("."))
            lines.setdefault(prefix, n)
            continue
        m = _KEY.match(line)
        if m:
            lines.setdefault(prefix + (m.group(1),), n)
    return lines


def _json_lines(text: str) -> dict[tuple, int]:
    """Map field paths to line numbers by a small scan of the JSON text."""
    from json.decoder import scanstring

    lines: dict[tuple, int] = {}
    pos = 0
    ws = re.compile(r"[ \t\n\r]*")
    num = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")

    def line_at(i: int) -> int:
        return text.count("\n", 0, i) + 1

    def skip(i: int) -> int:
        return ws.match(text, i).end()

    def value(i: int, path: tuple) -> int:
        i = skip(i)
        lines.setdefault(path, line_at(i))
        ch = text[i:i + 1]
        if ch == "{":
            i = skip(i + 1)
            if text[i:i + 1] == "}":
                return i + 1
            while True:
                i = skip(i)
                key, i = scanstring(text, i + 1)
                lines[path + (key,)] = line_at(i)
                i = skip(i)
                i = value(i + 1, path + (key,))  # past ':'
                i = skip(i)
                if text[i] == ",":
                    i += 1
                    continue
                return i + 1
        if ch == "[":
            i = skip(i + 1)
            if text[i:i + 1] == "]":
                return i + 1
            k = 0
            while True:
                i = value(i, path + (k,))
                i = skip(i)
                k += 1
                if text[i] == ",":
                    i += 1
                    continue
                return i + 1
        if ch == '"':
            return scanstring(text, i + 1)[1]
        m = num.match(text, i)
        if m and m.end() > i:
            return m.end()
        for word in ("true", "false", "null"):
            if text.startswith(word, i):
                return i + len(word)
        raise ValueError(i)

    try:
        value(0, ())
    except (ValueError, IndexError):
        pass
    return lines


# ---------------------------------------------------------------- answers
def norm_word(v: str) -> str:
    return v.strip().lower()


def parse_answer(item: Item, raw: Any, lang: str = "en") -> Any:
    """Check and normalise one answer for ``item``. Returns ``"na"`` for not applicable, else
    ``"yes"``/``"no"``, an option id, a number, a text, or for a photo item the file path
    (the caller stores it). Raises InputError naming the item."""
    f = f"{item.id}"
    if isinstance(raw, str) and norm_word(raw) in NA_WORDS:
        return "na"
    if item.type == "yesno":
        if isinstance(raw, bool):
            return "yes" if raw else "no"
        w = norm_word(str(raw))
        if w in YES_WORDS:
            return "yes"
        if w in NO_WORDS:
            return "no"
        raise InputError(_("{item}: answer yes, no or na (是/否/不适用), not {value!r}").format(item=f, value=raw), f)
    if item.type == "choice":
        opts = item.options or []
        s = str(raw).strip()
        if s.isdigit() and 1 <= int(s) <= len(opts):
            return opts[int(s) - 1].id
        for o in opts:
            if s == o.id or s == o.text.zh or s.lower() == o.text.en.lower():
                return o.id
        raise InputError(_("{item}: choose one of: {choices}").format(
            item=f, choices=", ".join(f"{i} {o.id} ({o.text.get(lang)})" for i, o in enumerate(opts, 1))), f)
    if item.type == "number":
        if isinstance(raw, bool):
            raise InputError(_("{item}: give a number").format(item=f), f)
        if isinstance(raw, (int, float)):
            x = float(raw)
        else:
            s = str(raw).strip()
            if item.unit and s.endswith(item.unit):
                s = s[: -len(item.unit)].strip()
            try:
                x = float(s)
            except ValueError:
                msg = (_("{item}: {value!r} is not a number; give e.g. 2 ({unit})") if item.unit else
                       _("{item}: {value!r} is not a number; give e.g. 2"))
                raise InputError(msg.format(item=f, value=raw, unit=item.unit), f) from None
        if x != x or x in (float("inf"), float("-inf")):
            raise InputError(_("{item}: give a finite number").format(item=f), f)
        if item.min is not None and x < item.min or item.max is not None and x > item.max:
            lo = "" if item.min is None else f"{item.min:g}"
            hi = "" if item.max is None else f"{item.max:g}"
            msg = (_("{item}: {value} is out of range; give a number from {lo} to {hi} {unit}") if item.unit else
                   _("{item}: {value} is out of range; give a number from {lo} to {hi}"))
            raise InputError(msg.format(item=f, value=f"{x:g}", lo=lo or "…", hi=hi or "…", unit=item.unit), f)
        return int(x) if x.is_integer() else x
    if item.type == "text":
        s = str(raw).strip()
        if not s:
            raise InputError(_("{item}: the answer must not be empty").format(item=f), f)
        if len(s) > 2000:
            raise InputError(_("{item}: too long (at most {limit} characters)").format(item=f, limit=2000), f)
        return s
    # photo
    s = str(raw).strip()
    if not s:
        raise InputError(_("{item}: give the path of a photo file").format(item=f), f)
    return s


def matches(cond: Any, typ: str, value: Any) -> bool:
    if value is None or value == "na":
        return False
    if typ == "number":
        if not isinstance(value, (int, float)) or not isinstance(cond, dict):
            return False
        ops = {"lt": value < cond.get("lt", float("inf")), "le": value <= cond.get("le", float("inf")),
               "gt": value > cond.get("gt", float("-inf")), "ge": value >= cond.get("ge", float("-inf"))}
        return all(ops[k] for k in cond)
    vals = cond if isinstance(cond, list) else [cond]
    return value in vals


def outcome(tpl: Template, item: Item, value: Any, answers: dict[str, Any]) -> tuple[str, FailRule | None]:
    """(``pass``/``fail``/``na``/``skipped``/``open``, the failing rule) for one item given all
    answers (``answers``: item id → normalised value; missing = not answered)."""
    if item.id not in answers:
        return "open", None
    if value is None:
        return "skipped", None
    if value == "na":
        return "na", None
    for rule in item.fail:
        if not matches(rule.when, item.type, value):
            continue
        if rule.if_item:
            other = tpl.item(rule.if_item)
            if not matches(rule.if_answer, other.type, answers.get(rule.if_item)):
                continue
        return "fail", rule
    return "pass", None


def rule_deadline(item: Item, rule: FailRule) -> int:
    if rule.deadline_days is not None:
        return rule.deadline_days
    if item.deadline_days is not None:
        return item.deadline_days
    return CODE_DEADLINE[rule.code]


def rule_level(item: Item, rule: FailRule) -> str:
    return rule.level or item.level or CODE_LEVEL[rule.code]
