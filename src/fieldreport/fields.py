"""What a valid report is — one implementation, in plain Python, used on the laptop's `add`
path (where building pydantic models would cost ~30 ms of start-up) and, through the pydantic
models in ``models.py`` that delegate here, by the hub.

``check_report(data)`` returns the normalised fields or raises ``FieldError(field, message)``.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from typing import Any

from . import taxonomy as tx
from .i18n import _
from .validate import check_id_number, check_phone, normalise_phone

MAX_TITLE = 200
MAX_DETAILS = 20_000
MAX_PLACE = 500
MAX_PARTIES = 50
MAX_PHOTOS = 50
MAX_NAME = 100

REPORT_FIELDS = ("kind", "category", "level", "title", "details", "place", "lat", "lon", "premises_id", "dept",
                 "parties", "photos", "deadline", "inspection_id", "item_id", "location_source")
PARTY_FIELDS = ("name", "role", "id", "phone", "address", "id_verified")
PHOTO_FIELDS = ("sha256", "size", "mime", "name", "copy_sha256", "copy_size", "taken_at", "gps")
_SHA = re.compile(r"^[0-9a-f]{64}$")


class FieldError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _code(field: str, value: Any, kind: str | None = None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise FieldError(field, _("must not be empty"))
    code = tx.resolve_field(field, value, kind)
    if code is None:
        raise FieldError(field, _("unknown {field} {value!r}; choose one of: {choices}").format(
            field=field, value=value, choices=" ".join(tx.codes(field, kind))))
    return code


def _text(field: str, value: Any, limit: int, *, required: bool = False, strip: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise FieldError(field, _("must be text"))
    if strip:
        value = value.strip()
    if required and not value.strip():
        raise FieldError(field, _("must not be empty; give a short title such as 楼道电动车充电") if field == "title"
                         else _("must not be empty"))
    if len(value) > limit:
        raise FieldError(field, _("too long (at most {limit} characters)").format(limit=limit))
    return value


def _coord(field: str, value: Any, limit: int) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise FieldError(field, _("must be a number"))
    try:
        v = float(value)
    except ValueError:
        raise FieldError(field, _("must be a number")) from None
    if not math.isfinite(v) or not -limit <= v <= limit:
        raise FieldError(field, (_("latitude must be between -{limit} and {limit}") if field == "lat"
                                else _("longitude must be between -{limit} and {limit}")).format(limit=limit))
    return v


def _opt_id(field: str, value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise FieldError(field, _("must be an id (at most 64 characters)"))
    return value


def check_party(p: Any, i: int, allow_unverified_id: bool) -> dict[str, Any]:
    where = f"parties.{i}"
    if not isinstance(p, dict):
        raise FieldError(where, _("a party must be an object with name, role, id, phone, address"))
    for k in p:
        if k not in PARTY_FIELDS and k != "id_number":
            raise FieldError(f"{where}.{k}", _("unknown field; use name, role, id, phone, address"))
    name = _text(f"{where}.name", p.get("name"), MAX_NAME, required=True, strip=True)
    role = _code("party_role", p.get("role") or "applicant")
    phone = p.get("phone")
    if phone is not None and not isinstance(phone, str):
        raise FieldError(f"{where}.phone", _("must be text"))
    if phone and phone.strip():
        reason = check_phone(phone)
        if reason:
            raise FieldError(f"{where}.phone", _("phone {reason}").format(reason=reason))
        phone = normalise_phone(phone)
    else:
        phone = None
    idn = p.get("id", p.get("id_number"))
    verified = True
    if idn is not None and not isinstance(idn, str):
        raise FieldError(f"{where}.id", _("must be text"))
    if idn and idn.strip():
        idn = idn.strip().upper()
        reason = check_id_number(idn)
        if reason:
            if not allow_unverified_id and p.get("id_verified") is not False:
                raise FieldError(f"{where}.id", _("ID number {reason}; check it, or pass --allow-unverified-id to "
                                                  "record it flagged").format(reason=reason))
            verified = False
    else:
        idn = None
    address = _text(f"{where}.address", p.get("address"), MAX_PLACE) or None
    return {"name": name, "role": role, "id": idn, "phone": phone, "address": address, "id_verified": verified}


def check_photo(ph: Any, i: int | None = None) -> dict[str, Any]:
    where = "photos" if i is None else f"photos.{i}"
    if not isinstance(ph, dict):
        raise FieldError(where, _("a photo must be an object with sha256, size, mime, name"))
    sha = ph.get("sha256")
    if not isinstance(sha, str) or not _SHA.match(sha):
        raise FieldError(f"{where}.sha256", _("must be 64 lowercase hex digits"))
    size = ph.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise FieldError(f"{where}.size", _("must be a whole number of bytes"))
    out = {"sha256": sha, "size": size, "mime": str(ph.get("mime") or "application/octet-stream")[:100],
           "name": str(ph.get("name") or "")[:255]}
    copy = ph.get("copy_sha256")
    if copy is not None:
        if not isinstance(copy, str) or not _SHA.match(copy):
            raise FieldError(f"{where}.copy_sha256", _("must be 64 lowercase hex digits"))
        out["copy_sha256"] = copy
        cs = ph.get("copy_size")
        out["copy_size"] = cs if isinstance(cs, int) and not isinstance(cs, bool) and cs >= 0 else None
    if ph.get("taken_at") is not None:
        out["taken_at"] = str(ph["taken_at"])[:40]
    gps = ph.get("gps")
    if gps is not None:
        if not isinstance(gps, dict) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                for v in gps.values()):
            raise FieldError(f"{where}.gps", _("must be an object of numbers"))
        out["gps"] = {str(k): float(v) for k, v in gps.items()}
    return out


def check_report(data: Any, *, allow_unverified_id: bool = False) -> dict[str, Any]:
    """Validate one report's fields (codes may be Chinese or English names) → normalised dict."""
    if not isinstance(data, dict):
        raise FieldError("report", _("a report must be a JSON object"))
    for k in data:
        if k not in REPORT_FIELDS:
            raise FieldError(k, _("unknown field; remove it (known: {known})").format(known=", ".join(REPORT_FIELDS[:13])))
    kind = _code("kind", data.get("kind"))
    cat = data.get("category")
    if kind == "zero":
        if cat not in (None, ""):
            raise FieldError("category", _("a zero report has no category"))
        category = None
    elif cat in (None, ""):
        raise FieldError("category", _("missing; choose one of: {choices}").format(
            choices=" ".join(tx.codes("category", kind))))
    else:
        category = _code("category", cat, kind)
    lvl = data.get("level")
    level = None
    if kind != "zero" and lvl not in (None, ""):
        code = tx.resolve_field("level", lvl) if isinstance(lvl, str) else None
        allowed = tx.levels_for(kind)
        if code not in allowed:
            raise FieldError("level", _("unknown level {level!r} for a {kind}; choose one of: {choices}").format(
                level=lvl, kind=kind, choices=" ".join(allowed)))
        level = code
    title = _text("title", data.get("title"), MAX_TITLE, required=True, strip=True)
    details = _text("details", data.get("details"), MAX_DETAILS)
    place = _text("place", data.get("place"), MAX_PLACE)
    lat = _coord("lat", data.get("lat"), 90)
    lon = _coord("lon", data.get("lon"), 180)
    if (lat is None) != (lon is None):
        raise FieldError("lat", _("give both --lat and --lon, or neither"))
    dept = data.get("dept")
    dept = None if dept is None or (isinstance(dept, str) and not dept.strip()) else _code("dept", dept)
    parties = data.get("parties") or []
    if not isinstance(parties, list):
        raise FieldError("parties", _("give a list of parties"))
    if parties and kind != "dispute":
        raise FieldError("parties", _("only a dispute has parties"))
    if len(parties) > MAX_PARTIES:
        raise FieldError("parties", _("at most {n} parties").format(n=MAX_PARTIES))
    photos = data.get("photos") or []
    if not isinstance(photos, list):
        raise FieldError("photos", _("give a list of photos"))
    if len(photos) > MAX_PHOTOS:
        raise FieldError("photos", _("at most {n} photos").format(n=MAX_PHOTOS))
    deadline = data.get("deadline")
    if deadline not in (None, ""):
        try:
            deadline = _dt.date.fromisoformat(str(deadline)).isoformat()
        except ValueError:
            raise FieldError("deadline", _("{value!r} is not a date (YYYY-MM-DD)").format(value=deadline)) from None
    else:
        deadline = None
    out = {
        "kind": kind, "category": category, "level": level, "title": title, "details": details, "place": place,
        "lat": lat, "lon": lon, "premises_id": _opt_id("premises_id", data.get("premises_id")), "dept": dept,
        "parties": [check_party(p, i, allow_unverified_id) for i, p in enumerate(parties)],
        "photos": [check_photo(p, i) for i, p in enumerate(photos)],
        "deadline": deadline,
        "inspection_id": _opt_id("inspection_id", data.get("inspection_id")),
        "item_id": _opt_id("item_id", data.get("item_id")),
    }
    src = data.get("location_source")
    if src is not None:
        out["location_source"] = _text("location_source", src, 100)
    return out


def missing_fields(data: dict[str, Any]) -> list[str]:
    """The required fields absent from ``data`` (before validation)."""
    miss = [f for f in ("kind", "title") if not data.get(f)]
    kind = tx.resolve_field("kind", data["kind"]) if isinstance(data.get("kind"), str) else None
    if kind and kind != "zero" and not data.get("category"):
        miss.insert(1, "category")
    if kind and kind != "zero" and not data.get("level"):
        miss.append("level")
    return miss
