"""Where an alert goes: RoutingRules in order over its labels, with the integration as fallback.

Semantics (docs/integrations.md, "Routing"):
- Rules are tried in ascending `order` (then name). A rule applies when its `integrations` list
  is empty or names the alert's integration, and every matcher holds (a missing label reads
  as "").
- The first matching rule decides, unless it has `continue: true`: then later rules are tried
  too, and every matching rule adds a destination (a service once; the first rule to name a
  service decides its priority and grouping).
- A matching `drop: true` rule adds a "dropped" destination. An alert whose destinations are all
  dropped is recorded and pages no one.
- No rule matching at all: the integration's own `service`.
- Priority: the rule's `priority`, else from the `severity` label: critical P1, error P2,
  warning P3, info P4 (an unknown or missing severity reads as error, P2).
- Group key: with the rule's `group_by`, the service and those labels' values (alerts with equal
  values join one open incident of that service); otherwise the alert's dedup key.
- A MaintenanceWindow naming the service and covering the instant marks the destination: the
  alert is recorded, no one is paged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from oncall.config.configset import ConfigSet
from oncall.config.models import Integration, MaintenanceWindow, RoutingRule
from oncall.config.types import Priority
from oncall.core.alerts import Severity, fingerprint, normalize_severity
from oncall.core.schedule.localtime import require_aware, resolve

SEVERITY_PRIORITY: dict[Severity, Priority] = {
    "critical": "P1",
    "error": "P2",
    "warning": "P3",
    "info": "P4",
}


@dataclass(frozen=True)
class RuleStep:
    """One rule as evaluated for this alert: whether it matched, and if not, why not."""

    rule: str
    order: int
    matched: bool
    reason: str
    continued: bool = False


@dataclass(frozen=True)
class Destination:
    service: str | None
    """None when dropped."""
    rule: str | None
    """The rule that sent it here; None for the integration's fallback service."""
    priority: Priority
    priority_from: str
    """"rule" or "severity": where the priority came from."""
    group_key: str
    group_by: tuple[str, ...]
    maintenance: tuple[str, ...]
    """Names of the maintenance windows covering the service now."""

    @property
    def dropped(self) -> bool:
        return self.service is None

    @property
    def in_maintenance(self) -> bool:
        return bool(self.maintenance)

    @property
    def pages(self) -> bool:
        return not self.dropped and not self.in_maintenance


@dataclass(frozen=True)
class Route:
    integration: str
    evaluated: tuple[RuleStep, ...]
    destinations: tuple[Destination, ...]

    @property
    def matched(self) -> tuple[RuleStep, ...]:
        return tuple(step for step in self.evaluated if step.matched)

    @property
    def dropped(self) -> bool:
        return all(d.dropped for d in self.destinations)

    @property
    def fallback(self) -> bool:
        return any(d.rule is None for d in self.destinations)


class RoutingError(LookupError):
    """The integration is not in the config: nothing to route by."""


def priority_for(rule_priority: Priority | None, labels: Mapping[str, str]) -> tuple[Priority, str]:
    if rule_priority is not None:
        return rule_priority, "rule"
    return SEVERITY_PRIORITY[normalize_severity(labels.get("severity"))], "severity"


def group_key(service: str, group_by: tuple[str, ...], labels: Mapping[str, str],
              dedup_key: str) -> str:
    """`service:{a="x",b="y"}` from the rule's group_by (missing labels read as ""), else the
    dedup key. Readable, so `oncall route test` and the incident page can show it."""
    if not group_by:
        return dedup_key
    inner = ",".join(
        f'{name}="{_escape(labels.get(name, ""))}"' for name in group_by
    )
    return f"{service}:{{{inner}}}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def window_covers(window: MaintenanceWindow, at: datetime) -> bool:
    """`from`/`to` are wall-clock times in the window's zone; `to` is exclusive."""
    start = resolve(window.from_, window.timezone)
    end = resolve(window.to, window.timezone)
    return start <= at < end


def maintenance_for(config: ConfigSet, service: str, at: datetime) -> tuple[str, ...]:
    return tuple(
        sorted(
            name
            for name, window in config.maintenance_windows.items()
            if service in window.services and window_covers(window, at)
        )
    )


def _explain(rule: RoutingRule, integration: str, labels: Mapping[str, str]) -> str | None:
    """None when the rule matches; otherwise the first reason it does not."""
    if rule.integrations and integration not in rule.integrations:
        return f"only for integrations {', '.join(rule.integrations)}"
    for matcher in rule.matchers:
        if not matcher.matches(labels):
            actual = labels.get(matcher.name)
            got = f'{matcher.name}="{_escape(actual)}"' if actual is not None else (
                f"no {matcher.name} label")
            return f"{matcher} does not hold ({got})"
    return None


def route(
    config: ConfigSet,
    integration: str,
    labels: Mapping[str, str],
    at: datetime,
    dedup_key: str | None = None,
) -> Route:
    """Route an alert from `integration` with `labels` at the instant `at` (aware).

    `dedup_key` is the alert's; without one, the labels' fingerprint stands in, as it does
    for sources that give no key.
    """
    at = require_aware(at, "at")
    source: Integration | None = config.integrations.get(integration)
    if source is None:
        raise RoutingError(f"unknown integration {integration!r}")
    key = dedup_key if dedup_key else fingerprint(labels)

    steps: list[RuleStep] = []
    destinations: list[Destination] = []
    seen_services: set[str | None] = set()

    def add(service: str | None, rule: RoutingRule | None) -> None:
        if service in seen_services:
            return
        seen_services.add(service)
        priority, priority_from = priority_for(rule.priority if rule else None, labels)
        by = tuple(rule.group_by) if rule else ()
        destinations.append(
            Destination(
                service=service,
                rule=rule.name if rule else None,
                priority=priority,
                priority_from=priority_from,
                group_key=group_key(service or "", by, labels, key),
                group_by=by,
                maintenance=maintenance_for(config, service, at) if service else (),
            )
        )

    for rule in config.routing_rules:
        reason = _explain(rule, integration, labels)
        if reason is not None:
            steps.append(RuleStep(rule.name, rule.order, False, reason))
            continue
        steps.append(RuleStep(rule.name, rule.order, True, "matched", rule.continue_))
        add(None if rule.drop else rule.service, rule)
        if not rule.continue_:
            break

    if not destinations:
        add(source.service, None)
    return Route(integration, tuple(steps), tuple(destinations))
