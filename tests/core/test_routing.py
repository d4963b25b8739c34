"""Routing: rules in order, `continue`, `drop`, integration filter, fallback, priority, grouping
and maintenance windows, on a config loaded the way `oncall validate` loads it."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from oncall.config.configset import ConfigSet
from oncall.config.loader import load
from oncall.core.alerts import fingerprint
from oncall.core.routing import RoutingError, route

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

CONFIG = {
    "rules/team.yaml": """
        kind: Team
        name: payments
        members:
          - {email: alice@example.com, role: admin}
          - {email: bob@example.com}
        ---
        kind: EscalationPolicy
        name: payments
        steps:
          - {targets: ["user:alice@example.com"], timeout: 5m}
        ---
        kind: Service
        name: checkout-api
        team: payments
        escalation_policy: payments
        ---
        kind: Service
        name: payments-db
        team: payments
        escalation_policy: payments
        ---
        kind: Service
        name: audit
        team: payments
        escalation_policy: payments
        ---
        kind: Service
        name: fallback
        team: payments
        escalation_policy: payments
        ---
        kind: Integration
        name: prom
        type: alertmanager
        service: fallback
        secret: ${env:PROM_SECRET}
        ---
        kind: Integration
        name: dd
        type: datadog
        service: checkout-api
        secret: ${env:DD_SECRET}
    """,
    "rules/routing.yaml": """
        kind: RoutingRule
        name: drop-staging
        order: 1
        matchers: ['env=~"staging|dev"']
        drop: true
        ---
        kind: RoutingRule
        name: audit-everything-critical
        order: 5
        matchers: ['severity="critical"']
        service: audit
        continue: true
        ---
        kind: RoutingRule
        name: checkout
        order: 10
        integrations: [prom]
        matchers: ['alertname=~"Checkout.*"', 'severity!="info"']
        service: checkout-api
        priority: P1
        group_by: [alertname, cluster]
        ---
        kind: RoutingRule
        name: database
        order: 20
        matchers: ['job="postgres"']
        service: payments-db
        ---
        kind: RoutingRule
        name: database-twice
        order: 30
        matchers: ['job="postgres"']
        service: checkout-api
    """,
    "rules/maintenance.yaml": """
        kind: MaintenanceWindow
        name: db-upgrade
        services: [payments-db]
        from: 2026-12-05T01:00
        to: 2026-12-05T03:00
        timezone: Europe/London
        ---
        kind: MaintenanceWindow
        name: spring-forward
        services: [payments-db]
        from: 2026-03-08T02:30
        to: 2026-03-08T04:00
        timezone: America/New_York
    """,
}


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> ConfigSet:
    root = tmp_path_factory.mktemp("config")
    for name, text in CONFIG.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).strip() + "\n", encoding="utf-8")
    (root / "schedules").mkdir()
    result = load(Path(root))
    assert result.ok, [str(d) for d in result.errors]
    return result.config


CASES = [
    # (integration, labels, [(service or None for dropped, rule, priority)], matched rules)
    ("prom", {"alertname": "CheckoutLatencyHigh", "severity": "warning", "cluster": "eu"},
     [("checkout-api", "checkout", "P1")], ["checkout"]),
    ("prom", {"alertname": "CheckoutLatencyHigh", "severity": "critical"},
     [("audit", "audit-everything-critical", "P1"), ("checkout-api", "checkout", "P1")],
     ["audit-everything-critical", "checkout"]),
    ("prom", {"alertname": "CheckoutLatencyHigh", "severity": "info"},
     [("fallback", None, "P4")], []),
    ("dd", {"alertname": "CheckoutLatencyHigh", "severity": "warning"},
     [("checkout-api", None, "P3")], []),
    ("prom", {"alertname": "CheckoutLatencyHigh", "severity": "critical", "env": "staging"},
     [(None, "drop-staging", "P1")], ["drop-staging"]),
    ("prom", {"job": "postgres", "severity": "error"},
     [("payments-db", "database", "P2")], ["database"]),
    ("prom", {"job": "postgres"}, [("payments-db", "database", "P2")], ["database"]),
    # Matchers see the label as sent; the priority reads "page" as critical.
    ("prom", {"alertname": "DiskFull", "severity": "page"}, [("fallback", None, "P1")], []),
    ("prom", {}, [("fallback", None, "P2")], []),
]


@pytest.mark.parametrize(("integration", "labels", "expected", "matched"), CASES)
def test_route(config: ConfigSet, integration: str, labels: dict[str, str],
               expected: list[tuple[str | None, str | None, str]], matched: list[str]) -> None:
    result = route(config, integration, labels, NOW)
    assert [(d.service, d.rule, d.priority) for d in result.destinations] == expected
    assert [s.rule for s in result.matched] == matched


def test_first_match_stops_evaluation_unless_continue(config: ConfigSet) -> None:
    result = route(config, "prom", {"job": "postgres", "severity": "critical"}, NOW)
    assert [s.rule for s in result.evaluated] == [
        "drop-staging", "audit-everything-critical", "checkout", "database",
    ]
    assert [d.service for d in result.destinations] == ["audit", "payments-db"]


def test_unmatched_rules_say_why(config: ConfigSet) -> None:
    result = route(config, "dd", {"alertname": "CheckoutDown", "env": "prod"}, NOW)
    reasons = {s.rule: s.reason for s in result.evaluated}
    assert reasons["checkout"] == "only for integrations prom"
    assert reasons["drop-staging"] == 'env=~"staging|dev" does not hold (env="prod")'
    assert reasons["database"] == 'job="postgres" does not hold (no job label)'


def test_group_key_from_group_by_and_service(config: ConfigSet) -> None:
    a = route(config, "prom", {"alertname": "CheckoutDown", "cluster": "eu", "pod": "a"}, NOW)
    b = route(config, "prom", {"alertname": "CheckoutDown", "cluster": "eu", "pod": "b"}, NOW)
    c = route(config, "prom", {"alertname": "CheckoutDown", "pod": "c"}, NOW)
    assert a.destinations[0].group_key == 'checkout-api:{alertname="CheckoutDown",cluster="eu"}'
    assert a.destinations[0].group_key == b.destinations[0].group_key
    assert c.destinations[0].group_key == 'checkout-api:{alertname="CheckoutDown",cluster=""}'


def test_group_key_without_group_by_is_the_dedup_key(config: ConfigSet) -> None:
    labels = {"job": "postgres", "instance": "db-1"}
    assert route(config, "prom", labels, NOW, dedup_key="abc").destinations[0].group_key == "abc"
    assert route(config, "prom", labels, NOW).destinations[0].group_key == fingerprint(labels)


@pytest.mark.parametrize(
    ("at", "in_window"),
    [
        (datetime(2026, 12, 5, 0, 59, tzinfo=UTC), False),
        (datetime(2026, 12, 5, 1, 0, tzinfo=UTC), True),  # London is UTC+0 in December
        (datetime(2026, 12, 5, 2, 59, tzinfo=UTC), True),
        (datetime(2026, 12, 5, 3, 0, tzinfo=UTC), False),  # `to` is exclusive
        # 02:30 does not exist in New York on 2026-03-08: read as 03:30 EDT = 07:30 UTC.
        (datetime(2026, 3, 8, 7, 29, tzinfo=UTC), False),
        (datetime(2026, 3, 8, 7, 30, tzinfo=UTC), True),
        (datetime(2026, 3, 8, 7, 59, tzinfo=UTC), True),
        (datetime(2026, 3, 8, 8, 0, tzinfo=UTC), False),  # 04:00 EDT
    ],
)
def test_maintenance_window_records_and_pages_no_one(config: ConfigSet, at: datetime,
                                                     in_window: bool) -> None:
    [dest] = route(config, "prom", {"job": "postgres"}, at).destinations
    assert dest.service == "payments-db"
    assert dest.in_maintenance is in_window
    assert dest.pages is not in_window


def test_maintenance_only_for_its_services(config: ConfigSet) -> None:
    at = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
    [dest] = route(config, "prom", {"alertname": "CheckoutDown"}, at).destinations
    assert dest.service == "checkout-api" and not dest.in_maintenance


def test_dropped_alert_pages_no_one(config: ConfigSet) -> None:
    result = route(config, "prom", {"env": "dev"}, NOW)
    assert result.dropped and not any(d.pages for d in result.destinations)


def test_unknown_integration_and_naive_time(config: ConfigSet) -> None:
    with pytest.raises(RoutingError):
        route(config, "nope", {}, NOW)
    with pytest.raises(ValueError):
        route(config, "prom", {}, NOW.replace(tzinfo=None))
