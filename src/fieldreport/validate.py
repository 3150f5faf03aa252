"""Validators for personal identifiers: resident ID numbers (GB 11643-1999) and phone numbers.

Written here rather than imported from python-stdnum (which the tests cross-check against)
because importing stdnum costs ~40 ms on the `fieldreport add` path.
"""

from __future__ import annotations

import datetime as _dt
import re

from .i18n import _

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}(-\d{1,5})?$")


def id_check_char(first17: str) -> str:
    return _CHECK[sum(int(c) * w for c, w in zip(first17, _WEIGHTS)) % 11]


def _real_date(y: int, m: int, d: int) -> bool:
    try:
        born = _dt.date(y, m, d)
    except ValueError:
        return False
    return _dt.date(1880, 1, 1) <= born <= _dt.date.today()


def check_id_number(value: str) -> str | None:
    """None if ``value`` is a valid resident ID number, else the reason it is not."""
    v = value.strip().upper()
    if len(v) == 18:
        if not v[:17].isdigit() or not (v[17].isdigit() or v[17] == "X"):
            return _("must be 17 digits and a digit or X")
        if not _real_date(int(v[6:10]), int(v[10:12]), int(v[12:14])):
            return _("birth date {date} is not a real date").format(date=v[6:14])
        if id_check_char(v[:17]) != v[17]:
            return _("check digit does not match (GB 11643)")
        return None
    if len(v) == 15:
        if not v.isdigit():
            return _("a 15-digit ID number has digits only")
        if not _real_date(1900 + int(v[6:8]), int(v[8:10]), int(v[10:12])):
            return _("birth date {date} is not a real date").format(date="19" + v[6:12])
        return None
    return _("must have 18 characters (or 15 for an old card)")


def normalise_phone(value: str) -> str:
    return re.sub(r"[\s()（）]", "", value.strip()).removeprefix("+86")


def check_phone(value: str) -> str | None:
    """None if ``value`` is a mainland mobile (11 digits from 1) or a landline with area code."""
    v = normalise_phone(value)
    if _MOBILE.match(v) or _LANDLINE.match(v):
        return None
    return _("expected an 11-digit mobile number starting with 1, or a landline such as 027-87654321")


def mask_id(value: str | None) -> str | None:
    """``420106199001011234`` → ``4201**********1234``: region prefix and last four kept."""
    if not value:
        return value
    v = value.strip()
    if len(v) <= 8:
        return "*" * len(v)
    return v[:4] + "*" * (len(v) - 8) + v[-4:]


def mask_phone(value: str | None) -> str | None:
    """``13812345678`` → ``138****5678``."""
    if not value:
        return value
    v = normalise_phone(value)
    if len(v) < 7:
        return "*" * len(v)
    return v[:3] + "*" * (len(v) - 7) + v[-4:]


def mask_name(value: str | None) -> str | None:
    """``张三丰`` → ``张**``; ``Li Lei`` → ``L*****``: surname (first character) kept."""
    if not value:
        return value
    return value[0] + "*" * max(1, len(value) - 1)
