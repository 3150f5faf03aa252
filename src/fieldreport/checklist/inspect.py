"""Starting, resuming and finishing inspections. Finishing turns each failed item into one
hazard report (through :mod:`fieldreport.reports`) linked to the premises, the inspection and
the item; a re-inspection (``--recheck``) walks only the open failures and closes the hazard
reports of the items that now pass (status → re-inspected → closed).

Auxiliary police record findings and *recommend* rectification (建议整改): nothing here words
a finding as an order."""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
from collections import deque
from pathlib import Path
from typing import Any

from .. import ids
from .. import taxonomy as tx
from ..errors import InputError
from ..i18n import _
from ..store import checklist_store as cs
from . import builtin
from .template import Template, parse_answer, rule_deadline, rule_level
from .walk import Walk

ADVICE_ZH = {
    "I": "建议当场整改。",
    "R": "建议于{deadline}前完成整改，届时复查。",
    "M": "疑似重大隐患，建议移交{dept}依法处理。",
    "P": "建议立即报告公安机关。",
}


def start(store, premises_ref: str, *, template: str | None = None, recheck: bool = False,
          inspector: str | None = None, precheck=None) -> tuple[dict[str, Any], bool]:
    """Start an inspection of a premises, or continue the one in progress there.
    ``precheck(template, items)`` runs before anything is written (e.g. to check an answers
    file) and may raise InputError. Returns (inspection, resumed)."""
    pid = cs.resolve_premises(store, premises_ref)
    prem = cs.premises(store, pid)
    cur = cs.in_progress_for(store, pid)
    if cur is not None:
        if template and template.strip() != cur["template"]:
            raise InputError(_("template: inspection {ref} of {premises} is in progress with template {template}; "
                               "continue it with `fieldreport checklist resume {ref}`").format(
                ref=cur["ref"], premises=prem["ref"], template=cur["template"]), "template")
        if recheck and not cur.get("recheck_of"):
            raise InputError(_("recheck: inspection {ref} of {premises} is in progress; finish it first "
                               "(`fieldreport checklist resume {ref}`)").format(ref=cur["ref"], premises=prem["ref"]),
                             "recheck")
        return cur, True
    items = None
    recheck_of = None
    if recheck:
        opens = cs.open_hazards(store, pid)
        if template:
            opens = [h for h in opens if h["template"] == template.strip()]
        if not opens:
            raise InputError(_("recheck: {premises} has no open failures to re-inspect").format(premises=prem["ref"]),
                             "recheck")
        last = opens[-1]
        tpl, source = builtin.get(store, last["template"], last["template_version"])
        known = {it.id for _s, it in tpl.items()}
        items = []
        for h in opens:
            if h["template"] == tpl.name and h["item_id"] in known and h["item_id"] not in items:
                items.append(h["item_id"])
        order = [it.id for _s, it in tpl.items()]
        items.sort(key=order.index)
        recheck_of = last["inspection_id"]
    elif template:
        tpl, source = builtin.get(store, template)
    else:
        tpl, source = builtin.for_type(store, prem["type"])
    if precheck is not None:
        precheck(tpl, items)
    ins = cs.create_inspection(store, premises_id=pid, template_body_=tpl.body(),
                               template_source=source if source != "stored" else "imported",
                               inspector=inspector, recheck_of=recheck_of, items=items)
    return cs.inspection(store, ins["id"]), False


def latest_in_progress(store) -> dict[str, Any]:
    rows = cs.list_inspections(store, status="in_progress")
    if not rows:
        raise InputError(_("inspection: no inspection in progress; start one with `fieldreport checklist start "
                           "PREMISES`"), "inspection")
    return rows[0]


# ---------------------------------------------------------------- answers files
def read_answers_file(path: str | Path) -> dict[str, dict[str, Any]]:
    """``{"item": answer | {"answer", "note", "photo"}}`` (JSON) or CSV with columns
    item_id, answer, note, photo → item id → {answer, note, photo}."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise InputError(_("answers: cannot read {path}: {error}").format(path=p, error=e.strerror), "answers") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(_("answers: {path} is not UTF-8 (byte {byte}); save it as UTF-8").format(path=p, byte=e.start),
                         "answers") from None
    out: dict[str, dict[str, Any]] = {}
    if p.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        cols = {(c or "").strip().lower(): c for c in reader.fieldnames or []}
        key = next((cols[c] for c in ("item_id", "item", "id", "检查项") if c in cols), None)
        ans = next((cols[c] for c in ("answer", "答案", "结果") if c in cols), None)
        if key is None or ans is None:
            raise InputError(_("answers: the CSV needs columns item_id and answer (and optionally note, photo)"),
                             "answers")
        for n, row in enumerate(reader, start=2):
            iid = (row.get(key) or "").strip()
            if not iid:
                raise InputError(_("answers: row {n}: item_id is empty").format(n=n), "answers")
            out[iid] = {"answer": row.get(ans), "note": (row.get(cols.get("note", "")) or "").strip() or None,
                        "photo": (row.get(cols.get("photo", "")) or "").strip() or None}
        return out
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(_("answers: malformed JSON at line {line} column {column}: {error}").format(
            line=e.lineno, column=e.colno, error=e.msg), "answers") from None
    if isinstance(data, dict) and isinstance(data.get("answers"), dict):
        data = data["answers"]
    if not isinstance(data, dict):
        raise InputError(_("answers: give a JSON object of item id → answer"), "answers")
    for k, v in data.items():
        if isinstance(v, dict):
            extra = set(v) - {"answer", "note", "photo"}
            if extra:
                raise InputError(_("answers: {item}: unknown key {key!r}; use answer, note, photo").format(
                    item=k, key=sorted(extra)[0]), "answers")
            if "answer" not in v:
                raise InputError(_("answers: {item}: missing \"answer\"").format(item=k), "answers")
            out[k] = {"answer": v["answer"], "note": v.get("note"), "photo": v.get("photo")}
        else:
            out[k] = {"answer": v, "note": None, "photo": None}
    return out


def check_entries(tpl: Template, items: list[str] | None, entries: dict[str, dict[str, Any]], answered: set[str],
                  blobs, base: Path | None = None) -> None:
    """Check an answers file against a template before anything is saved: unknown items, bad
    answers, missing photos, required items left unanswered. Raises InputError."""
    steps = [it for _s, it in tpl.items() if items is None or it.id in items]
    by_id = {it.id: it for it in steps}
    unknown = [k for k in entries if k not in by_id]
    if unknown:
        msg = (_("answers: {item}: no such item in this re-inspection of template {template} (`fieldreport "
                 "checklist template show {template} --json` lists the ids)") if items else
               _("answers: {item}: no such item in template {template} (`fieldreport checklist template show "
                 "{template} --json` lists the ids)"))
        raise InputError(msg.format(item=unknown[0], template=tpl.name), "answers")
    for k, e in entries.items():
        item = by_id[k]
        try:
            v = parse_answer(item, e["answer"])
            if item.type == "photo" and v != "na":
                blobs.check_photo(_resolve(v, base))
            if e.get("photo"):
                blobs.check_photo(_resolve(e["photo"], base))
        except InputError as err:
            raise InputError(_("answers: {error}").format(error=err), "answers") from None
    missing = [it.id for it in steps if it.required and it.id not in entries and it.id not in answered]
    if missing:
        raise InputError(_("answers: required item(s) not answered: {items}").format(items=", ".join(missing)),
                         "answers")


def _resolve(photo: str | None, base: Path | None) -> str | None:
    """A photo path as given, or relative to the answers file's folder."""
    if not photo:
        return None
    p = Path(str(photo)).expanduser()
    if not p.is_absolute() and not p.exists() and base is not None and (base / p).exists():
        p = base / p
    return str(p)


def apply_answers(walk: Walk, entries: dict[str, dict[str, Any]], base: Path | None = None) -> int:
    """Check every entry first (:func:`check_entries`): any problem → InputError and nothing
    is saved. Then save each answer in its own transaction; optional items not given are
    recorded as skipped. Returns the number of answers saved."""
    check_entries(walk.template, walk.inspection.get("items"), entries, set(walk.answers), walk.blobs, base)

    def resolve(p: str | None) -> str | None:
        return _resolve(p, base)

    n = 0
    for st in walk.steps:
        e = entries.get(st.item.id)
        if e is None:
            if st.item.id not in walk.answers:
                walk._save(st, None, None, None)
                n += 1
            continue
        raw = e["answer"]
        if st.item.type == "photo" and isinstance(raw, str) and raw.strip().lower() not in ("na", "不适用", "n/a"):
            raw = resolve(raw)
        walk.answer(raw, note=e.get("note"), photo=resolve(e.get("photo")), item_id=st.item.id)
        n += 1
    walk.pos = walk.first_open()
    return n


# ---------------------------------------------------------------- finishing
def summarise(walk: Walk) -> dict[str, Any]:
    """Counts (passed / failed by code / not applicable / skipped) and each item's outcome."""
    s: dict[str, Any] = {"passed": 0, "failed": {c: 0 for c in tx.FAIL_CODES}, "na": 0, "skipped": 0, "open": 0,
                         "items": []}
    for st in walk.steps:
        res, rule = walk.outcome_of(st.item)
        if res == "pass":
            s["passed"] += 1
        elif res == "fail":
            s["failed"][rule.code] += 1
        else:
            s[res] += 1
        entry = {"item_id": st.item.id, "outcome": res}
        if rule is not None:
            entry.update(code=rule.code, level=rule_level(st.item, rule), deadline_days=rule_deadline(st.item, rule),
                         dept=walk.template.dept_for(st.item.id))
        s["items"].append(entry)
    s["total"] = walk.total
    return s


def _answer_zh(item, value: Any) -> str:
    if value == "na":
        return "不适用"
    if item.type == "yesno":
        return {"yes": "是", "no": "否"}.get(value, str(value))
    if item.type == "choice":
        for o in item.options or []:
            if o.id == value:
                return o.text.zh
    if item.type == "number":
        return f"{value:g}{item.unit or ''}" if isinstance(value, (int, float)) else str(value)
    if item.type == "photo" and isinstance(value, dict):
        return f"照片 {value.get('name', '')}"
    return str(value)


def finding_zh(item, value: Any) -> str:
    """The failure in words: the item's ``finding``, else its question with the answer."""
    if item.finding:
        return item.finding.zh
    return f"{item.text.zh.rstrip('？?')}：{_answer_zh(item, value)}，不符合要求"


def hazard_fields(tpl: Template, prem: dict[str, Any], insp: dict[str, Any], item_id: str, value: Any,
                  note: str | None, rule, photo: dict[str, Any] | None, today: _dt.date) -> dict[str, Any]:
    """The hazard report for one failed item, worded as a finding with a recommendation."""
    item = tpl.item(item_id)
    days = rule_deadline(item, rule)
    deadline = today + _dt.timedelta(days=days)
    dept = tpl.dept_for(item_id)
    title = f"{prem['name']}：{finding_zh(item, value)}"[:200]
    advice = ADVICE_ZH[rule.code].format(deadline=deadline.isoformat(), dept=tx.name(tx.DEPARTMENTS, dept, "zh") or
                                         "主管部门")
    lines = [f"检查项：{item.text.zh}", f"检查结果：{_answer_zh(item, value)}（{rule.code} {tx.FAIL_CODES[rule.code][0]}）",
             f"整改建议：{advice}"]
    if item.basis:
        lines.append(f"依据：{item.basis}")
    if note:
        lines.append(f"备注：{note}")
    lines.append(f"检查记录 {insp['ref']}（模板 {tpl.name} 第{tpl.version}版）")
    out = {"kind": "hazard", "category": tpl.category_for(item_id), "level": rule_level(item, rule), "title": title,
           "details": "\n".join(lines), "place": prem.get("address") or prem["name"], "premises_id": prem["id"],
           "inspection_id": insp["id"], "item_id": item_id, "dept": dept, "deadline": deadline.isoformat(),
           "photos": []}
    for ph in (value if isinstance(value, dict) and "sha256" in value else None, photo):
        if ph:
            out["photos"].append(ph)
    return out


def _path_to(start: str, goal: str) -> list[str]:
    """The shortest legal chain of statuses from ``start`` to ``goal`` (excluding ``start``)."""
    prev: dict[str, str | None] = {start: None}
    q = deque([start])
    while q:
        s = q.popleft()
        if s == goal:
            break
        for n in tx.TRANSITIONS.get(s, ()):
            if n not in prev:
                prev[n] = s
                q.append(n)
    if goal not in prev:
        return []
    chain = []
    s: str | None = goal
    while s is not None and s != start:
        chain.append(s)
        s = prev[s]
    return chain[::-1]


def close_hazard(store, report_id: str, note: str, author: str | None) -> list[dict[str, Any]]:
    """Move a hazard report along the legal workflow to re-inspected, then closed."""

    def check(cur, _changes):
        chain = _path_to(cur["status"], "reinspected") if cur["status"] != "reinspected" else []
        chain = chain + ["closed"] if cur["status"] != "closed" else []
        if not chain and cur["status"] != "closed":
            raise InputError(_("{ref}: cannot be closed from {status}").format(ref=cur["ref"], status=cur["status"]))
        changes, frm = [], cur["status"]
        for to in chain:
            changes.append(("report.status", {"from": frm, "to": to, "note": note if to == "reinspected" else None,
                                              "author": author}))
            frm = to
        return changes

    return store.update_report(report_id, [], check=check)


def finish(store, blobs, walk: Walk, *, author: str | None, today: _dt.date | None = None) -> dict[str, Any]:
    """Finish the inspection: hazard reports for failures (once each, even if finishing is
    run again after a crash), closing of re-inspected ones, then the inspection record."""
    from .. import reports

    if not walk.complete():
        missing = [st.item.id for st in walk.steps if st.item.id not in walk.answers]
        raise InputError(_("inspection: {n} item(s) not answered yet ({items}); continue with "
                           "`fieldreport checklist resume {ref}`").format(
            n=len(missing), items=", ".join(missing[:5]), ref=walk.inspection["ref"]), "inspection")
    today = today or _dt.date.today()
    insp = walk.inspection
    prem = cs.premises(store, insp["premises_id"])
    summ = summarise(walk)
    created, closed, still_open = [], [], []
    recheck = insp.get("items") is not None
    opens = cs.open_hazards(store, prem["id"]) if recheck else []
    for entry in summ["items"]:
        item_id = entry["item_id"]
        a = walk.answers[item_id]
        if recheck:
            mine = [h for h in opens if h["item_id"] == item_id]
            if entry["outcome"] == "pass":
                for h in mine:
                    close_hazard(store, h["id"], f"复查通过（检查记录 {insp['ref']}）", author)
                    closed.append({"id": h["id"], "ref": h["ref"], "item_id": item_id})
            elif entry["outcome"] == "fail":
                for h in mine:
                    store.update_report(h["id"], [("report.note", {
                        "note_id": ids.uuid7(),
                        "text": f"复查（检查记录 {insp['ref']}）：尚未整改完毕，建议继续整改。", "author": author})])
                    still_open.append({"id": h["id"], "ref": h["ref"], "item_id": item_id})
            continue
        if entry["outcome"] != "fail":
            continue
        have = cs.hazard_for_item(store, insp["id"], item_id)
        if have is None:
            rule = walk.outcome_of(walk.template.item(item_id))[1]
            fields = hazard_fields(walk.template, prem, insp, item_id, a["answer"], a["note"], rule, a["photo"], today)
            have = dict(reports.add(store, blobs, fields, author=author), deadline=fields["deadline"],
                        level=fields["level"], dept=fields["dept"])
        created.append({"id": have["id"], "ref": have["ref"], "item_id": item_id, "code": entry["code"],
                        "level": have["level"], "dept": have["dept"], "deadline": have["deadline"]})
    summ["hazards"] = created
    summ["closed"] = closed
    summ["still_open"] = still_open
    res = cs.finish_inspection(store, insp["id"], summ)
    summ["finished_at"] = res["finished_at"]
    summ["inspection"] = {"id": insp["id"], "ref": insp["ref"]}
    return summ
