"""An accepted delivery is timed per integration type and traced, in its incident's trace,
from the request's arrival; a refused one is neither."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from oncall.observability import metrics, tracing
from tests.observability.collector import CollectorPeer

from .conftest import Api
from .test_pagerduty_events import api_engine, critical, enqueue, vendor_api  # noqa: F401

ALERT = {"summary": "Checkout journey failing", "severity": "critical", "dedup_key": "obs-1"}


def _ingests(integration_type: str) -> float:
    for family in text_string_to_metric_families(generate_latest(metrics.registry()).decode()):
        for s in family.samples:
            if s.name == "oncall_ingest_seconds_count" and s.labels == {"type": integration_type}:
                return s.value
    return 0.0


@pytest.fixture
def collector() -> Iterator[CollectorPeer]:
    with CollectorPeer() as peer:
        assert tracing.configure(peer.env(), service_name="oncall-api")
        try:
            yield peer
        finally:
            tracing.shutdown()


def test_an_accepted_alert_is_timed_and_traced_in_its_incident(
    api: Api, collector: CollectorPeer,
) -> None:
    before = _ingests("generic")
    sent_at = time.time_ns()
    answer = api.post("synthetic-checks", ALERT)
    assert answer.status_code == 202
    (incident_id,) = answer.json()["incidents"]
    assert _ingests("generic") == before + 1
    assert tracing.flush()
    (span,) = collector.spans
    assert span.name == "ingest"
    assert span.trace_id == tracing.incident_trace_id(incident_id, "")
    assert span.parent_span_id == tracing.incident_root_span_id(incident_id, "")
    assert span.attributes["oncall.integration"] == "synthetic-checks"
    assert span.attributes["oncall.incident.id"] == incident_id
    assert span.attributes["oncall.outcomes"] == ["new"]
    assert sent_at <= span.start_ns <= span.end_ns
    assert span.resource["service.name"] == "oncall-api"


def test_a_refused_alert_is_neither_timed_nor_traced(api: Api, collector: CollectorPeer) -> None:
    before = _ingests("generic")
    assert api.post("synthetic-checks", ALERT, token="wrong").status_code == 401
    assert _ingests("generic") == before
    assert tracing.flush()
    assert collector.spans == []


def test_a_vendor_endpoints_accepted_event_is_timed(vendor_api: Api) -> None:  # noqa: F811
    before = _ingests("pagerduty")
    url = "/api/v1/integrations/pagerduty-prod/alerts"
    assert enqueue(vendor_api, {**critical("trigger"), "routing_key": "wrong"}, url
                   ).status_code == 400
    assert _ingests("pagerduty") == before
    assert enqueue(vendor_api, critical("trigger"), url).status_code == 202
    assert _ingests("pagerduty") == before + 1
