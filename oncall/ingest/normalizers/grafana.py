"""Grafana unified alerting webhook contact point (payload version "1").

Grafana's payload is Alertmanager's with extra links and values, and it means the same: each
alert's own `status` decides, `endsAt` of Go's zero time means still open.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from oncall.core.alerts import Alert
from oncall.ingest.normalizers.alertmanager import Status, WebhookAlert, one_alert
from oncall.ingest.normalizers.common import Lenient, parse


class GrafanaAlert(WebhookAlert):
    silenceURL: str = ""
    dashboardURL: str = ""
    panelURL: str = ""
    imageURL: str = ""
    valueString: str = ""
    values: dict[str, Any] | None = None


class Webhook(Lenient):
    version: Literal["1"] = "1"
    receiver: str = ""
    status: Status
    orgId: int | None = None
    alerts: list[GrafanaAlert] = Field(min_length=1)
    groupKey: str = ""
    externalURL: str = ""
    title: str = ""
    truncatedAlerts: int = 0


def normalize(payload: dict[str, Any], received_at: datetime) -> list[Alert]:
    hook = parse(Webhook, payload)
    out: list[Alert] = []
    for i, alert in enumerate(hook.alerts):
        details: dict[str, Any] = {
            "receiver": hook.receiver,
            "group_key": hook.groupKey,
            "external_url": hook.externalURL,
            "org_id": hook.orgId,
        }
        if alert.valueString:
            details["value_string"] = alert.valueString
        if alert.values is not None:
            details["values"] = alert.values
        out.append(
            one_alert(
                "grafana", i, alert, received_at, details,
                extra_links=(
                    (alert.dashboardURL, "Dashboard"),
                    (alert.panelURL, "Panel"),
                    (alert.silenceURL, "Silence"),
                    (alert.imageURL, "Image"),
                ),
            )
        )
    return out
