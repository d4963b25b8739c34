"""Status pages, decided: what a component shows, the page's indicator, a notice's impact and
the 90 days of uptime bars, as a reader of the page would see them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from oncall.core.status import (
    DEFAULT_IMPACT,
    IMPACTS,
    ComponentStatus,
    DayBar,
    Indicator,
    Interval,
    Maintenance,
    Manual,
    OpenIncident,
    computed_status,
    impact_of,
    indicator,
    notice_impact,
    shown_status,
    uptime_bars,
    uptime_percent,
    worst,
)

S = ComponentStatus
OPERATIONAL, MAINTENANCE = S.OPERATIONAL, S.UNDER_MAINTENANCE
DEGRADED, PARTIAL, MAJOR = S.DEGRADED_PERFORMANCE, S.PARTIAL_OUTAGE, S.MAJOR_OUTAGE
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
DAY = 86400.0


def at(day: int, hour: float = 0.0) -> datetime:
    """March `day` 2026, `hour` o'clock UTC."""
    return datetime(2026, 3, day, tzinfo=UTC) + timedelta(hours=hour)


def window(starts: datetime, ends: datetime, *services: str) -> Maintenance:
    return Maintenance("db-upgrade", frozenset(services), starts, ends)


# --- the statuses --------------------------------------------------------------------------------


def test_statuses_rank_from_operational_to_major_outage() -> None:
    ordered = [OPERATIONAL, MAINTENANCE, DEGRADED, PARTIAL, MAJOR]
    assert sorted(reversed(ordered), key=lambda s: s.rank) == ordered
    assert [s.text for s in ordered] == ["Operational", "Under maintenance",
                                         "Degraded performance", "Partial outage",
                                         "Major outage"]
    assert IMPACTS == (DEGRADED, PARTIAL, MAJOR)


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [([], OPERATIONAL), ([DEGRADED], DEGRADED), ([MAINTENANCE, DEGRADED], DEGRADED),
     ([MAJOR, PARTIAL, OPERATIONAL], MAJOR), ([OPERATIONAL, MAINTENANCE], MAINTENANCE)],
)
def test_worst(statuses: list[ComponentStatus], expected: ComponentStatus) -> None:
    assert worst(statuses) is expected


@pytest.mark.parametrize(
    ("priority", "impact", "expected"),
    [("P1", DEFAULT_IMPACT, MAJOR), ("P2", DEFAULT_IMPACT, PARTIAL),
     ("P3", DEFAULT_IMPACT, DEGRADED), ("P4", DEFAULT_IMPACT, None),
     ("P5", DEFAULT_IMPACT, None), (None, DEFAULT_IMPACT, None), ("P9", DEFAULT_IMPACT, None),
     ("P3", {**DEFAULT_IMPACT, "P3": None}, None),
     ("P4", {**DEFAULT_IMPACT, "P4": DEGRADED}, DEGRADED)],
)
def test_impact_of(priority: str | None, impact: dict[str, ComponentStatus | None],
                   expected: ComponentStatus | None) -> None:
    assert impact_of(priority, impact) is expected


# --- computed_status -----------------------------------------------------------------------------

CHECKOUT = ["checkout-api", "payments-db"]


@pytest.mark.parametrize(
    ("incidents", "maintenances", "impact", "expected"),
    [
        ([], [], DEFAULT_IMPACT, OPERATIONAL),
        ([OpenIncident("checkout-api", "P1")], [], DEFAULT_IMPACT, MAJOR),
        ([OpenIncident("payments-db", "P2")], [], DEFAULT_IMPACT, PARTIAL),
        ([OpenIncident("checkout-api", "P3")], [], DEFAULT_IMPACT, DEGRADED),
        # low priorities and incidents without a priority leave a component alone
        ([OpenIncident("checkout-api", "P4"), OpenIncident("checkout-api", "P5"),
          OpenIncident("checkout-api", None)], [], DEFAULT_IMPACT, OPERATIONAL),
        # another component's service does not count
        ([OpenIncident("search-api", "P1")], [], DEFAULT_IMPACT, OPERATIONAL),
        # the worst incident wins, whatever the order
        ([OpenIncident("checkout-api", "P3"), OpenIncident("payments-db", "P1"),
          OpenIncident("checkout-api", "P2")], [], DEFAULT_IMPACT, MAJOR),
        # an active window on one of its services
        ([], [window(at(10, 11), at(10, 13), "payments-db")], DEFAULT_IMPACT, MAINTENANCE),
        # a window not yet started, already over (its end is exclusive), or on another service
        ([], [window(at(10, 13), at(10, 14), "payments-db"),
              window(at(10, 10), NOW, "payments-db"),
              window(at(10, 11), at(10, 13), "search-api")], DEFAULT_IMPACT, OPERATIONAL),
        # a window that starts now is active
        ([], [window(NOW, at(10, 13), "checkout-api")], DEFAULT_IMPACT, MAINTENANCE),
        # an incident outranks maintenance
        ([OpenIncident("checkout-api", "P3")], [window(at(10, 11), at(10, 13), "checkout-api")],
         DEFAULT_IMPACT, DEGRADED),
        # a P4 during maintenance: still maintenance
        ([OpenIncident("checkout-api", "P4")], [window(at(10, 11), at(10, 13), "checkout-api")],
         DEFAULT_IMPACT, MAINTENANCE),
        # the page's impact overrides
        ([OpenIncident("checkout-api", "P3")], [], {**DEFAULT_IMPACT, "P3": None}, OPERATIONAL),
        ([OpenIncident("checkout-api", "P1")], [], {**DEFAULT_IMPACT, "P1": PARTIAL}, PARTIAL),
        ([OpenIncident("checkout-api", "P5")], [], {**DEFAULT_IMPACT, "P5": DEGRADED}, DEGRADED),
        ([OpenIncident("checkout-api", "P3")], [window(at(10, 11), at(10, 13), "checkout-api")],
         {**DEFAULT_IMPACT, "P3": None}, MAINTENANCE),
    ],
)
def test_computed_status(incidents: list[OpenIncident], maintenances: list[Maintenance],
                         impact: dict[str, ComponentStatus | None],
                         expected: ComponentStatus) -> None:
    assert computed_status(CHECKOUT, incidents, maintenances, NOW, impact) is expected


def test_computed_status_reads_each_input_once() -> None:
    """Generators are fine: the services, incidents and windows are each read once."""
    status = computed_status(iter(CHECKOUT), iter([OpenIncident("payments-db", "P2")]),
                             iter([window(at(10, 11), at(10, 13), "checkout-api")]), NOW)
    assert status is PARTIAL


# --- manual status -------------------------------------------------------------------------------


def manual(status: ComponentStatus, expires_at: datetime | None) -> Manual:
    return Manual(status, "alice@example.com", at(10, 9), expires_at)


@pytest.mark.parametrize(
    ("computed", "manual_status", "expected"),
    [
        (MAJOR, None, MAJOR),
        (MAJOR, manual(OPERATIONAL, None), OPERATIONAL),  # until cleared
        (OPERATIONAL, manual(PARTIAL, at(10, 13)), PARTIAL),  # not yet expired
        (OPERATIONAL, manual(PARTIAL, NOW), OPERATIONAL),  # expires exactly now
        (DEGRADED, manual(MAJOR, at(10, 11)), DEGRADED),  # expired: the computed one is back
        (OPERATIONAL, manual(MAINTENANCE, at(11)), MAINTENANCE),
    ],
)
def test_shown_status(computed: ComponentStatus, manual_status: Manual | None,
                      expected: ComponentStatus) -> None:
    assert shown_status(computed, manual_status, NOW) is expected


# --- the page's indicator and a notice's impact --------------------------------------------------


@pytest.mark.parametrize(
    ("statuses", "expected", "impact"),
    [
        ([], (Indicator.NONE, "All Systems Operational"), "none"),
        ([OPERATIONAL, OPERATIONAL], (Indicator.NONE, "All Systems Operational"), "none"),
        ([OPERATIONAL, MAINTENANCE], (Indicator.MAINTENANCE, "Service Under Maintenance"),
         "maintenance"),
        ([MAINTENANCE, DEGRADED], (Indicator.MINOR, "Minor Service Outage"), "minor"),
        ([DEGRADED, PARTIAL, OPERATIONAL], (Indicator.MAJOR, "Partial System Outage"), "major"),
        ([MAJOR, DEGRADED], (Indicator.CRITICAL, "Major System Outage"), "critical"),
    ],
)
def test_indicator_and_notice_impact(statuses: list[ComponentStatus],
                                     expected: tuple[Indicator, str], impact: str) -> None:
    assert indicator(statuses) == expected
    assert notice_impact(statuses) == impact


# --- maintenance windows -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "active", "stage"),
    [(at(10, 10), False, "scheduled"), (at(10, 11), True, "in_progress"),
     (at(10, 12.5), True, "in_progress"), (at(10, 13), False, "completed"),
     (at(11), False, "completed")],
)
def test_maintenance_stage(now: datetime, active: bool, stage: str) -> None:
    w = window(at(10, 11), at(10, 13), "checkout-api")
    assert (w.active(now), w.stage(now)) == (active, stage)


# --- uptime bars ---------------------------------------------------------------------------------


def iv(priority: str | None, start: datetime, end: datetime | None,
       service: str = "checkout-api") -> Interval:
    return Interval(service, priority, start, end)


def bars_by_day(intervals: list[Interval], now: datetime = NOW, days: int = 90,
                impact: Mapping[str, ComponentStatus | None] = DEFAULT_IMPACT
                ) -> dict[date, DayBar]:
    bars = uptime_bars(CHECKOUT, intervals, now, days, impact)
    return {b.day: b for b in bars}


def test_bars_cover_ninety_utc_days_oldest_first_today_last() -> None:
    bars = uptime_bars(CHECKOUT, [], NOW)
    assert len(bars) == 90
    assert bars[0].day == date(2025, 12, 11) and bars[-1].day == date(2026, 3, 10)
    assert [b.day for b in bars] == sorted(b.day for b in bars)
    assert all(b.worst is OPERATIONAL and b.uptime == 1.0 for b in bars)
    assert uptime_percent(bars) == 100.0


def test_today_is_the_utc_day_of_now() -> None:
    late_in_new_york = datetime(2026, 3, 10, 22, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert uptime_bars(CHECKOUT, [], late_in_new_york, days=2)[-1].day == date(2026, 3, 11)


# (intervals, {day: {status: seconds}}): days not listed have no downtime
SECONDS_CASES: list[tuple[str, list[Interval], dict[int, dict[ComponentStatus, float]]]] = [
    ("one hour of major outage",
     [iv("P1", at(9, 10), at(9, 11))], {9: {MAJOR: 3600}}),
    ("across midnight, split between the two days",
     [iv("P2", at(8, 23), at(9, 1))], {8: {PARTIAL: 3600}, 9: {PARTIAL: 3600}}),
    ("a whole day and more",
     [iv("P1", at(7, 12), at(9, 6))], {7: {MAJOR: DAY / 2}, 8: {MAJOR: DAY}, 9: {MAJOR: 6 * 3600}}),
    ("still open: counted until now",
     [iv("P1", at(10, 10), None)], {10: {MAJOR: 2 * 3600}}),
    ("an end reported after now is cut at now",
     [iv("P3", at(10, 11), at(10, 18))], {10: {DEGRADED: 3600}}),
    ("overlapping at the same status: counted once",
     [iv("P1", at(9, 10), at(9, 12)), iv("P1", at(9, 11), at(9, 13))], {9: {MAJOR: 3 * 3600}}),
    ("overlapping at different statuses: each second at the worst",
     [iv("P3", at(9, 9), at(9, 14)), iv("P1", at(9, 10), at(9, 12))],
     {9: {DEGRADED: 3 * 3600, MAJOR: 2 * 3600}}),
    ("one inside another, in either order",
     [iv("P1", at(9, 11), at(9, 12)), iv("P2", at(9, 10), at(9, 13))],
     {9: {PARTIAL: 2 * 3600, MAJOR: 3600}}),
    ("back to back: no gap, no double count",
     [iv("P2", at(9, 10), at(9, 11)), iv("P2", at(9, 11), at(9, 12))], {9: {PARTIAL: 2 * 3600}}),
    ("low priorities, no priority and other services do not count",
     [iv("P4", at(9, 10), at(9, 11)), iv("P5", at(9, 10), at(9, 11)),
      iv(None, at(9, 10), at(9, 11)), iv("P1", at(9, 10), at(9, 11), service="search-api")],
     {}),
    ("every service of the component counts",
     [iv("P1", at(9, 10), at(9, 11), service="payments-db")], {9: {MAJOR: 3600}}),
    ("an offset time zone is counted in UTC days",
     [iv("P1", datetime(2026, 3, 9, 1, 0, tzinfo=timezone(timedelta(hours=2))),
         datetime(2026, 3, 9, 3, 0, tzinfo=timezone(timedelta(hours=2))))],
     {8: {MAJOR: 3600}, 9: {MAJOR: 3600}}),
    ("an incident that has not started yet",
     [iv("P1", at(10, 13), at(10, 14))], {}),
    ("an incident of zero length",
     [iv("P1", at(9, 10), at(9, 10))], {}),
]


@pytest.mark.parametrize(("intervals", "expected"),
                         [pytest.param(i, e, id=name) for name, i, e in SECONDS_CASES])
def test_uptime_bars_count_each_second_once(
        intervals: list[Interval], expected: dict[int, dict[ComponentStatus, float]]) -> None:
    bars = bars_by_day(intervals)
    assert len(bars) == 90
    spent = {day: dict(b.seconds) for day, b in bars.items() if b.seconds}
    assert spent == {date(2026, 3, day): s for day, s in expected.items()}
    for day, seconds in expected.items():
        assert bars[date(2026, 3, day)].worst is worst(seconds)


def test_the_window_starts_at_midnight_ninety_days_back() -> None:
    first = datetime(2025, 12, 11, tzinfo=UTC)
    bars = uptime_bars(CHECKOUT, [
        iv("P1", first - timedelta(days=5), first + timedelta(hours=2)),  # clipped at the edge
        iv("P1", first - timedelta(days=3), first),  # ends exactly at the edge: out
        iv("P1", first - timedelta(days=3), first - timedelta(days=2)),  # before the window
    ], NOW)
    assert bars[0].day == first.date()
    assert dict(bars[0].seconds) == {MAJOR: 7200}
    assert all(not b.seconds for b in bars[1:])


def test_a_shorter_window() -> None:
    bars = uptime_bars(CHECKOUT, [iv("P1", at(7, 12), None)], NOW, days=2)
    assert [(b.day, dict(b.seconds)) for b in bars] == [
        (date(2026, 3, 9), {MAJOR: DAY}), (date(2026, 3, 10), {MAJOR: 12 * 3600})]


def test_uptime_bars_apply_the_pages_impact() -> None:
    intervals = [iv("P3", at(9, 10), at(9, 11)), iv("P4", at(9, 12), at(9, 13))]
    impact = {**DEFAULT_IMPACT, "P3": None, "P4": PARTIAL}
    assert dict(bars_by_day(intervals, impact=impact)[date(2026, 3, 9)].seconds) == {
        PARTIAL: 3600}


@pytest.mark.parametrize(
    ("seconds", "uptime"),
    [
        ({}, 1.0),
        ({MAJOR: DAY}, 0.0),
        ({MAJOR: DAY / 2}, 0.5),
        ({PARTIAL: DAY}, 0.7),  # a partial outage counts at 30%
        ({PARTIAL: DAY / 2, MAJOR: DAY / 4}, 1 - 0.15 - 0.25),
        ({DEGRADED: DAY, MAINTENANCE: 3600}, 1.0),  # neither counts as downtime
        ({MAJOR: 864}, 0.99),
    ],
)
def test_a_days_uptime(seconds: dict[ComponentStatus, float], uptime: float) -> None:
    bar = DayBar(date(2026, 3, 9), worst(seconds) if seconds else OPERATIONAL, seconds)
    assert bar.uptime == pytest.approx(uptime)


@pytest.mark.parametrize(
    ("uptimes", "percent"),
    [([], 100.0), ([1.0], 100.0), ([0.0, 1.0], 50.0), ([1.0] * 89 + [0.0], 100 * 89 / 90),
     ([0.7, 0.9, 1.0, 1.0], 90.0)],
)
def test_uptime_percent(uptimes: list[float], percent: float) -> None:
    bars = [DayBar(date(2026, 3, 1), MAJOR, {MAJOR: (1 - u) * DAY}) for u in uptimes]
    assert uptime_percent(bars) == pytest.approx(percent)


def test_ninety_days_with_one_major_hour() -> None:
    bars = uptime_bars(CHECKOUT, [iv("P1", at(9, 10), at(9, 11))], NOW)
    assert uptime_percent(bars) == pytest.approx(100 * (1 - 3600 / DAY / 90))
    assert f"{uptime_percent(bars):.2f}%" == "99.95%"


def test_today_counts_only_the_hours_gone_by() -> None:
    """An outage since midnight, still open at noon: today is down, not half up."""
    bars = uptime_bars(["api"], [Interval("api", "P1", at(10), None)], NOW, days=2)
    assert bars[-1].day == NOW.date()
    assert bars[-1].uptime == 0.0
    assert bars[0].uptime == 1.0
