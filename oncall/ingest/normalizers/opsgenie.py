"""Opsgenie Alert API calls monitors make: create (`POST /v2/alerts`), acknowledge, close.

`alias` is Opsgenie's deduplication key and ours: a create with the alias of an open alert is
a repeat of it. A create without one gets a fresh alias from the HTTP adapter
(`with_alias`), as Opsgenie gives every such alert its own identity. Priority P1–P5 maps onto
our severities (P1 critical, P2 error, P3 warning, P4 and P5 info; Opsgenie's default is P3),
and is kept as the label `priority`. Tags become labels (`env:prod` → `env="prod"`, a bare
tag → `tag="true"`), so routing rules match on them; `details`, `entity`, `user`, `note`,
`actions` and `responders` are kept in the alert's details (nobody is paged by a responder
list here: the routing rules and escalation policies decide).

Problems are phrased as Opsgenie phrases its 422 `errors` map (field → reason).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from oncall.core.alerts import Alert, Severity, label_name
from oncall.ingest.normalizers.common import PayloadError, clip

MAX_ALIAS = 512
MAX_DESCRIPTION = 15000
MAX_TAGS = 20
MAX_ENTITY = 512
MAX_SOURCE = 100
DEFAULT_PRIORITY = "P3"
PRIORITIES: dict[str, Severity] = {
    "P1": "critical", "P2": "error", "P3": "warning", "P4": "info", "P5": "info",
}
KEPT = ("entity", "user", "note", "actions", "responders", "visibleTo", "description")
"""Fields kept in the alert's details as they came."""


def with_alias(payload: Mapping[str, Any], new_alias: str) -> tuple[dict[str, Any], str]:
    """The create request with an `alias` (`new_alias` when it has none) and that alias."""
    body = dict(payload)
    alias = body.get("alias")
    if isinstance(alias, str) and alias.strip():
        return body, alias
    body["alias"] = new_alias
    return body, new_alias


def _string(body: Mapping[str, Any], name: str, limit: int, errors: dict[str, str]) -> None:
    value = body.get(name)
    if value is None:
        return
    if not isinstance(value, str):
        errors[name] = f"{name} must be a string"
    elif len(value) > limit:
        errors[name] = f"{name} can not be longer than {limit} characters"


def _errors(body: Mapping[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    message = body.get("message")
    if not isinstance(message, str) or not message.strip():
        errors["message"] = "Message can not be empty."
    _string(body, "alias", MAX_ALIAS, errors)
    _string(body, "description", MAX_DESCRIPTION, errors)
    _string(body, "entity", MAX_ENTITY, errors)
    _string(body, "source", MAX_SOURCE, errors)
    _string(body, "user", MAX_ENTITY, errors)
    _string(body, "note", 25000, errors)
    priority = body.get("priority")
    if priority is not None and priority not in PRIORITIES:
        errors["priority"] = "should be one of [P1, P2, P3, P4, P5]"
    tags = body.get("tags")
    if tags is not None:
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            errors["tags"] = "tags must be a list of strings"
        elif len(tags) > MAX_TAGS:
            errors["tags"] = f"can not have more than {MAX_TAGS} tags"
    details = body.get("details")
    if details is not None and not isinstance(details, Mapping):
        errors["details"] = "details must be a map of strings"
    for name in ("actions", "responders", "visibleTo"):
        if body.get(name) is not None and not isinstance(body[name], list):
            errors[name] = f"{name} must be a list"
    return errors


def tag_labels(tags: list[str]) -> dict[str, str]:
    """`["env:prod", "critical"]` as labels: `env="prod"`, `critical="true"`."""
    labels: dict[str, str] = {}
    for tag in tags:
        key, sep, value = tag.strip().partition(":")
        if key.strip():
            labels.setdefault(label_name(key), value.strip() if sep else "true")
    return labels


def normalize(payload: dict[str, Any], received_at: datetime) -> list[Alert]:
    """A create-alert request; `alias` is filled in by the adapter when the sender gave none."""
    errors = _errors(payload)
    if not errors and not isinstance(payload.get("alias"), str):
        errors["alias"] = "Alias can not be empty."
    if errors:
        raise PayloadError(next(iter(errors)), next(iter(errors.values())),
                           tuple(errors.items()))
    priority = payload.get("priority") or DEFAULT_PRIORITY
    severity = PRIORITIES[priority]
    labels = tag_labels(payload.get("tags") or [])
    labels["priority"] = priority
    labels["severity"] = severity
    entity = payload.get("entity")
    if isinstance(entity, str) and entity.strip():
        labels.setdefault("entity", entity.strip())
    details: dict[str, Any] = {}
    if payload.get("details"):
        details["details"] = dict(payload["details"])
    if payload.get("tags"):
        details["tags"] = list(payload["tags"])
    for name in KEPT:
        if payload.get(name):
            details[name] = payload[name]
    source = payload.get("source")
    return [
        Alert(
            provider="opsgenie",
            action="trigger",
            summary=clip(payload["message"]),
            severity=severity,
            dedup_key=payload["alias"],
            occurred_at=received_at,
            labels=labels,
            details=details,
            source=source.strip() if isinstance(source, str) and source.strip() else None,
        )
    ]


def acted(alias: str, action: Literal["acknowledge", "close"], body: Mapping[str, Any],
          received_at: datetime) -> Alert:
    """The acknowledge or close of the alert with `alias` (its `user`, `source` and `note`
    kept)."""
    details = {name: body[name] for name in ("user", "source", "note")
               if isinstance(body.get(name), str) and body[name]}
    return Alert(
        provider="opsgenie",
        action="acknowledge" if action == "acknowledge" else "resolve",
        summary=f"{action} {clip(alias, 200)}",
        severity="info",
        dedup_key=alias,
        occurred_at=received_at,
        details=details,
    )
