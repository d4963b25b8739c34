"""Schedule warnings from `oncall validate`: gaps ahead, cross-team double booking, outsiders."""

from datetime import UTC, datetime
from pathlib import Path

from oncall.config.loader import load

TEAMS = """
kind: Team
name: payments
members: [{email: alice@example.com}, {email: bob@example.com}]
---
kind: Team
name: search
members: [{email: carol@example.com}, {email: alice@example.com}]
"""
NOW = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)


def repo(tmp_path: Path, schedules: str) -> Path:
    (tmp_path / "rules").mkdir()
    (tmp_path / "schedules").mkdir()
    (tmp_path / "rules" / "teams.yaml").write_text(TEAMS)
    (tmp_path / "schedules" / "s.yaml").write_text(schedules)
    return tmp_path


def messages(tmp_path: Path, schedules: str, now: datetime | None = NOW) -> list[str]:
    result = load(repo(tmp_path, schedules), now=now)
    assert not result.errors, result.errors
    return [d.as_text() for d in result.warnings]


BUSINESS_HOURS = """
kind: Schedule
name: payments-primary
team: payments
timezone: America/New_York
layers:
  - name: weekdays
    members: [alice@example.com, bob@example.com]
    rotation: {every: 1d, start: 2026-01-05T09:00}
    restrictions:
      - {days: [mon, tue, wed, thu, fri], from: "09:00", to: "17:00"}
"""


def test_coverage_gaps_in_the_next_28_days_with_local_times(tmp_path: Path) -> None:
    found = messages(tmp_path, BUSINESS_HOURS)
    gaps = [m for m in found if "coverage gap" in m]
    assert gaps[0] == (
        "schedules/s.yaml:3:7: warning: coverage gap: no one is on call from "
        "2026-01-04 19:00 to 2026-01-05 09:00 (America/New_York)"
    )
    assert gaps[1].endswith("from 2026-01-05 17:00 to 2026-01-06 09:00 (America/New_York)")
    assert gaps[-1].endswith("coverage gap: 11 more gaps in the next 28 days")


def test_no_gap_warning_without_an_instant(tmp_path: Path) -> None:
    assert not [m for m in messages(tmp_path, BUSINESS_HOURS, now=None) if "gap" in m]


def test_full_coverage_has_no_warning(tmp_path: Path) -> None:
    text = BUSINESS_HOURS.split("    restrictions:")[0]
    assert messages(tmp_path, text, now=datetime(2026, 1, 6, tzinfo=UTC)) == []


def test_layer_member_outside_the_team(tmp_path: Path) -> None:
    text = BUSINESS_HOURS.replace(
        "[alice@example.com, bob@example.com]", "[alice@example.com, carol@example.com]"
    )
    found = [m for m in messages(tmp_path, text, now=None)]
    assert found == [
        "schedules/s.yaml:8:34: warning: carol@example.com is in layer 'weekdays' but not a "
        "member of team 'payments'"
    ]


TWO_TEAMS = """
kind: Schedule
name: payments-primary
team: payments
timezone: UTC
layers:
  - name: weekly
    members: [alice@example.com, bob@example.com]
    rotation: {every: 1w, start: 2026-01-05T00:00}
---
kind: Schedule
name: search-primary
team: search
timezone: UTC
layers:
  - name: weekly
    members: [alice@example.com, carol@example.com]
    rotation: {every: 1w, start: START}
"""


def test_person_on_call_for_two_teams_for_more_than_a_day(tmp_path: Path) -> None:
    found = [
        m for m in messages(tmp_path, TWO_TEAMS.replace("START", "2026-01-01T00:00")) if "both" in m
    ]
    assert found == [
        "schedules/s.yaml:12:7: warning: alice@example.com is on call in both 'payments-primary' "
        "(team payments) and 'search-primary' (team search) from 2026-01-05 00:00 to "
        "2026-01-08 00:00 (UTC), 72 h at once"
    ]


def test_overlap_of_a_day_or_less_is_fine(tmp_path: Path) -> None:
    found = messages(tmp_path, TWO_TEAMS.replace("START", "2026-01-11T00:00"))
    assert not [m for m in found if "both" in m]
