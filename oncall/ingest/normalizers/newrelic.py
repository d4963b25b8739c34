"""New Relic alerts workflows, webhook destination with the default payload template.

One New Relic issue is one alert: its `id` (issueId) is the dedup key, so ACTIVATED, then
ACKNOWLEDGED and CLOSED notifications move the same incident along.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AliasChoices, Field

from oncall.core.alerts import Action, Alert, Severity, label_name
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
  "id": {{ json issueId }},
  "issueUrl": {{ json issuePageUrl }},
  "title": {{ json annotations.title.[0] }},
  "priority": {{ json priority }},
  "impactedEntities": {{ json entitiesData.names }},
  "totalIncidents": {{ json totalIncidents }},
  "state": {{ json state }},
  "trigger": {{ json triggerEvent }},
  "isCorrelated": {{ json isCorrelated }},
  "createdAt": {{ createdAt }},
  "updatedAt": {{ updatedAt }},
  "sources": {{ json accumulations.source }},
  "alertPolicyNames": {{ json accumulations.policyName }},
  "alertConditionNames": {{ json accumulations.conditionName }},
  "workflowName": {{ json workflowName }},
  "labels": {"team": "payments"}
}
"""
"""New Relic's default template plus a static `labels` object for routing (optional)."""

STATES: dict[str, Action] = {
    "CREATED": "trigger",
    "ACTIVATED": "trigger",
    "ACKNOWLEDGED": "acknowledge",
    "CLOSED": "resolve",
}
PRIORITIES: dict[str, Severity] = {
    "CRITICAL": "critical",
    "HIGH": "error",
    "MEDIUM": "warning",
    "LOW": "info",
}

Scalar = str | int | float | bool


class Accumulations(Lenient):
    tag: dict[str, list[Scalar] | Scalar] = Field(default_factory=dict)
    policyName: list[str] = Field(default_factory=list)
    conditionName: list[str] = Field(default_factory=list)


class Issue(Lenient):
    id: str = Field(min_length=1, validation_alias=AliasChoices("id", "issueId"))
    issueUrl: str = Field("", validation_alias=AliasChoices("issueUrl", "issuePageUrl"))
    title: str | list[str] = ""
    priority: str = ""
    state: str
    impactedEntities: list[str] = Field(default_factory=list)
    totalIncidents: int | None = None
    trigger: str = ""
    isCorrelated: bool | None = None
    createdAt: int | float | str | None = None
    updatedAt: int | float | str | None = None
    sources: list[str] = Field(default_factory=list)
    alertPolicyNames: list[str] = Field(default_factory=list)
    alertConditionNames: list[str] = Field(default_factory=list)
    workflowName: str = ""
    labels: dict[str, list[Scalar] | Scalar] = Field(default_factory=dict)
    accumulations: Accumulations | None = None


def flat(value: list[Scalar] | Scalar) -> str:
    items = value if isinstance(value, list) else [value]
    return ",".join(str(v).lower() if isinstance(v, bool) else str(v) for v in items)


def normalize(payload: dict[str, Any], received_at: datetime) -> list[Alert]:
    issue = parse(Issue, payload)
    action = STATES.get(issue.state.strip().upper())
    if action is None:
        raise PayloadError(
            "state",
            f"unknown issue state {issue.state!r}: expected ACTIVATED, ACKNOWLEDGED or CLOSED",
        )
    priority = issue.priority.strip().upper()
    severity = PRIORITIES.get(priority, "error")

    labels: dict[str, str] = {}
    for key, value in issue.labels.items():
        labels[label_name(key)] = flat(value)
    policies = issue.alertPolicyNames or (issue.accumulations.policyName if issue.accumulations
                                          else [])
    conditions = issue.alertConditionNames or (
        issue.accumulations.conditionName if issue.accumulations else []
    )
    if issue.accumulations is not None:
        for key, value in issue.accumulations.tag.items():
            labels.setdefault(label_name(key), flat(value))
    if conditions:
        labels.setdefault("alertname", conditions[0])
    if policies:
        labels.setdefault("policy", policies[0])
    if issue.impactedEntities:
        labels.setdefault("entity", ",".join(issue.impactedEntities))

    title = issue.title[0] if isinstance(issue.title, list) and issue.title else issue.title
    summary = clip(title) if isinstance(title, str) and title.strip() else (
        conditions[0] if conditions else f"New Relic issue {issue.id}"
    )
    when, path = (issue.updatedAt, "updatedAt") if issue.updatedAt not in (None, "") else (
        issue.createdAt, "createdAt")
    occurred = parse_epoch_ms(when, path) if when not in (None, "") else received_at
    details: dict[str, Any] = {"state": issue.state, "priority": issue.priority}
    if issue.totalIncidents is not None:
        details["total_incidents"] = issue.totalIncidents
    extra: dict[str, object] = {"trigger": issue.trigger, "workflow": issue.workflowName,
                                "sources": issue.sources, "policies": policies,
                                "conditions": conditions}
    details.update({name: value for name, value in extra.items() if value})
    kind: Literal["trigger", "acknowledge", "resolve"] = action
    return [
        Alert(
            provider="newrelic",
            action=kind,
            summary=summary,
            severity=severity,
            dedup_key=issue.id,
            occurred_at=occurred,
            labels=with_severity(labels, severity),
            details=details,
            links=links((issue.issueUrl, "New Relic issue")),
            source=issue.impactedEntities[0] if issue.impactedEntities else None,
        )
    ]
