"""The report lifecycle on the laptop: validate what was entered, copy photos into the blob
store, and hand the store one transaction per change. The CLI calls these; they never print."""

from __future__ import annotations

import datetime as _dt
import re
from pathlib import Path
from typing import Any

from .i18n import _
from . import ids
from . import taxonomy as tx
from .blobs import BlobStore
from .errors import InputError
from .store import Store

INPUT_FIELDS = ("kind", "category", "level", "title", "details", "place", "lat", "lon", "dept", "parties",
                "photos", "deadline", "premises", "premises_id", "inspection_id", "item_id")

# Fields `list --json` prints that are the store's, not the worker's: ignored on `add --from`.
OUTPUT_ONLY = ("id", "ref", "status", "created_at", "updated_at", "case_code", "archived", "author", "unsynced",
               "synced", "assigned_to", "notes", "history")


def parse_party(text: str) -> dict[str, str]:
    """``name=张三;role=applicant;id=…;phone=…;address=…`` → dict (``；`` and ``,`` also split)."""
    out: dict[str, str] = {}
    for part in re.split(r"[;；]", text):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep:
            key, sep, value = part.partition("＝")
        key = key.strip().lower()
        if not sep or not key:
            raise InputError(_('party: {part!r} is not key=value; write e.g. "name=张三;role=applicant;phone=13812345678"').format(part=part.strip()),
                             "party")
        key = {"姓名": "name", "角色": "role", "身份证": "id", "id_number": "id", "电话": "phone", "地址": "address"}.get(key, key)
        if key not in ("name", "role", "id", "phone", "address"):
            raise InputError(_("party: unknown key {key!r}; use name, role, id, phone, address").format(key=key), "party")
        out[key] = value.strip()
    if not out.get("name"):
        raise InputError(_("party: name is missing; write e.g. \"name=张三;role=applicant\""), "party")
    return out


_REL = re.compile(r"^\+?(\d+)\s*([dwh天周]?)$")


def parse_date(value: str, field: str, *, future: bool = True) -> str:
    """``2026-12-31``, or a relative ``7d`` / ``+2w`` (from today) → ISO date."""
    v = value.strip()
    m = _REL.match(v)
    if m:
        n, unit = int(m.group(1)), m.group(2) or "d"
        days = n * (7 if unit in ("w", "周") else 1)
        today = _dt.date.today()
        return (today + _dt.timedelta(days=days) if future else today - _dt.timedelta(days=days)).isoformat()
    try:
        return _dt.date.fromisoformat(v).isoformat()
    except ValueError:
        raise InputError(_("{field}: {value!r} is not a date; give YYYY-MM-DD or a number of days such as 7d").format(field=field, value=value),
                         field) from None


def parse_since(value: str) -> str:
    """``7d`` / ``12h`` / ``2w`` ago, or a date or datetime → ISO timestamp to compare with."""
    v = value.strip()
    m = re.match(r"^(\d+)\s*([dhwm])$", v)
    if m:
        n, unit = int(m.group(1)), m.group(2)
        delta = {"d": _dt.timedelta(days=n), "h": _dt.timedelta(hours=n), "w": _dt.timedelta(weeks=n),
                 "m": _dt.timedelta(minutes=n)}[unit]
        return (ids.now() - delta).isoformat(timespec="milliseconds")
    try:
        d = _dt.datetime.fromisoformat(v)
    except ValueError:
        raise InputError(_("since: {value!r} is not a date or age; give e.g. 2026-12-01 or 7d").format(value=value), "since") from None
    if d.tzinfo is None:
        d = d.astimezone()
    return d.isoformat(timespec="milliseconds")


def prepare(data: dict[str, Any], blobs: BlobStore, *, allow_unverified_id: bool = False,
            where: str = "") -> tuple[dict[str, Any], list[Path]]:
    """Validate one report's input (as flags or a ``--from`` record) without writing anything.
    Returns (fields ready for the store, photo files to copy). ``where`` prefixes error fields
    (``record 3: title``)."""
    from .fields import FieldError, check_report

    if not isinstance(data, dict):
        raise InputError(_("{where}a report must be a JSON object").format(where=where), "record")
    d = dict(data)
    unknown = [k for k in d if k not in INPUT_FIELDS and k not in OUTPUT_ONLY]
    if unknown:
        raise InputError(_("{where}{unknown}: unknown field; known fields: {choices}").format(where=where, unknown=unknown[0], choices=', '.join(INPUT_FIELDS[:12])), unknown[0])
    for k in OUTPUT_ONLY:
        d.pop(k, None)
    if "premises" in d:
        d["premises_id"] = d.pop("premises")
    photo_paths: list[Path] = []
    photo_refs: list[dict[str, Any]] = []
    for i, ph in enumerate(d.pop("photos", None) or []):
        if isinstance(ph, dict) and "sha256" in ph:
            if not blobs.has(str(ph["sha256"])):
                raise InputError(_("{where}photos.{i}: blob {sha256}… is not in this store; give the file path").format(where=where, i=i, sha256=ph['sha256'][:12]),
                                 "photos")
            photo_refs.append(ph)
            continue
        if not isinstance(ph, str):
            raise InputError(_("{where}photos.{i}: give a file path").format(where=where, i=i), "photos")
        try:
            path, _mime = blobs.check_photo(ph)
        except InputError as e:
            raise InputError(_("{where}{error}").format(where=where, error=e), "photo") from None
        photo_paths.append(path)
    if d.get("deadline"):
        d["deadline"] = parse_date(str(d["deadline"]), "deadline")
    parties = d.get("parties") or []
    if not isinstance(parties, list):
        raise InputError(_("{where}parties: give a list of parties").format(where=where), "parties")
    d["parties"] = [parse_party(p) if isinstance(p, str) else p for p in parties]
    d["photos"] = photo_refs
    try:
        out = check_report(d, allow_unverified_id=allow_unverified_id)
    except FieldError as e:
        raise InputError(_("{where}{field}: {message}").format(where=where, field=e.field, message=e.message),
                         e.field) from None
    return out, photo_paths


def add(store: Store, blobs: BlobStore, data: dict[str, Any], *, author: str | None,
        allow_unverified_id: bool = False, location_from_photo=False) -> dict[str, Any]:
    """Record one report (and its photos) offline; returns {id, ref, seq, op_id} (and
    ``photo_notes``, see photos.enrich, which also explains ``location_from_photo``)."""
    fields, photo_paths = prepare(data, blobs, allow_unverified_id=allow_unverified_id)
    return add_prepared(store, blobs, fields, photo_paths, author=author, location_from_photo=location_from_photo)


def _store_photos(blobs: BlobStore, fields: dict[str, Any], photo_paths: list[Path]) -> tuple[dict[str, Any], str]:
    """Copy the photos into the blob store (before the row that names them is written)."""
    from .blobs import sniff_image
    from .crashpoints import crash_point

    for p in photo_paths:
        sha, size = blobs.put_file(p)
        crash_point("add:after_blob")
        with open(p, "rb") as f:
            mime = sniff_image(f.read(32)) or "application/octet-stream"
        fields["photos"].append({"sha256": sha, "size": size, "mime": mime, "name": p.name})
    return fields, ("closed" if fields["kind"] == "zero" else "registered")


def _photo_copies(store: Store, blobs: BlobStore, fields: dict[str, Any], photo_paths: list[Path],
                  location_from_photo=False) -> list[str]:
    """Issue 8: transmission copies and EXIF time/GPS of the photos just stored (Pillow only here)."""
    if not photo_paths and not location_from_photo:
        return []
    from .photos import enrich

    return enrich(store, blobs, fields, photo_paths, location_from_photo=location_from_photo)


def add_prepared(store: Store, blobs: BlobStore, fields: dict[str, Any], photo_paths: list[Path], *,
                 author: str | None, location_from_photo=False) -> dict[str, Any]:
    fields, status = _store_photos(blobs, fields, photo_paths)
    notes = _photo_copies(store, blobs, fields, photo_paths, location_from_photo)
    res = store.insert_report(fields, author=author, status=status)
    return {**res, "photo_notes": notes} if notes else res


def add_many(store: Store, blobs: BlobStore, records: list[Any], *, author: str | None,
             allow_unverified_id: bool = False) -> list[dict[str, Any]]:
    """Validate every record first (the error names the record and field), then record them all
    in one transaction: a file is recorded whole or not at all."""
    prepared = []
    for i, rec in enumerate(records, start=1):
        prepared.append(prepare(rec, blobs, allow_unverified_id=allow_unverified_id,
                                where=_("record {i}: ").format(i=i)))
    items = [_store_photos(blobs, f, p) for f, p in prepared]
    notes = [_photo_copies(store, blobs, f, p) for f, p in prepared]
    done = store.insert_reports(items, author=author)
    return [{**d, "photo_notes": n} if n else d for d, n in zip(done, notes)]


def update(store: Store, blobs: BlobStore, ref: str, *, status: str | None = None, note: str | None = None,
           level: str | None = None, dept: str | None = None, photos: list[str] = (), deadline: str | None = None,
           archive: bool | None = None, author: str | None = None) -> dict[str, Any]:
    """Change one report: each change becomes its own operation, all in one transaction."""
    rid = store.resolve_ref(ref)
    to_status = None
    if status:
        to_status = tx.resolve(tx.STATUSES, status)
        if to_status is None:
            raise InputError(_("status: unknown status {status!r}; choose one of: {choices}").format(status=status, choices=' '.join(tx.STATUSES)), "status")
    dept_code = None
    if dept:
        dept_code = tx.resolve(tx.DEPARTMENTS, dept)
        if dept_code is None:
            raise InputError(_("dept: unknown department {dept!r}; choose one of: {choices}").format(dept=dept, choices=' '.join(tx.DEPARTMENTS)), "dept")
    if note is not None and not note.strip():
        raise InputError(_("note: must not be empty"), "note")
    deadline_iso = parse_date(deadline, "deadline") if deadline else None
    photo_refs = []
    for ph in photos:
        path, mime = blobs.check_photo(ph)
        photo_refs.append((path, mime))

    def check(cur: dict[str, Any], _changes):
        changes: list[tuple[str, dict[str, Any]]] = []
        if level:
            code = tx.resolve_field("level", level)
            allowed = tx.levels_for(cur["kind"])
            if code not in allowed:
                raise InputError(_("level: unknown level {level!r} for a {kind}; choose one of: {choices}").format(level=level, kind=cur['kind'], choices=' '.join(allowed)),
                                 "level")
            if code != cur["level"]:
                changes.append(("report.set", {"field": "level", "old": cur["level"], "new": code}))
        if dept_code and dept_code != cur["dept"]:
            changes.append(("report.set", {"field": "dept", "old": cur["dept"], "new": dept_code}))
        if deadline_iso and deadline_iso != cur["deadline"]:
            changes.append(("report.set", {"field": "deadline", "old": cur["deadline"], "new": deadline_iso}))
        if to_status and to_status != cur["status"]:
            legal = tx.TRANSITIONS.get(cur["status"], ())
            if to_status not in legal:
                nxt = " ".join(legal) if legal else _("(none: the report is {status})").format(status=cur["status"])
                raise InputError(_("status: cannot go from {status} to {to}; legal next: {choices}").format(
                    status=cur["status"], to=to_status, choices=nxt), "status")
            changes.append(("report.status", {"from": cur["status"], "to": to_status, "note": note, "author": author}))
        elif note:
            changes.append(("report.note", {"note_id": ids.uuid7(), "text": note.strip(), "author": author}))
        for ref in stored:
            changes.append(("report.photo", ref))
        if archive is not None and bool(archive) != bool(cur["archived"]):
            changes.append(("report.archive", {"archived": bool(archive)}))
        if not changes:
            raise InputError(_("nothing to change: give --status, --note, --level, --dept, --photo, --deadline or --archive"))
        return changes

    stored = []
    for path, mime in photo_refs:
        sha, size = blobs.put_file(path)
        stored.append({"sha256": sha, "size": size, "mime": mime, "name": path.name})
    notes = _photo_copies(store, blobs, {"photos": stored}, [path for path, _mime in photo_refs])
    ops = store.update_report(rid, [], check=check)
    return {"id": rid, "ops": [o["seq"] for o in ops], **({"photo_notes": notes} if notes else {})}
