"""Rendering of ``fieldreport sync`` (a rich progress bar on a terminal, the summary) and of
``fieldreport outbox``."""

from __future__ import annotations

import time
from typing import Any

from rich.table import Table

from ..i18n import N_, _
from .term import console, err

# translated where shown (the language is chosen at run time, after this module is imported)
_PHASES = {"push": N_("Sending reports"), "pull": N_("Fetching the station's decisions"), "photos": N_("Sending photos")}


class BarProgress:
    """The engine's Progress drawn with rich: operations or bytes, the current batch, link speed."""

    def __init__(self):
        from rich.progress import BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._cols_ops = (TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                          TextColumn("{task.fields[extra]}", markup=False), TimeElapsedColumn())
        self._cols_bytes = (TextColumn("{task.description}", markup=False), BarColumn(), DownloadColumn(),
                            TextColumn("{task.fields[extra]}", markup=False), TimeElapsedColumn())
        self.p = Progress(*self._cols_ops, console=err, transient=False)
        self.p.start()
        self.task = None
        self.unit = "ops"
        self.t0 = time.monotonic()
        self.bytes = 0
        self.batch = None

    def phase(self, name: str, total: int, unit: str = "ops") -> None:
        if self.task is not None:
            self.p.update(self.task, visible=True)
        self.unit = unit
        self.p.columns = self._cols_bytes if unit == "bytes" else self._cols_ops
        self.task = self.p.add_task(_(_PHASES.get(name, name)), total=total or None, extra="")

    def advance(self, n: int = 0, nbytes: int = 0) -> None:
        if self.task is None:
            return
        self.bytes += nbytes
        step = nbytes if self.unit == "bytes" else n
        speed = self.bytes / max(0.001, time.monotonic() - self.t0)
        extra = _("batch {n}").format(n=self.batch) + " · " if self.batch and self.unit == "ops" else ""
        self.p.update(self.task, advance=step, extra=extra + f"{speed / 1024:.1f} KiB/s")

    def info(self, **kw: Any) -> None:
        if "batch" in kw:
            self.batch = kw["batch"]
        if kw.get("waiting") and self.task is not None:
            self.p.update(self.task, extra=_("link trouble, retrying in {s:.0f} s").format(s=kw["waiting"]))

    def close(self) -> None:
        self.p.stop()


def summary(res: dict[str, Any]) -> None:
    if res.get("dry_run"):
        console.print(_("Would send {ops} operations ({kb:.1f} KiB before compression) and {photos} photos "
                        "({pkb:.0f} KiB) to {hub}.").format(ops=res["ops"], kb=res["payload_bytes"] / 1024,
                                                           photos=res["photos"], pkb=res["photo_bytes"] / 1024,
                                                           hub=res.get("hub") or _("no hub set")))
        for t, n in sorted(res["by_type"].items()):
            console.print(f"  {t:<20} {n}")
        if res["dead_letters"]:
            console.print(_("{n} rejected entries wait for you: `fieldreport outbox`.").format(n=res["dead_letters"]))
        return
    console.print(_("Sent {sent} operations ({applied} new, {dup} already on the hub), {rej} rejected, {conf} in "
                    "conflict; {photos} photos sent; {pulled} changes fetched from the station.").format(
        sent=res["sent"], applied=res["applied"], dup=res["duplicates"], rej=res["rejected"], conf=res["conflicts"],
        photos=res["photos"], pulled=res["pulled"]))
    if res.get("epoch_changed"):
        console.print(_("The hub was restored from a backup: everything it lacked was sent again."))
    left = res.get("left") or {}
    if left.get("pending") or left.get("photos"):
        console.print(_("Left for the next sync: {ops} operations, {photos} photos.").format(
            ops=left.get("pending", 0), photos=left.get("photos", 0)))
    if left.get("rejected") or left.get("conflict"):
        console.print(_("{n} entries were rejected or are in conflict: see `fieldreport outbox`, then resubmit or "
                        "discard them.").format(n=left.get("rejected", 0) + left.get("conflict", 0)))
    for pe in res.get("photo_errors") or []:
        console.print(_("Photo {sha}: {error}").format(sha=pe["sha256"][:12], error=pe["error"]))
    if res.get("pull_conflicts"):
        console.print(_("{n} station decisions touched fields you changed and have not sent yet: see "
                        "`fieldreport outbox`.").format(n=res["pull_conflicts"]))
    stopped = res.get("stopped")
    if stopped == "budget":
        console.print(_("Stopped at the time limit (--max-time); run sync again to continue."))
    elif stopped in ("offline", "hub_asked_to_wait"):
        console.print(_("Could not reach the hub: {error}. Next attempt after {at}.").format(
            error=res.get("last_error") or "", at=res.get("next_attempt_at") or _("any time")))
    off = res.get("clock_offset_s")
    if off is not None and abs(off) > 180:
        from .render import local_time

        import datetime as _dt

        mine = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
        console.print(_("This laptop's clock differs from the hub's by {m:.0f} minutes (laptop {mine}, hub {hub}); "
                        "times you record keep the laptop's time.").format(m=off / 60, mine=local_time(mine),
                                                                            hub=local_time(res.get("hub_time"))))
    if res.get("outcome") == "done":
        console.print(_("All done: the hub has everything."))


def outbox_table(rows: list[dict[str, Any]], conflicts: list[dict[str, Any]]) -> None:
    if not rows and not conflicts:
        console.print(_("The outbox is empty: the hub has everything."))
        return
    if rows:
        from .render import state_name

        t = Table(show_header=True, header_style="bold")
        for h in (_("Seq"), _("Type"), _("State"), _("Tries"), _("Reason")):
            t.add_column(h)
        for r in rows:
            reason = r.get("message") or r.get("last_error") or ""
            t.add_row(str(r["seq"]), r["type"], state_name(r["state"]), str(r["attempts"]), reason)
        console.print(t)
    if conflicts:
        t = Table(title=_("Station decisions on fields you changed"), show_header=True, header_style="bold")
        for h in ("#", _("Report"), _("Field"), _("Yours"), _("Station's")):
            t.add_column(h)
        for c in conflicts:
            t.add_row(str(c["id"]), c["entity"][:13], c["field"], str(c["local"]), str(c["hub"]))
        console.print(t)
        console.print(_("Seen them? `fieldreport outbox resolve #` (or `--all`) takes them off this list."))
