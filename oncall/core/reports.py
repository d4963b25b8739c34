"""On-call health figures: what a team reviews each month once PagerDuty's reports are gone.

Pure: rows in, figures out; the period and "now" are passed in. Percentiles are the continuous
kind (PostgreSQL's `percentile_cont`, numpy's default "linear"): the value at rank
q·(n-1) of the sorted values, interpolated between the two values around it, so the median of
an even count is the mean of the middle two and one slow incident moves p90 smoothly rather
than in jumps.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from oncall.core.night import is_night, zone
from oncall.core.schedule.engine import Shift

PRIORITIES = ("P1", "P2", "P3", "P4", "P5", "none")
"""Rows of the priorities table, always all of them: a zero is a figure too."""
CHANNELS = ("push", "sms", "voice", "email", "slack", "teams")
"""Channel columns every people table has, so a CSV's columns do not depend on the month."""
DEFAULT_DAYS = 30
MAX_DAYS = 732
"""Longest period asked for: two years, which bounds the schedule walk and the rows read."""
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)
"""The instants a period may reach: epoch seconds stay positive (the slot arithmetic truncates)
and the schedule engine never steps past the last year a datetime holds."""
NO_ONE = "(deleted user)"
"""Who a page went to once its person was deleted (the row keeps the page, not the person)."""


# --- percentiles ---------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile (0 ≤ q ≤ 1) by linear interpolation; None for no values."""
    if not 0.0 <= q <= 1.0:
        raise ValueError("q must be between 0 and 1")
    if not values:
        return None
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Figure:
    """Median and p90 in seconds, and how many incidents they are over."""

    median: float | None
    p90: float | None
    count: int


QUANTILES = ((1, 2), (9, 10))
"""The median and p90 as exact fractions, so the ranks the database is asked for are the
ranks computed here, with no floating-point rounding between them."""


def ranks_needed(n: int) -> set[int]:
    """The 0-based ranks of n sorted values that the median and p90 are interpolated from."""
    if n == 0:
        return set()
    found = set()
    for num, den in QUANTILES:
        low = num * (n - 1) // den
        found |= {low, min(low + 1, n - 1)}
    return found


def _at_rank(n: int, at: Mapping[int, float], num: int, den: int) -> float:
    low, rest = divmod(num * (n - 1), den)
    high = min(low + 1, n - 1)
    return at[low] + (at[high] - at[low]) * rest / den


def figure_of_ranks(n: int, at: Mapping[int, float]) -> Figure:
    """The figure of n sorted values of which `at` holds those at `ranks_needed(n)`."""
    if n == 0:
        return Figure(None, None, 0)
    return Figure(_at_rank(n, at, *QUANTILES[0]), _at_rank(n, at, *QUANTILES[1]), n)


def figure(seconds: Sequence[float]) -> Figure:
    ordered = sorted(seconds)
    return figure_of_ranks(len(ordered), dict(enumerate(ordered)))


def duration_text(seconds: float | None) -> str:
    """Seconds as people read them: 45s, 12m 5s, 3h 20m, 2d 4h ("-" for no figure)."""
    if seconds is None:
        return "-"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


# --- the period ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """[since, until) in UTC."""

    since: datetime
    until: datetime

    @property
    def hours(self) -> float:
        return (self.until - self.since).total_seconds() / 3600


class BadPeriod(ValueError):
    """A since/until the caller must fix; `param` names which."""

    def __init__(self, param: str, reason: str) -> None:
        super().__init__(f"{param}: {reason}")
        self.param = param
        self.reason = reason


def _instant(param: str, text: str, *, end: bool) -> datetime:
    """An ISO date or datetime; a bare date is a whole UTC day (its end for `until`, so
    `until=2026-11-30` includes the 30th); a datetime without an offset is UTC."""
    raw = text.strip()
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            start = datetime.combine(day, time(0), tzinfo=UTC)
            at = start + timedelta(days=1) if end else start
        else:
            at = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
            at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    except (ValueError, OverflowError):
        raise BadPeriod(param, f"{text!r} is not an ISO date (2026-11-30) or datetime "
                               "(2026-11-30T08:00:00Z)") from None
    if not EARLIEST <= at <= LATEST:
        raise BadPeriod(param, f"must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}")
    return at


def parse_period(since: str | None, until: str | None, now: datetime,
           default_days: int = DEFAULT_DAYS) -> Period:
    """The period asked for; by default the `default_days` before `now`."""
    end = _instant("until", until, end=True) if until else now.astimezone(UTC)
    start = (_instant("since", since, end=False) if since
             else max(EARLIEST, end - timedelta(days=default_days)))
    if end <= start:
        raise BadPeriod("until", "must be after since")
    if end - start > timedelta(days=MAX_DAYS):
        raise BadPeriod("since", f"a report covers at most {MAX_DAYS} days")
    return Period(start, end)


# --- pages ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    email: str
    time_zone: str | None


@dataclass(frozen=True)
class PersonPages:
    person: str
    time_zone: str
    """The zone night was judged in ("UTC" when the person has none)."""
    pages: int
    night_pages: int
    by_channel: Mapping[str, int]


SLOT = 900
"""Seconds per slot of the UTC day pages are counted in. Every zone's offset is a whole number
of quarter hours and changes on a quarter hour, so all of a slot is night or all is day."""
SLOTS_PER_DAY = 86400 // SLOT


def offset_changes(zones: Iterable[str | None], period: Period) -> list[datetime]:
    """The instants inside the period at which any of the zones changes its UTC offset
    (daylight saving), in order: between two of them every zone keeps one offset."""
    found: set[datetime] = set()
    step = timedelta(days=1)
    for name in set(zones):
        tz = zone(name)
        t = period.since
        before = t.astimezone(tz).utcoffset()
        while t < period.until:
            nxt = min(t + step, period.until)
            after = nxt.astimezone(tz).utcoffset()
            if after != before:
                lo, hi = t, nxt  # the offset is `before` at lo and `after` at hi
                while hi - lo > timedelta(seconds=SLOT):
                    mid = lo + (hi - lo) / 2
                    if mid.astimezone(tz).utcoffset() == before:
                        lo = mid
                    else:
                        hi = mid
                change = _slot_start(hi)
                if change.astimezone(tz).utcoffset() != after:
                    change += timedelta(seconds=SLOT)
                if period.since < change < period.until:
                    found.add(change)
                before = after
            t = nxt
    return sorted(found)


def _slot_start(at: datetime) -> datetime:
    seconds = int(at.timestamp()) // SLOT * SLOT
    return datetime.fromtimestamp(seconds, UTC)


def page_slot(at: datetime, changes: Sequence[datetime]) -> tuple[int, int]:
    """(segment, slot) of a page sent at `at`: which stretch between `changes` and which
    quarter hour of the UTC day; the grouping `reports.queries.page_slots` does in SQL."""
    quarter = int(at.timestamp()) // SLOT
    segment = sum(1 for c in changes if quarter >= int(c.timestamp()) // SLOT)
    return segment, quarter % SLOTS_PER_DAY


def night_pages(
    slots: Iterable[tuple[int | None, int, int, int]],
    people: Mapping[int, Person],
    changes: Sequence[datetime],
    period: Period,
) -> dict[int | None, int]:
    """Night pages per user id from (user id, segment, slot, pages) groups: each group is
    judged by `oncall.core.night.is_night` at its first instant in the period, in the person's
    own zone (UTC without one)."""
    starts = [_slot_start(period.since), *changes]
    out: dict[int | None, int] = defaultdict(int)
    for user_id, segment, slot, n in slots:
        person = people.get(user_id) if user_id is not None else None
        begin = starts[min(segment, len(starts) - 1)]
        day = datetime.combine(begin.date(), time(0), tzinfo=UTC)
        at = day + timedelta(seconds=slot * SLOT)
        if at < begin:
            at += timedelta(days=1)
        if is_night(at, zone(person.time_zone if person else None)):
            out[user_id] += n
    return dict(out)


def pages_per_person(
    counts: Iterable[tuple[int | None, str, int]],
    nights: Mapping[int | None, int],
    people: Mapping[int, Person],
) -> list[PersonPages]:
    """Pages per person from (user id, channel, pages) counts and night pages per user id.
    Most paged first."""
    channels: dict[int | None, dict[str, int]] = defaultdict(dict)
    for user_id, channel, n in counts:
        per = channels[user_id]
        per[channel] = per.get(channel, 0) + n
    out = []
    for user_id, per in channels.items():
        person = people.get(user_id) if user_id is not None else None
        out.append(PersonPages(
            person=person.email if person else NO_ONE,
            time_zone=zone(person.time_zone if person else None).key,
            pages=sum(per.values()),
            night_pages=nights.get(user_id, 0),
            by_channel=dict(sorted(per.items())),
        ))
    return sorted(out, key=lambda p: (-p.pages, p.person))


# --- hours on call -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonHours:
    person: str
    hours: float
    """Hours holding at least one of the schedules' pagers: two schedules at once count once."""
    shifts: int
    """Separate stretches on call (back-to-back shifts of different schedules are one)."""
    share: float
    """hours / the period's hours, in percent."""
    schedules: tuple[str, ...]


@dataclass(frozen=True)
class OnCall:
    people: list[PersonHours]
    gap_hours: Mapping[str, float]
    """Per schedule, hours with no one on call."""


def _merged(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def hours_on_call(shifts_by_schedule: Mapping[str, Sequence[Shift]], period: Period) -> OnCall:
    """Who held the pager for how long, from each schedule's final shifts (already cut to the
    period). Most hours first."""
    spans: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    schedules: dict[str, set[str]] = defaultdict(set)
    gaps: dict[str, float] = {}
    for name, shifts in shifts_by_schedule.items():
        gap = 0.0
        for s in shifts:
            start, end = max(s.start, period.since), min(s.end, period.until)
            if end <= start:
                continue
            if s.who is None:
                gap += (end - start).total_seconds()
                continue
            spans[s.who].append((start, end))
            schedules[s.who].add(name)
        gaps[name] = gap / 3600
    total = period.hours
    people = []
    for who, found in spans.items():
        merged = _merged(found)
        hours = sum((end - start).total_seconds() for start, end in merged) / 3600
        people.append(PersonHours(who, hours, len(merged), 100 * hours / total if total else 0.0,
                                  tuple(sorted(schedules[who]))))
    people.sort(key=lambda p: (-p.hours, p.person))
    return OnCall(people, dict(sorted(gaps.items())))


# --- the report and its tables -------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    period: Period
    team: str | None
    service: str | None
    priorities: Mapping[str, int]
    mtta: Figure
    mttr: Figure
    pages: list[PersonPages]
    oncall: OnCall
    services: tuple[str, ...] = ()
    """The services the figures are over (those of the team, or the one asked for)."""
    schedules: tuple[str, ...] = field(default=())
    """The schedules the hours are from."""

    @property
    def incidents(self) -> int:
        return sum(self.priorities.values())


def priority_counts(counts: Iterable[tuple[str | None, int]]) -> dict[str, int]:
    """Every priority row, "none" for incidents without one; an unknown value counts as none."""
    out = dict.fromkeys(PRIORITIES, 0)
    for priority, n in counts:
        key = priority if priority in out else "none"
        out[key] += n
    return out


Cell = str | int | float | None


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: list[tuple[Cell, ...]]

    def records(self) -> list[dict[str, Cell]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


TABLES = ("summary", "priorities", "people", "oncall")


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def summary_table(r: Report) -> Table:
    columns = ("team", "service", "since", "until", "incidents",
               "mtta_median_s", "mtta_p90_s", "mtta_over", "mttr_median_s", "mttr_p90_s",
               "mttr_over", "pages", "night_pages", "uncovered_hours")
    row: tuple[Cell, ...] = (
        r.team, r.service, r.period.since.isoformat(), r.period.until.isoformat(), r.incidents,
        _round(r.mtta.median), _round(r.mtta.p90), r.mtta.count,
        _round(r.mttr.median), _round(r.mttr.p90), r.mttr.count,
        sum(p.pages for p in r.pages), sum(p.night_pages for p in r.pages),
        _round(sum(r.oncall.gap_hours.values()), 2),
    )
    return Table(columns, [row])


def priorities_table(r: Report) -> Table:
    return Table(("priority", "incidents"), [(p, n) for p, n in r.priorities.items()])


def people_table(r: Report) -> Table:
    extra = sorted({c for p in r.pages for c in p.by_channel} - set(CHANNELS))
    channels = (*CHANNELS, *extra)
    columns = ("person", "time_zone", "pages", "night_pages", *(f"pages_{c}" for c in channels))
    rows: list[tuple[Cell, ...]] = [
        (p.person, p.time_zone, p.pages, p.night_pages,
         *(p.by_channel.get(c, 0) for c in channels)) for p in r.pages]
    return Table(columns, rows)


def oncall_table(r: Report) -> Table:
    return Table(("person", "hours", "shifts", "share_percent", "schedules"),
                 [(p.person, round(p.hours, 2), p.shifts, round(p.share, 1),
                   " ".join(p.schedules)) for p in r.oncall.people])


def table(r: Report, name: str) -> Table:
    """One of TABLES by name (KeyError for any other)."""
    return {"summary": summary_table, "priorities": priorities_table,
            "people": people_table, "oncall": oncall_table}[name](r)
