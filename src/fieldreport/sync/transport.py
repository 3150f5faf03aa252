"""How the sync engine talks to a hub (docs/protocol.md).

The engine sees only the :class:`Transport` interface. :class:`HttpTransport` is the real one
(requests: a (connect, read) timeout on every request, TLS verified by default or against a
station's own CA bundle, proxies from the environment, request bodies gzip-compressed here
because requests never does it). ``fieldreport.sync.memhub`` holds an in-memory fake with the
same semantics for unit tests.

Every answer must carry ``X-Fieldreport-Protocol: 1`` and a parsable body; anything else (a
captive portal's login page, a proxy's error page) is :class:`NotHub` — a network failure,
never a success.
"""

from __future__ import annotations

import email.utils
import gzip
import json
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..i18n import _
from ..protocol import EPOCH_HEADER, PROTOCOL_HEADER, PROTOCOL_VERSION


# ----------------------------------------------------------------------------- errors
class TransportError(Exception):
    """A failure worth retrying later: the link, a timeout, a 5xx/429, an answer not from the hub."""

    retry_after: float | None = None
    timeout: bool = False
    kind = "network"


class LinkError(TransportError):
    def __init__(self, message: str, *, timeout: bool = False):
        super().__init__(message)
        self.timeout = timeout
        self.kind = "timeout" if timeout else "network"


class NotHub(TransportError):
    kind = "not_hub"


class HubBusy(TransportError):
    """5xx, 429: the hub is there but cannot take it now."""

    kind = "busy"

    def __init__(self, message: str, status: int, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class HubRefused(Exception):
    """A 4xx: not retried. ``status``, ``error``, ``detail``, ``field`` from the hub's error body."""

    def __init__(self, status: int, error: str | None, detail: str | None, field: str | None = None,
                 offset: int | None = None):
        super().__init__(f"hub refused ({status} {error or ''}): {detail or ''}".strip())
        self.status = status
        self.error = error
        self.detail = detail
        self.field = field
        self.offset = offset  # 409 on a blob PATCH: the offset the hub holds


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    data: Any = None
    hub_date: float | None = None     # the hub's clock (epoch seconds) from the Date header
    local_mid: float | None = None    # local time at the middle of the exchange
    epoch: str | None = None


@dataclass
class Stats:
    requests: int = 0
    bytes_up: int = 0      # request bodies as sent (compressed) plus a header estimate
    bytes_down: int = 0
    hub_date: float | None = None
    local_mid: float | None = None
    epoch: str | None = None
    timings: list[float] = field(default_factory=list)

    def clock_offset(self) -> float | None:
        if self.hub_date is None or self.local_mid is None:
            return None
        return self.hub_date - self.local_mid


class Transport(Protocol):
    stats: Stats

    def push(self, body: bytes) -> dict[str, Any]:
        """POST /v1/push with ``body`` (uncompressed canonical JSON bytes of a PushRequest)."""

    def pull(self, cursor: int, limit: int, own_case_codes: bool = False) -> dict[str, Any]: ...

    def blobs_missing(self, hashes: list[str]) -> list[str]: ...

    def blob_offset(self, sha256: str) -> int: ...

    def blob_patch(self, sha256: str, offset: int, length: int, chunk: bytes) -> tuple[int, bool]:
        """Send one chunk at ``offset``; return (new offset, complete)."""

    def close(self) -> None: ...


# ----------------------------------------------------------------------------- HTTP
def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        d = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, d.timestamp() - time.time())


def _hub_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None


class HttpTransport:
    """The real transport. ``ca_bundle`` names a PEM file for a station's own certificate;
    ``verify=False`` is never used. Proxies come from the environment (requests' trust_env)."""

    def __init__(self, base_url: str, token: str | None, *, connect_timeout: float = 10.0,
                 read_timeout: float = 60.0, ca_bundle: str | None = None, gzip_level: int = 6,
                 user_agent: str | None = None):
        import requests

        from .. import __version__

        self.base = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.gzip_level = gzip_level
        self.stats = Stats()
        s = requests.Session()
        s.trust_env = True
        s.verify = ca_bundle if ca_bundle else True
        s.headers["User-Agent"] = user_agent or f"fieldreport/{__version__}"
        s.headers["Accept-Encoding"] = "gzip"
        if token:
            s.headers["Authorization"] = f"Bearer {token}"
        self.session = s
        self._requests = requests

    def close(self) -> None:
        self.session.close()

    # -- one exchange
    def _do(self, method: str, path: str, *, body: bytes | None = None, headers: dict[str, str] | None = None,
            params: dict[str, Any] | None = None, expect_json: bool = True) -> Answer:
        rq = self._requests
        url = self.base + path
        t0 = time.time()
        hdrs = dict(headers or {})
        self.stats.requests += 1
        self.stats.bytes_up += len(body or b"") + 200 + sum(len(k) + len(v) + 4 for k, v in hdrs.items())
        try:
            # verify per request: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override Session.verify
            r = self.session.request(method, url, data=body, headers=hdrs, params=params, timeout=self.timeout,
                                     allow_redirects=False, stream=False, verify=self.session.verify)
            content = r.content
        except rq.exceptions.SSLError as e:
            raise LinkError(_("TLS check of {url} failed ({reason}); if the station uses its own certificate, "
                              "pass it with --ca-bundle").format(url=self.base, reason=_short(e))) from None
        except (rq.exceptions.ConnectTimeout, rq.exceptions.ReadTimeout) as e:
            raise LinkError(_("no answer from {url} in time ({reason})").format(url=self.base, reason=_short(e)),
                            timeout=True) from None
        except rq.exceptions.Timeout as e:
            raise LinkError(_("no answer from {url} in time ({reason})").format(url=self.base, reason=_short(e)),
                            timeout=True) from None
        except rq.exceptions.RequestException as e:
            raise LinkError(_("cannot reach {url} ({reason})").format(url=self.base, reason=_short(e))) from None
        except OSError as e:  # pragma: no cover — urllib3 normally wraps these
            raise LinkError(_("cannot reach {url} ({reason})").format(url=self.base, reason=e)) from None
        t1 = time.time()
        self.stats.timings.append(t1 - t0)
        self.stats.bytes_down += len(content) + 200
        h = {k.lower(): v for k, v in r.headers.items()}
        if h.get(PROTOCOL_HEADER.lower()) != PROTOCOL_VERSION:
            raise NotHub(_("the answer from {url} did not come from a fieldreport hub (HTTP {status}, no {header} "
                           "header) — a Wi-Fi login page or a proxy? Open a browser to log in to the network, then "
                           "sync again").format(url=self.base, status=r.status_code, header=PROTOCOL_HEADER))
        ans = Answer(r.status_code, h, content, hub_date=_hub_date(h.get("date")), local_mid=(t0 + t1) / 2,
                     epoch=h.get(EPOCH_HEADER.lower()))
        if ans.hub_date is not None:
            self.stats.hub_date, self.stats.local_mid = ans.hub_date, ans.local_mid
        if ans.epoch:
            self.stats.epoch = ans.epoch
        if r.status_code == 429 or r.status_code >= 500:
            raise HubBusy(_("the hub is busy or failing (HTTP {status})").format(status=r.status_code), r.status_code,
                          parse_retry_after(h.get("retry-after")))
        if r.status_code >= 400:
            err = _json_or_none(content) or {}
            if not isinstance(err, dict):
                err = {}
            off = h.get("upload-offset")
            raise HubRefused(r.status_code, err.get("error"), err.get("detail") or content[:200].decode("utf-8", "replace"),
                             err.get("field"), int(off) if off and off.isdigit() else None)
        if expect_json:
            data = _json_or_none(content)
            if not isinstance(data, dict):
                raise NotHub(_("the answer from {url} is not a hub answer (unparsable body, {size} bytes)").format(
                    url=self.base, size=len(content)))
            ans.data = data
        return ans

    def _gz(self, body: bytes) -> tuple[bytes, dict[str, str]]:
        return (gzip.compress(body, compresslevel=self.gzip_level, mtime=0),
                {"Content-Type": "application/json", "Content-Encoding": "gzip"})

    # -- endpoints
    def health(self) -> dict[str, Any]:
        return self._do("GET", "/v1/health").data

    def enroll(self, code: str, device_id: str, name: str | None) -> dict[str, Any]:
        """POST /v1/enroll (no token yet): spend a one-time code for this laptop's token."""
        body = json.dumps({"code": code, "device_id": device_id, "name": name}, ensure_ascii=False).encode()
        data = self._do("POST", "/v1/enroll", body=body, headers={"Content-Type": "application/json"}).data
        _require(data, ("token", "device_id", "officer_id", "epoch"), self.base)
        return data

    def push(self, body: bytes) -> dict[str, Any]:
        gz, hdrs = self._gz(body)
        data = self._do("POST", "/v1/push", body=gz, headers=hdrs).data
        _require(data, ("epoch", "acked_through", "results"), self.base)
        return data

    def pull(self, cursor: int, limit: int, own_case_codes: bool = False) -> dict[str, Any]:
        # without own_case_codes: the laptop records each report's case code from the push answers
        data = self._do("GET", "/v1/pull", params={"cursor": cursor, "limit": limit,
                                                   "own_case_codes": int(own_case_codes)}).data
        _require(data, ("epoch", "cursor", "changes"), self.base)
        return data

    def blobs_missing(self, hashes: list[str]) -> list[str]:
        gz, hdrs = self._gz(json.dumps({"hashes": hashes}).encode())
        data = self._do("POST", "/v1/blobs/missing", body=gz, headers=hdrs).data
        _require(data, ("missing",), self.base)
        return list(data["missing"])

    def blob_offset(self, sha256: str) -> int:
        a = self._do("HEAD", f"/v1/blobs/{sha256}", expect_json=False)
        try:
            return int(a.headers.get("upload-offset", "0"))
        except ValueError:
            raise NotHub(_("the answer from {url} has no usable Upload-Offset").format(url=self.base)) from None

    def blob_patch(self, sha256: str, offset: int, length: int, chunk: bytes) -> tuple[int, bool]:
        import base64
        import hashlib

        hdrs = {"Upload-Offset": str(offset), "Upload-Length": str(length),
                "Upload-Checksum": "sha256 " + base64.b64encode(hashlib.sha256(chunk).digest()).decode(),
                "Content-Type": "application/offset+octet-stream"}
        a = self._do("PATCH", f"/v1/blobs/{sha256}", body=chunk, headers=hdrs, expect_json=False)
        try:
            new = int(a.headers.get("upload-offset", str(offset + len(chunk))))
        except ValueError:
            raise NotHub(_("the answer from {url} has no usable Upload-Offset").format(url=self.base)) from None
        complete = a.headers.get("upload-complete") in ("1", "true") or new >= length
        return new, complete


def _require(data: dict, keys: tuple[str, ...], base: str) -> None:
    for k in keys:
        if k not in data:
            raise NotHub(_("the answer from {url} is not a hub answer (no {key!r})").format(url=base, key=k))


def _json_or_none(content: bytes):
    try:
        return json.loads(content)
    except ValueError:
        return None


def _short(e: Exception) -> str:
    s = str(e)
    if "Read timed out" in s:
        return _("read timed out")
    if "Connection refused" in s:
        return _("connection refused")
    if "Connection reset" in s or "ConnectionReset" in s:
        return _("connection reset")
    if "Name or service not known" in s or "NameResolutionError" in s or "nodename nor servname" in s:
        return _("name not found")
    return s if len(s) < 120 else type(e).__name__
