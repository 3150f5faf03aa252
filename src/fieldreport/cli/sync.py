"""``fieldreport sync`` and ``fieldreport outbox [list | resubmit SEQ | discard SEQ]``."""

from __future__ import annotations

import sys
from typing import List, Optional

import typer

from ..errors import ExitStatus, FieldReportError, InputError
from ..i18n import _
from .common import emit_json, env, handle


def register(app: typer.Typer) -> None:
    ex = _("Example:")
    app.command("sync", help=_("Send the queued reports and photos to the station's hub and fetch its decisions. "
                               "Safe to interrupt and to repeat: nothing is lost or sent twice. Exit 0: all done; "
                               "3: something is left (offline, time budget, rejected entries); 1: error.") +
                "\n\n" + ex + " fieldreport sync --max-time 120")(sync)
    ob = typer.Typer(help=_("The queue of operations waiting for the hub, and the rejected ones (dead letters): "
                            "list them, fix and resubmit, or discard.") + "\n\n" + ex + " fieldreport outbox list",
                     no_args_is_help=False, invoke_without_command=True)
    ob.callback(invoke_without_command=True)(outbox_root)
    ob.command("list", help=_("List queued and rejected entries (--all: also the acknowledged ones).") + "\n\n" + ex +
               " fieldreport outbox list --json")(outbox_list)
    ob.command("resubmit", help=_("Fix a rejected entry and queue it again as a new operation; the rejected one is "
                                  "marked discarded.") + "\n\n" + ex +
               " fieldreport outbox resubmit 17 --set title=楼道电动车充电")(outbox_resubmit)
    ob.command("discard", help=_("Give up a rejected entry: it stays in the log, marked discarded, and is never "
                                 "sent again.") + "\n\n" + ex + " fieldreport outbox discard 17")(outbox_discard)
    ob.command("resolve", help=_("Mark a station decision on a field you had changed as seen: it leaves "
                                 "`fieldreport outbox` (the record is kept). The hub has already decided the field.") +
               "\n\n" + ex + " fieldreport outbox resolve 3")(outbox_resolve)
    app.add_typer(ob, name="outbox")


def sync(
    hub: str = typer.Option(None, "--hub", help=_("Use this hub URL for this run instead of the profile's.")),
    max_time: float = typer.Option(None, "--max-time", help=_("Stop cleanly between batches after this many seconds.")),
    dry_run: bool = typer.Option(False, "--dry-run", help=_("Show what would be sent; contact nothing.")),
    as_json: bool = typer.Option(False, "--json", help=_("Print the summary as JSON.")),
    ca_bundle: str = typer.Option(None, "--ca-bundle", help=_("PEM file with the station's own TLS certificate.")),
    batch: int = typer.Option(None, "--batch", help=_("Operations in the first batch (1-5000); it adapts to the link.")),
    originals: bool = typer.Option(False, "--originals", help=_("Send full-size photo originals, not the small copies.")),
):
    from ..sync import engine

    e = env()
    progress = None
    try:
        prof = e.profile
        if not as_json and not dry_run and e.stdout_tty:
            from . import render_sync

            progress = render_sync.BarProgress()
        try:
            res = engine.sync(e.paths, prof, e.store, hub=hub, max_time=max_time, dry=dry_run, ca_bundle=ca_bundle,
                              batch=batch, originals=originals, progress=progress)
        finally:
            if progress is not None:
                progress.close()
    except FieldReportError as exc:
        handle(exc)
    if as_json:
        emit_json(res)
    else:
        from . import render_sync

        render_sync.summary(res)
    code = {"done": ExitStatus.OK, "left": ExitStatus.SOMETHING_LEFT}.get(res.get("outcome"), ExitStatus.ERROR)
    if res.get("outcome") == "error" and not as_json:
        sys.stderr.write(f"fieldreport: {res.get('error')}\n")
    raise typer.Exit(int(code))


def outbox_root(ctx: typer.Context):
    if ctx.invoked_subcommand is None:
        outbox_list(all_=False, limit=200, as_json=False)  # called as a function: typer's defaults are not applied


def outbox_list(
    all_: bool = typer.Option(False, "--all", help=_("Also list the acknowledged and discarded entries.")),
    limit: int = typer.Option(200, "--limit", help=_("At most this many entries.")),
    as_json: bool = typer.Option(False, "--json", help=_("Print as JSON.")),
):
    from ..store import sync_state
    from ..sync.refusals import op_reason

    e = env()
    states = ("pending", "rejected", "conflict", "acked", "discarded") if all_ else ("pending", "rejected", "conflict")
    try:
        with e.store() as store:
            rows = sync_state.outbox_entries(store, states, limit)
            conflicts = sync_state.open_conflicts(store)
    except FieldReportError as exc:
        handle(exc)
    out = [{"seq": r["seq"], "op_id": r["op_id"], "type": r["type"], "entity": r["entity"], "state": r["state"],
            "attempts": r["attempts"], "last_error": r["last_error"],
            "reason": (r["result"] or {}).get("reason"), "field": (r["result"] or {}).get("field"),
            "code": (r["result"] or {}).get("code"),
            "message": op_reason(r["result"]) if r["state"] in ("rejected", "conflict") else None, "ts": r["ts"]}
           for r in rows]
    if as_json:
        emit_json({"entries": out, "conflicts": conflicts})
        return
    from . import render_sync

    render_sync.outbox_table(out, conflicts)


def _parse_fixes(values: list[str]) -> dict:
    import json

    out = {}
    for v in values or []:
        k, sep, val = v.partition("=")
        if not sep or not k.strip():
            raise InputError(_("set: {value!r} is not FIELD=VALUE; write e.g. --set title=楼道电动车充电").format(value=v), "set")
        try:
            parsed = json.loads(val)
            if isinstance(parsed, str) or not isinstance(parsed, (int, float, bool, type(None), list, dict)):
                parsed = val
        except ValueError:
            parsed = val
        out[k.strip()] = parsed
    return out


def outbox_resubmit(
    seq: int = typer.Argument(..., help=_("The entry's number (seq) from `fieldreport outbox`.")),
    set_: Optional[List[str]] = typer.Option(None, "--set", help=_("FIELD=VALUE to correct in the entry. Repeatable.")),
    as_json: bool = typer.Option(False, "--json", help=_("Print the result as JSON.")),
):
    from ..store import sync_state

    e = env()
    try:
        fixes = _parse_fixes(set_ or [])
        with e.store() as store:
            res = sync_state.resubmit(store, seq, fixes)
    except FieldReportError as exc:
        handle(exc)
    if as_json:
        emit_json(res)
    else:
        sys.stdout.write(_("Entry {seq} discarded; queued again as entry {new}.").format(seq=seq, new=res["new_seq"]) + "\n")


def outbox_resolve(
    conflict: Optional[int] = typer.Argument(None, help=_("The conflict's number (#) from `fieldreport outbox`.")),
    all_: bool = typer.Option(False, "--all", help=_("Every open conflict.")),
    as_json: bool = typer.Option(False, "--json", help=_("Print the result as JSON.")),
):
    from ..store import sync_state

    e = env()
    try:
        if (conflict is None) == (not all_):
            raise InputError(_("conflict: give one conflict number from `fieldreport outbox`, or --all"), "conflict")
        with e.store() as store:
            done = sync_state.resolve_conflicts(store, None if all_ else conflict)
    except FieldReportError as exc:
        handle(exc)
    if as_json:
        emit_json({"resolved": done})
    else:
        sys.stdout.write(_("{n} conflict(s) marked as seen.").format(n=len(done)) + "\n")


def outbox_discard(
    seq: int = typer.Argument(..., help=_("The entry's number (seq) from `fieldreport outbox`.")),
    as_json: bool = typer.Option(False, "--json", help=_("Print the result as JSON.")),
):
    from ..store import sync_state

    e = env()
    try:
        with e.store() as store:
            res = sync_state.discard(store, seq)
    except FieldReportError as exc:
        handle(exc)
    if as_json:
        emit_json(res)
    else:
        sys.stdout.write(_("Entry {seq} discarded; it will not be sent.").format(seq=seq) + "\n")
