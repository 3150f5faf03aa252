"""The interface in zh_CN and en: the catalogues are complete (a message in one language only
fails), the committed .mo files are the compiled .po files, typer/click's own words are
Chinese under zh, usage errors too, the language is chosen in the documented order, tables
align Chinese text, dates show in Asia/Shanghai by default under zh."""

from __future__ import annotations

import gettext
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import gen_cli_docs  # noqa: E402
import i18n as catalogue  # noqa: E402  (scripts/i18n.py)

COMMANDS = [p for p, _ in gen_cli_docs.commands()]


def test_every_message_has_both_languages():
    """Every msgid extracted from src/fieldreport has a non-empty zh_CN translation (and an en
    entry), with the same {placeholders}; no catalogue entry is left over from removed code.
    Fix: `python scripts/i18n.py` (extract + update), translate the empty msgstr in
    src/fieldreport/locale/zh_CN/LC_MESSAGES/fieldreport.po, `python scripts/i18n.py compile`."""
    probs = catalogue.problems()
    assert not probs, "\n".join(probs[:40]) + (f"\n… and {len(probs) - 40} more" if len(probs) > 40 else "")


@pytest.mark.parametrize("lang", catalogue.LANGS)
def test_committed_mo_is_the_compiled_po(lang):
    po = {m.id: m.string for m in catalogue.read_po(lang) if m.id and m.string and not m.fuzzy}
    with open(catalogue.mo_path(lang), "rb") as f:
        mo = gettext.GNUTranslations(f)
    compiled = {k: v for k, v in mo._catalog.items() if k}  # noqa: SLF001 — the parsed .mo
    assert compiled == po, "the .mo is stale: run `python scripts/i18n.py compile` and commit it"


def test_the_check_fails_for_a_message_in_one_language_only(tmp_path, monkeypatch):
    """The check itself, on a throwaway package: a new string, a missing translation, a
    placeholder dropped in translation, an obsolete entry — each is reported."""
    src = tmp_path / "src" / "fieldreport"
    (src / "locale").mkdir(parents=True)
    (src / "mod.py").write_text('from .i18n import _\n'
                                'A = _("Recorded {ref}")\n'
                                'B = _("Only in English")\n'
                                'C = _("Both {n} here")\n', encoding="utf-8")
    monkeypatch.setattr(catalogue, "SRC", src)
    monkeypatch.setattr(catalogue, "LOCALE", src / "locale")
    catalogue.update()
    cat = catalogue.read_po("zh_CN")
    cat.get("Recorded {ref}").string = "已登记 {ref}"
    cat.get("Both {n} here").string = "两种语言都有"          # placeholder lost
    cat.add("Removed from the code", "已删除")
    catalogue.write_po("zh_CN", cat)
    probs = "\n".join(catalogue.problems())
    assert "zh_CN: no translation" in probs and "'Only in English'" in probs
    assert "placeholders differ" in probs and "'Both {n} here'" in probs
    assert "obsolete" in probs and "Removed from the code" in probs
    assert "'Recorded {ref}'" not in probs
    # the English catalogue holds every message explicitly
    assert {m.id for m in catalogue.read_po("en") if m.id} == {"Recorded {ref}", "Only in English", "Both {n} here"}
    # once translated, the check passes and compile produces .mo files gettext reads
    cat = catalogue.read_po("zh_CN")
    cat.get("Both {n} here").string = "两种语言都有 {n} 条"
    cat.get("Only in English").string = "只有英文"
    cat.delete("Removed from the code")
    catalogue.write_po("zh_CN", cat)
    assert catalogue.problems() == []
    catalogue.compile_mo()
    with open(catalogue.mo_path("zh_CN"), "rb") as f:
        assert gettext.GNUTranslations(f).gettext("Only in English") == "只有英文"


from i18n_support import help_dump  # noqa: E402


def test_every_command_is_in_the_help_of_both_languages():
    assert set(help_dump("zh")) == set(help_dump("en")) == {" ".join(p) for p in COMMANDS}


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
def test_help_is_chinese_under_zh(path):
    """typer's and click's words too ("Usage:", "Options", the help option), and every help
    text of the command and of each parameter differs from the English (it was translated)."""
    key = " ".join(path)
    zh, en = help_dump("zh")[key], help_dump("en")[key]
    assert zh["code"] == 0 and en["code"] == 0, zh["err"] + en["err"]
    for word in ("Usage:", "Options", "Arguments", "Commands", "Show this message", "[required]", "Example:",
                 "[default:"):
        assert word not in zh["help"], f"{word!r} left in English in `{key} --help`"
    assert "用法：" in zh["help"] and "Usage:" in en["help"]
    # Chinese has no spaces to wrap at: nothing may be cropped with "…" (only the texts' own)
    dump = help_dump("zh")
    own = zh["texts"] + [t for k, v in dump.items() if k.rsplit(" ", 1)[0] == key and k != key for t in v["texts"][:1]]
    assert zh["help"].count("…") <= sum(t.count("…") for t in own), zh["help"]
    for e, z in zip(en["texts"], zh["texts"]):
        if e.strip():
            assert z != e, f"untranslated help in `{key}`: {e!r}"


@pytest.mark.parametrize("args, zh, en", [
    (("show",), "缺少参数 'ref'", "Missing argument 'ref'"),
    (("list", "--bogus"), "没有选项：--bogus", "No such option: --bogus"),
    (("list", "--limit", "abc"), "的值无效", "Invalid value for '--limit'"),
    (("list", "--limit"), "需要一个值", "requires an argument"),
    (("show", "R-1", "R-2"), "多余的参数", "unexpected extra argument"),
    (("lsit",), "没有命令 'lsit'", "No such command 'lsit'"),
])
def test_usage_errors_in_both_languages(cli, args, zh, en):
    for lang, want in (("zh", zh), ("en", en)):
        r = cli("--lang", lang, *args)
        assert r.code == 2 and r.err.count("\n") == 1 and want in r.err, (lang, r.err)
        assert "Traceback" not in r.err


def test_language_order(cli, profile, home, monkeypatch):
    """--lang, then the profile, then FIELDREPORT_LANG, then the system locale; default zh."""
    from fieldreport import i18n

    monkeypatch.delenv("FIELDREPORT_LANG")
    for v in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        monkeypatch.delenv(v, raising=False)
    assert i18n.choose(None, None) == "zh"
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    assert i18n.choose(None, None) == "en"
    monkeypatch.setenv("FIELDREPORT_LANG", "zh")
    assert i18n.choose(None, None) == "zh"
    assert i18n.choose(None, "en") == "en"
    assert i18n.choose("zh-CN", "en") == "zh"
    # end to end: the profile says en (conftest), FIELDREPORT_LANG zh loses to it, --lang wins
    r = cli("status")
    assert "Nothing queued" in r.out
    r = cli("--lang", "zh", "status")
    assert "没有待同步内容" in r.out
    assert cli("init", "--lang", "zh", "--no-input").code == 0
    monkeypatch.setenv("FIELDREPORT_LANG", "en")
    assert "没有待同步内容" in cli("status").out


def test_taxonomy_input_in_either_language(cli, profile):
    r = cli("add", "--kind", "隐患", "--category", "电动自行车", "--level", "橙", "--title", "楼道充电", "--no-input", "--json")
    assert r.code == 0, r.err
    rep = cli("show", r.json()["ref"], "--json").json()
    assert (rep["kind"], rep["category"], rep["level"]) == ("hazard", "ebike", "orange")
    r = cli("--lang", "zh", "list", "--kind", "安全隐患")
    assert r.code == 0 and "安全隐患" in r.out or "隐患" in r.out


def test_tables_align_chinese_text(monkeypatch):
    """rich measures wide characters: every line of a table of Chinese text has the same width
    in terminal cells, and each column border sits in the same cell on every row."""
    from rich.cells import cell_len
    from rich.console import Console

    from fieldreport import i18n
    from fieldreport.cli import render

    i18n.set_lang("zh")
    con = Console(width=200, record=True, color_system=None, force_terminal=False)
    monkeypatch.setattr(render, "console", con)
    rows = [{"ref": "R-0001", "kind": "dispute", "category": "neighbour", "level": "yellow", "title": "邻里因噪音发生纠纷",
             "place": "东村3组12号", "status": "registered", "parties": [{"name": "张**", "phone": "138****5678"}],
             "created_at": "2026-12-03T03:00:00+00:00", "unsynced": 1},
            {"ref": "R-0002", "kind": "hazard", "category": "ebike", "level": "orange", "title": "楼道电动车充电 ab",
             "place": "West village 5", "status": "routed", "parties": [], "created_at": "2026-12-03T04:00:00+00:00",
             "unsynced": 0}]
    render.report_table(rows)
    text = con.export_text()
    i18n.set_lang("en")
    lines = [ln for ln in text.splitlines() if ln and ln[0] in "┏┃┡│└"]
    assert len(lines) >= 5 and "邻里因噪音发生纠纷" in text and "矛盾纠纷" in text
    widths = {cell_len(ln) for ln in lines}
    assert len(widths) == 1, widths

    def borders(ln):
        pos, out = 0, []
        for ch in ln:
            if ch in "┃│┏┓┳┡┩╇└┘┴":
                out.append(pos)
            pos += cell_len(ch)
        return out

    assert len({tuple(borders(ln)) for ln in lines}) == 1


def test_dates_in_the_local_zone(monkeypatch):
    from fieldreport import i18n
    from fieldreport.cli.render import local_time

    monkeypatch.delenv("TZ", raising=False)
    monkeypatch.delenv("FIELDREPORT_TZ", raising=False)
    i18n.set_lang("zh")
    try:
        assert local_time("2026-12-03T03:00:00+00:00") == "2026-12-03 11:00"      # Asia/Shanghai
        assert local_time("2026-12-03T23:30:00-05:00") == "2026-12-04 12:30"
        monkeypatch.setenv("FIELDREPORT_TZ", "Europe/Berlin")
        assert local_time("2026-12-03T03:00:00+00:00") == "2026-12-03 04:00"
        monkeypatch.setenv("FIELDREPORT_TZ", "Asia/Urumqi")
        assert local_time("2026-12-03T03:00:00+00:00") == "2026-12-03 09:00"
        assert local_time("") == "" and local_time("not a date") == "not a date"
    finally:
        i18n.set_lang("en")


def test_stored_times_carry_their_zone(cli, profile):
    r = cli("add", "--kind", "zero", "--title", "本月零报告", "--no-input", "--json")
    rep = cli("show", r.json()["ref"], "--json").json()
    import datetime as dt

    assert dt.datetime.fromisoformat(rep["created_at"]).utcoffset() is not None


def test_exports_are_utf8_and_excel_csv_has_a_bom(cli, profile, tmp_path):
    r = cli("add", "--kind", "dispute", "--category", "neighbour", "--level", "yellow", "--title", "邻里噪音纠纷",
            "--party", "name=欧阳锋华;role=applicant;id=11010519491231002X;phone=13812345678", "--no-input")
    assert r.code == 0, r.err
    out = tmp_path / "e.csv"
    r = cli("export", "--format", "csv", "--excel", "--out", str(out))
    assert r.code == 0, r.err
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    text = data[3:].decode("utf-8")
    assert "邻里噪音纠纷" in text and "1101**********002X" in text and "11010519491231002X" not in text
    assert "138****5678" in text and "欧阳锋华" not in text
    r = cli("export", "--format", "json")
    assert r.code == 0 and "邻里噪音纠纷" in r.out and "11010519491231002X" not in r.out
    r = cli("export", "--format", "csv")
    assert not r.out.startswith("\ufeff")
