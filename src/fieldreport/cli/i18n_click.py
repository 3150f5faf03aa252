"""typer's and its vendored click's own words ("Usage:", "Options", "Show this message and exit.",
"Missing option…") in the interface language, through the same catalogue as ours.

typer 0.2x vendors click as ``typer._click`` with the gettext calls stripped (hard-coded English),
while ``typer.core`` and ``typer.rich_utils`` still call ``gettext.gettext`` of the *default*
domain (never ours) — and rich_utils computes its panel titles at import time. :func:`install`
re-points those ``_`` at ``fieldreport.i18n._``, re-computes the constants, and wraps the three
places in ``_click`` that hard-code English. :func:`usage_message` renders a usage error
(missing option, unknown option, bad value…) as one translated line for ``cli.main``.

Everything here is idempotent and changes nothing under ``--lang en``: the English msgstr is
the msgid.
"""

from __future__ import annotations

import re

from ..i18n import N_, _

# Extracted into the catalogue (typer's own strings, called through typer.core/rich_utils `_`).
_TYPER_STRINGS = (
    N_("Usage: "), N_("Arguments"), N_("Options"), N_("Commands"), N_("Error"), N_("Aborted."), N_("Aborted!"),
    N_("(deprecated) "), N_("[default: {}]"), N_("[env var: {}]"), N_("[required]"), N_("(dynamic)"),
    N_("default: {default}"), N_("env var: {var}"), N_("required"), N_("Missing command."),
    N_("No such command {name!r}."), N_("Show this message and exit."),
    N_("Try [blue]'{command_path} {help_option}'[/] for help."),
)

# The placeholders of a usage line ("fieldreport [OPTIONS] COMMAND [ARGS]...").
_USAGE_WORDS = (N_("[OPTIONS]"), N_("COMMAND [ARGS]..."))

_installed = False


def install() -> None:
    """Hook typer/click's strings into ``fieldreport.i18n`` (call after ``i18n.set_lang``).
    Costs nothing at start-up: rich_utils (which imports rich) is patched only when a help
    page is actually formatted."""
    global _installed
    if _installed:
        return
    _installed = True
    import typer.core as tcore
    from typer._click import decorators, formatting

    tcore._ = _

    for cls in (tcore.TyperCommand, tcore.TyperGroup):
        original = cls.format_help

        def format_help(self, ctx, formatter, _original=original):
            _patch_rich_utils()
            return _original(self, ctx, formatter)

        cls.format_help = format_help

    original_help_option = decorators.help_option

    def help_option(param_decls):
        inner = original_help_option(param_decls)

        def apply(cmd):
            out = inner(cmd)
            cmd.params[-1].help = _("Show this message and exit.")
            return out

        return apply

    decorators.help_option = help_option

    original_write_usage = formatting.HelpFormatter.write_usage

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        for word in _USAGE_WORDS:
            args = args.replace(word, _(word))
        return original_write_usage(self, prog, args, _("Usage: ") if prefix is None else prefix)

    formatting.HelpFormatter.write_usage = write_usage


def _patch_rich_utils() -> None:
    """Point typer.rich_utils at our catalogue and recompute its import-time constants (in the
    current language: tests switch languages within one process)."""
    try:
        from typer import rich_utils as ru
    except ImportError:  # pragma: no cover — rich is a dependency
        return
    ru._ = _
    ru.DEPRECATED_STRING = _("(deprecated) ")
    ru.DEFAULT_STRING = _("[default: {}]")
    ru.ENVVAR_STRING = _("[env var: {}]")
    ru.REQUIRED_LONG_STRING = _("[required]")
    ru.ARGUMENTS_PANEL_TITLE = _("Arguments")
    ru.OPTIONS_PANEL_TITLE = _("Options")
    ru.COMMANDS_PANEL_TITLE = _("Commands")
    ru.ERRORS_PANEL_TITLE = _("Error")
    ru.ABORTED_TEXT = _("Aborted.")
    ru.RICH_HELP = _("Try [blue]'{command_path} {help_option}'[/] for help.")
    if not getattr(ru, "_fieldreport_fold", False):
        # Chinese has no spaces: rich would crop a long help text with "…" rather than wrap it.
        original_text = ru._make_rich_text

        def make_rich_text(*a, **k):
            out = original_text(*a, **k)
            if hasattr(out, "overflow"):
                out.overflow = "fold"
            return out

        ru._make_rich_text = make_rich_text
        ru._fieldreport_fold = True
    usage = _("Usage: ")
    hl = ru.OptionHighlighter.highlights
    pattern = r"(?P<usage>" + re.escape(usage) + ")"
    if pattern not in hl:
        ru.OptionHighlighter.highlights = [*hl, pattern]


# click's wordings of the usage errors it has no class for (matched only on the error path)
_EXTRA = r"^Got unexpected extra argument(?:s|\(s\))? \((?P<args>.*)\)$"
_NEEDS = r"^Option (?P<name>'[^']*'|\"[^\"]*\") requires (an argument|(?P<n>\d+) arguments)\.$"
_NO_VALUE = r"^Option (?P<name>'[^']*'|\"[^\"]*\") does not take a value\.$"
_MEAN = r"^(?P<msg>.*)\. Did you mean (?P<cands>.+)\?$"


def usage_message(e) -> str:
    """One translated line for a click/typer usage error (the English equals click's own)."""
    from typer._click import exceptions as cx

    try:
        if isinstance(e, cx.MissingParameter):
            return _missing(e)
        if isinstance(e, cx.NoSuchOption):
            msg = _("No such option: {name}").format(name=e.option_name)
            if e.possibilities:
                msg += " " + _("(Possible options: {options})").format(options=", ".join(sorted(e.possibilities)))
            return msg
        if isinstance(e, cx.BadParameter):
            hint = _hint(e)
            if hint:
                return _("Invalid value for {hint}: {message}").format(hint=hint, message=e.message)
            return _("Invalid value: {message}").format(message=e.message)
        msg = e.format_message()
        m = re.match(_EXTRA, msg, re.S)
        if m:
            return _("Got unexpected extra argument(s) ({args})").format(args=m.group("args"))
        m = re.match(_NEEDS, msg)
        if m:
            if m.group("n"):
                return _("Option {name} requires {n} arguments.").format(name=m.group("name"), n=m.group("n"))
            return _("Option {name} requires an argument.").format(name=m.group("name"))
        m = re.match(_NO_VALUE, msg)
        if m:
            return _("Option {name} does not take a value.").format(name=m.group("name"))
        m = re.match(_MEAN, msg, re.S)
        if m:
            return _("{message}. Did you mean {candidates}?").format(message=m.group("msg"), candidates=m.group("cands"))
        return msg
    except Exception:  # noqa: BLE001 — a message must always come out
        return e.format_message()


def _hint(e) -> str | None:
    if e.param_hint is not None:
        h = e.param_hint
    elif e.param is not None:
        h = e.param.get_error_hint()
    else:
        return None
    if isinstance(h, (tuple, list)):
        return " / ".join(repr(x) for x in h)
    return h


def _missing(e) -> str:
    kind = e.param_type or (e.param.param_type_name if e.param is not None else "parameter")
    what = {"option": _("option"), "argument": _("argument")}.get(kind, _("parameter"))
    hint = _hint(e)
    if hint:
        return _("Missing {what} {hint}.").format(what=what, hint=hint)
    return _("Missing {what}.").format(what=what)
