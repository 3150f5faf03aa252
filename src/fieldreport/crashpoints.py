"""Named crash points for the kill tests: ``FIELDREPORT_CRASH_AT=name`` makes the process
die with ``os._exit(137)`` (as a SIGKILL would) when it reaches ``crash_point(name)``.
Costs one environment lookup when unset."""

from __future__ import annotations

import os

_AT = os.environ.get("FIELDREPORT_CRASH_AT")


def crash_point(name: str) -> None:
    if _AT and _AT == name:
        os._exit(137)
