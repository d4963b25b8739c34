"""The schedule list and the week overview pages' handlers, on the example organisation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine

from oncall.config.configset import ConfigSet
from oncall.core.schedule import who_at
from oncall.db.engine import write_session
from oncall.incidents.people import actor_for_email
from oncall.schedules_service import create_override
from oncall.web import context
from oncall.web.state.schedules import GAP, ScheduleListState, WeekState

from .conftest import ADMIN, NOW, OBSERVER, call

GRACE, ISLA = "Grace Mwangi", "Isla McLeod"


def _list(state: Callable[..., Any], who: str = OBSERVER) -> ScheduleListState:
    s: ScheduleListState = state(ScheduleListState, who, "/schedules")
    call(s, "load")
    call(s, "apply_tz", "Europe/London")
    return s


def _row(s: ScheduleListState, name: str) -> dict[str, str]:
    return next(r for r in s.rows if r["name"] == name)


def test_every_schedule_with_whom_the_engine_has_on_call(
    state: Callable[..., Any], example_config: ConfigSet
) -> None:
    s = _list(state)
    assert [r["name"] for r in s.rows] == sorted(example_config.schedules)
    assert s.total == len(example_config.schedules)
    names = {e: u.name for e, u in example_config.users.items()}
    for r in s.rows:
        email = who_at(example_config.schedules[r["name"]], NOW)
        assert r["who_email"] == (email or "")
        assert r["who"] == (names.get(email) or email if email else GAP)
    primary = _row(s, "storefront-primary")
    assert (primary["who"], primary["team"], primary["timezone"]) == (
        GRACE, "storefront", "Europe/London")
    assert (primary["handoff_at"], primary["handoff_from"], primary["handoff_to"]) == (
        "Wed 11 Mar 08:00", GRACE, "Noah Petit")
    assert primary["policies"] == "storefront" and "storefront-web" in primary["services"]


def test_an_override_made_in_the_app_counts(state: Callable[..., Any], web: Engine) -> None:
    with write_session(web) as session:
        config = context.config(session)
        admin = actor_for_email(session, ADMIN, "web")
        assert admin is not None
        create_override(session, config, admin,
                        schedule_name="storefront-primary", who="isla.mcleod@northwind.example",
                        start=NOW - timedelta(hours=1), end=NOW + timedelta(hours=2),
                        reason="swap", now=NOW)
    primary = _row(_list(state), "storefront-primary")
    assert primary["who"] == ISLA
    assert (primary["handoff_at"], primary["handoff_from"], primary["handoff_to"]) == (
        "Tue 10 Mar 14:00", ISLA, GRACE)


def test_search_by_name(state: Callable[..., Any]) -> None:
    s = _list(state)
    call(s, "set_query", "SECONDARY")
    assert s.rows and all("secondary" in r["name"] for r in s.rows)
    call(s, "set_query", "no such schedule")
    assert s.rows == [] and s.total > 0
    call(s, "set_query", "")
    assert len(s.rows) == s.total


def _week(state: Callable[..., Any], tz: str = "Europe/London") -> WeekState:
    s: WeekState = state(WeekState, OBSERVER, "/oncall/week")
    call(s, "load")
    call(s, "apply_tz", tz)
    return s


def _cell(s: WeekState, schedule: str, day: int) -> list[tuple[str, str]]:
    row = next(r for r in s.rows if r["schedule"] == schedule)
    return [(x["who"], x["hours"]) for x in row["cells"][day]["stints"]]


def test_the_week_grid(state: Callable[..., Any], example_config: ConfigSet) -> None:
    s = _week(state)
    assert s.days == ["Mon 09 Mar", "Tue 10 Mar", "Wed 11 Mar", "Thu 12 Mar", "Fri 13 Mar",
                      "Sat 14 Mar", "Sun 15 Mar"]
    assert s.week_label == "Mon 09 Mar – Sun 15 Mar 2026"
    assert [r["schedule"] for r in s.rows] == sorted(example_config.schedules)
    assert _cell(s, "storefront-primary", 1) == [(GRACE, "00:00–24:00")]
    # Wednesday: Grace's week, Noah's shopping hours 08:00-18:00
    assert _cell(s, "storefront-primary", 2) == [
        (GRACE, "00:00–08:00"), ("Noah Petit", "08:00–18:00"), (GRACE, "18:00–24:00")]
    grace = next(p for p in s.people if p["who"] == GRACE)
    assert "storefront-primary" in grace["schedules"]


def test_previous_and_next_weeks(state: Callable[..., Any]) -> None:
    s = _week(state)
    call(s, "next_week")
    assert s.days[0] == "Mon 16 Mar" and s.offset == 1
    # Monday 16 March: Grace's week until 10:00 and Noah's after it, under Isla's shopping day
    assert _cell(s, "storefront-primary", 0) == [
        (GRACE, "00:00–08:00"), (ISLA, "08:00–18:00"), ("Noah Petit", "18:00–24:00")]
    call(s, "prev_week")
    call(s, "prev_week")
    assert s.days[0] == "Mon 02 Mar" and s.offset == -1
    call(s, "this_week")
    assert s.days[0] == "Mon 09 Mar"


def test_the_viewers_zone_decides_the_days(state: Callable[..., Any]) -> None:
    s = _week(state, "Asia/Tokyo")
    assert s.days[0] == "Mon 09 Mar"
    # Samuel's Monday shopping hours end at 18:00 London, 03:00 Tuesday in Tokyo; Grace's
    # week (from Monday 19:00 Tokyo) and her Tuesday shopping hours follow
    assert _cell(s, "storefront-primary", 1) == [
        ("Samuel Osei", "00:00–03:00"), (GRACE, "03:00–24:00")]
