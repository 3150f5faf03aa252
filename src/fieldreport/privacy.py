"""Personal data on screen and in exports: masked unless asked, and every reveal audited."""

from __future__ import annotations

import copy
import json
import os
import re
from typing import Any

from . import ids
from .validate import mask_id, mask_name, mask_phone

_ID_RE = re.compile(r"(?<![0-9])([1-9]\d{5})(\d{8})(\d{3}[0-9Xx])(?![0-9])")
_MOBILE_RE = re.compile(r"(?<![0-9])(1[3-9]\d)(\d{4})(\d{4})(?![0-9])")


def mask_text(text: str | None) -> str | None:
    """Mask ID and mobile numbers that appear inside free text (details, notes)."""
    if not text:
        return text
    text = _ID_RE.sub(lambda m: m.group(1)[:4] + "*" * 10 + m.group(3)[-4:], text)
    return _MOBILE_RE.sub(lambda m: m.group(1) + "****" + m.group(3), text)


def mask_party(p: dict[str, Any], *, names: bool = True) -> dict[str, Any]:
    q = dict(p)
    q["id"] = mask_id(q.get("id"))
    q["phone"] = mask_phone(q.get("phone"))
    if names:
        q["name"] = mask_name(q.get("name"))
    if q.get("address"):
        q["address"] = mask_text(q["address"])
    return q


def _mask_names(text: str | None, names: list[str]) -> str | None:
    """Replace each party's full name inside free text by its masked form (longest first)."""
    if not text:
        return text
    for n in names:
        if n in text:
            text = text.replace(n, mask_name(n) or "")
    return text


def _party_names(parties) -> list[str]:
    return sorted({p["name"].strip() for p in parties or [] if isinstance(p, dict) and isinstance(p.get("name"), str)
                   and len(p["name"].strip()) >= 2}, key=len, reverse=True)


def mask_report(r: dict[str, Any], *, names: bool = True) -> dict[str, Any]:
    q = dict(r)
    known = _party_names(r.get("parties")) if names else []
    q["parties"] = [mask_party(p, names=names) for p in r.get("parties") or []]
    for f in ("details", "title", "place"):
        if q.get(f):
            q[f] = _mask_names(mask_text(q[f]), known)
    if "notes" in q:
        q["notes"] = [dict(n, text=_mask_names(mask_text(n["text"]), known)) for n in q["notes"]]
    return q


def mask_history(hist: list[dict[str, Any]], names: list[str] | None = None) -> list[dict[str, Any]]:
    known = list(names or [])
    for h in hist:
        known += _party_names((h.get("payload") or {}).get("parties"))
    known = sorted(set(known), key=len, reverse=True)
    out = []
    for h in hist:
        h = copy.deepcopy(h)
        pl = h.get("payload") or {}
        if "parties" in pl:
            pl["parties"] = [mask_party(p) for p in pl["parties"]]
        for f in ("details", "title", "place", "text", "note"):
            if isinstance(pl.get(f), str):
                pl[f] = _mask_names(mask_text(pl[f]), known)
        if pl.get("field") in ("details", "title", "place"):
            pl["old"] = _mask_names(mask_text(pl.get("old")), known)
            pl["new"] = _mask_names(mask_text(pl.get("new")), known)
        out.append(h)
    return out


def record_reveal(paths, profile, command: str, entities: list[str]) -> None:
    """Append who revealed what, when, to the local audit log (0600, one JSON line each)."""
    from .paths import private_dir

    private_dir(paths.data_dir)
    line = json.dumps({"ts": ids.now_iso(), "officer_id": getattr(profile, "officer_id", None),
                       "name": getattr(profile, "name", None), "command": command, "entities": entities[:1000],
                       "count": len(entities)}, ensure_ascii=False)
    fd = os.open(paths.audit_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, (line + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def read_audit(paths, limit: int | None = None) -> list[dict[str, Any]]:
    """The audit log's entries, oldest first (the last ``limit``); unreadable lines are skipped."""
    try:
        raw = paths.audit_log.read_bytes()
    except FileNotFoundError:
        return []
    out = []
    for line in raw.decode("utf-8", "replace").splitlines():
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if isinstance(d, dict):
            out.append(d)
    return out[-limit:] if limit else out


_SECRET_RES = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"(?i)((?:token|passphrase|password|secret|authorization|api[_-]?key)[\"']?\s*[:=]\s*[\"']?)[^\s\"',;)]+"),
)


def scrub(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Text safe for a log or a terminal: known secrets (the passphrase, the hub token) and
    anything shaped like a bearer token or ``token=…`` replaced by ``***``; ID and mobile
    numbers masked."""
    for s in secrets:
        if s and len(s) >= 4:
            text = text.replace(s, "***")
    for rx in _SECRET_RES:
        text = rx.sub(lambda m: m.group(1) + "***", text)
    return mask_text(text) or ""


def known_secrets(paths) -> tuple[str, ...]:
    """The secrets this process may hold: the passphrases from the environment and the hub token."""
    out = [os.environ[k] for k in ("FIELDREPORT_PASSPHRASE", "FIELDREPORT_NEW_PASSPHRASE") if os.environ.get(k)]
    try:
        tok = paths.token.read_text().strip()
        if tok:
            out.append(tok)
    except OSError:
        pass
    return tuple(out)
