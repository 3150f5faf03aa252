"""Errors of the hub. Each carries its HTTP status and its wire code (``{"error", "detail",
"field"}``); they are also FieldReportErrors, so the station's CLI prints them as one line."""

from __future__ import annotations

from ..errors import ExitStatus, FieldReportError


class HubError(FieldReportError):
    status = 500
    code = "internal"
    exit_code = ExitStatus.ERROR

    def __init__(self, detail: str, field: str | None = None, *, error: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.headers = headers or {}
        if error:
            self.code = error

    def body(self) -> dict:
        return {"error": self.code, "detail": self.detail, "field": self.field}


class BadRequest(HubError):
    status, code, exit_code = 400, "bad_request", ExitStatus.BAD_INPUT


class Unauthorized(HubError):
    status, code = 401, "unauthorized"


class Forbidden(HubError):
    status, code = 403, "forbidden"


class NotFoundError(HubError):
    status, code, exit_code = 404, "not_found", ExitStatus.NOT_FOUND


class Conflict(HubError):
    status, code = 409, "conflict"


class TooLarge(HubError):
    status, code, exit_code = 413, "too_large", ExitStatus.BAD_INPUT


class UnsupportedMedia(HubError):
    status, code = 415, "unsupported_media_type"


class Unprocessable(HubError):
    status, code, exit_code = 422, "invalid", ExitStatus.BAD_INPUT


class HubBusy(HubError):
    status, code = 503, "busy"

    def __init__(self, detail: str, retry_after: int = 1):
        super().__init__(detail, headers={"Retry-After": str(retry_after)})
