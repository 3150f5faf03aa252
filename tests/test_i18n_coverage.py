"""Every error message the library raises goes through the catalogue (issue 6).

An English f-string or literal passed straight to an exception shows in English under zh_CN and
is invisible to `scripts/i18n.py extract`. ``test_no_bare_error_message`` walks the source with
``ast`` and names (file:line) every exception built with a bare text message; the message must
be ``_("… {name} …").format(name=…)`` (or a variable holding such a text). The other tests run
some of those errors through the real command line in Chinese."""

from __future__ import annotations

import ast
import builtins
import json
from pathlib import Path

import pytest

from conftest import ROOT

SRC = ROOT / "src" / "fieldreport"

# Where the message is not the first argument.
MESSAGE_ARG = {
    "FieldError": 1,     # FieldError(field, message)
    "Reject": 1,         # hub.rules.Reject(field, reason)
    "Problem": 1,        # checklist.template.Problem(field, message, line): a template problem shown as is
    "TemplateError": None,  # TemplateError(source, problems): the text comes from the Problems
}
# Not exceptions, but their text is an error message shown to the user.
ALSO_CHECKED = {"Problem"}

# The hub's HTTP answers ``{"error": code, "detail": …, "field": …}`` (docs/protocol.md) and each
# rejected operation's reason travel on the wire to laptops of either language: they are part of
# the protocol and stay English. Only these classes, only under hub/: a hub
# InputError or FieldReportError (the station's own command line) is still checked.
HUB_WIRE = {"HubError", "BadRequest", "Unauthorized", "Forbidden", "NotFoundError", "Conflict", "TooLarge",
            "UnsupportedMedia", "Unprocessable", "HubBusy", "ChecksumMismatch", "Reject"}

# (path under src/fieldreport, exception class) → why its bare text is allowed.
EXCLUDED = {
    ("store/cipher.py", "StoreInUse"):
        "internal signal: crypto.encrypt_laptop/decrypt_laptop catch it and raise a translated StoreLocked",
    ("checklist/walk.py", "IndexError"):
        "programming error (current() past the end); the CLI never lets it happen",
    ("store/privacy_store.py", "RuntimeError"):
        "invariant guard (`pragma: no cover`): purge() re-checks first; never a user's error",
}


def _exception_names(trees: dict[Path, ast.Module]) -> set[str]:
    """The builtin exception classes, every class named …Error/…Exception/…NotFound/…Corrupt/…Exit,
    and every class the package derives from one of them (to a fixed point)."""
    names = {n for n, v in vars(builtins).items() if isinstance(v, type) and issubclass(v, BaseException)}
    classes: dict[str, list[str]] = {}
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                classes[node.name] = [b.id if isinstance(b, ast.Name) else b.attr if isinstance(b, ast.Attribute)
                                      else "" for b in node.bases]
    grew = True
    while grew:
        grew = False
        for name, bases in classes.items():
            if name not in names and any(b in names or b.endswith(("Error", "Exception")) for b in bases):
                names.add(name)
                grew = True
    return names


def _callee(call: ast.Call) -> str | None:
    f = call.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None


def _bare_text(node: ast.AST) -> bool:
    """A literal, an f-string, a concatenation or ``%``/``.format`` of one: text no catalogue sees."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp):
        return _bare_text(node.left) or _bare_text(node.right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        return _bare_text(node.func.value)
    return False  # _("…"), _("…").format(…), a variable, str(e), …


def offenders(src: Path = SRC) -> list[str]:
    trees = {p: ast.parse(p.read_text(encoding="utf-8"), str(p)) for p in sorted(src.rglob("*.py"))}
    exc = _exception_names(trees)
    found: list[tuple[str, int, str]] = []
    for path, tree in trees.items():
        rel = path.relative_to(src).as_posix()
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = _callee(node)
            if name is None or name.startswith("_"):  # private classes: control-flow signals, never shown
                continue
            if name not in exc and name not in ALSO_CHECKED and not name.endswith(
                    ("Error", "Exception", "NotFound", "Corrupt", "Exit")):
                continue
            if rel.startswith("hub/") and name in HUB_WIRE:
                continue
            if (rel, name) in EXCLUDED:
                continue
            pos = MESSAGE_ARG.get(name, 0)
            if pos is None:
                continue
            msg = node.args[pos] if len(node.args) > pos else next(
                (k.value for k in node.keywords if k.arg in ("message", "msg", "detail", "reason")), None)
            if msg is not None and _bare_text(msg):
                text = ast.unparse(msg)
                found.append((rel, node.lineno, f"{name}({text[:90]}{'…' if len(text) > 90 else ''})"))
    return [f"src/fieldreport/{rel}:{line}: {what}" for rel, line, what in sorted(found)]


def test_no_bare_error_message():
    """Fix each line listed: ``from ..i18n import _`` and
    ``raise InputError(_("premises {ref!r}: unknown kind {kind!r}; use one of {choices}").format(ref=…, kind=…,
    choices=…), "kind")`` — named placeholders, no f-string inside ``_()``; then `python scripts/i18n.py`
    and translate the new msgids in src/fieldreport/locale/zh_CN/LC_MESSAGES/fieldreport.po."""
    bad = offenders()
    assert not bad, f"{len(bad)} error message(s) not wrapped in _():\n" + "\n".join(bad)


def test_the_check_finds_bare_messages(tmp_path):
    """The check itself, on a throwaway package: each bare form is caught, the wrapped ones pass."""
    pkg = tmp_path / "fieldreport"
    (pkg / "hub").mkdir(parents=True)
    (pkg / "errors.py").write_text("class FieldReportError(Exception): pass\n"
                                   "class InputError(FieldReportError): pass\n"
                                   "class Odd(InputError): pass\n", encoding="utf-8")
    (pkg / "mod.py").write_text(
        "from .i18n import _\n"
        "def f(x, e):\n"
        "    if x == 1: raise InputError(f'premises {x}: unknown kind', 'kind')\n"      # 3: f-string
        "    if x == 2: raise Odd('nothing to change')\n"                                # 4: literal, subclass
        "    if x == 3: raise FieldError('lat', 'must be a number')\n"                   # 5: message is 2nd
        "    if x == 4: return StoreCorrupt('the store is damaged ' + str(e))\n"         # 6: built, not raised
        "    if x == 5: raise ValueError('unknown format {}'.format(x))\n"               # 7: .format on literal
        "    if x == 6: raise InputError(_('premises {x}: bad').format(x=x), 'kind')\n"  # fine
        "    if x == 7: raise InputError(e)\n"                                          # fine: a variable
        "    if x == 8: raise FieldError(f'parties.{x}', _('must be text'))\n"           # fine: field is an f-string
        "    if x == 9: raise _Stop('budget')\n",                                        # fine: private signal
        encoding="utf-8")
    (pkg / "hub" / "app.py").write_text("def g():\n    raise BadRequest('body: not valid JSON')\n"
                                        "def h():\n    raise InputError('ref: no photos')\n", encoding="utf-8")
    got = offenders(pkg)
    assert [g.split(":")[1] for g in got if "/mod.py" in g] == ["3", "4", "5", "6", "7"], got
    assert [g for g in got if "/hub/" in g] == ["src/fieldreport/hub/app.py:4: InputError('ref: no photos')"], got


# ------------------------------------------------------------------ through the real command line
@pytest.fixture
def back_to_english():
    """``--lang zh`` switches the process's language; give the next test English back."""
    yield
    from fieldreport import i18n

    i18n.set_lang("en")


def test_no_store_yet_in_chinese(cli, back_to_english):
    r = cli("--lang", "zh", "list")
    assert r.code == 2 and r.err == "fieldreport: 还没有本地数据库：请先运行 `fieldreport init`\n", r.err
    r = cli("--lang", "en", "list")
    assert r.code == 2 and r.err == "fieldreport: no store yet: run `fieldreport init` first\n", r.err


@pytest.mark.parametrize("args, zh, en", [
    (("premises", "add", "--name", "x", "--type", "barber"),
     "type：未知场所类型 'barber'；可选：hotel", "type: unknown premises type 'barber'; choose one of: hotel"),
    (("premises", "due", "--days", "-1"), "days：必须大于等于 0", "days: must be 0 or more"),
    (("checklist", "list", "--status", "open"), "status：请选择 in_progress（进行中）或 finished（已完成）",
     "status: choose in_progress or finished"),
    (("premises", "import", "{csv}"), "file：未知列 '颜色'；可用列：名称 类型", "file: unknown column '颜色'; known: 名称 类型"),
    (("checklist", "start", "东村旅社", "--answers", "{answers}"),
     "answers：guest_id_checked：请回答 是/否/不适用（yes、no 或 na），而不是 'maybe'",
     "answers: guest_id_checked: answer yes, no or na (是/否/不适用), not 'maybe'"),
])
def test_library_errors_in_chinese(cli, profile, tmp_path, back_to_english, args, zh, en):
    """Errors raised by the library (premises, checklist, store) come out in the interface
    language: one line, exit 2, no traceback, no English left under zh."""
    (tmp_path / "p.csv").write_text("名称,类型,颜色\n东村旅社,旅馆,红\n", encoding="utf-8")
    (tmp_path / "a.json").write_text(json.dumps({"guest_id_checked": "maybe"}), encoding="utf-8")
    assert cli("premises", "add", "--name", "东村旅社", "--type", "旅馆").code == 0
    args = [a.format(csv=tmp_path / "p.csv", answers=tmp_path / "a.json") for a in args]
    for lang, want in (("zh", zh), ("en", en)):
        r = cli("--lang", lang, *args)
        assert r.code == 2 and want in r.err, (lang, r.err)
        assert r.err.count("\n") == 1 and "Traceback" not in r.err, r.err
    r = cli("--lang", "zh", *args)
    assert not any(w in r.err for w in ("unknown", "choose", "must be", "give", "answer yes")), r.err


def test_import_row_error_in_chinese(cli, profile, tmp_path, back_to_english):
    """A bad CSV row: its row number, field and the way out, all in Chinese."""
    f = tmp_path / "p.csv"
    f.write_text("名称,类型\n东村旅社,旅馆\n西村网吧,理发店\n", encoding="utf-8")
    r = cli("--lang", "zh", "premises", "import", str(f))
    assert r.code == 2 and "Traceback" not in r.err and r.err.count("\n") == 1, r.err
    assert r.err.startswith("fieldreport: 第 3 行：type：未知场所类型 '理发店'；"), r.err
    assert r.err.rstrip().endswith("；未导入任何内容（请修正该行，或加 --skip-bad 导入其余各行）"), r.err


def test_template_problems_in_chinese(cli, tmp_path, back_to_english):
    """`checklist template validate` lists every problem with its line, in Chinese."""
    from test_checklist_templates import BAD

    f = tmp_path / "bad.toml"
    f.write_text(BAD, encoding="utf-8")
    r = cli("--lang", "zh", "checklist", "template", "validate", str(f))
    assert r.code == 2 and "Traceback" not in r.err, r.err
    lines = r.err.splitlines()
    assert lines[0] == "bad.toml：第 18 行：sections[0].items[1].id：检查项编号 'exits' 重复（sections[0].items[0] 也用了）；" \
                       "检查项编号在整个模板中必须唯一", lines
    assert lines[1].startswith("bad.toml：第 25 行：sections[0].items[2].type：未知回答类型 'integer'；可选："), lines
    assert lines[2].startswith("bad.toml：第 31 行：sections[0].items[3].fail[0].if_item：本模板中没有检查项 'crowded'"), lines
