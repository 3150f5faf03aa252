"""All terminal rendering (rich) and prompting. Imported only by commands that draw."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from rich.table import Table
from rich.text import Text

from .. import taxonomy as tx
from ..i18n import _, lang
from .term import console, err, styled


def _n(vocab, code):
    return tx.name(vocab, code, lang())


def local_time(ts: str | None) -> str:
    """An ISO timestamp shown in the local zone (Asia/Shanghai for zh when the system has none)."""
    if not ts:
        return ""
    try:
        d = _dt.datetime.fromisoformat(ts)
    except ValueError:
        return ts
    return d.astimezone(display_zone()).strftime("%Y-%m-%d %H:%M")


def display_zone():
    import os

    name = os.environ.get("FIELDREPORT_TZ")
    if not name and lang() == "zh" and not os.environ.get("TZ"):
        name = "Asia/Shanghai"
    if name:
        try:
            from zoneinfo import ZoneInfo

            return ZoneInfo(name)
        except Exception:  # noqa: BLE001
            return None
    return None


def confirm(question: str, default: bool = False) -> bool:
    from rich.prompt import Confirm

    return Confirm.ask(Text(question), default=default, console=console)


def ask_choice(label: str, vocab: dict[str, tuple[str, str]], codes: list[str] | None = None,
               default: str | None = None) -> str:
    from rich.prompt import Prompt

    codes = codes or list(vocab)
    for i, c in enumerate(codes, start=1):
        console.print(styled("  ", (f"{i:>2}", "bold"), f" {c:<20} {_n(vocab, c)}"))
    while True:
        ans = Prompt.ask(Text(label), console=console, default=default)
        if ans is None:
            continue
        ans = ans.strip()
        if ans.isdigit() and 1 <= int(ans) <= len(codes):
            return codes[int(ans) - 1]
        code = tx.resolve({c: vocab[c] for c in codes}, ans)
        if code:
            return code
        err.print(_("Not one of the choices; type its number or its name."))


def ask_text(label: str, default: str | None = None, required: bool = True) -> str:
    from rich.prompt import Prompt

    while True:
        v = Prompt.ask(Text(label), console=console, default=default)
        if v and v.strip() or not required:
            return (v or "").strip()
        err.print(_("This field is required."))


def ask_report(data: dict[str, Any], missing: list[str]) -> dict[str, Any]:
    data = dict(data)
    if "kind" in missing or not data.get("kind"):
        data["kind"] = ask_choice(_("Kind"), tx.KINDS)
    kind = tx.resolve_field("kind", data["kind"]) or data["kind"]
    if kind != "zero" and not data.get("category"):
        data["category"] = ask_choice(_("Category"), tx.CATEGORIES[kind])
    if kind != "zero" and not data.get("level"):
        data["level"] = ask_choice(_("Level"), tx.LEVELS, list(tx.levels_for(kind)))
    if not data.get("title"):
        data["title"] = ask_text(_("Title"))
    if "details" not in data:
        data["details"] = ask_text(_("Details (optional)"), default="", required=False)
    if "place" not in data:
        data["place"] = ask_text(_("Place (optional)"), default="", required=False)
    return data


def ask_profile(missing: list[str], values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    labels = {"name": _("Your name"), "officer_id": _("Officer / badge id"), "station": _("Police station"),
              "area": _("Community or village"), "grid": _("Grid (optional)"), "hub_url": _("Hub URL (optional)")}
    for f in missing:
        if f == "role":
            out["role"] = ask_choice(_("Role"), tx.ROLES, default=None)
        elif f == "lang":
            out["lang"] = ask_text(_("Interface language (zh/en)"), default=values.get("lang") or "zh")
        else:
            v = ask_text(labels[f], default=values.get(f) or None, required=f not in ("grid", "hub_url"))
            if v or f not in ("grid", "hub_url"):
                out[f] = v
    return out


def profile(p) -> None:
    t = Table(show_header=False, box=None)
    for label, value in ((_("Name"), p.name), (_("Officer id"), p.officer_id), (_("Role"), _n(tx.ROLES, p.role)),
                         (_("Station"), p.station), (_("Area"), p.area), (_("Grid"), p.grid or "—"),
                         (_("Language"), p.lang), (_("Hub"), p.hub_url or "—"), (_("Device"), p.device_id)):
        t.add_row(Text(label, style="bold"), str(value))
    console.print(t)


def saved_profile(p, paths) -> None:
    profile(p)
    console.print(_("Profile saved in {path}").format(path=paths.profile))


def report_table(rows: list[dict[str, Any]]) -> None:
    if not rows:
        console.print(_("No reports match."))
        return
    t = Table(show_lines=False)
    for h in (_("Ref"), _("Kind"), _("Category"), _("Level"), _("Title"), _("Place"), _("Status"), _("Parties"),
              _("Created"), _("Sync")):
        t.add_column(h, overflow="fold", no_wrap=h == _("Ref"))  # a ref is read out whole over the radio
    for r in rows:
        cats = tx.CATEGORIES.get(r["kind"], {})
        parties = ", ".join(f"{p['name']}{' ' + p['phone'] if p.get('phone') else ''}" for p in r.get("parties") or [])
        t.add_row(r["ref"], _n(tx.KINDS, r["kind"]), tx.name(cats, r["category"], lang()), _n(tx.LEVELS, r["level"]),
                  r["title"], r["place"], _n(tx.STATUSES, r["status"]), parties, local_time(r["created_at"]),
                  "✓" if not r.get("unsynced") else "…")
    console.print(t)
    console.print(_("{n} report(s); … = not yet confirmed by the hub").format(n=len(rows)))


def report_detail(r: dict[str, Any], hist: list[dict[str, Any]]) -> None:
    cats = tx.CATEGORIES.get(r["kind"], {})
    t = Table(show_header=False, box=None)
    rows = [(_("Ref"), r["ref"]), (_("Id"), r["id"]), (_("Case code"), r.get("case_code") or "—"),
            (_("Kind"), _n(tx.KINDS, r["kind"])), (_("Category"), tx.name(cats, r["category"], lang())),
            (_("Level"), _n(tx.LEVELS, r["level"])), (_("Status"), _n(tx.STATUSES, r["status"])),
            (_("Title"), r["title"]), (_("Details"), r["details"]), (_("Place"), r["place"]),
            (_("Coordinates"), f"{r['lat']}, {r['lon']}" if r.get("lat") is not None else "—"),
            (_("Department"), _n(tx.DEPARTMENTS, r["dept"]) or "—"), (_("Deadline"), r.get("deadline") or "—"),
            (_("Assigned to"), r.get("assigned_to") or "—"), (_("Created"), local_time(r["created_at"])),
            (_("Archived"), _("yes") if r.get("archived") else _("no")),
            (_("Sync"), _("confirmed by the hub") if not r.get("unsynced") else
             _("{n} change(s) not yet confirmed").format(n=r["unsynced"]))]
    for label, value in rows:
        t.add_row(Text(label, style="bold"), str(value) if value is not None else "")
    console.print(t)
    if r.get("parties"):
        pt = Table(title=_("Parties"))
        for h in (_("Name"), _("Role"), _("ID number"), _("Phone"), _("Address")):
            pt.add_column(h)
        for p in r["parties"]:
            pt.add_row(p["name"], _n(tx.PARTY_ROLES, p["role"]),
                       (p.get("id") or "") + ("" if p.get("id_verified", True) else " ⚠"), p.get("phone") or "",
                       p.get("address") or "")
        console.print(pt)
    if r.get("photos"):
        ph = Table(title=_("Photos"))
        for h in (_("Name"), "sha256", _("Size")):
            ph.add_column(h)
        for p in r["photos"]:
            ph.add_row(p["name"], p["sha256"][:16] + "…", f"{p['size'] / 1024:.0f} KB")
        console.print(ph)
    ht = Table(title=_("History"))
    for h in (_("Time"), _("From"), _("Change"), _("Sync")):
        ht.add_column(h, overflow="fold")
    for h in hist:
        ht.add_row(local_time(h["ts"]), _("this laptop") if h["source"] == "local" else _("hub"),
                   describe(h), _state(h))
    console.print(ht)


def _state(h):
    if h["source"] != "local":
        return ""
    return state_name(h.get("state"))


def state_name(state: str | None) -> str:
    """An outbox entry's state in the interface language."""
    return {"pending": _("queued"), "acked": _("confirmed"), "rejected": _("rejected"), "conflict": _("conflict"),
            "discarded": _("discarded")}.get(state, state or "")


def describe(h: dict[str, Any]) -> str:
    p, t = h["payload"], h["type"]
    if t == "report.create":
        return _("created")
    if t == "report.status":
        s = f"{_n(tx.STATUSES, p.get('from'))} → {_n(tx.STATUSES, p.get('to'))}"
        return s + (f": {p['note']}" if p.get("note") else "")
    if t == "report.set":
        return f"{p['field']}: {p.get('old')} → {p.get('new')}"
    if t == "report.note":
        return _("note") + ": " + p.get("text", "")
    if t == "report.photo":
        return _("photo") + f" {p.get('name', '')} {p.get('sha256', '')[:12]}"
    if t == "report.archive":
        return _("archived") if p.get("archived") else _("unarchived")
    if t == "report.case_code":
        return _("case code") + f" {p.get('case_code')}"
    if t == "report.route":
        return _("routed to") + f" {_n(tx.DEPARTMENTS, p.get('dept'))}"
    if t == "report.assign":
        return _("assigned to") + f" {p.get('officer_id')}"
    return t


def status(s: dict[str, Any]) -> None:
    console.print(_("Device {dev} — {name} ({officer})").format(dev=s["device_id"], name=s["officer"]["name"],
                                                               officer=s["officer"]["officer_id"]))
    if s["queued"]:
        others = {"inspection": _("inspections"), "premises": _("premises")}
        by = ", ".join(f"{_n(tx.KINDS, k) if k in tx.KINDS else others.get(k, k)} {n}"
                       for k, n in sorted(s["queued_by_kind"].items()))
        console.print(_("Queued for the hub: {n} change(s) ({by})").format(n=s["queued"], by=by))
    else:
        console.print(_("Nothing queued: the hub has everything."))
    if s["rejected"] or s["conflicts"]:
        console.print(_("Rejected by the hub: {r}, conflicts: {c} — see `fieldreport outbox`").format(
            r=s["rejected"], c=s["conflicts"]), style="bold red")
        for d in s["dead_letters"][:10]:
            console.print(f"  #{d['seq']} {d['type']} {d['entity'][:13]}… {state_name(d['state'])}: "
                          f"{d.get('message') or ''}")
    console.print(_("Last sync: {when}").format(when=local_time(s["last_sync"]) or _("never")))
    if s.get("next_attempt_at"):
        console.print(_("Next attempt not before: {when}").format(when=local_time(s["next_attempt_at"])))
    console.print(_("Hub: {url}").format(url=s["hub_url"] or _("not set (fieldreport init --hub URL)")) +
                  ("" if s["enrolled"] else "  " + _("(not enrolled: fieldreport login HUB_URL CODE)")))
    console.print(_("Store: {path} ({size:.1f} MB, {n} reports)").format(path=s["store_path"],
                                                                     size=s["store_bytes"] / 1e6, n=s["reports"]))
    if "encrypted" in s:
        console.print(_("Encryption: on (store and photos)") if s["encrypted"] else
                      _("Encryption: off — `fieldreport encrypt` protects the data if this laptop is lost"))
    orig = s.get("originals_local_only") or {}
    if orig.get("count"):
        console.print(_("Photo originals on this laptop only: {n} ({size:.1f} MB). Small copies go with every sync; "
                        "send the originals on the station's Wi-Fi with `fieldreport sync --originals`.").format(
                            n=orig["count"], size=orig["bytes"] / 1e6))
