"""One pure normaliser per integration type: provider JSON in, `Alert`s out, time passed in.

`normalize(type, payload, received_at)` is the one call the HTTP adapter makes; a malformed body
raises `PayloadError` naming the field.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from oncall.core.alerts import Alert
from oncall.ingest.normalizers import (
    alertmanager,
    cloudwatch,
    datadog,
    generic,
    grafana,
    newrelic,
)
from oncall.ingest.normalizers.common import PayloadError

Normalizer = Callable[[dict[str, Any], datetime], list[Alert]]

NORMALIZERS: dict[str, Normalizer] = {
    "generic": generic.normalize,
    "alertmanager": alertmanager.normalize,
    "datadog": datadog.normalize,
    "newrelic": newrelic.normalize,
    "cloudwatch": cloudwatch.normalize,
    "grafana": grafana.normalize,
}


def normalize(integration_type: str, payload: Any, received_at: datetime) -> list[Alert]:
    """Alerts from one delivery; `received_at` (aware) fills in when the source gives no time."""
    if received_at.tzinfo is None:
        raise ValueError("received_at must be an aware datetime")
    try:
        normalizer = NORMALIZERS[integration_type]
    except KeyError:
        raise ValueError(f"unknown integration type {integration_type!r}") from None
    if not isinstance(payload, dict):
        raise PayloadError("", "expected a JSON object")
    return normalizer(payload, received_at)


__all__ = ["NORMALIZERS", "Normalizer", "PayloadError", "normalize"]
