"""What the sync engine's pull calls, *inside its own transaction* (``conn``), for the hub's
``template.put`` and ``premises.put`` changes. Neither raises on bad content from the hub:
each returns ``{"status": "stored"|"unchanged"|"created"|"updated"|"rejected", ...}`` so one
bad change does not block the page; the caller may log a rejection."""

from __future__ import annotations

from typing import Any

from ..errors import InputError
from ..store import checklist_store as cs


def apply_template_put(store, conn, payload: dict[str, Any]) -> dict[str, Any]:
    """Keep a template version sent by the station (payload ``{"template": {...}}``)."""
    from .template import TemplateError, validate

    body = payload.get("template", payload) if isinstance(payload, dict) else payload
    if isinstance(body, dict) and body.get("id") and not body.get("name"):
        body = dict(body, name=body["id"])  # the hub keys templates by ``id``
    try:
        tpl = validate(body, source="hub template")
        status = cs.store_template_in(conn, tpl.body(), "hub")
    except TemplateError as e:
        return {"status": "rejected", "reason": "; ".join(str(p) for p in e.problems[:20])}
    except InputError as e:
        return {"status": "rejected", "reason": str(e)}
    return {"status": status, "name": tpl.name, "version": tpl.version}


def apply_premises_put(store, conn, payload: dict[str, Any]) -> dict[str, Any]:
    """Create or update a premises assigned by the station (payload ``{"premises": {...}}``
    with its ``id``). No outbox operation: the hub already has it."""
    from .premises import check

    p = payload.get("premises", payload) if isinstance(payload, dict) else None
    if not isinstance(p, dict) or not p.get("id"):
        return {"status": "rejected", "reason": "premises: missing id"}
    data = {k: p[k] for k in cs.PREMISES_FIELDS if k in p}
    try:
        exists = conn.execute("SELECT 1 FROM premises WHERE id = ?", (str(p["id"]),)).fetchone() is not None
        fields = check(data, partial=exists)
    except InputError as e:
        return {"status": "rejected", "reason": str(e)}
    fields["id"] = str(p["id"])
    if p.get("ref"):
        fields["ref"] = str(p["ref"])
    status = cs.upsert_premises_in(store, conn, fields)
    return {"status": status, "id": fields["id"]}
