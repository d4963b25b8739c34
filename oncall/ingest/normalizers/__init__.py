"""One pure normaliser per integration type: provider JSON in, `Alert`s out, time passed in.

`normalize(type, payload, received_at)` is the one call the HTTP adapter makes; a malformed body
raises `PayloadError` naming the field. The limits of `oncall.ingest.limits` hold for every
type here, in one place: too many alerts in one delivery is refused (413) before the payload is
even validated, too many labels on one alert (422) before anything is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from oncall.core.alerts import Alert
from oncall.ingest.limits import MAX_ALERTS_PER_REQUEST, MAX_LABELS_PER_ALERT
from oncall.ingest.normalizers import (
    alertmanager,
    cloudwatch,
    datadog,
    generic,
    grafana,
    newrelic,
    opsgenie,
    pagerduty,
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
    "pagerduty": pagerduty.normalize,
    "opsgenie": opsgenie.normalize,
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
    _too_many("alerts", payload.get("alerts"))  # before validating each of them
    alerts = normalizer(payload, received_at)
    _too_many("alerts", alerts)
    for index, alert in enumerate(alerts):
        if len(alert.labels) > MAX_LABELS_PER_ALERT:
            where = f"alerts[{index}].labels" if "alerts" in payload else "labels"
            raise PayloadError(
                where, f"{len(alert.labels)} labels: at most {MAX_LABELS_PER_ALERT} per alert",
            )
    return alerts


def _too_many(field: str, items: object) -> None:
    if isinstance(items, list) and len(items) > MAX_ALERTS_PER_REQUEST:
        raise PayloadError(
            field, f"{len(items)} alerts in one request: at most {MAX_ALERTS_PER_REQUEST}; "
            "send them in smaller groups (Alertmanager: `max_alerts` in webhook_configs)",
            status=413,
        )


__all__ = ["NORMALIZERS", "Normalizer", "PayloadError", "normalize"]
