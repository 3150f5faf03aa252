"""Every command's --help, rendered in one fresh process per language (a real run: option help
texts are translated when the command modules are imported, so the language must be set
before that — as `fieldreport` itself does). Shared by test_i18n and test_snapshots."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys

_SNIPPET = r'''
import contextlib, io, json, sys
lang = sys.argv[1]
from fieldreport import i18n
i18n.set_lang(lang)
import typer
from fieldreport.cli import build_app, main
root = typer.main.get_command(build_app([]))
out = {}
def walk(cmd, path):
    buf, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(err):
        code = main(["--lang", lang] + path + ["--help"])
    texts = [cmd.help or ""] + [getattr(p, "help", None) or "" for p in cmd.params]
    out[" ".join(["fieldreport"] + path)] = {"code": code, "help": buf.getvalue(), "err": err.getvalue(),
                                             "texts": texts, "group": bool(getattr(cmd, "commands", None))}
    for name in sorted(getattr(cmd, "commands", {}) or {}):
        walk(cmd.commands[name], path + [name])
walk(root, [])
sys.stdout.write(json.dumps(out, ensure_ascii=False))
'''


@functools.lru_cache(maxsize=None)
def help_dump(lang: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FIELDREPORT_", "LC_", "LANG"))}
    env.update(FIELDREPORT_HOME="/nonexistent-fieldreport-help", COLUMNS="100", TERM="dumb", NO_COLOR="1",
               FIELDREPORT_LANG=lang, LANG="C.UTF-8")
    p = subprocess.run([sys.executable, "-c", _SNIPPET, lang], capture_output=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr.decode("utf-8", "replace")[-3000:]
    return json.loads(p.stdout.decode("utf-8"))
