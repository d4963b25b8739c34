"""`oncall workflow test`: the example P1 alert's workflows, rendered from config alone, and
the exit codes (0 clean, 1 a step error or bad input, 2 usage)."""

from __future__ import annotations

import json
import socket
import textwrap
from pathlib import Path

import pytest

from oncall.cli.main import main
from oncall.testing import golden

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent / "workflow"
P1_ALERT = HERE / "p1-alert.json"
AT = "2026-12-05T02:00:00+00:00"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        code = main(["workflow", "test", *args])
    except SystemExit as exc:  # argparse's usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("oncall workflow test must call nothing")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize("event", ["incident.triggered", "incident.resolved"])
def test_example_p1_alert_golden(capsys: pytest.CaptureFixture[str], no_network: None,
                                 event: str) -> None:
    code, out, err = run(capsys, "--event", event, "--alert", str(P1_ALERT),
                         "--config", str(ROOT), "--at", AT)
    golden.check(HERE / f"p1-{event.removeprefix('incident.')}.txt", out)
    assert (code, err) == (0, "")


def test_named_integration_gives_the_same_plan(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--event", "incident.triggered", "--alert", str(P1_ALERT),
                       "--integration", "synthetic-checks", "--config", str(ROOT), "--at", AT)
    assert code == 0
    assert out == (HERE / "p1-triggered.txt").read_text(encoding="utf-8")


REPO = {
    "rules/main.yaml": """
        kind: Team
        name: payments
        members: [{email: alice@example.com}]
        ---
        kind: EscalationPolicy
        name: payments
        steps: [{targets: ["user:alice@example.com"], timeout: 5m}]
        ---
        kind: Service
        name: checkout-api
        team: payments
        escalation_policy: payments
        ---
        kind: Integration
        name: synthetics
        type: generic
        service: checkout-api
        secret: ${env:SYNTHETICS_TOKEN}
        ---
        kind: Integration
        name: prom
        type: alertmanager
        service: checkout-api
        secret: ${env:PROM_TOKEN}
        ---
        kind: RoutingRule
        name: drop-dev
        order: 1
        matchers: ['env="dev"']
        drop: true
    """,
    "workflows/restart.yaml": """
        kind: Runbook
        name: restart
        parameters:
          type: object
          properties: {region: {type: string, enum: [us-east-1, eu-west-1]}}
          required: [region]
        webhook:
          url: https://awx.example.com/launch/
          headers: {Authorization: "Bearer ${env:AWX_TOKEN}"}
          body: {region: "{{ params.region }}"}
        ---
        kind: Workflow
        name: auto-restart
        on: [incident.triggered]
        steps:
          - runbook: {name: restart, params: {region: "{{ incident.labels.region }}"}}
    """,
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    for name, text in REPO.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).strip() + "\n", encoding="utf-8")
    return tmp_path


def _alert(tmp_path: Path, body: object) -> str:
    path = tmp_path / "alert.json"
    path.write_text(body if isinstance(body, str) else json.dumps(body), encoding="utf-8")
    return str(path)


GOOD = {"summary": "Checkout down", "severity": "critical", "labels": {"region": "eu-west-1"}}

# (alert body, extra args, exit code, text expected in stdout or stderr)
EXITS: list[tuple[object, list[str], int, str]] = [
    (GOOD, [], 0, '"region": "eu-west-1"'),
    ({**GOOD, "labels": {"region": "ap-south-1"}}, [], 1,
     "parameter region: 'ap-south-1' is not one of"),
    ({**GOOD, "labels": {}}, [], 1, "template failed"),
    ({**GOOD, "labels": {"env": "dev"}}, [], 0, "dropped by rule drop-dev"),
    ("{not json", [], 1, "invalid JSON"),
    ({"sumary": "x"}, [], 1, "not a generic payload"),
    (GOOD, ["--integration", "synthetic"], 2, "unknown integration 'synthetic'"),
    (GOOD, ["--event", "incident.trigered"], 2, "invalid choice"),
    (GOOD, ["--at", "yesterday"], 2, "invalid --at"),
]


@pytest.mark.parametrize(("body", "extra", "code", "text"), EXITS)
def test_exit_codes(capsys: pytest.CaptureFixture[str], repo: Path, tmp_path: Path,
                    body: object, extra: list[str], code: int, text: str) -> None:
    args = ["--event", "incident.triggered", "--alert", _alert(tmp_path, body),
            "--config", str(repo), "--at", AT, *extra]
    got, out, err = run(capsys, *args)
    assert got == code, out + err
    assert text in out + err


def test_missing_alert_file_is_a_usage_error(capsys: pytest.CaptureFixture[str],
                                             repo: Path) -> None:
    code, _, err = run(capsys, "--event", "incident.triggered", "--alert", "/nonexistent.json",
                       "--config", str(repo))
    assert code == 2
    assert "/nonexistent.json" in err


def test_an_invalid_config_fails(capsys: pytest.CaptureFixture[str], repo: Path,
                                 tmp_path: Path) -> None:
    (repo / "workflows" / "broken.yaml").write_text(
        "kind: Workflow\nname: x\non: [incident.trigered]\n"
        "steps: [{slack: {channel: a, text: b}}]\n",
        encoding="utf-8")
    code, _, err = run(capsys, "--event", "incident.triggered", "--alert", _alert(tmp_path, GOOD),
                       "--config", str(repo))
    assert code == 1
    assert "invalid config" in err


def test_without_integration_needs_exactly_one_generic(capsys: pytest.CaptureFixture[str],
                                                       repo: Path, tmp_path: Path) -> None:
    extra = repo / "rules" / "more.yaml"
    extra.write_text("kind: Integration\nname: other\ntype: generic\nservice: checkout-api\n"
                     "secret: ${env:OTHER}\n", encoding="utf-8")
    code, _, err = run(capsys, "--event", "incident.triggered", "--alert", _alert(tmp_path, GOOD),
                       "--config", str(repo))
    assert code == 2
    assert "pass --integration NAME" in err


def test_an_alertmanager_group_plans_each_alert(capsys: pytest.CaptureFixture[str], repo: Path,
                                                tmp_path: Path) -> None:
    alert = {"labels": {"alertname": "CheckoutDown", "severity": "critical"},
             "annotations": {"summary": "Checkout down"}, "startsAt": "2026-12-05T01:59:00Z",
             "status": "firing"}
    payload = {"version": "4", "status": "firing", "alerts": [
        {**alert, "labels": {**alert["labels"], "region": "us-east-1"}},
        {**alert, "labels": {**alert["labels"], "region": "eu-west-1"}},
    ]}
    code, out, err = run(capsys, "--event", "incident.triggered", "--integration", "prom",
                         "--alert", _alert(tmp_path, payload), "--config", str(repo), "--at", AT)
    assert (code, err) == (0, "")
    assert out.count("✓ auto-restart") == 2
    assert '{"region": "us-east-1"}' in out and '{"region": "eu-west-1"}' in out
