"""The field worker's profile: who records the reports, on which device, for which hub."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .i18n import _
from . import taxonomy as tx
from .errors import InputError, NotInitialised
from .paths import Paths, write_private

LANGS = ("zh", "en")


@dataclass
class Profile:
    name: str
    officer_id: str
    role: str
    station: str
    area: str
    grid: str = ""
    lang: str = "zh"
    hub_url: str | None = None
    device_id: str = ""
    created_at: str = ""
    retention_days: int = 30
    timezone: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


PROFILE_FIELDS = ("name", "officer_id", "role", "station", "area", "grid", "lang", "hub_url")


def check(values: dict[str, Any]) -> dict[str, Any]:
    """Validate and normalise profile values; raises InputError naming the field."""
    out = dict(values)
    for f in ("name", "officer_id", "station", "area"):
        if f in out and (out[f] is None or not str(out[f]).strip()):
            raise InputError(_("{_}: must not be empty").format(_=f.replace('_', '-')), f)
        if f in out:
            out[f] = str(out[f]).strip()
    if out.get("role") is not None:
        code = tx.resolve(tx.ROLES, str(out["role"]))
        if code is None:
            raise InputError(_("role: unknown role {role!r}; choose one of: {choices}").format(role=out['role'], choices=' '.join(tx.ROLES)), "role")
        out["role"] = code
    if out.get("lang") is not None:
        lang = str(out["lang"]).lower().replace("-", "_")
        lang = {"zh_cn": "zh", "cn": "zh", "中文": "zh", "en_us": "en", "english": "en"}.get(lang, lang)
        if lang not in LANGS:
            raise InputError(_("lang: unknown language {lang!r}; choose zh or en").format(lang=out['lang']), "lang")
        out["lang"] = lang
    if out.get("hub_url"):
        url = str(out["hub_url"]).strip().rstrip("/")
        if not (url.startswith("http://") or url.startswith("https://")):
            raise InputError(_("hub: {url!r} is not a URL; give e.g. https://hub.example.org").format(url=url), "hub_url")
        out["hub_url"] = url
    if "retention_days" in out and out["retention_days"] is not None:
        if int(out["retention_days"]) < 1:
            raise InputError(_("retention-days: must be at least 1"), "retention_days")
    return out


def load(paths: Paths) -> Profile:
    try:
        raw = paths.profile.read_bytes()
    except FileNotFoundError:
        raise NotInitialised(_("no profile yet: run `fieldreport init` first")) from None
    try:
        data = json.loads(raw)
    except ValueError:
        raise NotInitialised(_("profile {profile} is not valid JSON: fix it or run `fieldreport init` again").format(profile=paths.profile)) from None
    known = {f.name for f in fields(Profile)}
    return Profile(**{k: v for k, v in data.items() if k in known})


def load_or_none(paths: Paths) -> Profile | None:
    try:
        return load(paths)
    except NotInitialised:
        return None


def save(paths: Paths, profile: Profile) -> None:
    write_private(paths.profile, json.dumps(profile.to_json(), ensure_ascii=False, indent=2).encode("utf-8"))


def read_token(paths: Paths) -> str | None:
    try:
        return paths.token.read_text().strip() or None
    except FileNotFoundError:
        return None


def write_token(paths: Paths, token: str) -> None:
    write_private(paths.token, token.encode("ascii"))
