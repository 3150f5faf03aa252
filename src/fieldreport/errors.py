"""Errors the library raises; the CLI turns each into one line on stderr and an exit code."""

from __future__ import annotations

import enum


class ExitStatus(enum.IntEnum):
    OK = 0
    ERROR = 1          # something failed that is not the user's input (I/O, hub error)
    BAD_INPUT = 2      # the input was wrong: nothing was written
    SOMETHING_LEFT = 3  # sync: finished cleanly but entries remain (offline, budget, dead letters)
    LOCKED = 4         # the store stayed locked by another process
    CORRUPT = 5        # the store file is not a valid fieldreport store
    NOT_FOUND = 6      # no report/premises matches the reference


class FieldReportError(Exception):
    """Base class: ``str(exc)`` is the one line shown to the user."""

    exit_code = ExitStatus.ERROR


class InputError(FieldReportError):
    """Bad input. ``field`` names what was wrong; the message says how to fix it."""

    exit_code = ExitStatus.BAD_INPUT

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class NotFound(FieldReportError):
    exit_code = ExitStatus.NOT_FOUND


class StoreLocked(FieldReportError):
    exit_code = ExitStatus.LOCKED


class StoreCorrupt(FieldReportError):
    exit_code = ExitStatus.CORRUPT


class NotInitialised(FieldReportError):
    exit_code = ExitStatus.BAD_INPUT
