"""The one alert model every provider payload is normalised into, and its fingerprint.

Everything after ingest (dedup, grouping, routing, incidents) sees only this model, so a new
provider is one normaliser and nothing else.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal, get_args

Action = Literal["trigger", "acknowledge", "resolve"]
Severity = Literal["critical", "error", "warning", "info"]
Provider = Literal["generic", "alertmanager", "datadog", "newrelic", "cloudwatch", "grafana",
                   "pagerduty", "opsgenie"]

ACTIONS: tuple[Action, ...] = get_args(Action)
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
DEFAULT_SEVERITY: Severity = "error"
"""Used when a source gives no severity; the same default as Alertmanager's PagerDuty receiver."""

LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_INVALID_LABEL_CHARS = re.compile(r"[^A-Za-z0-9_]")

_SEVERITY_WORDS: dict[str, Severity] = {
    "critical": "critical",
    "crit": "critical",
    "fatal": "critical",
    "emergency": "critical",
    "page": "critical",
    "p1": "critical",
    "sev1": "critical",
    "error": "error",
    "err": "error",
    "high": "error",
    "major": "error",
    "p2": "error",
    "sev2": "error",
    "warning": "warning",
    "warn": "warning",
    "medium": "warning",
    "minor": "warning",
    "p3": "warning",
    "sev3": "warning",
    "info": "info",
    "informational": "info",
    "notice": "info",
    "low": "info",
    "none": "info",
    "ok": "info",
    "p4": "info",
    "p5": "info",
    "sev4": "info",
    "sev5": "info",
}


def normalize_severity(raw: str | None) -> Severity:
    """Map the words sources use (`page`, `warn`, `P2`, `HIGH` ...) onto our four levels.

    Unknown or missing values read as `error`: loud enough to be seen, short of waking someone
    at P1 for an alert nobody classified.
    """
    if raw is None:
        return DEFAULT_SEVERITY
    return _SEVERITY_WORDS.get(raw.strip().lower(), DEFAULT_SEVERITY)


def label_name(raw: str) -> str:
    """A source's tag or dimension name as a label name that matchers can address."""
    name = _INVALID_LABEL_CHARS.sub("_", raw.strip())
    if not name or name[0].isdigit():
        name = "_" + name
    return name


def fingerprint(labels: Mapping[str, str]) -> str:
    """A stable hash of a label set: order-independent, the same in every process and release.

    Used as the dedup key when a source gives none, so re-sent alerts with the same labels
    join the same incident.
    """
    canonical = json.dumps(sorted(labels.items()), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Link:
    href: str
    text: str = ""

    def to_json(self) -> dict[str, str]:
        return {"href": self.href, "text": self.text}


_TEXT_FIELDS = ("summary", "dedup_key", "source", "delivery_id", "labels", "annotations",
                "details", "links")


def _has_nul(value: object) -> bool:
    """PostgreSQL stores no U+0000 in text or JSON; such an alert is refused, not half-kept."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    if isinstance(value, Link):
        return _has_nul(value.href) or _has_nul(value.text)
    return False


@dataclass(frozen=True)
class Alert:
    """One alert event from a source: what it says, how bad, and what it is the same as.

    `dedup_key` identifies the alert across deliveries (a trigger and its resolve share it);
    `delivery_id` identifies this one delivery when the source gives an id for it, so a retried
    delivery is recognised as such. `integration` is left empty by the normalisers and filled by
    the ingest adapter, which knows the URL the payload came in on.
    """

    provider: Provider
    action: Action
    summary: str
    severity: Severity
    dedup_key: str
    occurred_at: datetime
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)
    links: tuple[Link, ...] = ()
    source: str | None = None
    delivery_id: str | None = None
    integration: str | None = None

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None or self.occurred_at.utcoffset() is None:
            raise ValueError("occurred_at must be an aware datetime")
        object.__setattr__(self, "occurred_at", self.occurred_at.astimezone(UTC))
        if self.action not in ACTIONS:
            raise ValueError(f"unknown action {self.action!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}")
        if not self.dedup_key:
            raise ValueError("dedup_key must not be empty")
        for name in _TEXT_FIELDS:
            if _has_nul(getattr(self, name)):
                raise ValueError(f"{name} contains a NUL character (U+0000), which cannot be"
                                 " stored")

    def for_integration(self, name: str) -> Alert:
        return replace(self, integration=name)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types, keys sorted where order carries no meaning (golden files, storage)."""
        return {
            "provider": self.provider,
            "integration": self.integration,
            "action": self.action,
            "summary": self.summary,
            "severity": self.severity,
            "source": self.source,
            "dedup_key": self.dedup_key,
            "delivery_id": self.delivery_id,
            "occurred_at": self.occurred_at.isoformat(),
            "labels": dict(sorted(self.labels.items())),
            "annotations": dict(sorted(self.annotations.items())),
            "details": dict(self.details),
            "links": [link.to_json() for link in self.links],
        }
