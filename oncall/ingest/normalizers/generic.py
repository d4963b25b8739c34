"""Our own JSON format, for scripts and tools with no native integration (docs/integrations.md).

Strict on purpose: unknown fields are errors, so a typo (`sevrity`) is answered with 422 naming
the field instead of an alert that silently lost its severity.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from oncall.core.alerts import LABEL_NAME, Action, Alert, Severity, fingerprint
from oncall.ingest.limits import GENERIC_MAX_LABELS
from oncall.ingest.normalizers.common import PayloadError, links, parse, with_severity


class GenericLink(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    href: str = Field(pattern=r"^https?://", max_length=2048)
    text: str = Field("", max_length=256)


class GenericEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    summary: str | None = Field(None, min_length=1, max_length=1024)
    severity: Severity = "error"
    source: str | None = Field(None, max_length=255)
    labels: dict[str, str] = Field(default_factory=dict, max_length=GENERIC_MAX_LABELS)
    dedup_key: str | None = Field(None, min_length=1, max_length=255)
    event_action: Action = "trigger"
    occurred_at: AwareDatetime | None = None
    links: list[GenericLink] = Field(default_factory=list, max_length=20)
    details: dict[str, Any] = Field(default_factory=dict)


def check(event: GenericEvent) -> None:
    """Rules across fields, reported at the field a sender has to fix."""
    for name, value in event.labels.items():
        if not LABEL_NAME.match(name):
            raise PayloadError(
                f"labels.{name}",
                "invalid label name: use letters, digits and '_', not starting with a digit",
            )
        if len(value) > 1024:
            raise PayloadError(f"labels.{name}", "longer than 1024 characters")
    if event.event_action == "trigger" and event.summary is None:
        raise PayloadError("summary", "required to trigger an alert")
    if event.event_action != "trigger" and event.dedup_key is None and not event.labels:
        raise PayloadError(
            "dedup_key", f"required to {event.event_action} an alert that has no labels"
        )


def dedup_key_of(event: GenericEvent) -> str:
    """The given key; else the labels' fingerprint; else one of summary and source."""
    if event.dedup_key is not None:
        return event.dedup_key
    if event.labels:
        return fingerprint(event.labels)
    return fingerprint({"summary": event.summary or "", "source": event.source or ""})


def normalize(payload: dict[str, Any], received_at: datetime) -> list[Alert]:
    event = parse(GenericEvent, payload)
    check(event)
    key = dedup_key_of(event)
    action: Literal["trigger", "acknowledge", "resolve"] = event.event_action
    return [
        Alert(
            provider="generic",
            action=action,
            summary=event.summary or f"{action} {key}",
            severity=event.severity,
            dedup_key=key,
            occurred_at=event.occurred_at or received_at,
            labels=with_severity(event.labels, event.severity),
            details=event.details,
            links=links(*((link.href, link.text) for link in event.links)),
            source=event.source,
        )
    ]
