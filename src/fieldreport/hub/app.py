"""The hub's HTTP interface (docs/protocol.md, version 1), on FastAPI.

Bodies are read here with a size limit (compressed and decompressed), parsed with the wire
models' ``model_validate_json`` and answered with orjson; the work itself runs in the
thread pool against :class:`HubStore` and :class:`HubBlobs`. Every response — errors, 404s
and crashes included — carries ``X-Fieldreport-Protocol`` and ``X-Fieldreport-Epoch``.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import ids
from pydantic import BaseModel

from ..protocol import (BLOB_CHUNK_MAX, EPOCH_HEADER, MAX_BODY_BYTES, PROTOCOL_HEADER, PROTOCOL_VERSION,
                        EnrollRequest, EnrollResponse, Health, MissingBlobsRequest, MissingBlobsResponse,
                        PullResponse, PushRequest, PushResponse)
from .blobs import HubBlobs
from .errors import (BadRequest, Forbidden, HubBusy, HubError, TooLarge, Unauthorized, Unprocessable,
                     UnsupportedMedia)
from .store import HubStore
from .wire import parse_push

log = logging.getLogger("fieldreport.hub")


class ErrorBody(BaseModel):
    """Every error answer: a stable code, one line for a person, the field at fault."""

    error: str
    detail: str
    field: str | None = None
PULL_DEFAULT, PULL_MAX = 500, 5000
EPOCH_TTL_S = 1.0


class HubState:
    """What the app holds: the store, the blobs, and a short-lived copy of the epoch (so a
    ``fieldreport hub restore`` after a pg_restore, run beside a live hub, is seen within a
    second)."""

    def __init__(self, store: HubStore, blobs: HubBlobs, max_pushes: int = 8):
        self.store, self.blobs = store, blobs
        self._epoch, self._epoch_at = store.epoch, time.monotonic()
        self.pushes = threading.BoundedSemaphore(max_pushes)

    def epoch(self) -> str:
        if time.monotonic() - self._epoch_at > EPOCH_TTL_S:
            self._epoch, self._epoch_at = self.store.meta("epoch"), time.monotonic()
        return self._epoch


def _json(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(obj), status_code=status, media_type="application/json", headers=headers)


def _error(exc: HubError) -> Response:
    return _json(exc.body(), exc.status, exc.headers)


async def _body(request: Request, limit: int) -> bytes:
    """The request body, gunzipped when so declared, at most ``limit`` bytes either way."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"body: {declared} bytes is over the limit of {limit} bytes; send fewer operations",
                       "body")
    buf = bytearray()
    async for chunk in request.stream():
        buf += chunk
        if len(buf) > limit:
            raise TooLarge(f"body: over the limit of {limit} bytes; send fewer operations", "body")
    enc = request.headers.get("content-encoding", "identity").lower().strip()
    if enc in ("", "identity"):
        return bytes(buf)
    if enc != "gzip":
        raise BadRequest(f"Content-Encoding: {enc!r} is not supported; use gzip or none", "Content-Encoding")
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(bytes(buf), limit + 1)
    except zlib.error:
        raise BadRequest("body: not valid gzip", "body") from None
    if len(out) > limit:
        raise TooLarge(f"body: over the limit of {limit} bytes once decompressed; send fewer operations", "body")
    if not d.eof:
        raise BadRequest("body: the gzip stream is truncated", "body")
    return out


def _parse(model, raw: bytes):
    from pydantic import ValidationError

    from ..models import first_error

    try:
        return model.model_validate_json(raw)
    except ValidationError as e:
        err = e.errors()[0]
        if err.get("type") == "json_invalid" or not raw.strip():
            raise BadRequest("body: not valid JSON", "body") from None
        field, msg = first_error(e)
        raise Unprocessable(f"{field or 'body'}: {msg}", field or None) from None


def _int_param(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        v = int(raw)
    except ValueError:
        raise Unprocessable(f"{name}: must be a whole number", name) from None
    if not lo <= v <= hi:
        raise Unprocessable(f"{name}: must be between {lo} and {hi}", name)
    return v


class _ProtocolHeaders:
    """Pure ASGI middleware: the protocol and epoch headers on every response; an exception
    that escapes the app becomes a 500 in the wire's error shape (never a traceback)."""

    def __init__(self, app, state: HubState):
        self.app, self.state = app, state

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def send_with_headers(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() not in (b"x-fieldreport-protocol", b"x-fieldreport-epoch")]
                headers += [(PROTOCOL_HEADER.lower().encode(), PROTOCOL_VERSION.encode()),
                            (EPOCH_HEADER.lower().encode(), self.state.epoch().encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:  # noqa: BLE001
            log.error("internal error on %s %s: %s", scope.get("method"), scope.get("path"), type(exc).__name__)
            if started:
                raise
            body = orjson.dumps({"error": "internal", "detail": "internal error on the hub; try again later",
                                 "field": None})
            await send_with_headers({"type": "http.response.start", "status": 500,
                                     "headers": [(b"content-type", b"application/json"),
                                                 (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})


_ERRORS = {400: "malformed JSON, gzip or header", 401: "no valid, unrevoked token", 403: "another device or area",
           404: "not found", 409: "upload offset or length disagrees", 413: "body over the limit (named)",
           415: "wrong content type", 422: "a field fails validation", 460: "chunk checksum mismatch",
           503: "busy: retry after Retry-After"}


def _responses(ok: int, model: Any = None, *errors: int) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {ok: {"description": "ok"} if model is None else
                                      {"description": "ok", "model": model}}
    for code in errors:
        out[code] = {"description": _ERRORS[code], "model": ErrorBody}
    return out


def _body_schema(model) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}}


def openapi_spec(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document: routes from FastAPI, request bodies from the wire models (the
    routes read their bodies themselves — gzip, limits, fast parsing — so FastAPI cannot see
    them)."""
    if app.openapi_schema is None:
        from fastapi.openapi.utils import get_openapi

        spec = get_openapi(title=app.title, version=app.version, routes=app.routes,
                           description="fieldreport hub, protocol version 1 (docs/protocol.md). Every route but "
                                       "/v1/health and /v1/enroll needs `Authorization: Bearer <device token>`.")
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        for model in (PushRequest, EnrollRequest, MissingBlobsRequest):
            js = model.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(js.pop("$defs", {}))
            schemas[model.__name__] = js
        spec["components"]["securitySchemes"] = {"device": {"type": "http", "scheme": "bearer"}}
        app.openapi_schema = spec
    return app.openapi_schema


def create_app(state: HubState) -> FastAPI:
    # OpenAPI at /v1/openapi.json (behind a device token, like every route but health and enroll)
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state.store.start_checkpointer()  # SQLite: WAL copied into the file outside the writers' lock
        try:
            yield
        finally:
            state.store.stop_checkpointer()

    app = FastAPI(title="fieldreport hub", version=PROTOCOL_VERSION, docs_url=None, redoc_url=None,
                  openapi_url=None, lifespan=lifespan)
    app.openapi = lambda: openapi_spec(app)
    store, blobs = state.store, state.blobs
    secured = [{"device": []}]

    async def device(request: Request) -> dict[str, Any]:
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Authorization: send `Bearer <device token>` (enroll with `fieldreport login HUB_URL "
                               "CODE`)", "Authorization")
        dev = await run_in_threadpool(store.device_for_token, token.strip())
        if dev is None:
            raise Unauthorized("the device token is unknown or revoked; enroll again with a new code from the "
                               "station", "Authorization")
        return dev

    @app.exception_handler(HubError)
    async def _hub_error(request: Request, exc: HubError):
        return _error(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _json({"error": code, "detail": str(exc.detail), "field": None}, exc.status_code)

    app.add_middleware(_ProtocolHeaders, state=state)

    @app.get("/v1/openapi.json", include_in_schema=False)
    async def openapi_json(request: Request):
        await device(request)
        return _json(app.openapi())

    @app.get("/v1/health", responses=_responses(200, Health))
    async def health():
        return _json({"status": "ok", "protocol": PROTOCOL_VERSION, "epoch": state.epoch(),
                      "hub_time": ids.utc_now_iso()})

    @app.post("/v1/enroll", responses=_responses(200, EnrollResponse, 400, 401, 403, 413, 422, 503),
              openapi_extra=_body_schema(EnrollRequest))
    async def enroll(request: Request):
        req = _parse(EnrollRequest, await _body(request, 64 * 1024))
        out = await run_in_threadpool(store.enroll, req.code, req.device_id, req.name)
        return _json({**out, "epoch": state.epoch(), "hub_time": ids.utc_now_iso()})

    @app.post("/v1/push", responses=_responses(200, PushResponse, 400, 401, 403, 413, 422, 503),
              openapi_extra={**_body_schema(PushRequest), "security": secured})
    async def push(request: Request):
        dev = await device(request)
        raw = await _body(request, MAX_BODY_BYTES)
        out = await run_in_threadpool(_push, dev, raw)
        return Response(out, media_type="application/json")

    def _push(dev: dict[str, Any], raw: bytes) -> bytes:
        """In the thread pool: parse (orjson and plain checks, see ``wire``), apply, encode."""
        with store.cpu:
            device_id, ops = parse_push(raw)
        if device_id != dev["device_id"]:
            raise Forbidden("device_id: the body names another device than the token's", "device_id")
        if not state.pushes.acquire(blocking=False):
            raise HubBusy("the hub is busy with other pushes; try again shortly", retry_after=2)
        try:
            out = store.push(dev, ops)
        finally:
            state.pushes.release()
        return orjson.dumps({"epoch": state.epoch(), "hub_time": ids.utc_now_iso(), **out})

    @app.get("/v1/pull", responses=_responses(200, PullResponse, 401, 403, 422, 503),
             openapi_extra={"security": secured, "parameters": [
                 {"name": "cursor", "in": "query", "required": False,
                  "schema": {"type": "integer", "minimum": 0, "maximum": 2 ** 62}},
                 {"name": "limit", "in": "query", "required": False,
                  "schema": {"type": "integer", "minimum": 1, "maximum": PULL_MAX}},
                 {"name": "area", "in": "query", "required": False, "schema": {"type": "string"}},
                 {"name": "own_case_codes", "in": "query", "required": False,
                  "schema": {"type": "integer", "minimum": 0, "maximum": 1}}]})
    async def pull(request: Request):
        dev = await device(request)
        cursor = _int_param(request, "cursor", 0, 0, 2 ** 62)
        limit = _int_param(request, "limit", PULL_DEFAULT, 1, PULL_MAX)
        area = request.query_params.get("area")
        if area is not None and area != (dev["area"] or ""):
            raise Forbidden("area: this device is enrolled for another area; it pulls only its own", "area")
        own = _int_param(request, "own_case_codes", 1, 0, 1)
        out = await run_in_threadpool(lambda: store.pull(dev, cursor, limit, own_case_codes=bool(own)))
        return _json({"epoch": state.epoch(), "hub_time": ids.utc_now_iso(), **out})

    @app.post("/v1/blobs/missing", responses=_responses(200, MissingBlobsResponse, 400, 401, 413, 422, 503),
              openapi_extra={**_body_schema(MissingBlobsRequest), "security": secured})
    async def blobs_missing(request: Request):
        await device(request)
        req = _parse(MissingBlobsRequest, await _body(request, 256 * 1024))
        return _json({"missing": await run_in_threadpool(blobs.missing, req.hashes)})

    @app.head("/v1/blobs/{sha}", responses=_responses(200, None, 401, 422, 503), openapi_extra={"security": secured})
    async def blob_head(sha: str, request: Request):
        await device(request)
        held, length = await run_in_threadpool(blobs.offset, sha)
        headers = {"Upload-Offset": str(held), "Cache-Control": "no-store"}
        if length is not None:
            headers["Upload-Length"] = str(length)
        return Response(status_code=200, headers=headers)

    @app.patch("/v1/blobs/{sha}", status_code=204,
               responses=_responses(204, None, 400, 401, 409, 413, 415, 422, 460, 503),
               openapi_extra={"security": secured, "parameters": [
                   {"name": n, "in": "header", "required": n != "Upload-Checksum", "schema": {"type": "string"}}
                   for n in ("Upload-Offset", "Upload-Length", "Upload-Checksum")],
                   "requestBody": {"required": True, "content": {"application/offset+octet-stream": {
                       "schema": {"type": "string", "format": "binary"}}}}})
    async def blob_patch(sha: str, request: Request):
        await device(request)
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/offset+octet-stream":
            raise UnsupportedMedia("Content-Type: send application/offset+octet-stream", "Content-Type")
        offset = _header_int(request, "Upload-Offset")
        length = _header_int(request, "Upload-Length")
        if request.headers.get("content-encoding", "identity").lower() not in ("", "identity"):
            raise BadRequest("Content-Encoding: send photo chunks uncompressed", "Content-Encoding")
        chunk = await _body(request, BLOB_CHUNK_MAX)
        new, complete = await run_in_threadpool(blobs.patch, sha, offset, length,
                                                request.headers.get("upload-checksum"), chunk)
        headers = {"Upload-Offset": str(new)}
        if complete:
            headers["Upload-Complete"] = "1"
        return Response(status_code=204, headers=headers)

    return app


def _header_int(request: Request, name: str) -> int:
    raw = request.headers.get(name)
    if raw is None or not raw.strip().isdigit():
        raise BadRequest(f"{name}: missing or not a whole number of bytes", name)
    return int(raw)


WORKER_ENV = "FIELDREPORT_HUB_WORKER"


def worker_app() -> FastAPI:
    """The app of one ``serve --workers N`` process (a uvicorn factory): its own store and
    blobs, from the data folder and database the parent put in ``FIELDREPORT_HUB_WORKER``."""
    import json
    import os

    from .blobs import HubBlobs

    cfg = json.loads(os.environ[WORKER_ENV])
    store = HubStore.open(cfg["db"])
    app = create_app(HubState(store, HubBlobs(cfg["blobs"])))
    _tune_gc()
    return app


def _tune_gc() -> None:
    """A push allocates ~10 objects per operation, none of them in cycles: collect the young
    generation every 20,000 allocations instead of 700, and freeze what start-up made (the
    modules, FastAPI, SQLAlchemy) so full collections stop walking it."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def serve(state: HubState | None, host: str, port: int, *, log_level: str = "info", cert: str | None = None,
          key: str | None = None, workers: int = 1, worker_cfg: dict[str, str] | None = None) -> None:
    """Run the hub until interrupted; HTTPS when ``cert`` and ``key`` (PEM files) are given.
    ``workers`` > 1: that many processes on the one socket (``worker_cfg`` says where each
    finds the database) — each parses and checks the pushes it receives with its own
    interpreter, while writes to one SQLite file take turns on a file lock (``HubStore.write``).
    uvicorn's httptools and uvloop are used when installed (the ``hub`` extra)."""
    import uvicorn

    common = dict(host=host, port=port, log_level=log_level, access_log=log_level == "debug", server_header=False,
                  date_header=True, ssl_certfile=cert, ssl_keyfile=key)
    if workers > 1:
        import json
        import os

        os.environ[WORKER_ENV] = json.dumps(worker_cfg)
        uvicorn.run("fieldreport.hub.app:worker_app", factory=True, workers=workers, **common)
    else:
        app = create_app(state)
        _tune_gc()
        uvicorn.run(app, workers=1, **common)
