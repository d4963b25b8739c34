"""OpenTelemetry traces of an incident's road: ingest, escalation steps, provider calls.

Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set: then
the first use in a process installs the SDK with a batching OTLP/HTTP (protobuf) exporter;
otherwise no SDK is loaded and every helper here returns before building anything.

One trace per incident, across processes, without storing anything: the trace id and the id of
the trace's root are derived from the incident id (and `service.namespace` of the resource, from
`OTEL_RESOURCE_ATTRIBUTES`, so that two deployments sharing a tracing backend do not share
traces). Every process parents its spans on that root, a non-recording span context, so the API's
ingest span for each alert and the worker's escalation steps and provider calls all land in the
incident's trace without the worker being told anything. The root itself is never exported:
a backend shows the ingest and step spans as the trace's top level.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

log = logging.getLogger(__name__)

ENDPOINT_ENV: Final = "OTEL_EXPORTER_OTLP_ENDPOINT"
TRACES_ENDPOINT_ENV: Final = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
DISABLED_ENV: Final = "OTEL_SDK_DISABLED"
SCOPE: Final = "oncall"
MAX_INGEST_SPANS: Final = 50
"""Ingest spans per request: a delivery of 500 alerts touching as many incidents is traced in
its first incidents only, so tracing cannot become the request's cost."""

AttrValue = str | bool | int | float


class _Tracing:
    """The process's tracing: unconfigured, off, or an SDK provider and its namespace."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.decided = False
        self.provider: TracerProvider | None = None
        self.namespace = ""


_STATE = _Tracing()


def traces_endpoint(environ: Mapping[str, str]) -> str | None:
    """Where spans go, by the OTLP exporter's rules: the traces endpoint as given, or the
    base endpoint with `/v1/traces`; None when tracing is off."""
    if environ.get(DISABLED_ENV, "").strip().lower() == "true":
        return None
    specific = environ.get(TRACES_ENDPOINT_ENV, "").strip()
    if specific:
        return specific
    base = environ.get(ENDPOINT_ENV, "").strip()
    if not base:
        return None
    return base.rstrip("/") + "/v1/traces"


def resource_attributes(raw: str) -> dict[str, AttrValue]:
    """`OTEL_RESOURCE_ATTRIBUTES` (`key=value,...`, values percent-encoded) as a dict."""
    from urllib.parse import unquote

    found: dict[str, AttrValue] = {}
    for item in raw.split(","):
        key, sep, value = item.partition("=")
        if sep and key.strip():
            found[key.strip()] = unquote(value.strip())
    return found


def configure(environ: Mapping[str, str] | None = None, service_name: str = "oncall") -> bool:
    """Install the SDK when the environment names an OTLP endpoint; True when tracing is on.

    Called once at a process's start (the worker names itself `oncall-worker`), or implicitly
    on first use with the process environment. `OTEL_SERVICE_NAME` and
    `OTEL_RESOURCE_ATTRIBUTES` override the name and add attributes, as everywhere in OTel.
    """
    with _STATE.lock:
        return _configure_locked(os.environ if environ is None else environ, service_name)


def _configure_locked(env: Mapping[str, str], service_name: str) -> bool:
    _shutdown_locked()
    _STATE.decided = True
    endpoint = traces_endpoint(env)
    if endpoint is None:
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    attributes: dict[str, AttrValue] = {"service.name": service_name}
    attributes.update(resource_attributes(env.get("OTEL_RESOURCE_ATTRIBUTES", "")))
    if env.get("OTEL_SERVICE_NAME", "").strip():
        attributes["service.name"] = env["OTEL_SERVICE_NAME"].strip()
    resource = Resource.create(attributes)
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    _STATE.provider = provider
    _STATE.namespace = str(resource.attributes.get("service.namespace", ""))
    log.info("tracing: exporting spans over OTLP/HTTP to %s", endpoint)
    return True


def _shutdown_locked() -> None:
    provider, _STATE.provider = _STATE.provider, None
    _STATE.decided = False
    if provider is not None:
        provider.shutdown()


def shutdown() -> None:
    """Export what is buffered and turn tracing off (a later use decides afresh)."""
    with _STATE.lock:
        _shutdown_locked()


def flush(timeout_millis: int = 5000) -> bool:
    """Export the buffered spans now."""
    provider = _STATE.provider
    return provider.force_flush(timeout_millis) if provider is not None else True


def _provider() -> TracerProvider | None:
    if not _STATE.decided:
        with _STATE.lock:
            if not _STATE.decided:  # another thread may have decided meanwhile
                _configure_locked(os.environ, "oncall")
    return _STATE.provider


def enabled() -> bool:
    return _provider() is not None


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("\x00".join(parts).encode()).digest()


def _key(incident_id: int | str) -> str | None:
    key = str(incident_id).strip()
    return key if key and key not in ("0", "None") else None


def incident_trace_id(incident_id: int | str, namespace: str | None = None) -> int:
    """The incident's trace id (128 bits, never zero), the same in every process."""
    ns = _STATE.namespace if namespace is None else namespace
    return int.from_bytes(_digest("oncall", ns, "incident", str(incident_id))[:16]) or 1


def incident_root_span_id(incident_id: int | str, namespace: str | None = None) -> int:
    """The id of the incident's (never exported) root span, which every span parents on."""
    ns = _STATE.namespace if namespace is None else namespace
    return int.from_bytes(_digest("oncall", ns, "incident-root", str(incident_id))[:8]) or 1


def incident_context(incident_id: int | str) -> Context:
    """A context whose current span is the incident's root: spans started in it join the
    incident's trace."""
    parent = SpanContext(
        trace_id=incident_trace_id(incident_id),
        span_id=incident_root_span_id(incident_id),
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    return trace.set_span_in_context(NonRecordingSpan(parent))


def _parent(incident_id: int | str | None) -> Context | None:
    """The current span's context when there is one (a step around a provider call), else the
    incident's root, else None (a new trace)."""
    if trace.get_current_span().get_span_context().is_valid:
        return None
    key = _key(incident_id) if incident_id is not None else None
    return incident_context(key) if key is not None else None


def _ns(seconds_since_epoch: float) -> int:
    return int(seconds_since_epoch * 1e9)


def ingest(integration: str, integration_type: str, incident_ids: Sequence[int],
           started: float, outcomes: Sequence[str] = (), alerts: int = 0) -> None:
    """One `ingest` span per incident the delivery touched, in that incident's trace, from
    the request's start (`started`, epoch seconds) to now."""
    provider = _provider()
    if provider is None or not incident_ids:
        return
    tracer = provider.get_tracer(SCOPE)
    ended = time.time_ns()
    for incident_id in incident_ids[:MAX_INGEST_SPANS]:
        span = tracer.start_span(
            "ingest", context=incident_context(incident_id), kind=SpanKind.SERVER,
            start_time=_ns(started),
            attributes={
                "oncall.integration": integration,
                "oncall.integration.type": integration_type,
                "oncall.incident.id": int(incident_id),
                "oncall.alerts": alerts,
                "oncall.outcomes": sorted(set(outcomes)),
            },
        )
        span.end(end_time=ended)


@contextmanager
def span(name: str, *, incident_id: int | str | None = None, kind: SpanKind = SpanKind.INTERNAL,
         attributes: Mapping[str, AttrValue] | None = None) -> Iterator[Span | None]:
    """A span made current for the block, in the incident's trace unless a span is already
    current; yields None (and costs nothing) when tracing is off. An exception escaping the
    block is recorded on the span and re-raised."""
    provider = _provider()
    if provider is None:
        yield None
        return
    attrs: dict[str, Any] = dict(attributes or {})
    key = _key(incident_id) if incident_id is not None else None
    if key is not None and key.isdigit():
        attrs.setdefault("oncall.incident.id", int(key))
    tracer = provider.get_tracer(SCOPE)
    with tracer.start_as_current_span(name, context=_parent(incident_id), kind=kind,
                                      attributes=attrs) as current:
        yield current


@contextmanager
def escalation_step(incident_id: int, step: int, *, policy: str = "", targets: int = 0,
                    repeat: int = 0) -> Iterator[Span | None]:
    """The worker's escalation step of an incident (`escalation.step`); provider calls made
    inside the block are its children."""
    attributes: dict[str, AttrValue] = {"oncall.step": step, "oncall.repeat": repeat,
                                        "oncall.targets": targets}
    if policy:
        attributes["oncall.policy"] = policy
    with span("escalation.step", incident_id=incident_id, attributes=attributes) as current:
        yield current


def result_outcome(current: Span | None, outcome: str, *, ok: bool, error: str | None = None,
                   status_code: int | None = None) -> None:
    """Note a provider call's outcome on its span."""
    if current is None:
        return
    current.set_attribute("oncall.outcome", outcome)
    if status_code is not None:
        current.set_attribute("http.response.status_code", status_code)
    if ok:
        current.set_status(Status(StatusCode.OK))
    else:
        current.set_status(Status(StatusCode.ERROR, (error or outcome)[:200]))
