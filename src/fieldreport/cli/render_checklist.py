"""Rendering (rich) and the interactive walk-through prompt loop for premises and checklists.
The loop only reads keys and calls the :class:`~fieldreport.checklist.walk.Walk` engine,
which saves every answer the moment it is given."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from .. import taxonomy as tx
from ..errors import InputError
from ..i18n import _, lang
from .render import local_time
from .term import console, err, styled


def _n(vocab, code):
    return tx.name(vocab, code, lang())


def _fmt_answer(item, value: Any) -> str:
    if value is None:
        return _("skipped")
    if value == "na":
        return _("n/a")
    if item.type == "yesno":
        return _("yes") if value == "yes" else _("no")
    if item.type == "choice":
        for o in item.options or []:
            if o.id == value:
                return o.text.get(lang())
    if item.type == "number":
        return f"{value:g} {item.unit or ''}".strip() if isinstance(value, (int, float)) else str(value)
    if item.type == "photo" and isinstance(value, dict):
        return _("photo") + f" {value.get('name', '')}"
    return str(value)


OUTCOME_STYLE = {"pass": "green", "fail": "bold red", "na": "dim", "skipped": "dim", "open": ""}


def _outcome(res: str, code: str | None = None) -> Text:
    label = {"pass": _("passed"), "fail": _("failed"), "na": _("n/a"), "skipped": _("skipped"),
             "open": _("not answered")}.get(res, res)
    if code:
        label += f" ({code})"
    style = OUTCOME_STYLE.get(res)
    return Text(label, style=style or "")


# ---------------------------------------------------------------- the walk
def _question(walk, st) -> None:
    it = st.item
    L = lang()
    console.print()
    console.print(styled((st.section.title.get(L), "bold cyan"), "  ", (walk.progress(), "dim")))
    console.print(styled((it.text.get(L), "bold"), *(() if it.required else ("  ", (_("(optional)"), "dim")))))
    if it.type == "yesno":
        console.print("  " + _("Answer: y = yes, n = no, na = not applicable (是/否/不适用)"))
    elif it.type == "choice":
        for i, o in enumerate(it.options or [], start=1):
            console.print(f"  {i}. {o.text.get(L)}")
    elif it.type == "number":
        rng = ""
        if it.min is not None or it.max is not None:
            rng = " " + _("from {lo} to {hi}").format(lo="…" if it.min is None else f"{it.min:g}",
                                                      hi="…" if it.max is None else f"{it.max:g}")
        console.print("  " + _("Answer: a number") + (f" ({it.unit})" if it.unit else "") + rng)
    elif it.type == "photo":
        console.print("  " + _("Answer: the path of a photo file"))
    else:
        console.print("  " + _("Answer: text"))
    cur = walk.answers.get(it.id)
    if cur is not None:
        console.print("  " + _("Current answer: {answer} (Enter keeps it)").format(
            answer=_fmt_answer(it, cur["answer"])), style="dim")
    console.print("  " + _("? hint · b back · s skip · l list · m note · f photo · p pause · answer # note"), style="dim")


def _hint(st) -> None:
    it = st.item
    L = lang()
    if it.hint:
        console.print("  " + it.hint.get(L), style="yellow")
    if it.basis:
        console.print("  " + _("Legal basis: {basis}").format(basis=it.basis))
    for rule in it.fail:
        console.print("  " + _("Fails when: {when} → {code} {name}").format(
            when=rule.when, code=rule.code, name=tx.name(tx.FAIL_CODES, rule.code, L)))
    if not it.hint and not it.basis and not it.fail:
        console.print("  " + _("No hint for this item."))


def listing(walk) -> None:
    t = Table(show_lines=False)
    for h in ("#", _("Section"), _("Item"), _("Answer"), _("Result")):
        t.add_column(h, overflow="fold")
    for row in walk.listing():
        item = walk.template.item(row["item_id"])
        ans = _fmt_answer(item, row["answer"]) if row["item_id"] in walk.answers else ""
        mark = "▶ " if row["current"] else ""
        t.add_row(f"{mark}{row['n']}", row["section"], row["text"], ans, _outcome(row["outcome"], row["code"]))
    console.print(t)


def _ask(prompt: str) -> str:
    return console.input(prompt, markup=False, emoji=False)


def walk(walk, *, resumed: bool = False) -> str:
    """Run the prompt loop. Returns ``finish``, ``paused`` or ``interrupted`` (Ctrl-C/EOF)."""
    ins = walk.inspection
    head = _("Inspection {ref} of {name} — template {tpl} version {v}").format(
        ref=ins["ref"], name=ins["premises_name"], tpl=walk.template.name, v=walk.template.version)
    console.print(head, style="bold")
    if resumed and walk.answered_count():
        console.print(_("Continuing: {n} of {total} item(s) already answered and kept.").format(
            n=walk.answered_count(), total=walk.total))
    note: str | None = None
    photo: str | None = None
    try:
        while True:
            if walk.done():
                if not walk.complete():
                    walk.pos = walk.first_open()
                    continue
                console.print()
                console.print(_("All {n} item(s) answered.").format(n=walk.total))
                ans = _ask(_("Enter = finish and record the findings, b = back, l = list, p = pause: ")).strip().lower()
                if ans == "":
                    return "finish"
                if ans == "b":
                    walk.back()
                elif ans == "l":
                    listing(walk)
                elif ans == "p":
                    return "paused"
                continue
            st = walk.current()
            _question(walk, st)
            raw = _ask("> ")
            cmd = raw.strip()
            low = cmd.lower()
            if low == "?":
                _hint(st)
                continue
            if low == "b":
                if not walk.back():
                    err.print(_("This is the first item."))
                note = photo = None
                continue
            if low == "s":
                try:
                    walk.skip()
                except InputError as e:
                    err.print(str(e))
                continue
            if low == "l":
                listing(walk)
                continue
            if low == "p":
                return "paused"
            if low == "m":
                note = _ask(_("Note: ")).strip() or None
                if st.item.id in walk.answers:
                    walk.annotate(note=note, item_id=st.item.id)
                    note = None
                    console.print(_("Note saved."))
                continue
            if low == "f":
                photo = _ask(_("Photo file: ")).strip() or None
                if photo and st.item.id in walk.answers:
                    try:
                        walk.annotate(photo=photo, item_id=st.item.id)
                        console.print(_("Photo saved."))
                    except InputError as e:
                        err.print(str(e))
                    photo = None
                continue
            if cmd == "":
                if not walk.keep():
                    err.print(_("Type an answer (or ? for a hint, s to skip an optional item)."))
                continue
            if " #" in cmd or cmd.startswith("#"):
                cmd, _sep, inline = cmd.partition("#")
                cmd = cmd.strip()
                note = inline.strip() or note
            try:
                res, rule = walk.answer(cmd, note=note, photo=photo)
            except InputError as e:
                err.print(str(e))
                continue
            note = photo = None
            if res == "fail":
                console.print("  " + _("Finding: {code} {name}").format(
                    code=rule.code, name=tx.name(tx.FAIL_CODES, rule.code, lang())), style="bold red")
                extra = _ask(_("Note on the finding (Enter for none): ")).strip()
                pic = _ask(_("Photo file (Enter for none): ")).strip()
                if extra or pic:
                    try:
                        walk.annotate(note=extra or None, photo=pic or None, item_id=st.item.id)
                    except InputError as e:
                        err.print(str(e))
            else:
                console.print(styled("  ", _outcome(res)))
    except (KeyboardInterrupt, EOFError):
        return "interrupted"


def paused(walk, state: str) -> None:
    console.print()
    console.print(_("Paused at {pos}: {n} of {total} item(s) answered, all saved. Continue with: fieldreport "
                    "checklist resume {ref}").format(pos=walk.progress(), n=walk.answered_count(), total=walk.total,
                                                     ref=walk.inspection["ref"]))


def summary(walk, s: dict[str, Any]) -> None:
    t = Table(title=_("Inspection {ref} — summary").format(ref=s["inspection"]["ref"]))
    t.add_column(_("Result"))
    t.add_column(_("Items"), justify="right")
    t.add_row(_("passed"), str(s["passed"]))
    for code, n in s["failed"].items():
        t.add_row(_("failed") + f" {code} — {tx.name(tx.FAIL_CODES, code, lang())}", str(n))
    t.add_row(_("not applicable"), str(s["na"]))
    t.add_row(_("skipped"), str(s["skipped"]))
    t.add_row(Text(_("total"), style="bold"), str(s["total"]))
    console.print(t)
    if s["hazards"]:
        ht = Table(title=_("Hazard reports recorded (rectification recommended)"))
        for h in (_("Ref"), _("Finding"), _("Code"), _("Level"), _("Department"), _("Deadline")):
            ht.add_column(h, overflow="fold")
        for h in s["hazards"]:
            item = walk.template.item(h["item_id"])
            what = (item.finding or item.text).get(lang())
            ht.add_row(h["ref"], what, h["code"], _n(tx.LEVELS, h.get("level")), _n(tx.DEPARTMENTS, h.get("dept")) or "—",
                       h.get("deadline") or "—")
        console.print(ht)
    if s.get("closed"):
        console.print(_("Re-inspection passed, closed: {refs}").format(refs=", ".join(h["ref"] for h in s["closed"])))
    if s.get("still_open"):
        console.print(_("Still not rectified (kept open): {refs}").format(
            refs=", ".join(h["ref"] for h in s["still_open"])))
    console.print(_("Queued for the hub. Print the advice sheet with: fieldreport checklist print {ref} --out "
                    "sheet.html").format(ref=s["inspection"]["ref"]))


# ---------------------------------------------------------------- tables
def template_table(rows: list[dict[str, Any]]) -> None:
    t = Table()
    for h in (_("Name"), _("Version"), _("Premises type"), _("Title"), _("Items"), _("Source")):
        t.add_column(h, overflow="fold")
    for r in rows:
        t.add_row(r["name"], str(r["version"]), _n(tx.PREMISES_TYPES, r["premises_type"]),
                  r["title"]["zh" if lang() == "zh" else "en"], str(r["items"]), r["source"])
    console.print(t)


def template_detail(tpl, source: str) -> None:
    L = lang()
    console.print(styled((tpl.title.get(L), "bold"), f"  {tpl.name} v{tpl.version} ({source}) — "
                         f"{_n(tx.PREMISES_TYPES, tpl.premises_type)}"))
    for s in tpl.sections:
        t = Table(title=s.title.get(L), title_justify="left")
        for h in (_("Id"), _("Question"), _("Type"), _("Fails when"), _("Code"), _("Days"), _("Department"),
                  _("Legal basis")):
            t.add_column(h, overflow="fold")
        for it in s.items:
            when = "; ".join(str(r.when) + (f" & {r.if_item}={r.if_answer}" if r.if_item else "") for r in it.fail)
            codes = "/".join(r.code for r in it.fail)
            from ..checklist.template import rule_deadline

            days = "/".join(str(rule_deadline(it, r)) for r in it.fail)
            typ = it.type + (f" ({it.unit})" if it.unit else "") + ("" if it.required else " ?")
            t.add_row(it.id, it.text.get(L), typ, when, codes, days, _n(tx.DEPARTMENTS, tpl.dept_for(it.id)) or "",
                      it.basis)
        console.print(t)


def inspection_table(rows: list[dict[str, Any]]) -> None:
    if not rows:
        console.print(_("No inspections yet."))
        return
    t = Table()
    for h in (_("Ref"), _("Premises"), _("Template"), _("Status"), _("Answered"), _("Failed"), _("Started"),
              _("Finished")):
        t.add_column(h, overflow="fold")
    for r in rows:
        failed = sum((r["summary"] or {}).get("failed", {}).values()) if r.get("summary") else ""
        total = len(r["items"]) if r.get("items") is not None else ""
        kind = " " + _("(re-inspection)") if r.get("recheck_of") else ""
        t.add_row(r["ref"], f"{r['premises_ref']} {r['premises_name']}", f"{r['template']} v{r['template_version']}",
                  (_("in progress") if r["status"] == "in_progress" else _("finished")) + kind,
                  f"{r['answered']}" + (f"/{total}" if total != "" else ""), str(failed),
                  local_time(r["started_at"]), local_time(r.get("finished_at")))
    console.print(t)


def premises_table(rows: list[dict[str, Any]]) -> None:
    if not rows:
        console.print(_("No premises yet: add one with `fieldreport premises add` or `premises import`."))
        return
    t = Table()
    for h in (_("Ref"), _("Name"), _("Type"), _("Address"), _("Risk"), _("Every"), _("Last inspection"),
              _("Result"), _("Open hazards")):
        t.add_column(h, overflow="fold")
    for r in rows:
        res = {"passed": _("passed"), "failed": _("failed")}.get(r.get("last_result") or "", "—")
        t.add_row(r["ref"], r["name"], _n(tx.PREMISES_TYPES, r["type"]), r["address"], _n(tx.LEVELS, r["risk"]) or "—",
                  _("{n} d").format(n=r["interval_days"]), local_time(r.get("last_inspected_at")) or "—", res,
                  str(r.get("open_hazards", 0)))
    console.print(t)


def premises_detail(p: dict[str, Any]) -> None:
    t = Table(show_header=False, box=None)
    for label, v in ((_("Ref"), p["ref"]), (_("Id"), p["id"]), (_("Name"), p["name"]),
                     (_("Type"), _n(tx.PREMISES_TYPES, p["type"])), (_("Address"), p["address"]),
                     (_("Area"), p["area"]), (_("Grid"), p["grid"]), (_("Contact"), p["contact"]),
                     (_("Phone"), p["phone"] or ""), (_("Licence"), p["licence"]),
                     (_("Risk"), _n(tx.LEVELS, p["risk"]) or "—"),
                     (_("Interval"), _("{n} d").format(n=p["interval_days"])), (_("Notes"), p["notes"]),
                     (_("Last inspection"), local_time(p.get("last_inspected_at")) or "—")):
        t.add_row(Text(label, style="bold"), str(v or ""))
    console.print(t)
    if p.get("inspections"):
        inspection_table(p["inspections"])
    if p.get("open_hazards"):
        ht = Table(title=_("Open hazards"))
        for h in (_("Ref"), _("Title"), _("Status"), _("Deadline")):
            ht.add_column(h, overflow="fold")
        for h in p["open_hazards"]:
            ht.add_row(h["ref"], h["title"], _n(tx.STATUSES, h["status"]), h.get("deadline") or "—")
        console.print(ht)


def due(res: dict[str, Any]) -> None:
    if res["premises"]:
        t = Table(title=_("Inspections due by {date}").format(date=res["today"]) if not res["within_days"] else
                  _("Inspections overdue or due within {n} day(s)").format(n=res["within_days"]))
        for h in (_("Ref"), _("Name"), _("Type"), _("Due"), _("Last inspection"), _("Open hazards")):
            t.add_column(h, overflow="fold")
        for p in res["premises"]:
            when = p["due"] + (" " + _("({n} d overdue)").format(n=p["days_overdue"]) if p["days_overdue"] > 0 else "")
            t.add_row(p["ref"], p["name"], _n(tx.PREMISES_TYPES, p["type"]), when,
                      local_time(p["last_inspected_at"]) or _("never"), str(p["open_hazards"]))
        console.print(t)
    else:
        console.print(_("No premises due for inspection."))
    if res["hazards"]:
        t = Table(title=_("Hazards past their rectification deadline (re-inspection due)"))
        for h in (_("Ref"), _("Premises"), _("Title"), _("Deadline"), _("Status")):
            t.add_column(h, overflow="fold")
        for h in res["hazards"]:
            t.add_row(h["ref"], f"{h.get('premises_ref') or ''} {h.get('premises_name') or ''}".strip(), h["title"],
                      h["deadline"] + " " + _("({n} d overdue)").format(n=h["days_overdue"]),
                      _n(tx.STATUSES, h["status"]))
        console.print(t)
    else:
        console.print(_("No hazards past their deadline."))
