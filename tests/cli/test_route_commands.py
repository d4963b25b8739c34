"""`oncall route test`: the amtool-style answer to "where does this alert go, who is paged"."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from oncall.cli.main import main

FILES = {
    "rules/main.yaml": """
        kind: Team
        name: payments
        members:
          - {email: alice@example.com}
          - {email: bob@example.com}
          - {email: olga@example.com, role: observer}
        ---
        kind: EscalationPolicy
        name: payments
        steps:
          - {targets: ["schedule:payments-primary"], timeout: 5m}
          - {targets: ["team:payments"], timeout: 10m}
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
        kind: Integration
        name: prometheus-prod
        type: alertmanager
        service: payments-db
        secret: ${env:PROM_SECRET}
        ---
        kind: RoutingRule
        name: checkout
        order: 10
        matchers: ['alertname=~"Checkout.*"']
        service: checkout-api
        priority: P1
        group_by: [alertname]
        ---
        kind: RoutingRule
        name: drop-dev
        order: 1
        matchers: ['env="dev"']
        drop: true
        ---
        kind: MaintenanceWindow
        name: db-upgrade
        services: [payments-db]
        from: 2026-12-05T01:00
        to: 2026-12-05T03:00
        timezone: Europe/London
    """,
    "schedules/payments.yaml": """
        kind: Schedule
        name: payments-primary
        team: payments
        timezone: Europe/London
        layers:
          - name: weekly
            members: [alice@example.com, bob@example.com]
            rotation: {every: 1w, start: 2026-11-02T09:00}
    """,
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    for name, text in FILES.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).strip() + "\n", encoding="utf-8")
    return tmp_path


def run(repo: Path, *args: str) -> list[str]:
    return ["route", "test", "--config", str(repo), *args]


def test_matched_rule_service_priority_group_key_and_who_is_paged(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Week of 2026-11-23 09:00 is shift 3 (bob): 2026-11-24 is inside it.
    code = main(run(repo, "--integration", "prometheus-prod", "--at", "2026-11-24T12:00Z",
                    "alertname=CheckoutLatencyHigh", "severity=critical"))
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "checkout-api"
    assert "  ·     1 drop-dev: env=\"dev\" does not hold (no env label)" in lines
    assert "  ✓    10 checkout: matched" in lines
    assert "service:     checkout-api (via rule checkout)" in lines
    assert "priority:    P1 (from rule)" in lines
    assert 'group key:   checkout-api:{alertname="CheckoutLatencyHigh"} (group_by alertname)' \
        in lines
    assert "maintenance: no" in lines
    assert "would page:  bob@example.com" in lines


def test_fallback_and_maintenance(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(run(repo, "--integration", "prometheus-prod", "--at", "2026-12-05T02:00+00:00",
                    "job=postgres", "severity=warning"))
    out = capsys.readouterr().out
    assert code == 1
    assert out.splitlines()[0] == "payments-db"
    assert "no rule matched: the integration's service" in out
    assert "priority:    P3 (from severity)" in out
    assert "maintenance: yes (db-upgrade): recorded, pages no one" in out
    assert "would page" not in out


def test_dropped(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(run(repo, "--integration", "prometheus-prod", "env=dev"))
    out = capsys.readouterr().out
    assert code == 1
    assert out.splitlines()[0] == "dropped"
    assert "dropped by rule drop-dev: recorded, pages no one" in out


def test_empty_first_step_moves_on_to_the_next(repo: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    # Before the rotation starts the schedule has no one; the team step pages its responders.
    code = main(run(repo, "--integration", "prometheus-prod", "--at", "2026-10-01T12:00",
                    "alertname=CheckoutDown"))
    out = capsys.readouterr().out
    assert code == 0
    assert "would page:  alice@example.com, bob@example.com" in out
    assert "policy payments step 1: schedule:payments-primary → no one" in out
    assert "olga@example.com" not in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--integration", "prometheus-prd"], "did you mean 'prometheus-prod'"),
        (["--integration", "prometheus-prod", "not-a-label"], "expected name=value"),
        (["--integration", "prometheus-prod", "--at", "tomorrow"], "invalid --at"),
    ],
)
def test_usage_errors(repo: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                      message: str) -> None:
    assert main(run(repo, *args)) == 2
    assert message in capsys.readouterr().err


def test_invalid_config_is_reported(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "rules" / "bad.yaml").write_text("kind: Service\nname: x\nteam: nobody\n")
    assert main(run(repo, "--integration", "prometheus-prod")) == 1
    assert "bad.yaml" in capsys.readouterr().err


def test_quoted_label_values(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(run(repo, "--integration", "prometheus-prod", 'alertname="CheckoutDown"'))
    assert capsys.readouterr().out.splitlines()[0] == "checkout-api"
