"""Interface language: gettext catalogues (``locale/<lang>/LC_MESSAGES/<domain>.mo``, compiled
from the ``.po`` files with Babel: ``make locale``).

Source strings are English; ``zh_CN`` carries the Chinese. Each part of the package owns a
gettext *domain* (``fieldreport``, ``hub``, ``checklist``…); all the domains of a language are
chained, so ``_()`` finds a message wherever it is. The language is chosen by ``--lang``,
then the profile, then ``FIELDREPORT_LANG``, then the system locale; default ``zh``.
"""

from __future__ import annotations

import gettext
import os
from pathlib import Path

LOCALE_DIR = Path(__file__).parent / "locale"
_LANG_DIRS = {"zh": "zh_CN", "en": "en"}
_current: gettext.NullTranslations = gettext.NullTranslations()
_lang = "zh"


def system_lang() -> str | None:
    for var in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        v = os.environ.get(var)
        if v:
            low = v.lower()
            if low.startswith("zh"):
                return "zh"
            if low.startswith("en"):
                return "en"
            if low not in ("c", "posix", "c.utf-8"):
                return None
    return None


def choose(flag: str | None = None, profile_lang: str | None = None) -> str:
    for cand in (flag, profile_lang, os.environ.get("FIELDREPORT_LANG"), system_lang()):
        if cand:
            c = cand.lower().replace("-", "_")
            if c.startswith("zh"):
                return "zh"
            if c.startswith("en"):
                return "en"
    return "zh"


def set_lang(lang: str) -> None:
    global _current, _lang
    _lang = "en" if lang.startswith("en") else "zh"
    chain: gettext.NullTranslations = gettext.NullTranslations()
    folder = LOCALE_DIR / _LANG_DIRS[_lang] / "LC_MESSAGES"
    if folder.is_dir():
        first = None
        for mo in sorted(folder.glob("*.mo")):
            with open(mo, "rb") as f:
                t = gettext.GNUTranslations(f)
            if first is None:
                first = t
            else:
                first.add_fallback(t)
        if first is not None:
            chain = first
    _current = chain


def lang() -> str:
    return _lang


def _(message: str) -> str:
    """Translate ``message`` into the interface language."""
    return _current.gettext(message)


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it now (translate at use)."""
    return message
