"""The report calculators: percentiles, periods, pages and night pages, hours on call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from oncall.core.reports import (
    NO_ONE,
    BadPeriod,
    Figure,
    OnCall,
    Period,
    Person,
    Report,
    duration_text,
    figure,
    figure_of_ranks,
    hours_on_call,
    night_pages,
    offset_changes,
    page_slot,
    pages_per_person,
    parse_period,
    percentile,
    priority_counts,
    ranks_needed,
    table,
)
from oncall.core.schedule import Shift

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([], 0.5, None),
        ([7.0], 0.5, 7.0),
        ([7.0], 0.9, 7.0),
        ([3.0, 1.0, 2.0], 0.5, 2.0),
        ([4.0, 1.0, 3.0, 2.0], 0.5, 2.5),  # even count: the mean of the middle two
        ([float(i) for i in range(1, 11)], 0.9, 9.1),  # rank 8.1 between 9 and 10
        ([60.0, 120.0, 600.0], 0.9, 504.0),  # rank 1.8: 120 + 0.8 * 480
        ([10.0, 20.0], 0.0, 10.0),
        ([10.0, 20.0], 1.0, 20.0),
    ],
)
def test_percentile_interpolates_like_percentile_cont(
    values: list[float], q: float, expected: float | None
) -> None:
    found = percentile(values, q)
    assert found == (None if expected is None else pytest.approx(expected))


def test_percentile_refuses_a_fraction_outside_zero_to_one() -> None:
    with pytest.raises(ValueError):
        percentile([1.0], 90)


def test_mtta_by_hand() -> None:
    result = figure([600.0, 60.0, 240.0, 120.0])
    # 60, 120, 240, 600 s: median (120+240)/2; p90 at rank 2.7: 240 + 0.7 * 360
    assert result == Figure(180.0, pytest.approx(492.0), 4)
    assert figure([]) == Figure(None, None, 0)


@pytest.mark.parametrize(
    ("since", "until", "expected"),
    [
        (None, None, (NOW - timedelta(days=30), NOW)),
        ("2026-11-01", "2026-11-30", (at("2026-11-01T00:00"), at("2026-12-01T00:00"))),
        ("2026-11-01T08:00:00Z", "2026-11-02T08:00:00+01:00",
         (at("2026-11-01T08:00"), at("2026-11-02T07:00"))),
        ("2026-11-01T08:00", None, (at("2026-11-01T08:00"), NOW)),
        (None, "2026-11-20", (at("2026-10-22T00:00"), at("2026-11-21T00:00"))),
    ],
)
def test_period(since: str | None, until: str | None,
                expected: tuple[datetime, datetime]) -> None:
    assert parse_period(since, until, NOW) == Period(*expected)


@pytest.mark.parametrize(
    ("since", "until", "param"),
    [
        ("yesterday", None, "since"),
        (None, "2026-13-01", "until"),
        ("2026-11-10", "2026-11-01", "until"),
        ("2020-01-01", "2026-01-01", "since"),
        ("0001-01-01T00:00+01:00", None, "since"),  # before the year 1 in UTC
        (None, "9999-12-31", "until"),  # its end is past the last datetime
        ("1969-12-31", None, "since"),
        (None, "3000-01-02", "until"),
    ],
)
def test_bad_period_names_the_parameter(since: str | None, until: str | None,
                                        param: str) -> None:
    with pytest.raises(BadPeriod) as caught:
        parse_period(since, until, NOW)
    assert caught.value.param == param


def test_priorities_always_list_every_row() -> None:
    assert priority_counts([("P1", 2), (None, 3), ("P3", 1)]) == {
        "P1": 2, "P2": 0, "P3": 1, "P4": 0, "P5": 0, "none": 3}


NEW_YORK = Person("ny@example.com", "America/New_York")
KOLKATA = Person("in@example.com", "Asia/Kolkata")
NO_ZONE = Person("utc@example.com", None)
YEAR = Period(at("2026-01-01T00:00"), at("2027-01-01T00:00"))


def nights(sent: list[tuple[int | None, datetime]], people: dict[int, Person],
           period: Period = YEAR) -> dict[int | None, int]:
    """Night pages the way the report counts them: grouped by (person, segment, slot)."""
    changes = offset_changes([p.time_zone for p in people.values()], period)
    groups: dict[tuple[int | None, int, int], int] = {}
    for user_id, when in sent:
        key = (user_id, *page_slot(when, changes))
        groups[key] = groups.get(key, 0) + 1
    return night_pages([(*k, n) for k, n in groups.items()], people, changes, period)


def test_offset_changes_are_the_dst_changes() -> None:
    assert offset_changes(["America/New_York", "Europe/London", "Asia/Kolkata", None],
                          YEAR) == [
        at("2026-03-08T07:00"), at("2026-03-29T01:00"), at("2026-10-25T01:00"),
        at("2026-11-01T06:00")]
    assert offset_changes(["Asia/Kathmandu"], YEAR) == []


@pytest.mark.parametrize(
    ("person", "sent", "night"),
    [
        # 12:30 UTC is 07:30 EST the day before the clocks go forward (night) ...
        (NEW_YORK, "2026-03-07T12:30:00", True),
        # ... and 08:30 EDT the day after (day): the offset in force when it was sent.
        (NEW_YORK, "2026-03-08T12:30:00", False),
        (NEW_YORK, "2026-03-08T11:30:00", True),  # 07:30 EDT
        (NEW_YORK, "2026-03-08T11:59:59", True),  # 07:59:59 EDT
        # autumn: 02:00 UTC is 22:00 EDT on Sunday 1 November, 21:00 EST on Monday.
        (NEW_YORK, "2026-11-01T02:00:00", True),
        (NEW_YORK, "2026-11-02T02:00:00", False),
        (NEW_YORK, "2026-11-01T13:30:00", False),  # 08:30 EST
        (NEW_YORK, "2026-11-02T02:59:59", False),  # 21:59:59 EST
        (NEW_YORK, "2026-11-02T03:00:00", True),  # 22:00 EST
        (KOLKATA, "2026-11-02T16:30:00", True),  # 22:00 IST: a half-hour offset
        (KOLKATA, "2026-11-02T16:29:00", False),
        (NO_ZONE, "2026-11-02T07:59:00", True),  # no zone: judged in UTC
        (NO_ZONE, "2026-11-02T08:00:00", False),
    ],
)
def test_night_pages_in_the_persons_own_zone_across_dst(
    person: Person, sent: str, night: bool
) -> None:
    assert nights([(1, at(sent))], {1: person}) == ({1: 1} if night else {})


def test_night_across_a_period_that_starts_mid_slot() -> None:
    period = Period(at("2026-11-01T02:07:00"), at("2026-11-03T00:00"))
    assert nights([(1, at("2026-11-01T02:10:00"))], {1: NEW_YORK}, period) == {1: 1}


def test_pages_per_person_by_channel_most_paged_first() -> None:
    people = {1: NEW_YORK, 2: KOLKATA}
    counts = [(1, "sms", 1), (2, "push", 2), (2, "voice", 1), (None, "email", 1)]
    found = pages_per_person(counts, {2: 2}, people)
    assert [(p.person, p.pages, p.night_pages, dict(p.by_channel), p.time_zone)
            for p in found] == [
        ("in@example.com", 3, 2, {"push": 2, "voice": 1}, "Asia/Kolkata"),
        (NO_ONE, 1, 0, {"email": 1}, "UTC"),
        ("ny@example.com", 1, 0, {"sms": 1}, "America/New_York"),
    ]


@pytest.mark.parametrize(("seconds", "text"), [
    (None, "-"), (44.6, "45s"), (725, "12m 5s"), (12000, "3h 20m"), (187200, "2d 4h")])
def test_duration_text(seconds: float | None, text: str) -> None:
    assert duration_text(seconds) == text


def shift(start: str, end: str, who: str | None) -> Shift:
    return Shift(at(start), at(end), who, "layer")


def test_hours_on_call_cut_to_the_period_overlaps_counted_once() -> None:
    period = Period(at("2026-11-01T00:00"), at("2026-11-03T00:00"))  # 48 h
    found = hours_on_call({
        "primary": [shift("2026-10-31T12:00", "2026-11-01T12:00", "a@x"),  # 12 h inside
                    shift("2026-11-01T12:00", "2026-11-02T00:00", None),  # 12 h gap
                    shift("2026-11-02T00:00", "2026-11-03T12:00", "b@x")],  # 24 h inside
        "secondary": [shift("2026-11-01T00:00", "2026-11-02T00:00", "b@x"),
                      shift("2026-11-02T00:00", "2026-11-03T00:00", "a@x")],
    }, period)
    # b: 24 h of secondary then 24 h of primary, back to back: one stretch of 48 h.
    # a: 12 h of primary, then 24 h of secondary later: two stretches, 36 h.
    assert [(p.person, p.hours, p.shifts, p.share, p.schedules) for p in found.people] == [
        ("b@x", 48.0, 1, 100.0, ("primary", "secondary")),
        ("a@x", 36.0, 2, 75.0, ("primary", "secondary")),
    ]
    assert found.gap_hours == {"primary": 12.0, "secondary": 0.0}


def test_hours_on_call_when_both_schedules_overlap_in_time() -> None:
    period = Period(at("2026-11-01T00:00"), at("2026-11-02T00:00"))
    found = hours_on_call({
        "one": [shift("2026-11-01T00:00", "2026-11-02T00:00", "a@x")],
        "two": [shift("2026-11-01T06:00", "2026-11-01T18:00", "a@x"),
                shift("2026-11-01T00:00", "2026-11-01T06:00", "c@x")],
    }, period)
    assert [(p.person, p.hours) for p in found.people] == [("a@x", 24.0), ("c@x", 6.0)]


def test_tables_of_a_report() -> None:
    period = Period(at("2026-11-01T00:00"), at("2026-11-02T00:00"))
    report = Report(
        period=period, team="payments", service=None,
        priorities=priority_counts([("P1", 2)]),
        mtta=Figure(90.0, 120.0, 2), mttr=Figure(None, None, 0),
        pages=pages_per_person([(1, "sms", 2), (1, "pager", 1)], {1: 1}, {1: NO_ZONE}),
        oncall=OnCall([], {"primary": 0.5}),
    )
    summary = table(report, "summary").records()[0]
    assert (summary["incidents"], summary["mtta_median_s"], summary["mttr_median_s"],
            summary["mttr_over"], summary["pages"], summary["night_pages"],
            summary["uncovered_hours"]) == (2, 90.0, None, 0, 3, 1, 0.5)
    people = table(report, "people")
    assert people.columns[-1] == "pages_pager"  # a channel outside the known ones is kept
    assert people.records()[0]["pages_sms"] == 2
    with pytest.raises(KeyError):
        table(report, "nothing")


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 9, 10, 11, 101])
def test_the_ranks_asked_of_the_database_give_the_same_figure(n: int) -> None:
    values = [float((i * 37) % 101) for i in range(n)]
    ordered = sorted(values)
    wanted = ranks_needed(n)
    assert figure_of_ranks(n, {r: ordered[r] for r in wanted}) == figure(values)
    assert figure(values).median == percentile(values, 0.5)
    assert figure(values).p90 == pytest.approx(percentile(values, 0.9))
    assert len(wanted) <= 4
