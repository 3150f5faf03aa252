"""Rendering (rich) of ``purge``, ``verify`` and ``audit``."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from .. import taxonomy as tx
from ..i18n import _, lang
from .render import console, err, local_time


def purge(res: dict[str, Any]) -> None:
    reps = res["reports"]
    if reps:
        t = Table(title=_("Would be removed from this laptop") if res["dry_run"] else _("Removed from this laptop"))
        for h in (_("Ref"), _("Kind"), _("Created"), _("Confirmed by the hub"), _("Changes"), _("Photos")):
            t.add_column(h)
        for r in reps:
            t.add_row(r["ref"], tx.name(tx.KINDS, r["kind"], lang()), local_time(r["created_at"]),
                      local_time(r["last_acked_at"]), str(r["ops"]), str(r["photos"]))
        console.print(t)
    if res["dry_run"]:
        console.print(_("Dry run: {n} report(s) would be removed; nothing was changed.").format(n=len(reps)))
    else:
        console.print(_("{n} report(s) removed from this laptop ({f} photo file(s)); the hub keeps them.").format(
            n=len(reps), f=res["photo_files"]))
    k = res["kept"]
    if any(k.values()):
        console.print(_("Kept: {a} not yet confirmed by the hub, {b} with photos the hub has not confirmed, "
                        "{c} confirmed too recently.").format(a=k["not_confirmed"], b=k["photos_not_confirmed"],
                                                             c=k["confirmed_recently"]))


def verify(res: dict[str, Any]) -> None:
    if not res["chain_breaks"]:
        console.print(_("Log: {n} change(s), the hash chain is intact ({p} purged).").format(
            n=res["ops"], p=res["purged_ops"]))
    else:
        err.print(_("Log: the hash chain is broken at {k} place(s):").format(k=len(res["chain_breaks"])),
                  style="bold red")
        names = {"gap": _("a change is missing"), "link": _("link to the previous change broken"),
                 "hash": _("content does not match its hash")}
        for b in res["chain_breaks"][:50]:
            err.print(f"  #{b['seq']} {b['op_id']}: {names.get(b['problem'], b['problem'])}")
    if res["photos_named"] or res["photo_files"]:
        bad = res["photo_problems"]
        if not bad:
            console.print(_("Photos: {n} checked, all intact.").format(n=res["photo_files"]))
        else:
            err.print(_("Photos: {k} problem(s):").format(k=len(bad)), style="bold red")
            names = {"missing": _("missing"), "damaged": _("damaged")}
            for b in bad[:50]:
                err.print(f"  {b['sha256'][:16]}… {names.get(b['problem'], b['problem'])}")
    if res["ok"]:
        console.print(_("Verified: everything is intact."))
    else:
        console.print(_("Verification FAILED: see above."), style="bold red")


def audit(rows: list[dict[str, Any]]) -> None:
    if not rows:
        console.print(_("The audit log is empty: nothing was ever revealed on this laptop."))
        return
    t = Table()
    for h in (_("Time"), _("Officer id"), _("Name"), _("Command"), _("Reports"), _("First")):
        t.add_column(h, overflow="fold")
    for r in rows:
        ents = r.get("entities") or []
        t.add_row(local_time(r.get("ts")), str(r.get("officer_id") or ""), str(r.get("name") or ""),
                  str(r.get("command") or ""), str(r.get("count", len(ents))), (ents[0][:13] + "…") if ents else "")
    console.print(t)
