"""Premises (重点场所): checking what is entered, CSV import with Chinese headers, and what is
due — premises whose inspection is overdue or due soon, and open hazards past their deadline."""

from __future__ import annotations

import csv
import datetime as _dt
import io
from pathlib import Path
from typing import Any

from .. import taxonomy as tx
from ..errors import InputError
from ..i18n import _
from ..store import checklist_store as cs
from ..validate import check_phone, normalise_phone

TYPE_ALIASES = {"旅馆": "hotel", "宾馆": "hotel", "酒店": "hotel", "民宿": "hotel", "招待所": "hotel",
                "网咖": "internet_cafe", "上网服务场所": "internet_cafe", "出租房": "rental_housing",
                "出租房屋": "rental_housing", "三小": "small_venue", "小商店": "small_venue", "小餐馆": "small_venue",
                "小作坊": "small_venue", "危化品": "hazchem_storage", "危险化学品": "hazchem_storage",
                "学校": "school", "幼儿园": "school", "快递": "parcel_logistics", "物流": "parcel_logistics",
                "寄递": "parcel_logistics", "歌厅": "entertainment", "KTV": "entertainment", "ktv": "entertainment",
                "养老院": "elderly_care", "敬老院": "elderly_care", "养老": "elderly_care"}
RISK_ALIASES = {"high": "orange", "medium": "yellow", "low": "blue", "高": "orange", "中": "yellow", "低": "blue",
                "较大": "orange", "一般": "yellow", "重大": "red"}
RISK_INTERVAL = {"red": 30, "orange": 60, "yellow": 90, "blue": 180, None: 90}

# CSV header (either language, any case) → field
HEADERS = {
    "name": "name", "名称": "name", "场所名称": "name", "单位名称": "name",
    "type": "type", "类型": "type", "场所类型": "type",
    "address": "address", "地址": "address",
    "area": "area", "片区": "area", "区域": "area", "社区": "area", "村": "area", "社区/村": "area",
    "grid": "grid", "网格": "grid",
    "contact": "contact", "联系人": "contact", "负责人": "contact",
    "phone": "phone", "电话": "phone", "联系电话": "phone",
    "licence": "licence", "license": "licence", "许可证号": "licence", "证照编号": "licence", "许可证": "licence",
    "risk": "risk", "风险等级": "risk", "风险": "risk",
    "interval_days": "interval_days", "interval": "interval_days", "检查周期": "interval_days",
    "检查周期(天)": "interval_days", "检查周期（天）": "interval_days",
    "notes": "notes", "备注": "notes",
}
TEXT_LIMITS = {"name": 200, "address": 500, "area": 100, "grid": 100, "contact": 100, "licence": 100, "notes": 2000}


def check(data: dict[str, Any], *, partial: bool = False, where: str = "") -> dict[str, Any]:
    """Validate and normalise premises fields (codes in Chinese or English). ``partial`` for an
    update: only the fields given. Raises InputError naming the field (prefixed by ``where``)."""
    out: dict[str, Any] = {}
    unknown = [k for k in data if k not in cs.PREMISES_FIELDS]
    if unknown:
        raise InputError(_("{where}{field}: unknown field; known: {choices}").format(
            where=where, field=unknown[0], choices=", ".join(cs.PREMISES_FIELDS)), unknown[0])
    for k, limit in TEXT_LIMITS.items():
        if k in data and data[k] is not None:
            v = str(data[k]).strip()
            if len(v) > limit:
                raise InputError(_("{where}{field}: too long (at most {limit} characters)").format(
                    where=where, field=k, limit=limit), k)
            out[k] = v
    if not partial or "name" in data:
        if not out.get("name"):
            raise InputError(_("{where}name: must not be empty; give the premises' name, e.g. 东村旅社").format(
                where=where), "name")
    if not partial or "type" in data:
        raw = data.get("type")
        code = None
        if raw is not None and str(raw).strip():
            code = tx.resolve(tx.PREMISES_TYPES, str(raw)) or TYPE_ALIASES.get(str(raw).strip())
        if code is None:
            choices = " ".join(tx.PREMISES_TYPES)
            if not raw:
                raise InputError(_("{where}type: missing; choose one of: {choices}").format(
                    where=where, choices=choices), "type")
            raise InputError(_("{where}type: unknown premises type {value!r}; choose one of: {choices}").format(
                where=where, value=raw, choices=choices), "type")
        out["type"] = code
    if "phone" in data:
        v = str(data["phone"] or "").strip()
        if v:
            why = check_phone(v)
            if why:
                raise InputError(_("{where}phone: {why}").format(where=where, why=why), "phone")
            out["phone"] = normalise_phone(v)
        else:
            out["phone"] = None
    if "risk" in data:
        v = str(data["risk"] or "").strip()
        if v:
            code = tx.resolve_field("level", v)
            code = code if code in tx.COLOUR_LEVELS else RISK_ALIASES.get(v.lower(), RISK_ALIASES.get(v))
            if code is None:
                raise InputError(_("{where}risk: unknown risk level {value!r}; choose red, orange, yellow or blue "
                                   "(红/橙/黄/蓝, or high/medium/low)").format(where=where, value=v), "risk")
            out["risk"] = code
        else:
            out["risk"] = None
    if "interval_days" in data and data["interval_days"] not in (None, ""):
        v = str(data["interval_days"]).strip().removesuffix("天").removesuffix("d")
        try:
            n = int(v)
        except ValueError:
            raise InputError(_("{where}interval_days: {value!r} is not a whole number of days").format(
                where=where, value=data["interval_days"]), "interval_days") from None
        if not 1 <= n <= 3650:
            raise InputError(_("{where}interval_days: give 1 to 3650 days").format(where=where), "interval_days")
        out["interval_days"] = n
    elif not partial:
        out["interval_days"] = RISK_INTERVAL.get(out.get("risk"), 90)
    return out


def add(store, data: dict[str, Any]) -> dict[str, Any]:
    fields = check(data)
    _no_duplicate(store, fields)
    return cs.insert_premises(store, fields)


def _no_duplicate(store, fields: dict[str, Any], where: str = "") -> None:
    for p in cs.list_premises(store, search=fields["name"]):
        if p["name"] == fields["name"] and (p["address"] or "") == (fields.get("address") or ""):
            raise InputError(_("{where}name: {name} at {address} is already recorded as {ref}").format(
                where=where, name=fields["name"], address=fields.get("address") or _("(no address)"), ref=p["ref"]),
                "name")


def update(store, ref: str, data: dict[str, Any]) -> dict[str, Any]:
    pid = cs.resolve_premises(store, ref)
    fields = check(data, partial=True)
    if not fields:
        raise InputError(_("nothing to change: give at least one field such as --risk or --contact"))
    ops = cs.update_premises(store, pid, fields)
    return {"id": pid, "ops": [o["seq"] for o in ops]}


def read_csv(path: str | Path) -> list[tuple[int, dict[str, Any]]]:
    """(row number, fields) for each data row; the header row is row 1. UTF-8 with or without
    BOM; headers in Chinese or English."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise InputError(_("file: cannot read {path}: {error}").format(path=p, error=e.strerror), "file") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(_("file: {path} is not UTF-8 (byte {byte}); save it as \"CSV UTF-8\"").format(
            path=p, byte=e.start), "file") from None
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise InputError(_("file: {path} is empty").format(path=p), "file") from None
    cols = []
    for h in header:
        key = h.strip()
        f = HEADERS.get(key) or HEADERS.get(key.lower())
        if f is None:
            raise InputError(_("file: unknown column {column!r}; known: 名称 类型 地址 片区 网格 联系人 电话 许可证号 "
                               "风险等级 检查周期 备注 (or name type address area grid contact phone licence risk "
                               "interval_days notes)").format(column=h), "file")
        cols.append(f)
    if "name" not in cols or "type" not in cols:
        raise InputError(_("file: the CSV needs at least the columns 名称 (name) and 类型 (type)"), "file")
    rows = []
    for n, row in enumerate(reader, start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) > len(cols):
            rows.append((n, {"__error__": _("{values} values but {columns} columns").format(values=len(row),
                                                                                              columns=len(cols))}))
            continue
        rows.append((n, {c: v for c, v in zip(cols, row)}))
    return rows


def import_csv(store, path: str | Path, *, skip_bad: bool = False) -> dict[str, Any]:
    """Check every row first. A bad row names itself and nothing is imported — unless
    ``skip_bad``, then the good rows are imported and the bad ones listed."""
    rows = read_csv(path)
    good, bad = [], []
    seen: set[tuple[str, str]] = set()
    for n, data in rows:
        where = _("row {n}: ").format(n=n)
        try:
            if "__error__" in data:
                raise InputError(where + data["__error__"], "row")
            fields = check(data, where=where)
            key = (fields["name"], fields.get("address") or "")
            if key in seen:
                raise InputError(_("{where}name: {name} appears twice in the file").format(where=where, name=fields["name"]),
                                 "name")
            seen.add(key)
            _no_duplicate(store, fields, where)
            good.append(fields)
        except InputError as e:
            if not skip_bad:
                raise InputError(_("{error}; nothing was imported (fix the row, or pass --skip-bad to import the rest)")
                                 .format(error=e), e.field) from None
            bad.append({"row": n, "error": str(e)})
    if not good and not bad:
        raise InputError(_("file: no data rows"), "file")
    done = cs.insert_premises_many(store, good) if good else []
    return {"imported": done, "skipped": bad}


def due(store, *, within_days: int = 7, today: _dt.date | None = None) -> dict[str, Any]:
    """Premises whose inspection is overdue or due within ``within_days`` (never inspected =
    due now), and open hazard reports whose rectification deadline has passed."""
    today = today or _dt.date.today()
    horizon = today + _dt.timedelta(days=within_days)
    out = []
    for p in cs.list_premises(store):
        last = p.get("last_inspected_at")
        if last:
            last_d = _dt.datetime.fromisoformat(last).date()
            due_d = last_d + _dt.timedelta(days=int(p["interval_days"]))
        else:
            due_d = today
        if due_d <= horizon:
            out.append({"id": p["id"], "ref": p["ref"], "name": p["name"], "type": p["type"], "address": p["address"],
                        "last_inspected_at": last, "last_result": p.get("last_result"), "due": due_d.isoformat(),
                        "days_overdue": (today - due_d).days, "never_inspected": not last,
                        "open_hazards": p["open_hazards"]})
    out.sort(key=lambda r: (r["due"], r["ref"]))
    hazards = cs.overdue_hazards(store, today.isoformat())
    for h in hazards:
        h["days_overdue"] = (today - _dt.date.fromisoformat(h["deadline"])).days
    return {"today": today.isoformat(), "within_days": within_days, "premises": out, "hazards": hazards}
