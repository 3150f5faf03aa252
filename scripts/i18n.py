#!/usr/bin/env python3
"""The interface catalogues: extract, update, compile, check (``make locale`` runs all four).

    python scripts/i18n.py            # extract + update + compile + check (what `make locale` does)
    python scripts/i18n.py extract    # src/fieldreport -> src/fieldreport/locale/fieldreport.pot
    python scripts/i18n.py update     # merge the template into zh_CN and en .po (new msgids get an empty zh msgstr)
    python scripts/i18n.py compile    # .po -> .mo (the .mo files are committed: the package needs no Babel at run time)
    python scripts/i18n.py check      # exit 1 listing every msgid without a Chinese translation or with a
                                      # placeholder mismatch; the test suite runs the same check
    python scripts/i18n.py missing    # the untranslated msgids of zh_CN, one per line (to feed a translator)
    python scripts/i18n.py apply FILE # merge translations from FILE (lines "msgid<TAB>msgstr", \\n escaped)

Source strings are English and are the msgids; ``en`` carries msgstr == msgid so that both
languages hold every message explicitly. Strings are found by Babel's Python extractor with the
keywords ``_`` and ``N_`` (see babel.cfg at the repository root).
"""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "fieldreport"
LOCALE = SRC / "locale"
DOMAIN = "fieldreport"
POT = LOCALE / f"{DOMAIN}.pot"
LANGS = ("zh_CN", "en")
KEYWORDS = {"_": None, "N_": None}
_PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)?(?:[:!][^{}]*)?\}(?!\})")


def po_path(lang: str) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(lang: str) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"


def _catalog(locale: str | None):
    from babel.messages.catalog import Catalog

    return Catalog(locale=locale, domain=DOMAIN, project="fieldreport", version="",
                   copyright_holder="fieldreport contributors", msgid_bugs_address="",
                   charset="utf-8", fuzzy=False)


def extract_messages() -> dict[str, list[tuple[str, int]]]:
    """Every msgid under src/fieldreport, with where it appears (path relative to src/, line)."""
    from babel.messages.extract import extract_from_dir

    found: dict[str, list[tuple[str, int]]] = {}
    method_map = [("**/locale/**", "ignore"), ("**.py", "python")]
    for filename, lineno, message, _comments, _ctx in extract_from_dir(
            str(SRC), method_map=method_map, keywords=KEYWORDS, comment_tags=(), strip_comment_tags=True):
        if isinstance(message, tuple):  # plural forms: not used by fieldreport
            message = message[0]
        if not message:
            continue
        found.setdefault(message, []).append((f"fieldreport/{filename}", lineno))
    return found


def extract() -> int:
    from babel.messages.pofile import write_po

    found = extract_messages()
    cat = _catalog(None)
    for msgid in sorted(found):
        cat.add(msgid, locations=sorted(set(found[msgid])))
    buf = io.BytesIO()
    write_po(buf, cat, width=0, omit_header=False, sort_output=True, no_location=False)
    POT.parent.mkdir(parents=True, exist_ok=True)
    POT.write_bytes(_stable(buf.getvalue()))
    print(f"extracted {len(found)} messages into {_rel(POT)}")
    return 0


def _rel(p: Path) -> str:
    try:
        return str(p.relative_to(ROOT))
    except ValueError:
        return str(p)


def _stable(data: bytes) -> bytes:
    """Drop the creation/revision dates Babel writes so reruns do not churn the files."""
    return re.sub(rb'"(POT-Creation-Date|PO-Revision-Date): [^"\\]*\\n"\n', b"", data)


def read_po(lang: str):
    from babel.messages.pofile import read_po as _read

    p = po_path(lang)
    if not p.exists():
        return _catalog(lang)
    with open(p, "rb") as f:
        return _read(f, locale=lang, domain=DOMAIN)


def write_po(lang: str, cat) -> None:
    from babel.messages.pofile import write_po as _write

    buf = io.BytesIO()
    _write(buf, cat, width=0, sort_output=True, ignore_obsolete=True, include_previous=False)
    p = po_path(lang)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(_stable(buf.getvalue()))


def update() -> int:
    """Merge the extracted messages into each language; messages no longer in the source are
    dropped; no fuzzy matching (a guessed translation is worse than a visible gap)."""
    found = extract_messages()
    for lang in LANGS:
        old = read_po(lang)
        cat = _catalog(lang)
        for msgid in sorted(found):
            prev = old.get(msgid)
            msgstr = prev.string if prev is not None and prev.string and not prev.fuzzy else ""
            if lang == "en":
                msgstr = msgid
            cat.add(msgid, msgstr, locations=sorted(set(found[msgid])))
        write_po(lang, cat)
        print(f"{lang}: {len(found)} messages, {sum(1 for m in cat if m.id and not m.string)} untranslated")
    return 0


def compile_mo() -> int:
    from babel.messages.mofile import write_mo

    for lang in LANGS:
        cat = read_po(lang)
        buf = io.BytesIO()
        write_mo(buf, cat, use_fuzzy=False)
        mo_path(lang).write_bytes(buf.getvalue())
        print(f"compiled {_rel(mo_path(lang))}")
    return 0


def placeholders(s: str) -> set[str]:
    return {m.group(0) for m in _PLACEHOLDER.finditer(s)}


def problems() -> list[str]:
    """Every reason the catalogues are not complete and consistent with the source (empty = fine)."""
    found = extract_messages()
    out: list[str] = []
    cats = {lang: read_po(lang) for lang in LANGS}
    for lang, cat in cats.items():
        have = {m.id: m for m in cat if m.id}
        for msgid in sorted(found):
            m = have.get(msgid)
            where = "%s:%d" % found[msgid][0]
            if m is None:
                out.append(f"{lang}: missing message ({where}): {msgid!r}")
            elif not m.string:
                out.append(f"{lang}: no translation ({where}): {msgid!r}")
            elif m.fuzzy:
                out.append(f"{lang}: fuzzy translation ({where}): {msgid!r}")
            elif placeholders(m.string) != placeholders(msgid):
                out.append(f"{lang}: placeholders differ ({where}): {msgid!r} -> {m.string!r}")
        for msgid in sorted(set(have) - set(found)):
            out.append(f"{lang}: obsolete message (not in the source any more): {msgid!r}")
    return out


def check() -> int:
    probs = problems()
    for p in probs:
        print(p)
    if probs:
        print(f"{len(probs)} problem(s): translate in src/fieldreport/locale/zh_CN/LC_MESSAGES/{DOMAIN}.po, then "
              f"`python scripts/i18n.py compile`", file=sys.stderr)
        return 1
    print("catalogues complete")
    return 0


def missing() -> int:
    for m in read_po("zh_CN"):
        if m.id and not m.string:
            print(m.id.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t"))
    return 0


def _unescape(s: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "\\": "\\"}.get(m.group(1), m.group(0)), s)


def apply(path: str) -> int:
    cat = read_po("zh_CN")
    n = 0
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#") or "\t" not in line:
            continue
        msgid, msgstr = line.split("\t", 1)
        msgid, msgstr = _unescape(msgid), _unescape(msgstr)
        m = cat.get(msgid)
        if m is None:
            print(f"not in the catalogue (skipped): {msgid!r}", file=sys.stderr)
            continue
        m.string = msgstr
        m.flags.discard("fuzzy")
        n += 1
    write_po("zh_CN", cat)
    print(f"applied {n} translations")
    return 0


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "all"
    if cmd == "all":
        extract()
        update()
        compile_mo()
        return check()
    if cmd == "apply":
        return apply(argv[1])
    fn = {"extract": extract, "update": update, "compile": compile_mo, "check": check, "missing": missing}.get(cmd)
    if fn is None:
        print(__doc__)
        return 2
    return fn()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
