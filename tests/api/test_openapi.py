"""The OpenAPI document is accurate: schemathesis fuzzes the running server and finds no 5xx,
no undocumented status code, media type or response shape."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

RESPONDER = "marcus.bell@northwind.example"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture
def fuzzed(live_server: Any, make_api: Any) -> dict[str, Any]:
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
