"""Domain models (pydantic v2). They validate what a field worker enters — on the laptop
before anything is written, and on the hub before an operation is applied — and import
nothing from the package but its pure data (taxonomy) and validators."""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from . import taxonomy as tx
from .validate import check_id_number, check_phone, normalise_phone

MAX_TITLE = 200
MAX_DETAILS = 20_000
MAX_PLACE = 500
MAX_PARTIES = 50
MAX_PHOTOS = 50


def _code(field: str, value: Any, kind: str | None = None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must not be empty")
    code = tx.resolve_field(field, value, kind)
    if code is None:
        choices = " ".join(tx.codes(field, kind))
        raise ValueError(f"unknown {field} {value!r}; choose one of: {choices}")
    return code


class Party(BaseModel):
    """A party to a dispute (当事人)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    role: str = "applicant"
    id_number: str | None = Field(default=None, alias="id")
    phone: str | None = None
    address: str | None = Field(default=None, max_length=MAX_PLACE)
    id_verified: bool = True

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("must not be empty")
        return v

    @field_validator("role", mode="before")
    @classmethod
    def _role(cls, v: Any) -> str:
        return _code("party_role", v)

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        reason = check_phone(v)
        if reason:
            raise ValueError(f"phone {reason}")
        return normalise_phone(v)

    def checked(self, allow_unverified_id: bool) -> "Party":
        """Validate the ID number; with ``allow_unverified_id`` keep it flagged instead."""
        if self.id_number:
            self.id_number = self.id_number.strip().upper()
            reason = check_id_number(self.id_number)
            if reason:
                if not allow_unverified_id:
                    raise ValueError(f"ID number {reason}; check it, or pass --allow-unverified-id to record it flagged")
                self.id_verified = False
        return self


class PhotoRef(BaseModel):
    """A photo as recorded in a report: the content hash of the original in the blob store."""

    model_config = ConfigDict(extra="ignore")

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)
    mime: str = "application/octet-stream"
    name: str = ""


class ReportFields(BaseModel):
    """The fields of a report as entered. Codes may be given in Chinese or English."""

    model_config = ConfigDict(extra="forbid")

    kind: str
    category: str | None = None
    level: str | None = None
    title: str = Field(max_length=MAX_TITLE)
    details: str = Field(default="", max_length=MAX_DETAILS)
    place: str = Field(default="", max_length=MAX_PLACE)
    lat: float | None = None
    lon: float | None = None
    premises_id: str | None = None
    dept: str | None = None
    parties: list[Party] = Field(default_factory=list, max_length=MAX_PARTIES)
    photos: list[PhotoRef] = Field(default_factory=list, max_length=MAX_PHOTOS)
    deadline: _dt.date | None = None
    inspection_id: str | None = None
    item_id: str | None = None

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, v: Any) -> str:
        return _code("kind", v)

    @field_validator("title")
    @classmethod
    def _title(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("must not be empty; give a short title such as 楼道电动车充电")
        return v

    @field_validator("dept", mode="before")
    @classmethod
    def _dept(cls, v: Any) -> str | None:
        if v is None or (isinstance(v, str) and not v.strip()):
            return None
        return _code("dept", v)

    @field_validator("lat")
    @classmethod
    def _lat(cls, v: float | None) -> float | None:
        if v is not None and (not math.isfinite(v) or not -90 <= v <= 90):
            raise ValueError("latitude must be between -90 and 90")
        return v

    @field_validator("lon")
    @classmethod
    def _lon(cls, v: float | None) -> float | None:
        if v is not None and (not math.isfinite(v) or not -180 <= v <= 180):
            raise ValueError("longitude must be between -180 and 180")
        return v

    @model_validator(mode="before")
    @classmethod
    def _by_kind(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ValueError("a report must be a JSON object")
        kind = tx.resolve_field("kind", data["kind"]) if isinstance(data.get("kind"), str) else None
        if kind is None:
            return data
        data = dict(data)
        cat = data.get("category")
        if kind == "zero":
            if cat not in (None, ""):
                raise ValueError("category: a zero report has no category")
            data["category"] = None
        elif cat in (None, ""):
            pass  # reported by _complete as a missing field
        else:
            try:
                data["category"] = _code("category", cat, kind)
            except ValueError as e:
                raise ValueError(f"category: {e}") from None
        lvl = data.get("level")
        if lvl not in (None, ""):
            code = tx.resolve_field("level", lvl) if isinstance(lvl, str) else None
            allowed = tx.levels_for(kind)
            if code not in allowed:
                raise ValueError(f"level: unknown level {lvl!r} for a {kind}; choose one of: {' '.join(allowed)}")
            data["level"] = code
        else:
            data["level"] = None
        return data

    @model_validator(mode="after")
    def _complete(self) -> "ReportFields":
        if self.kind != "zero" and not self.category:
            raise ValueError(f"category: missing; choose one of: {' '.join(tx.codes('category', self.kind))}")
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat: give both --lat and --lon, or neither")
        if self.parties and self.kind != "dispute":
            raise ValueError("parties: only a dispute has parties")
        return self


REQUIRED = {"kind", "title"}  # category is required for every kind but zero (checked above)


def missing_fields(data: dict[str, Any]) -> list[str]:
    """The required fields absent from ``data`` (before validation)."""
    miss = [f for f in ("kind", "title") if not data.get(f)]
    kind = tx.resolve_field("kind", data["kind"]) if isinstance(data.get("kind"), str) else None
    if kind and kind != "zero" and not data.get("category"):
        miss.insert(1, "category")
    if kind and kind != "zero" and not data.get("level"):
        miss.append("level")
    return miss


def first_error(exc: ValidationError, prefix: str = "") -> tuple[str, str]:
    """(field, message) of a pydantic error, phrased for one line on stderr."""
    err = exc.errors()[0]
    loc = [str(p) for p in err.get("loc", ()) if p != "__root__"]
    msg = str(err.get("msg", "invalid"))
    msg = msg.removeprefix("Value error, ")
    field = ".".join(loc)
    if not field and ":" in msg.split(" ")[0]:
        field, _, msg = msg.partition(": ")
    if err.get("type") == "extra_forbidden":
        msg = "unknown field; remove it (known: " + ", ".join(ReportFields.model_fields) + ")"
    elif err.get("type") == "string_too_long":
        msg = f"too long (at most {err.get('ctx', {}).get('max_length')} characters)"
    return prefix + field, msg
