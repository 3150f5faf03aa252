"""Terminal rendering (rich) of the ``fieldreport hub`` commands."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from .. import taxonomy as tx
from ..i18n import _, lang
from .render import console, err, local_time


def _n(vocab, code):
    return tx.name(vocab, code, lang())


def initialised(out: dict[str, Any]) -> None:
    console.print(_("Hub ready in {dir} (database {db}, epoch {epoch}, case codes {prefix}-YYYY-NNNNNN).").format(
        dir=out["data_dir"], db=out["db"], epoch=out["epoch"], prefix=out["case_prefix"]))
    console.print(_("Next: `fieldreport hub enroll` for each officer, then `fieldreport hub serve`."))


def code(out: dict[str, Any]) -> None:
    console.print(_("Enrollment code for {officer}: {code}").format(officer=out["officer_id"], code=out["code"]))
    console.print(_("It works once and expires at {when}. On the laptop: fieldreport login HUB_URL {code}").format(
        when=local_time(out["expires_at"]), code=out["code"]))


def devices(rows: list[dict[str, Any]]) -> None:
    if not rows:
        console.print(_("No laptop is enrolled yet: `fieldreport hub enroll` issues a code."))
        return
    t = Table()
    for h in (_("Device"), _("Officer"), _("Name"), _("Area"), _("Enrolled"), _("Last seen"), _("Acknowledged"),
              _("State")):
        t.add_column(h, overflow="fold")
    for d in rows:
        t.add_row(d["device_id"], d["officer_id"], d["officer_name"], d["area"] or "", local_time(d["enrolled_at"]),
                  local_time(d["last_seen_at"]) or "—", str(d["acked_through"]),
                  _("revoked") if d["revoked_at"] else _("active"))
    console.print(t)


def revoked(device_id: str) -> None:
    console.print(_("Device {dev} is revoked: its token no longer works.").format(dev=device_id))


def reports(rows: list[dict[str, Any]]) -> None:
    if not rows:
        console.print(_("No reports match."))
        return
    t = Table()
    t.add_column(_("Case code"), no_wrap=True)
    for h in (_("Kind"), _("Level"), _("Title"), _("Area"), _("Status"), _("Department"), _("Assigned to"),
              _("Received")):
        t.add_column(h, overflow="fold")
    for r in rows:
        t.add_row(r["case_code"], _n(tx.KINDS, r["kind"]), _n(tx.LEVELS, r["level"]), r["title"], r["area"] or "",
                  _n(tx.STATUSES, r["status"]), _n(tx.DEPARTMENTS, r["dept"]) or "—", r["assigned_to"] or "—",
                  local_time(r["received_at"]))
    console.print(t)
    console.print(_("{n} report(s)").format(n=len(rows)))


CSV_COLUMNS = ("case_code", "id", "ref", "kind", "category", "level", "title", "place", "area", "status", "dept",
               "assigned_to", "deadline", "device_id", "officer_id", "author", "created_at", "received_at",
               "updated_at")


def reports_csv(rows: list[dict[str, Any]]) -> None:
    """The reports as CSV on stdout: stable English codes and column names, like --json."""
    import csv
    import sys

    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in rows:
        w.writerow(["" if r.get(k) is None else r.get(k) for k in CSV_COLUMNS])


def report(r: dict[str, Any]) -> None:
    cats = tx.CATEGORIES.get(r["kind"], {})
    t = Table(show_header=False, box=None)
    for label, value in ((_("Case code"), r["case_code"]), (_("Id"), r["id"]), (_("Kind"), _n(tx.KINDS, r["kind"])),
                         (_("Category"), tx.name(cats, r["category"], lang())), (_("Level"), _n(tx.LEVELS, r["level"])),
                         (_("Status"), _n(tx.STATUSES, r["status"])), (_("Title"), r["title"]),
                         (_("Details"), r["details"]), (_("Place"), r["place"]), (_("Area"), r["area"] or ""),
                         (_("Reported by"), r["officer_id"]), (_("Department"), _n(tx.DEPARTMENTS, r["dept"]) or "—"),
                         (_("Assigned to"), r["assigned_to"] or "—"), (_("Deadline"), r["deadline"] or "—"),
                         (_("Created"), local_time(r["created_at"])), (_("Received"), local_time(r["received_at"]))):
        t.add_row(Text(label, style="bold"), str(value or ""))
    console.print(t)
    for p in r.get("parties") or []:
        console.print(f"  {p['name']} ({_n(tx.PARTY_ROLES, p['role'])}) {p.get('id') or ''} {p.get('phone') or ''}")
    for p in r.get("photos") or []:
        console.print(f"  {_('photo')} {p['name']} {p['sha256'][:16]}…")
    ht = Table(title=_("History"))
    for h in (_("Time"), _("From"), _("Change")):
        ht.add_column(h, overflow="fold")
    for h in r.get("history") or []:
        detail = {k: v for k, v in h.items() if k not in ("type", "source", "by", "at")}
        ht.add_row(local_time(h["at"]), _("station") if h["source"] == "station" else _("field"),
                   f"{h['type']} {detail}")
    console.print(ht)
    for n in r.get("notes") or []:
        console.print(f"  {local_time(n['created_at'])} [{n['source']}] {n['text']}")


def decided(out: dict[str, Any]) -> None:
    console.print(_("{code}: recorded {changes}; the field gets it at the next sync.").format(
        code=out["case_code"], changes=", ".join(out["changes"])))


def published(out: dict[str, Any]) -> None:
    console.print(_("Template {id} version {version} published to every laptop.").format(**out))


def backed_up(out: dict[str, Any]) -> None:
    console.print(_("Backup written to {file}.").format(**out))


def restored(out: dict[str, Any]) -> None:
    console.print(_("Restored. New epoch {epoch}: each laptop re-sends at its next sync what the hub may have "
                    "lost.").format(**out))


def logged_in(out: dict[str, Any]) -> None:
    console.print(_("Enrolled with {url} as {officer} ({area}). `fieldreport sync` sends your reports.").format(
        url=out["hub_url"], officer=out["officer_id"], area=out["area"] or "—"))
    if out["officer_mismatch"]:
        err.print(_("Warning: the station enrolled this laptop for officer {officer}, but your profile says "
                    "otherwise; check `fieldreport init`.").format(officer=out["officer_id"]))
