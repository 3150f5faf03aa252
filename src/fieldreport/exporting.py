"""Reports out of the tool in the formats people use: CSV (``excel`` adds a UTF-8 BOM), JSON,
GeoJSON (opens in QGIS: reports with coordinates as Points ``[lon, lat]``, WGS 84) and xlsx
(one sheet per kind, openpyxl). Personal data is masked exactly as on screen unless the caller
asks to reveal it (the CLI then records the reveal in the audit log).

The writer functions take plain report dicts (the shape of ``Store.list_reports``), so the
laptop's ``fieldreport export`` and the hub's ``fieldreport hub export`` share them.
Every file is written atomically (temp file, fsync, rename): an interrupted export never
leaves a half file under the final name.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

from . import ids
from . import taxonomy as tx
from .i18n import _
from .errors import InputError

FORMATS = ("csv", "json", "geojson", "xlsx")

# The flat columns of CSV, xlsx and the GeoJSON properties (stable English codes).
COLUMNS = ("ref", "case_code", "kind", "kind_name", "category", "category_name", "level", "level_name", "title",
           "details", "place", "area", "lat", "lon", "dept", "dept_name", "status", "status_name", "deadline",
           "parties", "photos", "premises_id", "inspection_id", "assigned_to", "author", "archived", "synced",
           "created_at", "updated_at", "id")

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def parse_filters(*, kind: str | None = None, since: str | None = None, status: str | None = None,
                  area: str | None = None) -> dict[str, Any]:
    """Validate the export filters; Chinese names are accepted. Raises InputError naming the flag."""
    from .reports import parse_since

    out: dict[str, Any] = {"kind": None, "since": None, "status": None, "area": None}
    if kind:
        out["kind"] = tx.resolve_field("kind", kind)
        if out["kind"] is None:
            raise InputError(_("kind: unknown kind {kind}; choose one of: {value}").format(kind=repr(kind), value=' '.join(tx.KINDS)), "kind")
    if status:
        out["status"] = tx.resolve(tx.STATUSES, status)
        if out["status"] is None:
            raise InputError(_("status: unknown status {status}; choose one of: {value}").format(status=repr(status), value=' '.join(tx.STATUSES)), "status")
    if since:
        out["since"] = parse_since(since)
    if area is not None:
        if not area.strip():
            raise InputError(_("area: must not be empty; give a community or village name"), "area")
        out["area"] = area.strip()
    return out


def check_format(fmt: str, out: str | os.PathLike | None) -> str:
    f = (fmt or "").strip().lower()
    if f not in FORMATS:
        raise InputError(_("format: unknown format {fmt}; choose one of: {value}").format(fmt=repr(fmt), value=' '.join(FORMATS)), "format")
    if f == "xlsx" and out is None:
        raise InputError(_("out: xlsx is a binary file; give --out FILE.xlsx"), "out")
    if out is not None:
        p = Path(out)
        if p.is_dir():
            raise InputError(_("out: {out} is a folder; give a file name").format(out=repr(str(out))), "out")
        if not p.parent.exists():
            raise InputError(_("out: the folder {parent} does not exist").format(parent=repr(str(p.parent))), "out")
    return f


def laptop_rows(store, profile, filters: dict[str, Any], *, reveal: bool, archived: bool = False) -> list[dict[str, Any]]:
    """The laptop's reports matching ``filters`` (oldest first), masked unless ``reveal``.

    A laptop report belongs to the profile's area; ``area`` keeps reports when it equals that
    area or grid, or appears in the report's place."""
    from .privacy import mask_report

    rows = store.list_reports(kind=filters.get("kind"), status=filters.get("status"), since=filters.get("since"),
                              archived=None if archived else False, limit=None, oldest_first=True)
    my_area = getattr(profile, "area", "") or ""
    for r in rows:
        r["area"] = my_area
    area = filters.get("area")
    if area:
        grid = getattr(profile, "grid", "") or ""
        rows = [r for r in rows if area in (my_area, grid) or area in (r.get("place") or "")]
    if not reveal:
        rows = [mask_report(r) for r in rows]
    return rows


# ---------------------------------------------------------------------------- flattening
def _party_text(p: dict[str, Any]) -> str:
    bits = [p.get("name") or ""]
    if p.get("role"):
        bits.append(f"({p['role']})")
    for k in ("phone", "id", "address"):
        if p.get(k):
            bits.append(str(p[k]))
    return " ".join(b for b in bits if b)


def flat(r: dict[str, Any], lang: str = "zh") -> dict[str, Any]:
    """One report as a flat row of COLUMNS (parties and photos as text)."""
    kind = r.get("kind")
    cats = tx.CATEGORIES.get(kind or "", {})
    row = {
        "ref": r.get("ref"), "case_code": r.get("case_code"), "kind": kind, "kind_name": tx.name(tx.KINDS, kind, lang),
        "category": r.get("category"), "category_name": tx.name(cats, r.get("category"), lang),
        "level": r.get("level"), "level_name": tx.name(tx.LEVELS, r.get("level"), lang),
        "title": r.get("title"), "details": r.get("details"), "place": r.get("place"), "area": r.get("area"),
        "lat": r.get("lat"), "lon": r.get("lon"), "dept": r.get("dept"),
        "dept_name": tx.name(tx.DEPARTMENTS, r.get("dept"), lang), "status": r.get("status"),
        "status_name": tx.name(tx.STATUSES, r.get("status"), lang), "deadline": r.get("deadline"),
        "parties": "; ".join(_party_text(p) for p in r.get("parties") or []),
        "photos": " ".join(p.get("sha256", "") for p in r.get("photos") or []),
        "premises_id": r.get("premises_id"), "inspection_id": r.get("inspection_id"),
        "assigned_to": r.get("assigned_to"), "author": r.get("author"), "archived": bool(r.get("archived")),
        "synced": not r.get("unsynced"), "created_at": r.get("created_at"), "updated_at": r.get("updated_at"),
        "id": r.get("id"),
    }
    return row


def _public(r: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "ref", "case_code", "kind", "category", "level", "title", "details", "place", "area", "lat", "lon",
            "premises_id", "inspection_id", "item_id", "dept", "parties", "photos", "deadline", "status",
            "assigned_to", "archived", "author", "created_at", "updated_at")
    out = {k: r.get(k) for k in keys}
    out["archived"] = bool(out["archived"])
    out["synced"] = not r.get("unsynced")
    return out


def _cell(v: Any) -> Any:
    return "" if v is None else v


def _defuse(v: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(v, str) and v.startswith(_FORMULA_START):
        return "'" + v
    return v


# ---------------------------------------------------------------------------- renderers
def render_csv(rows: list[dict[str, Any]], *, excel: bool = False, lang: str = "zh") -> bytes:
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(COLUMNS)
    for r in rows:
        f = flat(r, lang)
        w.writerow([_defuse(_cell(f[c])) if excel else _cell(f[c]) for c in COLUMNS])
    data = buf.getvalue().encode("utf-8")
    return (b"\xef\xbb\xbf" + data) if excel else data


def render_json(rows: list[dict[str, Any]], *, masked: bool, filters: dict[str, Any], source: str) -> bytes:
    doc = {"format": "fieldreport-export", "version": 1, "source": source, "exported_at": ids.now_iso(),
           "masked": masked, "filters": {k: v for k, v in filters.items() if v is not None}, "count": len(rows),
           "reports": [_public(r) for r in rows]}
    return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def render_geojson(rows: list[dict[str, Any]], *, masked: bool, lang: str = "zh") -> tuple[bytes, int]:
    """RFC 7946 FeatureCollection (WGS 84, positions ``[lon, lat]``); reports without both
    coordinates are left out. Properties are flat scalars so QGIS shows them as columns."""
    feats = []
    for r in rows:
        lat, lon = r.get("lat"), r.get("lon")
        if lat is None or lon is None:
            continue
        props = {k: v for k, v in flat(r, lang).items() if k not in ("lat", "lon")}
        feats.append({"type": "Feature", "id": r.get("id"),
                      "geometry": {"type": "Point", "coordinates": [float(lon), float(lat)]},
                      "properties": props})
    doc = {"type": "FeatureCollection", "name": "fieldreport_reports", "masked": masked, "features": feats}
    return (json.dumps(doc, ensure_ascii=False) + "\n").encode("utf-8"), len(rows) - len(feats)


def _sheet_title(name: str, used: set[str]) -> str:
    bad = '[]:*?/\\'
    t = "".join("_" if ch in bad else ch for ch in name)[:31] or "reports"
    base, n = t, 2
    while t in used:
        suffix = f" {n}"
        t = base[:31 - len(suffix)] + suffix
        n += 1
    used.add(t)
    return t


def render_xlsx(rows: list[dict[str, Any]], *, lang: str = "zh") -> bytes:
    """One sheet per kind (named in the interface language), in the taxonomy's order; cells
    that look like formulas are kept as text."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_kind.setdefault(r.get("kind") or "other", []).append(r)
    order = [k for k in tx.KINDS if k in by_kind] + sorted(k for k in by_kind if k not in tx.KINDS)
    used: set[str] = set()
    if not order:
        ws = wb.create_sheet(_sheet_title("reports", used))
        ws.append(list(COLUMNS))
    for kind in order:
        ws = wb.create_sheet(_sheet_title(tx.name(tx.KINDS, kind, lang), used))
        ws.append(list(COLUMNS))
        for r in by_kind[kind]:
            f = flat(r, lang)
            ws.append([_cell(f[c]) for c in COLUMNS])
            for cell in ws[ws.max_row]:
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    cell.data_type = "s"
        ws.freeze_panes = "A2"
        for i, c in enumerate(COLUMNS, start=1):
            ws.column_dimensions[get_column_letter(i)].width = {"title": 30, "details": 40, "parties": 30,
                                                                 "place": 24}.get(c, 14)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def render(rows: list[dict[str, Any]], fmt: str, *, masked: bool, filters: dict[str, Any], excel: bool = False,
           lang: str = "zh", source: str = "laptop") -> tuple[bytes, dict[str, Any]]:
    """The export file's bytes and a summary ({format, count, skipped_no_coordinates})."""
    info: dict[str, Any] = {"format": fmt, "count": len(rows), "masked": masked}
    if fmt == "csv":
        data = render_csv(rows, excel=excel, lang=lang)
    elif fmt == "json":
        data = render_json(rows, masked=masked, filters=filters, source=source)
    elif fmt == "geojson":
        data, skipped = render_geojson(rows, masked=masked, lang=lang)
        info["count"] = len(rows) - skipped
        info["skipped_no_coordinates"] = skipped
    elif fmt == "xlsx":
        data = render_xlsx(rows, lang=lang)
        info["sheets"] = sorted({r.get("kind") for r in rows if r.get("kind")})
    else:  # pragma: no cover - check_format guards
        raise InputError(_("format: unknown format {fmt}").format(fmt=repr(fmt)), "format")
    return data, info


def write_atomic(path: str | os.PathLike, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder, fsync, rename, fsync dir."""
    p = Path(path)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.{os.urandom(3).hex()}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        raise
    try:
        dfd = os.open(p.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def export_laptop(store, profile, fmt: str, *, out: str | os.PathLike | None, filters: dict[str, Any],
                  reveal: bool = False, excel: bool = False, archived: bool = False,
                  lang: str = "zh") -> tuple[bytes | None, dict[str, Any], list[str]]:
    """Export the laptop's reports. Writes ``out`` atomically when given (returns None bytes),
    else returns the bytes for the caller to print. Also returns the exported report ids
    (for the audit log when revealing)."""
    fmt = check_format(fmt, out)
    rows = laptop_rows(store, profile, filters, reveal=reveal, archived=archived)
    data, info = render(rows, fmt, masked=not reveal, filters=filters, excel=excel, lang=lang, source="laptop")
    ids_ = [r["id"] for r in rows]
    if out is not None:
        write_atomic(out, data)
        info["out"] = str(out)
        return None, info, ids_
    return data, info, ids_
