"""schemathesis against the hub's own OpenAPI document (``GET /v1/openapi.json``), over real
HTTP to a real hub with a real enrolled device's token: for every operation, bounded
generated requests (25 each) — never a 5xx, and every answer conforms to the document
(status codes, content types, bodies)."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from fieldreport.hub.app import create_app

# the document as the app builds it (no store is touched to build it); the served copy is
# compared with it below, so the test runs against what a client would download
SPEC = create_app(SimpleNamespace(store=None, blobs=None, epoch=lambda: "")).openapi()
schema = schemathesis.openapi.from_dict(SPEC)
# photo chunks (tus PATCH) are raw bytes, as application/octet-stream
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_the_document_is_served_behind_a_token(hub):
    dev = hub.device()
    assert httpx.get(hub.url + "/v1/openapi.json").status_code == 401
    r = dev.http.get("/v1/openapi.json")
    assert r.status_code == 200 and r.json() == SPEC
    assert {"/v1/push", "/v1/pull", "/v1/enroll", "/v1/health", "/v1/blobs/missing", "/v1/blobs/{sha}"} <= set(SPEC["paths"])
    assert SPEC["paths"]["/v1/push"]["post"]["requestBody"]["content"]["application/json"]["schema"]


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much, HealthCheck.data_too_large])
def test_api_conforms_to_its_openapi(case, hub):
    if not hasattr(hub, "_fuzz_dev"):
        hub._fuzz_dev = hub.device()
    dev = hub._fuzz_dev
    headers = {"Authorization": f"Bearer {dev.token}"}
    if case.path == "/v1/push" and isinstance(case.body, dict):
        # the device's own id, so generated operations reach validation and the store (not only 403)
        case.body["device_id"] = dev.device_id
        for op in case.body.get("ops") or []:
            if isinstance(op, dict):
                op["device_id"] = dev.device_id
    case.call_and_validate(base_url=hub.url, headers=headers, checks=CHECKS, timeout=30)
