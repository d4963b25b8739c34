"""`oncall who` and `oncall shifts` against small config repos."""

import json
from pathlib import Path

import pytest
from icalendar import Calendar

from oncall.cli.main import main

TEAM = """
kind: Team
name: payments
members: [{email: alice@example.com}, {email: bob@example.com}, {email: dave@example.com}]
"""
SCHEDULE = """
kind: Schedule
name: payments-primary
team: payments
timezone: America/New_York
layers:
  - name: daily
    members: [alice@example.com, bob@example.com]
    rotation: {every: 1d, start: 2026-03-01T02:30}
overrides:
  - {who: dave@example.com, from: 2026-03-10T12:00, to: 2026-03-10T13:00}
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "rules").mkdir()
    (tmp_path / "schedules").mkdir()
    (tmp_path / "rules" / "team.yaml").write_text(TEAM)
    (tmp_path / "schedules" / "payments.yaml").write_text(SCHEDULE)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        # Local time in the schedule's zone; the 02:30 handoff on Mar 8 happens at 03:30 EDT.
        (
            "2026-03-08T03:00",
            "alice@example.com is on call for payments-primary"
            " until 2026-03-08 03:30 EDT (layer daily)",
        ),
        (
            "2026-03-08T07:30Z",
            "bob@example.com is on call for payments-primary"
            " until 2026-03-09 02:30 EDT (layer daily)",
        ),
        (
            "2026-03-10T16:30+00:00",
            "dave@example.com is on call for payments-primary"
            " until 2026-03-10 13:00 EDT (override)",
        ),
        (
            "2026-02-01T00:00",
            "no one is on call for payments-primary at 2026-02-01 00:00 EST"
            " (coverage gap until 2026-03-01 02:30 EST)",
        ),
    ],
)
def test_who(repo: Path, capsys: pytest.CaptureFixture[str], at: str, expected: str) -> None:
    assert run(capsys, "who", "payments-primary", "--at", at, "--config", str(repo)) == (
        0,
        expected + "\n",
        "",
    )


def test_shifts_text_in_another_zone(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "shifts",
        "payments-primary",
        "--from",
        "2026-03-08",
        "--to",
        "2026-03-09",
        "--tz",
        "Europe/London",
        "--config",
        str(repo),
    )
    assert code == 0
    assert out.splitlines() == [
        "2026-03-08 05:00 GMT  2026-03-08 07:30 GMT  alice@example.com  daily",
        "2026-03-08 07:30 GMT  2026-03-09 04:00 GMT  bob@example.com  daily",
    ]


def test_shifts_json(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "shifts",
        "payments-primary",
        "--from",
        "2026-03-10T12:00",
        "--to",
        "2026-03-10T14:00",
        "--format",
        "json",
        "--config",
        str(repo),
    )
    assert code == 0
    assert json.loads(out) == [
        {
            "start": "2026-03-10T16:00:00Z",
            "end": "2026-03-10T17:00:00Z",
            "local_start": "2026-03-10T12:00:00-04:00",
            "local_end": "2026-03-10T13:00:00-04:00",
            "who": "dave@example.com",
            "layer": None,
            "source": "override",
        },
        {
            "start": "2026-03-10T17:00:00Z",
            "end": "2026-03-10T18:00:00Z",
            "local_start": "2026-03-10T13:00:00-04:00",
            "local_end": "2026-03-10T14:00:00-04:00",
            "who": "bob@example.com",
            "layer": "daily",
            "source": "layer",
        },
    ]


def test_shifts_ics(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "shifts",
        "payments-primary",
        "--from",
        "2026-03-08",
        "--to",
        "2026-03-10",
        "--format",
        "ics",
        "--config",
        str(repo),
    )
    assert code == 0
    assert len(Calendar.from_ical(out).walk("VEVENT")) == 3


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (
            ["who", "payments-primry"],
            2,
            "unknown schedule 'payments-primry' (did you mean 'payments-primary'?)",
        ),
        (["who", "payments-primary", "--at", "tomorrow"], 2, "invalid time 'tomorrow'"),
        (
            ["shifts", "payments-primary", "--from", "2026-03-09", "--to", "2026-03-08"],
            2,
            "--to must be after --from",
        ),
        (
            [
                "shifts",
                "payments-primary",
                "--from",
                "2026-03-08",
                "--to",
                "2026-03-09",
                "--tz",
                "Mars/Base",
            ],
            2,
            "unknown time zone 'Mars/Base'",
        ),
    ],
)
def test_usage_errors(
    repo: Path, capsys: pytest.CaptureFixture[str], argv: list[str], code: int, message: str
) -> None:
    got, out, err = run(capsys, *argv, "--config", str(repo))
    assert got == code and out == ""
    assert err.startswith("oncall: error: ") and message in err and err.count("\n") == 1


def test_missing_config_dir_is_usage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "who", "x", "--config", str(tmp_path / "nope"))
    assert code == 2 and err.count("\n") == 1


def test_invalid_config_exits_1(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "schedules" / "payments.yaml").write_text(SCHEDULE.replace("every: 1d", "every: 1x"))
    code, out, err = run(capsys, "who", "payments-primary", "--config", str(repo))
    assert code == 1 and out == ""
    assert (
        err.startswith("oncall: error: invalid config: schedules/payments.yaml:")
        and err.count("\n") == 1
    )
