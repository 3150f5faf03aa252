"""The ``fieldreport`` command line. Parses, calls the library, renders; nothing else.

The interface language must be known before the commands are defined (their ``--help``
texts are translated), so ``main`` picks it from ``--lang``, the profile,
``FIELDREPORT_LANG`` or the system locale, then builds the app.
"""

from __future__ import annotations

import importlib
import json
import os
import sys


def _early_lang(argv: list[str]) -> str:
    from .. import i18n

    flag = None
    for i, a in enumerate(argv):
        if a == "--lang" and i + 1 < len(argv):
            flag = argv[i + 1]
        elif a.startswith("--lang="):
            flag = a.split("=", 1)[1]
    prof = None
    if flag is None:
        from .. import paths

        try:
            with open(paths.resolve().profile, "rb") as f:
                prof = json.loads(f.read()).get("lang")
        except (OSError, ValueError):
            prof = None
    return i18n.choose(flag, prof)


# Which module registers each top-level command. `fieldreport add` builds only the commands
# of its own module (typer converts every registered command's parameters at start-up, and
# each module costs its imports): the root `--help`, and any name not listed here, build all.
COMMAND_MODULES = {
    "init": "setup", "status": "setup",
    "add": "reports", "list": "reports", "show": "reports", "update": "reports",
    "hub": "hub", "login": "hub",
    "sync": "sync", "outbox": "sync",
    "checklist": "checklist", "premises": "premises", "due": "premises",
    "encrypt": "privacy", "decrypt": "privacy", "passphrase": "privacy", "purge": "privacy", "verify": "privacy",
    "audit": "privacy",
    "bundle": "bundle", "export": "export", "backup": "export", "restore": "export", "doctor": "export",
}
ALL_MODULES = ("setup", "reports", "hub", "sync", "checklist", "premises", "privacy", "bundle", "export")


def _command_of(argv: list[str]) -> str | None:
    skip = False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == "--lang":
            skip = True
            continue
        if a.startswith("-"):
            continue
        return a
    return None


def build_app(argv: list[str] | None = None):
    import typer

    from .. import __version__
    from ..i18n import _

    app = typer.Typer(
        name="fieldreport",
        help=_("Offline-first field reports for community and village police: record disputes, hazards and "
               "public sentiment, walk inspections, and sync to the station's hub when there is signal."),
        add_completion=False,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        pretty_exceptions_show_locals=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    def version_cb(value: bool):
        if value:
            sys.stdout.write(f"fieldreport {__version__}\n")
            raise typer.Exit(0)

    @app.callback()
    def root(
        version: bool = typer.Option(False, "--version", callback=version_cb, is_eager=True,
                                     help=_("Show the version and exit.")),
        lang: str = typer.Option(None, "--lang", help=_("Interface language: zh or en.")),
    ):
        pass

    name = _command_of(argv or [])
    wanted = (COMMAND_MODULES[name],) if name in COMMAND_MODULES else ALL_MODULES
    for mod in wanted:
        importlib.import_module(f"fieldreport.cli.{mod}").register(app)
    if name in COMMAND_MODULES:
        # typer builds a click command (signature, type hints, parameters) for every registered
        # command at start-up: keep only the invoked one (`add` need not build list/show/update)
        app.registered_commands = [c for c in app.registered_commands if c.name == name]
        app.registered_groups = [g for g in app.registered_groups if g.name == name]
    return app


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    os.umask(0o077)
    from .. import i18n

    i18n.set_lang(_early_lang(argv))
    import typer
    from typer._click import exceptions as cx

    from ..errors import ExitStatus, FieldReportError

    from .i18n_click import install as _install_click_i18n, usage_message
    from ..i18n import _

    _install_click_i18n()
    for a in argv:
        try:
            a.encode("utf-8")
        except UnicodeEncodeError:
            bad = a.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            sys.stderr.write("fieldreport: " + _("argument {arg!r} is not UTF-8 text; set the terminal to UTF-8 "
                                                  "(e.g. LANG=zh_CN.UTF-8) and type it again").format(arg=bad) + "\n")
            return int(ExitStatus.BAD_INPUT)
    app = build_app(argv)
    cmd = typer.main.get_command(app)
    try:
        rv = cmd.main(args=argv, prog_name="fieldreport", standalone_mode=False)
        return int(rv) if isinstance(rv, int) else 0
    except typer.Exit as e:
        return e.exit_code
    except cx.UsageError as e:
        where = (" " + _("(see `fieldreport {command} --help`)").format(command=e.ctx.command_path.split(" ", 1)[1])
                 if e.ctx and " " in e.ctx.command_path else "")
        sys.stderr.write(f"fieldreport: {usage_message(e)}{where}\n")
        return ExitStatus.BAD_INPUT
    except typer.Abort:
        sys.stderr.write("fieldreport: " + _("aborted") + "\n")
        return 130
    except FieldReportError as e:
        sys.stderr.write(f"fieldreport: {e}\n")
        return int(e.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("fieldreport: " + _("interrupted; everything already saved is kept") + "\n")
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # noqa: BLE001 — last line of defence: never a traceback with personal data
        return _crash(e)


def _crash(e: Exception) -> int:
    import traceback

    from .. import paths

    if os.environ.get("FIELDREPORT_DEBUG") == "1":
        traceback.print_exc()
        return 1
    log = None
    try:
        p = paths.resolve()
        paths.private_dir(p.data_dir)
        log = p.data_dir / "crash.log"
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as f:
            from ..privacy import known_secrets, scrub  # no token, passphrase or ID number in the log

            f.write(scrub("".join(traceback.format_exception(type(e), e, e.__traceback__, limit=20)), known_secrets(p)))
    except OSError:
        log = None
    from ..i18n import _

    sys.stderr.write("fieldreport: " + _("internal error ({error}); nothing was lost. Details for the developers are "
                                         "in {log}").format(error=type(e).__name__,
                                                            log=log or _("no log (data dir not writable)")) + "\n")
    return 1
