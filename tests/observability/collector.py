"""A local OpenTelemetry collector stand-in: receives OTLP/HTTP protobuf on /v1/traces and
decodes the spans, as a real collector would."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from oncall.testing.peers.base import Peer, RecordedRequest, Reply


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in any_value.array_value.values]
    return getattr(any_value, kind) if kind else None


@dataclass(frozen=True)
class ReceivedSpan:
    name: str
    trace_id: int
    span_id: int
    parent_span_id: int | None
    start_ns: int
    end_ns: int
    kind: int
    status_code: int
    attributes: dict[str, Any]
    resource: dict[str, Any]


class CollectorPeer(Peer):
    name = "otlp-collector"

    def env(self) -> dict[str, str]:
        return {"OTEL_EXPORTER_OTLP_ENDPOINT": self.url}

    def handle(self, request: RecordedRequest) -> Reply:
        if request.method != "POST" or request.path != "/v1/traces":
            return Reply.text("Not Found", 404)
        if request.header("Content-Type") != "application/x-protobuf":
            return Reply.text("expected application/x-protobuf", 415)
        ExportTraceServiceRequest.FromString(self._body(request))  # refuse what does not decode
        return Reply(200, ExportTraceServiceResponse().SerializeToString(),
                     {"Content-Type": "application/x-protobuf"})

    @staticmethod
    def _body(request: RecordedRequest) -> bytes:
        if (request.header("Content-Encoding") or "").lower() == "gzip":
            return gzip.decompress(request.body)
        return request.body

    @property
    def spans(self) -> list[ReceivedSpan]:
        found: list[ReceivedSpan] = []
        for request in self.answered:
            if request.path != "/v1/traces":
                continue
            message = ExportTraceServiceRequest.FromString(self._body(request))
            for resource_spans in message.resource_spans:
                resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    for s in scope_spans.spans:
                        found.append(ReceivedSpan(
                            name=s.name,
                            trace_id=int.from_bytes(s.trace_id),
                            span_id=int.from_bytes(s.span_id),
                            parent_span_id=int.from_bytes(s.parent_span_id)
                            if s.parent_span_id else None,
                            start_ns=s.start_time_unix_nano,
                            end_ns=s.end_time_unix_nano,
                            kind=s.kind,
                            status_code=s.status.code,
                            attributes={a.key: _value(a.value) for a in s.attributes},
                            resource=resource,
                        ))
        return found
