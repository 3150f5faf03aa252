"""``fieldreport checklist``: templates, walk-through inspections, the printable sheet."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from ..errors import ExitStatus, FieldReportError
from ..i18n import _
from .common import emit_json, env, handle, is_interactive


def register(app: typer.Typer) -> None:
    ex = _("Example:")
    grp = typer.Typer(help=_("Walk-through inspections of key premises: one item at a time, every answer saved at "
                             "once; failures become hazard reports.") + "\n\n" + ex +
                      " fieldreport checklist start P-0001", no_args_is_help=True)
    tpl = typer.Typer(help=_("Show, check and import checklist templates.") + "\n\n" + ex +
                      " fieldreport checklist template show hotel --json", no_args_is_help=True)
    grp.command("templates", help=_("List the checklist templates: built-in, imported and from the station.") +
                "\n\n" + ex + " fieldreport checklist templates")(templates)
    tpl.command("show", help=_("Show a template with each item's id, answer type and failure rule.") + "\n\n" + ex +
                " fieldreport checklist template show hotel --json")(template_show)
    tpl.command("validate", help=_("Check a template file (TOML or JSON) and list every problem with its line and "
                                   "field.") + "\n\n" + ex + " fieldreport checklist template validate my.toml")(
        template_validate)
    tpl.command("import", help=_("Import a station's own template (TOML or JSON). Versioned: an inspection keeps the "
                                 "version it was made with.") + "\n\n" + ex +
                " fieldreport checklist template import my.toml")(template_import)
    grp.add_typer(tpl, name="template")
    grp.command("start", help=_("Inspect a premises item by item (or continue the inspection in progress there). "
                                "Keys: ? hint, b back, s skip, l list, m note, f photo, p pause (or Ctrl-C); \"no # text\" answers with a note.") +
                "\n\n" + ex + " fieldreport checklist start P-0001 --template hotel")(start)
    grp.command("resume", help=_("Continue an inspection in progress at its first unanswered item.") + "\n\n" + ex +
                " fieldreport checklist resume I-0001")(resume)
    grp.command("list", help=_("List inspections in progress and finished.") + "\n\n" + ex +
                " fieldreport checklist list --json")(list_)
    grp.command("print", help=_("Write the printable inspection record and rectification advice sheet (HTML, in "
                                "Chinese).") + "\n\n" + ex + " fieldreport checklist print I-0001 --out sheet.html")(
        print_)
    app.add_typer(grp, name="checklist")


# ---------------------------------------------------------------- templates
def templates(as_json: bool = typer.Option(False, "--json", help=_("Print as JSON."))):
    from ..checklist import builtin

    e = env()
    try:
        if e.paths.store.exists():
            with e.store() as store:
                rows = builtin.available(store)
        else:
            rows = builtin.available(None)
    except FieldReportError as exc:
        handle(exc)
    out = [{"name": r["name"], "version": r["version"], "premises_type": r["premises_type"], "source": r["source"],
            "title": r["template"].title.model_dump(), "items": len(r["template"].items())} for r in rows]
    if as_json:
        emit_json(out)
        return
    from . import render_checklist as rc

    rc.template_table(out)


def template_show(
    name: str = typer.Argument(..., help=_("Template name, e.g. hotel.")),
    version: int = typer.Option(None, "--version", help=_("A particular version (default: the newest).")),
    as_json: bool = typer.Option(False, "--json", help=_("Print the whole template as JSON.")),
):
    from ..checklist import builtin

    e = env()
    try:
        if e.paths.store.exists():
            with e.store() as store:
                tpl, source = builtin.get(store, name, version)
        else:
            tpl, source = builtin.get(None, name, version)
    except FieldReportError as exc:
        handle(exc)
    if as_json:
        body = tpl.body()
        body["source"] = source
        emit_json(body)
        return
    from . import render_checklist as rc

    rc.template_detail(tpl, source)


def template_validate(file: str = typer.Argument(..., help=_("A template file (.toml or .json)."))):
    from ..checklist.template import TemplateError, load_file

    try:
        tpl = load_file(file)
    except TemplateError as exc:
        for p in exc.problems:
            sys.stderr.write(_("{source}: {problem}").format(source=Path(file).name, problem=p) + "\n")
        sys.stderr.write(_("{n} problem(s) found").format(n=len(exc.problems)) + "\n")
        raise typer.Exit(int(ExitStatus.BAD_INPUT))
    except FieldReportError as exc:
        handle(exc)
    sys.stdout.write(_("{file}: valid — template {name} version {version}, {s} section(s), {n} item(s)").format(
        file=Path(file).name, name=tpl.name, version=tpl.version, s=len(tpl.sections), n=len(tpl.items())) + "\n")


def template_import(
    file: str = typer.Argument(..., help=_("A template file (.toml or .json).")),
    as_json: bool = typer.Option(False, "--json", help=_("Print the result as JSON.")),
):
    from ..checklist.template import load_file
    from ..store import checklist_store as cs

    e = env()
    try:
        tpl = load_file(file)
        with e.store() as store:
            status = cs.store_template(store, tpl.body(), "imported")
    except FieldReportError as exc:  # a TemplateError names its first problem and how many more
        handle(exc)
    if as_json:
        emit_json({"name": tpl.name, "version": tpl.version, "status": status})
        return
    msg = _("Imported template {name} version {version}") if status == "stored" else \
        _("Template {name} version {version} is already here, unchanged")
    sys.stdout.write(msg.format(name=tpl.name, version=tpl.version) + "\n")


# ---------------------------------------------------------------- walking
def start(
    premises: str = typer.Argument(..., help=_("P-0001, an id prefix or the exact name of the premises.")),
    template: str = typer.Option(None, "--template", "-t", help=_("Template name (default: the one for the "
                                                                   "premises' type).")),
    recheck: bool = typer.Option(False, "--recheck", help=_("Re-inspect the open failures only; items now passing "
                                                           "close their hazard reports.")),
    answers: str = typer.Option(None, "--answers", help=_("Answer from a file instead of the terminal: JSON "
                                                         "{item id: answer} or CSV item_id,answer,note,photo.")),
    no_input: bool = typer.Option(False, "--no-input", help=_("Never prompt.")),
    as_json: bool = typer.Option(False, "--json", help=_("Print the summary as JSON.")),
):
    from ..checklist import inspect
    from ..errors import InputError

    e = env()
    try:
        prof = e.profile
        if answers is None and not is_interactive(no_input):
            raise InputError(_("answers: no terminal to ask on; give --answers FILE (JSON or CSV)"), "answers")
        precheck = None
        if answers is not None:
            # a bad answers file writes nothing, not even the inspection
            entries = inspect.read_answers_file(answers)
            base = Path(answers).resolve().parent

            def precheck(tpl, items):
                inspect.check_entries(tpl, items, entries, set(), e.blobs(), base)
        with e.store() as store:
            ins, resumed = inspect.start(store, premises, template=template, recheck=recheck,
                                         inspector=prof.officer_id, precheck=precheck)
    except FieldReportError as exc:
        handle(exc)
    return _walk(ins["id"], answers, as_json, resumed)


def resume(
    inspection: str = typer.Argument(None, help=_("I-0001 (default: the latest inspection in progress).")),
    answers: str = typer.Option(None, "--answers", help=_("Answer from a file instead of the terminal.")),
    no_input: bool = typer.Option(False, "--no-input", help=_("Never prompt.")),
    as_json: bool = typer.Option(False, "--json", help=_("Print the summary as JSON.")),
):
    from ..checklist import inspect
    from ..errors import InputError
    from ..store import checklist_store as cs

    e = env()
    try:
        e.profile
        if answers is None and not is_interactive(no_input):
            raise InputError(_("answers: no terminal to ask on; give --answers FILE (JSON or CSV)"), "answers")
        with e.store() as store:
            if inspection:
                ins = cs.inspection(store, cs.resolve_inspection(store, inspection))
            else:
                ins = inspect.latest_in_progress(store)
            if ins["status"] != "in_progress":
                raise InputError(_("inspection: {ref} is already finished").format(ref=ins["ref"]), "inspection")
    except FieldReportError as exc:
        handle(exc)
    return _walk(ins["id"], answers, as_json, True)


def _walk(iid: str, answers: str | None, as_json: bool, resumed: bool) -> int:
    from ..checklist import inspect
    from ..checklist.walk import Walk
    from ..i18n import lang

    e = env()
    prof = e.profile
    blobs = e.blobs()
    try:
        with e.store() as store:
            walk = Walk(store, blobs, iid, lang=lang())
            if answers is not None:
                entries = inspect.read_answers_file(answers)
                inspect.apply_answers(walk, entries, base=Path(answers).resolve().parent)
                summ = inspect.finish(store, blobs, walk, author=prof.officer_id)
            else:
                from . import render_checklist as rc

                state = rc.walk(walk, resumed=resumed)
                if state != "finish":
                    rc.paused(walk, state)
                    return 130 if state == "interrupted" else 0
                summ = inspect.finish(store, blobs, walk, author=prof.officer_id)
    except FieldReportError as exc:
        handle(exc)
    if as_json:
        emit_json(summ)
        return 0
    from . import render_checklist as rc

    rc.summary(walk, summ)
    return 0


def list_(
    status: str = typer.Option(None, "--status", help=_("in_progress or finished.")),
    as_json: bool = typer.Option(False, "--json", help=_("Print as JSON (with id and ref).")),
):
    from ..errors import InputError
    from ..store import checklist_store as cs

    e = env()
    try:
        if status and status not in ("in_progress", "finished"):
            raise InputError(_("status: choose in_progress or finished"), "status")
        with e.store() as store:
            rows = cs.list_inspections(store, status=status)
    except FieldReportError as exc:
        handle(exc)
    if as_json:
        emit_json(rows)
        return
    from . import render_checklist as rc

    rc.inspection_table(rows)


def print_(
    inspection: str = typer.Argument(..., help=_("I-0001 or an id prefix.")),
    out: str = typer.Option(None, "--out", "-o", help=_("Write the HTML to this file (default: standard output).")),
):
    from ..checklist import printsheet
    from ..paths import write_private
    from ..store import checklist_store as cs

    e = env()
    try:
        prof = e.profile
        with e.store() as store:
            iid = cs.resolve_inspection(store, inspection)
            html = printsheet.render(store, e.blobs(), iid, inspector_name=prof.name, inspector_role=prof.role,
                                     station=prof.station)
        if out:
            write_private(Path(out), html.encode("utf-8"))
    except FieldReportError as exc:
        handle(exc)
    if out:
        sys.stderr.write(_("Wrote {path}").format(path=out) + "\n")
    else:
        sys.stdout.write(html)
