"""Prometheus Alertmanager webhook (version 4): each alert in a group is one Alert.

A group notification repeats every alert of the group, firing and resolved together, and the
group `status` stays "firing" while any alert fires; so each alert's own `status` decides.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from oncall.core.alerts import Alert, Provider, fingerprint, normalize_severity
from oncall.ingest.normalizers.common import (
    ZERO_TIME,
    Lenient,
    clip,
    links,
    parse,
    parse_time,
)

Status = Literal["firing", "resolved"]


class WebhookAlert(Lenient):
    status: Status
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: str
    endsAt: str = "0001-01-01T00:00:00Z"
    generatorURL: str = ""
    fingerprint: str = ""


class Webhook(Lenient):
    version: Literal["4"]
    receiver: str = ""
    status: Status
    alerts: list[WebhookAlert] = Field(min_length=1)
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    groupKey: str = ""
    truncatedAlerts: int = 0


def summary_of(labels: dict[str, str], annotations: dict[str, str], key: str) -> str:
    for text in (annotations.get("summary"), annotations.get("description"),
                 labels.get("alertname")):
        if text and text.strip():
            return clip(text)
    return f"alert {key}"


def one_alert(
    provider: Provider,
    index: int,
    alert: WebhookAlert,
    received_at: datetime,
    details: dict[str, Any],
    extra_links: tuple[tuple[str | None, str], ...] = (),
) -> Alert:
    """The part Alertmanager and Grafana share: same alert shape, same meaning."""
    path = f"alerts[{index}]"
    starts = parse_time(alert.startsAt, f"{path}.startsAt")
    ends = parse_time(alert.endsAt, f"{path}.endsAt")
    open_ended = ends <= ZERO_TIME
    if alert.status == "firing":
        action: Literal["trigger", "resolve"] = "trigger"
        occurred = starts
    else:
        action = "resolve"
        occurred = received_at if open_ended else ends
    key = alert.fingerprint or fingerprint(alert.labels)
    annotations = alert.annotations
    return Alert(
        provider=provider,
        action=action,
        summary=summary_of(alert.labels, annotations, key),
        severity=normalize_severity(alert.labels.get("severity")),
        dedup_key=key,
        occurred_at=occurred,
        labels=dict(alert.labels),
        annotations=dict(annotations),
        details={
            "starts_at": starts.isoformat(),
            "ends_at": None if open_ended else ends.isoformat(),
            **details,
        },
        links=links(
            (alert.generatorURL, "Source"),
            (annotations.get("runbook_url"), "Runbook"),
            (annotations.get("dashboard_url"), "Dashboard"),
            *extra_links,
        ),
        source=alert.labels.get("instance") or alert.labels.get("job"),
    )


def normalize(payload: dict[str, Any], received_at: datetime) -> list[Alert]:
    hook = parse(Webhook, payload)
    group = {"receiver": hook.receiver, "group_key": hook.groupKey,
             "external_url": hook.externalURL}
    return [
        one_alert("alertmanager", i, alert, received_at, group)
        for i, alert in enumerate(hook.alerts)
    ]
