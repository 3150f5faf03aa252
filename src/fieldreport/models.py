"""Domain models (pydantic v2). They validate what a field worker enters — on the laptop
before anything is written, and on the hub before an operation is applied — and import
nothing from the package but its pure data (taxonomy) and validators."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .fields import (MAX_DETAILS, MAX_NAME, MAX_PARTIES, MAX_PHOTOS, MAX_PLACE, MAX_TITLE,  # noqa: F401
                     FieldError, check_photo, check_report, missing_fields)


class Party(BaseModel):
    """A party to a dispute (当事人). Validated by ``fields.check_party``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(min_length=1, max_length=MAX_NAME)
    role: str = "applicant"
    id_number: str | None = Field(default=None, alias="id")
    phone: str | None = None
    address: str | None = Field(default=None, max_length=MAX_PLACE)
    id_verified: bool = True


class PhotoRef(BaseModel):
    """A photo as recorded in a report: the content hash of the original in the blob store,
    and (issue 8) the transmission copy sent first and what the photo's EXIF said."""

    model_config = ConfigDict(extra="ignore")

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)
    mime: str = "application/octet-stream"
    name: str = ""
    copy_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    copy_size: int | None = Field(default=None, ge=0)
    taken_at: str | None = Field(default=None, max_length=40)
    gps: dict[str, float] | None = None

    @model_validator(mode="before")
    @classmethod
    def _check(cls, data: Any) -> Any:
        try:
            return check_photo(data)
        except FieldError as e:
            raise ValueError(str(e)) from None


class ReportFields(BaseModel):
    """The fields of a report as entered (codes may be given in Chinese or English). The rules
    live once, in ``fields.check_report``; this model gives them a schema for the hub's API."""

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
    # Where lat/lon came from when not typed in, e.g. "photo:<sha256>" (issue 8). Accepted in a
    # payload but left out of model_dump, so reports without it keep their payload unchanged.
    location_source: str | None = Field(default=None, max_length=100, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _check(cls, data: Any) -> Any:
        try:
            return check_report(data)
        except FieldError as e:
            raise ValueError(str(e)) from None


def first_error(exc: ValidationError, prefix: str = "") -> tuple[str, str]:
    """(field, message) of a pydantic error, phrased for one line: the hub's answers, which travel
    on the wire and stay English (pydantic's ``msg``). What the laptop shows a person goes
    through ``pydantic_msgs.message`` instead, in the interface language."""
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
