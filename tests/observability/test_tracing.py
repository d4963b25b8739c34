"""Traces: off without an endpoint; with one, every span of an incident lands in one trace
whatever process makes it, exported over OTLP/HTTP to a collector (a local stand-in)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from oncall.core.notification_rules import Channel
from oncall.notify.message import Notice, NoticeKind
from oncall.notify.providers.base import DeliveryResult
from oncall.observability import tracing
from oncall.worker.providers import instrument

from .collector import CollectorPeer, ReceivedSpan


class FakeSms:
    name = "twilio_sms"

    def __init__(self, result: DeliveryResult) -> None:
        self.result = result

    def send(self, address: str, notice: Notice) -> DeliveryResult:
        return self.result


@pytest.fixture
def collector() -> Iterator[CollectorPeer]:
    with CollectorPeer() as peer:
        yield peer


@pytest.fixture
def traced(collector: CollectorPeer) -> Iterator[CollectorPeer]:
    assert tracing.configure({**collector.env(), "OTEL_RESOURCE_ATTRIBUTES":
                              "service.namespace=staging"}, service_name="oncall-test")
    try:
        yield collector
    finally:
        tracing.shutdown()


def _exported(collector: CollectorPeer) -> list[ReceivedSpan]:
    assert tracing.flush()
    return collector.spans


def test_tracing_is_off_without_an_endpoint() -> None:
    assert not tracing.configure({})
    assert not tracing.enabled()
    with tracing.span("anything", incident_id=1) as span:
        assert span is None
    tracing.shutdown()


def test_a_process_configures_itself_from_its_environment_on_first_use(
    collector: CollectorPeer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "oncall-worker")
    tracing.shutdown()  # undecided: the next use reads the environment
    try:
        with tracing.span("escalation.step", incident_id=9) as span:
            assert span is not None
        (received,) = _exported(collector)
    finally:
        tracing.shutdown()
    assert received.trace_id == tracing.incident_trace_id(9, "")
    assert received.resource["service.name"] == "oncall-worker"


@pytest.mark.parametrize(
    ("environ", "endpoint"),
    [
        ({}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, "http://c:4318/v1/traces"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"}, "http://c:4318/v1/traces"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t/x",
          "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, "http://t/x"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, None),
    ],
    ids=["unset", "base", "base-slash", "traces-wins", "disabled"],
)
def test_the_endpoint_follows_the_otlp_variables(environ: dict[str, str],
                                                 endpoint: str | None) -> None:
    assert tracing.traces_endpoint(environ) == endpoint


def test_an_incidents_trace_id_is_stable_and_apart_per_deployment() -> None:
    assert tracing.incident_trace_id(42, "prod") == tracing.incident_trace_id("42", "prod")
    assert tracing.incident_trace_id(42, "prod") != tracing.incident_trace_id(43, "prod")
    assert tracing.incident_trace_id(42, "prod") != tracing.incident_trace_id(42, "staging")
    assert 0 < tracing.incident_trace_id(42, "") < 2**128
    assert 0 < tracing.incident_root_span_id(42, "") < 2**64


def test_ingest_step_and_provider_calls_share_the_incidents_trace(
    traced: CollectorPeer,
) -> None:
    arrived = time.time() - 0.25
    tracing.ingest("prometheus-prod", "prometheus", [42], arrived, ["new"], alerts=1)
    sms = instrument(FakeSms(DeliveryResult.sent("twilio_sms", "SM1")), Channel.SMS)
    page = Notice(kind=NoticeKind.PAGE, incident_id="42", title="Checkout down")
    with tracing.escalation_step(42, 0, policy="checkout", targets=1):
        sms.send("+15550100", page)
    sms.send("+15550100", page)  # the dispatcher's call: no step around it

    spans = {s.name: s for s in _exported(traced)}
    trace_id = tracing.incident_trace_id(42, "staging")
    root = tracing.incident_root_span_id(42, "staging")
    received = traced.spans
    assert {s.trace_id for s in received} == {trace_id}
    assert sorted(s.name for s in received) == ["escalation.step", "ingest", "provider.send",
                                                "provider.send"]
    ingest, step = spans["ingest"], spans["escalation.step"]
    assert ingest.parent_span_id == root and step.parent_span_id == root
    assert ingest.start_ns == int(arrived * 1e9)
    assert ingest.attributes["oncall.integration.type"] == "prometheus"
    assert ingest.attributes["oncall.incident.id"] == 42
    assert ingest.resource["service.name"] == "oncall-test"
    assert step.attributes["oncall.policy"] == "checkout"
    calls = [s for s in received if s.name == "provider.send"]
    assert sorted(c.parent_span_id or 0 for c in calls) == sorted([step.span_id, root])
    assert all(c.attributes["oncall.outcome"] == "sent" for c in calls)
    assert all(c.attributes["oncall.provider"] == "twilio_sms" for c in calls)


def test_a_failed_call_is_an_error_span(traced: CollectorPeer) -> None:
    sms = instrument(FakeSms(DeliveryResult.failed("twilio_sms", "HTTP 503", retryable=True,
                                                   status_code=503)), Channel.SMS)
    sms.send("+15550100", Notice(kind=NoticeKind.PAGE, incident_id="7"))
    (span,) = _exported(traced)
    assert span.status_code == 2  # STATUS_CODE_ERROR
    assert span.attributes["oncall.outcome"] == "retryable"
    assert span.attributes["http.response.status_code"] == 503


def test_a_delivery_touching_many_incidents_is_traced_in_bounded_spans(
    traced: CollectorPeer,
) -> None:
    tracing.ingest("generic", "generic", list(range(1, 200)), time.time(), ["new"], alerts=199)
    spans = _exported(traced)
    assert len(spans) == tracing.MAX_INGEST_SPANS
    assert len({s.trace_id for s in spans}) == tracing.MAX_INGEST_SPANS
