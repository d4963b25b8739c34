"""What an accepted alert delivery leaves behind: its latency in `oncall_ingest_seconds` and an
`ingest` span in the trace of each incident it touched."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TypeVar

from oncall.observability import metrics, tracing

R = TypeVar("R")


def accepted(integration: str, integration_type: str, incident_ids: Sequence[int],
             outcomes: Sequence[str], alerts: int, arrived: float, started: float) -> None:
    """Called just before the 202: `arrived` is the request's start in epoch seconds (the
    spans' start), `started` the same moment on `time.perf_counter` (the latency)."""
    metrics.observe_ingest(integration_type, time.perf_counter() - started)
    tracing.ingest(integration, integration_type, incident_ids, arrived, outcomes, alerts)


def answered(integration_type: str, started: float, response: R) -> R:
    """A delivery answered by a vendor's own endpoint (PagerDuty, Opsgenie): timed when it was
    accepted (202), with no span (its incidents are not in the answer)."""
    if getattr(response, "status_code", None) == 202:
        metrics.observe_ingest(integration_type, time.perf_counter() - started)
    return response
