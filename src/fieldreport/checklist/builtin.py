"""The built-in templates shipped in ``fieldreport/templates/*.toml`` (one per key-premises
type of domain.md), and lookup across built-in and stored (imported or from the hub) ones."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import InputError, NotFound
from ..i18n import _
from .template import Template, load_file

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"


def builtin_files() -> list[Path]:
    return sorted(TEMPLATE_DIR.glob("*.toml")) + sorted(TEMPLATE_DIR.glob("*.json"))


@lru_cache(maxsize=1)
def builtins() -> dict[str, Template]:
    """name → Template, for every built-in file (raises TemplateError if one is broken)."""
    out: dict[str, Template] = {}
    for p in builtin_files():
        t = load_file(p)
        out[t.name] = t
    return out


def available(store=None) -> list[dict[str, Any]]:
    """The newest version of every template: built-in, and stored ones when a store is given.
    Each: {name, version, premises_type, source, template}."""
    best: dict[str, dict[str, Any]] = {}
    for t in builtins().values():
        best[t.name] = {"name": t.name, "version": t.version, "premises_type": t.premises_type, "source": "builtin",
                        "template": t}
    if store is not None:
        from ..store import checklist_store as cs

        for row in cs.stored_templates(store):
            cur = best.get(row["name"])
            if cur is None or row["version"] > cur["version"]:
                try:
                    tpl = _stored(row["body"], row["name"], row["version"])
                except InputError:
                    continue  # kept in the store, asked for by name it says why; the others still work
                best[row["name"]] = {"name": row["name"], "version": row["version"],
                                     "premises_type": row["premises_type"], "source": row["source"],
                                     "template": tpl}
    return sorted(best.values(), key=lambda r: r["name"])


def _stored(body: Any, name: str, version: int) -> Template:
    """A stored template (validated when it was imported or pulled) read back. One that this
    version's rules no longer accept is a clear error, never a traceback."""
    from pydantic import ValidationError

    try:
        return Template.model_validate(body)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ())) or "template"
        raise InputError(_("template {name} version {version} in the store no longer validates ({where}); "
                           "import a corrected version or pull it again from the station").format(
            name=name, version=version, where=where), "template") from None


def get(store, name: str, version: int | None = None) -> tuple[Template, str]:
    """(template, source) by name (the newest version unless ``version``)."""
    name = name.strip()
    if version is not None:
        if store is not None:
            from ..store import checklist_store as cs

            body = cs.template_body(store, name, version)
            if body is not None:
                return _stored(body, name, version), "stored"
        b = builtins().get(name)
        if b is not None and b.version == version:
            return b, "builtin"
        raise NotFound(_("no template {name} version {version}").format(name=name, version=version))
    for row in available(store):
        if row["name"] == name:
            return row["template"], row["source"]
    if store is not None:
        from ..store import checklist_store as cs

        body = cs.template_body(store, name, None)
        if body is not None:  # stored but left out of `available` as no longer valid: say why
            _stored(body, name, body.get("version") if isinstance(body, dict) else "?")
    raise NotFound(_("no template named {name!r}; `fieldreport checklist templates` lists them").format(name=name))


def for_type(store, premises_type: str) -> tuple[Template, str]:
    rows = [r for r in available(store) if r["premises_type"] == premises_type]
    if not rows:
        raise InputError(_("template: no template for premises type {type}; give one with --template NAME "
                           "(`fieldreport checklist templates` lists them)").format(type=premises_type), "template")
    # a station's own template for the type wins over the built-in one
    rows.sort(key=lambda r: (r["source"] == "builtin", r["name"]))
    return rows[0]["template"], rows[0]["source"]
