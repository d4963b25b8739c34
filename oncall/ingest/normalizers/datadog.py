"""Datadog monitor notifications through the Webhooks integration, with our payload template.

Datadog's default webhook body carries no alert transition, so users paste the template in
`TEMPLATE` (documented in docs/integrations.md). Every value arrives as a string, because
Datadog substitutes `$VARIABLES` inside the quotes of the template.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from oncall.core.alerts import Alert, Severity, fingerprint, label_name, normalize_severity
from oncall.ingest.normalizers.common import (
    Lenient,
    PayloadError,
    clip,
    links,
    parse,
    parse_epoch_ms,
    with_severity,
)

TEMPLATE = """\
{
  "id": "$ID",
  "transition": "$ALERT_TRANSITION",
  "title": "$EVENT_TITLE",
  "body": "$TEXT_ONLY_MSG",
  "alert_id": "$ALERT_ID",
  "alert_title": "$ALERT_TITLE",
  "aggregation_key": "$AGGREG_KEY",
  "cycle_key": "$ALERT_CYCLE_KEY",
  "alert_type": "$ALERT_TYPE",
  "alert_priority": "$ALERT_PRIORITY",
  "priority": "$PRIORITY",
  "alert_metric": "$ALERT_METRIC",
  "alert_query": "$ALERT_QUERY",
  "alert_scope": "$ALERT_SCOPE",
  "alert_status": "$ALERT_STATUS",
  "hostname": "$HOSTNAME",
  "tags": "$TAGS",
  "link": "$LINK",
  "snapshot": "$SNAPSHOT",
  "date": "$DATE",
  "last_updated": "$LAST_UPDATED",
  "org": {"id": "$ORG_ID", "name": "$ORG_NAME"}
}
"""

TRANSITIONS: dict[str, tuple[Literal["trigger", "resolve"], Severity | None]] = {
    "triggered": ("trigger", None),
    "re-triggered": ("trigger", None),
    "renotify": ("trigger", None),
    "warn": ("trigger", "warning"),
    "re-warn": ("trigger", "warning"),
    "no data": ("trigger", "warning"),
    "re-no data": ("trigger", "warning"),
    "recovered": ("resolve", None),
}
_ALERT_TYPE_SEVERITY: dict[str, Severity] = {
    "error": "error",
    "warning": "warning",
    "info": "info",
    "success": "info",
}
_TITLE_PREFIX = re.compile(r"^(\s*\[[^\]]*\])+\s*")


class Org(Lenient):
    id: str = ""
    name: str = ""


class Notification(Lenient):
    id: str = Field(min_length=1)
    transition: str
    title: str = ""
    body: str = ""
    alert_id: str = ""
    alert_title: str = ""
    aggregation_key: str = ""
    cycle_key: str = ""
    alert_type: str = ""
    alert_priority: str = ""
    priority: str = ""
    alert_metric: str = ""
    alert_query: str = ""
    alert_scope: str = ""
    alert_status: str = ""
    hostname: str = ""
    tags: str = ""
    link: str = ""
    snapshot: str = ""
    date: str | int = ""
    last_updated: str | int = ""
    org: Org = Field(default_factory=Org)


def tag_labels(tags: str) -> dict[str, str]:
    """`env:prod, team:payments, canary` as labels; a bare tag becomes `canary="true"`."""
    labels: dict[str, str] = {}
    for tag in tags.split(","):
        tag = tag.strip()
        if not tag:
            continue
        key, sep, value = tag.partition(":")
        labels.setdefault(label_name(key), value.strip() if sep else "true")
    return labels


def summary_of(note: Notification) -> str:
    for title in (note.title, note.alert_title):
        stripped = _TITLE_PREFIX.sub("", title).strip()
        if stripped:
            return clip(stripped)
    return f"Datadog monitor {note.alert_id or note.id}"


def normalize(payload: dict[str, Any], received_at: datetime) -> list[Alert]:
    note = parse(Notification, payload)
    found = TRANSITIONS.get(note.transition.strip().lower())
    if found is None:
        raise PayloadError(
            "transition",
            f"unknown alert transition {note.transition!r}: expected one of Triggered, "
            "Re-Triggered, Warn, Re-Warn, No Data, Re-No Data, Renotify, Recovered "
            "(is the template's \"transition\": \"$ALERT_TRANSITION\" in place?)",
        )
    action, transition_severity = found
    if note.alert_priority.strip():
        severity = normalize_severity(note.alert_priority)
    else:
        severity = _ALERT_TYPE_SEVERITY.get(note.alert_type.strip().lower(), "error")
    if transition_severity is not None:
        severity = transition_severity

    labels = tag_labels(note.tags)
    for tag_key, tag_value in tag_labels(note.alert_scope).items():
        labels.setdefault(tag_key, tag_value)
    if note.alert_id:
        labels.setdefault("monitor_id", note.alert_id)
    if note.alert_metric:
        labels.setdefault("metric", note.alert_metric)
    if note.hostname:
        labels.setdefault("host", note.hostname)

    when = note.date if note.date != "" else note.last_updated
    occurred = parse_epoch_ms(when, "date") if when != "" else received_at
    scoped = f"{note.alert_id}:{note.alert_scope}" if note.alert_scope else note.alert_id
    key = note.aggregation_key or scoped or fingerprint(labels)
    details: dict[str, Any] = {
        k: v
        for k, v in {
            "transition": note.transition,
            "body": note.body,
            "alert_status": note.alert_status,
            "alert_query": note.alert_query,
            "alert_scope": note.alert_scope,
            "alert_priority": note.alert_priority,
            "cycle_key": note.cycle_key,
            "org": note.org.name,
        }.items()
        if v
    }
    return [
        Alert(
            provider="datadog",
            action=action,
            summary=summary_of(note),
            severity=severity,
            dedup_key=key,
            occurred_at=occurred,
            labels=with_severity(labels, severity),
            details=details,
            links=links((note.link, "Datadog"), (note.snapshot, "Snapshot")),
            source=note.hostname or None,
            delivery_id=note.id,
        )
    ]
