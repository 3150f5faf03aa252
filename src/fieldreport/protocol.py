"""The wire contract between laptop and hub (docs/protocol.md), shared by both sides.

Only wire models live here: the laptop's store and the hub's store each keep their own
tables. Every operation is safe to apply twice: the hub enforces the uniqueness of ``op_id``
inside the transaction that applies it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .canon import HASHED_FIELDS, canonical, op_hash  # noqa: F401  (re-exported)

PROTOCOL_VERSION = "1"
PROTOCOL_HEADER = "X-Fieldreport-Protocol"
EPOCH_HEADER = "X-Fieldreport-Epoch"
MAX_BATCH_OPS = 5000
MAX_BODY_BYTES = 8 * 1024 * 1024  # after decompression
BLOB_CHUNK_MAX = 4 * 1024 * 1024

# Operation types a device may push, and the hub's change types a device may pull.
DEVICE_OP_TYPES = (
    "report.create",      # payload: ReportFields + ref, status, created_at
    "report.set",         # payload: {field, old, new}; fields: level dept deadline title details place lat lon
    "report.note",        # payload: {note_id, text}
    "report.photo",       # payload: PhotoRef
    "report.status",      # payload: {from, to, note}
    "report.archive",     # payload: {archived: bool}
    "premises.create",    # payload: premises fields
    "premises.set",       # payload: {field, old, new}
    "inspection.create",  # payload: {premises_id, template, template_version, started_at, recheck_of}
    "inspection.answer",  # payload: {item_id, answer, note, photo}
    "inspection.finish",  # payload: {finished_at, summary}
)
HUB_CHANGE_TYPES = (
    "report.case_code",   # payload: {case_code}
    "report.status",      # payload: {from, to, note, by}
    "report.route",       # payload: {dept, by}
    "report.assign",      # payload: {officer_id, by}
    "report.note",        # payload: {note_id, text, by}
    "template.put",       # payload: a checklist template
    "premises.put",       # payload: premises fields
)
SETTABLE_REPORT_FIELDS = ("level", "dept", "deadline", "title", "details", "place", "lat", "lon")


class Operation(BaseModel):
    """One change made on a device. ``seq`` counts the device's operations from 1 without gaps;
    ``clock`` is a Lamport clock; ``ts`` is the device's time with its zone (ISO 8601)."""

    model_config = ConfigDict(extra="forbid")

    op_id: str = Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
    device_id: str = Field(min_length=1, max_length=64)
    seq: int = Field(ge=1)
    clock: int = Field(ge=0)
    ts: str = Field(min_length=10, max_length=40)
    type: str = Field(min_length=1, max_length=40)
    entity: str = Field(min_length=1, max_length=64)
    payload: dict[str, Any]
    prev_hash: str | None = Field(default=None, max_length=64)
    hash: str | None = Field(default=None, max_length=64)


class PushRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_id: str = Field(min_length=1, max_length=64)
    epoch: str | None = None  # the hub epoch the device last saw (informational)
    ops: list[Operation] = Field(max_length=MAX_BATCH_OPS)


OpStatus = Literal["applied", "duplicate", "rejected", "conflict"]


class OpResult(BaseModel):
    op_id: str
    seq: int
    status: OpStatus
    reason: str | None = None          # rejected/conflict: why, one line
    field: str | None = None           # rejected: the field at fault
    code: str | None = None            # rejected: stable reason code (docs/protocol.md, "Rejection codes")
    params: dict[str, Any] | None = None  # rejected: the values the code's message names
    current: dict[str, Any] | None = None  # conflict: the hub's current state of the entity
    case_code: str | None = None       # report.create: the hub's case code
    original: OpStatus | None = None   # duplicate: the status the first receipt got
    chain: str | None = None           # set when the hash chain breaks at this operation


class PushResponse(BaseModel):
    epoch: str
    hub_time: str
    acked_through: int   # highest seq s such that the hub holds every op 1..s of this device
    results: list[OpResult]
    chain_ok: bool = True


class Change(BaseModel):
    """One entry of the hub's change feed. ``cursor`` is the hub's commit order."""

    cursor: int
    type: str
    entity: str
    payload: dict[str, Any]
    ts: str


class PullResponse(BaseModel):
    epoch: str
    hub_time: str
    cursor: int
    has_more: bool
    acked_through: int
    changes: list[Change]


class EnrollRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=4, max_length=40)
    device_id: str = Field(min_length=1, max_length=64)
    name: str | None = Field(default=None, max_length=200)


class EnrollResponse(BaseModel):
    token: str
    device_id: str
    officer_id: str
    name: str
    area: str | None
    epoch: str
    hub_time: str


class MissingBlobsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hashes: list[str] = Field(max_length=1000)


class MissingBlobsResponse(BaseModel):
    missing: list[str]


class Health(BaseModel):
    status: Literal["ok"]
    protocol: str
    epoch: str
    hub_time: str
