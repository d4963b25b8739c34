"""The OpenAPI document is complete and accurate: a valid OpenAPI 3.1 document with an
operation for every route the API serves, and schemathesis fuzzing the running server finds no
5xx, no undocumented status code, media type or response shape."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from oncall.api import access

RESPONDER = "marcus.bell@northwind.example"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture
def callbacks_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    """Slack and Twilio set up, so their routes answer fuzzing with refusals, not 503."""
    monkeypatch.setenv("ONCALL_SLACK_SIGNING_SECRET", "slack-s3cret")
    monkeypatch.setenv("ONCALL_TWILIO_AUTH_TOKEN", "twilio-s3cret")


@pytest.fixture
def fuzzed(callbacks_configured: None, live_server: Any, make_api: Any) -> dict[str, Any]:
    """The live server, with an API key and one incident to find."""
    key = make_api().key(RESPONDER)
    response = httpx.post(
        f"{live_server.url}/api/v1/integrations/synthetic-checks/alerts",
        json={"summary": "Checkout down", "dedup_key": "fuzz"},
        headers={"Authorization": "Bearer synth-s3cret"},
    )
    assert response.status_code == 202
    return {"url": live_server.url, "key": key}


def test_the_document_is_openapi_3_1(fuzzed: dict[str, Any]) -> None:
    doc = httpx.get(f"{fuzzed['url']}/api/v1/openapi.json").json()
    assert doc["openapi"] == "3.1.0"
    assert {"/api/v1/integrations/{name}/alerts", "/api/v1/incidents",
            "/api/v1/incidents/{incident_id}/acknowledge"} <= set(doc["paths"])


def test_every_route_has_an_operation_in_a_valid_document(make_api: Any) -> None:
    api = make_api()
    doc = api.client.get("/api/v1/openapi.json").json()
    validate(doc)
    served = {(method.lower(), re.sub(r":[a-z]+}", "}", path))
              for method, path in access.route_keys(api.app.routes)}
    documented = {(method, path) for path, item in doc["paths"].items() for method in item}
    assert served == documented
    assert set(access.API) == set(access.route_keys(api.app.routes))


def fuzz(operation: Any, url: str, secret: str) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=25, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case: Any) -> None:
        case.call_and_validate(base_url=url, headers={"Authorization": f"Bearer {secret}"},
                               checks=CHECKS)

    check()


def test_fuzzing_every_operation_finds_no_server_errors(fuzzed: dict[str, Any]) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzzed['url']}/api/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8, [op.label for op in operations]
    for operation in operations:
        ingest = operation.path.startswith("/api/v1/integrations/")
        fuzz(operation, fuzzed["url"], "synth-s3cret" if ingest else fuzzed["key"])
