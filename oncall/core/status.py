"""Status pages, decided: what a component shows, the page's overall indicator, uptime bars.

Pure: open incidents, maintenance windows, a responder's manual status and `now` go in; a status
comes out. A component is never typed in by default: it takes the worst impact of its services'
open incidents (by priority, through the page's impact mapping), then an active maintenance
window, then `operational`. A manual status, while it has not expired, wins over both.

Nothing from an alert (title, labels, hosts) is an input here: a public page is built only from
component names, services' priorities and the page's own text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum


class ComponentStatus(StrEnum):
    """Statuspage's component statuses, in its spelling."""

    OPERATIONAL = "operational"
    UNDER_MAINTENANCE = "under_maintenance"
    DEGRADED_PERFORMANCE = "degraded_performance"
    PARTIAL_OUTAGE = "partial_outage"
    MAJOR_OUTAGE = "major_outage"

    @property
    def rank(self) -> int:
        """How bad: an incident's effect outranks maintenance, maintenance outranks nothing."""
        return _RANK[self]

    @property
    def text(self) -> str:
        return _TEXT[self]


_RANK = {ComponentStatus.OPERATIONAL: 0, ComponentStatus.UNDER_MAINTENANCE: 1,
         ComponentStatus.DEGRADED_PERFORMANCE: 2, ComponentStatus.PARTIAL_OUTAGE: 3,
         ComponentStatus.MAJOR_OUTAGE: 4}
_TEXT = {ComponentStatus.OPERATIONAL: "Operational",
         ComponentStatus.UNDER_MAINTENANCE: "Under maintenance",
         ComponentStatus.DEGRADED_PERFORMANCE: "Degraded performance",
         ComponentStatus.PARTIAL_OUTAGE: "Partial outage",
         ComponentStatus.MAJOR_OUTAGE: "Major outage"}

IMPACTS: tuple[ComponentStatus, ...] = (ComponentStatus.DEGRADED_PERFORMANCE,
                                        ComponentStatus.PARTIAL_OUTAGE,
                                        ComponentStatus.MAJOR_OUTAGE)
"""What an incident may do to a component (a page's `impact:` maps priorities to these)."""

DEFAULT_IMPACT: Mapping[str, ComponentStatus | None] = {
    "P1": ComponentStatus.MAJOR_OUTAGE,
    "P2": ComponentStatus.PARTIAL_OUTAGE,
    "P3": ComponentStatus.DEGRADED_PERFORMANCE,
    "P4": None,
    "P5": None,
}
"""Priority → component status when a page does not say otherwise; None: no effect."""


class NoticeStatus(StrEnum):
    """A notice's stage, as Statuspage names an incident's."""

    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"


class Indicator(StrEnum):
    """Statuspage's overall `status.indicator`."""

    NONE = "none"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"
    MAINTENANCE = "maintenance"


_INDICATOR = {
    ComponentStatus.OPERATIONAL: (Indicator.NONE, "All Systems Operational"),
    ComponentStatus.UNDER_MAINTENANCE: (Indicator.MAINTENANCE, "Service Under Maintenance"),
    ComponentStatus.DEGRADED_PERFORMANCE: (Indicator.MINOR, "Minor Service Outage"),
    ComponentStatus.PARTIAL_OUTAGE: (Indicator.MAJOR, "Partial System Outage"),
    ComponentStatus.MAJOR_OUTAGE: (Indicator.CRITICAL, "Major System Outage"),
}

NOTICE_IMPACT = {
    ComponentStatus.OPERATIONAL: "none",
    ComponentStatus.UNDER_MAINTENANCE: "maintenance",
    ComponentStatus.DEGRADED_PERFORMANCE: "minor",
    ComponentStatus.PARTIAL_OUTAGE: "major",
    ComponentStatus.MAJOR_OUTAGE: "critical",
}
"""A notice's Statuspage `impact` from the worst status of its components."""

PARTIAL_WEIGHT = 0.3
"""A partial outage counts as this share of downtime in uptime figures (Statuspage's rule);
a major outage counts whole, degraded performance and maintenance not at all."""


@dataclass(frozen=True)
class OpenIncident:
    """What a status page may know of an incident: where and how bad, never its text."""

    service: str
    priority: str | None


@dataclass(frozen=True)
class Maintenance:
    """A MaintenanceWindow, its times made absolute."""

    name: str
    services: frozenset[str]
    starts_at: datetime
    ends_at: datetime
    description: str | None = None

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def stage(self, now: datetime) -> str:
        """Statuspage's scheduled-maintenance status."""
        if now < self.starts_at:
            return "scheduled"
        return "in_progress" if now < self.ends_at else "completed"


@dataclass(frozen=True)
class Manual:
    """A status a responder set by hand: who, and until when (None: until cleared)."""

    status: ComponentStatus
    set_by: str
    set_at: datetime
    expires_at: datetime | None = None

    def in_force(self, now: datetime) -> bool:
        return self.expires_at is None or now < self.expires_at


def impact_of(priority: str | None,
              impact: Mapping[str, ComponentStatus | None] = DEFAULT_IMPACT
              ) -> ComponentStatus | None:
    """An incident's effect on its components; None for no effect (or no priority)."""
    if priority is None:
        return None
    return impact.get(priority)


def worst(statuses: Iterable[ComponentStatus]) -> ComponentStatus:
    return max(statuses, key=lambda s: s.rank, default=ComponentStatus.OPERATIONAL)


def computed_status(
    services: Iterable[str],
    incidents: Iterable[OpenIncident],
    maintenances: Iterable[Maintenance],
    now: datetime,
    impact: Mapping[str, ComponentStatus | None] = DEFAULT_IMPACT,
) -> ComponentStatus:
    """The status a component earns from its services: the worst open incident's impact,
    else under maintenance while a window on one of them is active, else operational."""
    mine = frozenset(services)
    found = [impact_of(i.priority, impact) for i in incidents if i.service in mine]
    status = worst(s for s in found if s is not None)
    if status is ComponentStatus.OPERATIONAL and any(
            m.active(now) and m.services & mine for m in maintenances):
        return ComponentStatus.UNDER_MAINTENANCE
    return status


def shown_status(computed: ComponentStatus, manual: Manual | None,
                 now: datetime) -> ComponentStatus:
    """What the page shows: a manual status in force, else the computed one."""
    if manual is not None and manual.in_force(now):
        return manual.status
    return computed


def indicator(statuses: Iterable[ComponentStatus]) -> tuple[Indicator, str]:
    """The page's overall (indicator, description), from its components' shown statuses."""
    return _INDICATOR[worst(statuses)]


def notice_impact(statuses: Iterable[ComponentStatus]) -> str:
    return NOTICE_IMPACT[worst(statuses)]


# --- uptime ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """An incident's life on a service: from opened to resolved (None: still open)."""

    service: str
    priority: str | None
    start: datetime
    end: datetime | None


@dataclass(frozen=True)
class DayBar:
    """One day of a component's history, in UTC: its worst status and seconds of each."""

    day: date
    worst: ComponentStatus
    seconds: Mapping[ComponentStatus, float] = field(default_factory=dict)
    length: float = 86400.0
    """Seconds of the day gone by: today's bar counts only what has passed, so an outage
    since midnight shows today down, not half up."""

    @property
    def uptime(self) -> float:
        """Share of the day up, 0..1: major outage down, partial outage down at 30%."""
        down = (self.seconds.get(ComponentStatus.MAJOR_OUTAGE, 0.0)
                + PARTIAL_WEIGHT * self.seconds.get(ComponentStatus.PARTIAL_OUTAGE, 0.0))
        return max(0.0, 1.0 - down / self.length) if self.length > 0 else 1.0


def uptime_bars(
    services: Iterable[str],
    intervals: Iterable[Interval],
    now: datetime,
    days: int = 90,
    impact: Mapping[str, ComponentStatus | None] = DEFAULT_IMPACT,
) -> list[DayBar]:
    """The last `days` UTC days of a component, oldest first, today (so far) last.

    Overlapping incidents are not counted twice: each second counts at the worst status of the
    incidents open at that second."""
    mine = frozenset(services)
    today = now.astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    window_start = datetime.combine(first, time(), UTC)
    # Boundaries where the set of open incidents changes, each with its status.
    edges: list[tuple[datetime, int, ComponentStatus]] = []
    for iv in intervals:
        status = impact_of(iv.priority, impact) if iv.service in mine else None
        if status is None:
            continue
        start = max(iv.start, window_start)
        end = min(iv.end or now, now)
        if end <= start:
            continue
        edges.append((start, 1, status))
        edges.append((end, -1, status))
    edges.sort(key=lambda e: (e[0], e[1]))
    seconds: dict[date, dict[ComponentStatus, float]] = {}
    open_counts: dict[ComponentStatus, int] = {}
    previous: datetime | None = None
    for at, delta, status in edges:
        if previous is not None and at > previous:
            current = worst(s for s, n in open_counts.items() if n > 0)
            if current is not ComponentStatus.OPERATIONAL:
                _spread(seconds, previous, at, current)
        open_counts[status] = open_counts.get(status, 0) + delta
        previous = at
    bars = []
    so_far = (now.astimezone(UTC) - datetime.combine(today, time(), UTC)).total_seconds()
    for n in range(days):
        day = first + timedelta(days=n)
        spent = seconds.get(day, {})
        bars.append(DayBar(day, worst(spent) if spent else ComponentStatus.OPERATIONAL,
                           dict(spent), so_far if day == today else 86400.0))
    return bars


def _spread(seconds: dict[date, dict[ComponentStatus, float]], start: datetime, end: datetime,
            status: ComponentStatus) -> None:
    """Add [start, end) at `status` to each UTC day it covers."""
    at = start.astimezone(UTC)
    end = end.astimezone(UTC)
    while at < end:
        midnight = datetime.combine(at.date() + timedelta(days=1), time(), UTC)
        stop = min(midnight, end)
        day = seconds.setdefault(at.date(), {})
        day[status] = day.get(status, 0.0) + (stop - at).total_seconds()
        at = stop


def uptime_percent(bars: Sequence[DayBar]) -> float:
    """Uptime over the bars, as a percentage with Statuspage's weighting."""
    if not bars:
        return 100.0
    return 100.0 * sum(b.uptime for b in bars) / len(bars)
