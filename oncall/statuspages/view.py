"""What a status page shows, read once from the status tables and the applied config.

Every renderer (HTML, Statuspage JSON, Atom) works from one `PageView`, so the documents of a
page always agree with each other. Reading it costs four queries whatever the number of
components: component rows, notices, their updates, and the incident intervals behind the uptime
bars (service, priority and times only: an incident's title and labels never leave the
database on this path).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.config.models import MaintenanceWindow, StatusPage
from oncall.core import status as core
from oncall.core.schedule.localtime import resolve
from oncall.core.status import ComponentStatus, DayBar, Indicator, Maintenance
from oncall.db.models import (
    IncidentRow,
    ServiceRow,
    StatusPageComponentRow,
    StatusPageNoticeRow,
    StatusPageNoticeUpdateRow,
)

HISTORY = timedelta(days=15)
"""How long a resolved notice or a completed maintenance stays on the page."""
UPTIME_DAYS = 90
LIVE_UPTIME_REFRESH = timedelta(minutes=1)
"""While an incident is open the day's uptime moves every second; a page showing it is rebuilt
at most this often for the figure alone."""


@dataclass(frozen=True)
class ComponentView:
    name: str
    position: int
    """1-based, in config order."""
    status: ComponentStatus
    services: frozenset[str]
    description: str | None
    updated_at: datetime | None
    """When the row last changed; None while the component has no row (never left operational)."""
    bars: tuple[DayBar, ...]
    uptime: float
    """Percent over the bars."""


@dataclass(frozen=True)
class UpdateView:
    id: int
    status: str
    body: str
    created_at: datetime


@dataclass(frozen=True)
class NoticeView:
    id: int
    title: str
    status: str
    impact: str
    components: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    updates: tuple[UpdateView, ...]
    """Newest first."""

    @property
    def monitoring_at(self) -> datetime | None:
        """When it first went to monitoring, as Statuspage reports it."""
        times = [u.created_at for u in self.updates if u.status == core.NoticeStatus.MONITORING]
        return min(times) if times else None


@dataclass(frozen=True)
class MaintenanceView:
    maintenance: Maintenance
    stage: str
    """Statuspage's scheduled-maintenance status: scheduled, in_progress, completed."""
    components: tuple[str, ...]


@dataclass(frozen=True)
class PageView:
    name: str
    title: str
    description: str | None
    visibility: str
    now: datetime
    updated_at: datetime
    indicator: Indicator
    status_description: str
    components: tuple[ComponentView, ...]
    open_notices: tuple[NoticeView, ...]
    """Newest first."""
    past_notices: tuple[NoticeView, ...]
    """Resolved within HISTORY, newest first."""
    maintenances: tuple[MaintenanceView, ...]
    """Upcoming, in progress and recently completed, by start."""
    stale_at: datetime
    """When time alone changes what the page shows (a window starts, a day turns, a notice ages
    out): a cached rendering is rebuilt then even if no row changed."""
    email_subscribers: bool = False
    """The page takes email subscribers (`subscribers.email`): it shows the form."""

    @property
    def upcoming(self) -> tuple[MaintenanceView, ...]:
        return tuple(m for m in self.maintenances if m.stage == "scheduled")

    @property
    def active(self) -> tuple[MaintenanceView, ...]:
        return tuple(m for m in self.maintenances if m.stage == "in_progress")

    @property
    def notices(self) -> tuple[NoticeView, ...]:
        return self.open_notices + self.past_notices


def impact_of_page(page: StatusPage) -> Mapping[str, ComponentStatus | None]:
    """The page's priority → status mapping: its own `impact:` over the default."""
    return {priority: None if level is None else ComponentStatus(level)
            for priority, level in page.impact_map().items()}


def maintenances_of(config: ConfigSet, services: Iterable[str] | None = None
                    ) -> list[Maintenance]:
    """The maintenance windows naming any of `services` (None: every window), their local
    times made absolute, by start."""
    mine = None if services is None else frozenset(services)
    found = [_absolute(name, window) for name, window in config.maintenance_windows.items()
             if mine is None or mine & set(window.services)]
    return sorted(found, key=lambda m: (m.starts_at, m.name))


def _absolute(name: str, window: MaintenanceWindow) -> Maintenance:
    return Maintenance(name=name, services=frozenset(window.services),
                       starts_at=resolve(window.from_, window.timezone),
                       ends_at=resolve(window.to, window.timezone),
                       description=window.description)


def _aware(value: datetime) -> datetime:
    """SQLite hands times back naive; they were stored in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _maybe(value: datetime | None) -> datetime | None:
    return None if value is None else _aware(value)


def load_page(session: Session, config: ConfigSet, name: str, now: datetime) -> PageView | None:
    """Everything the page `name` shows at `now`; None when no such page is applied."""
    page = config.status_pages.get(name)
    if page is None:
        return None
    services = frozenset(s for c in page.components for s in c.services)
    impact = impact_of_page(page)
    rows = {r.component_name: r for r in session.scalars(
        select(StatusPageComponentRow).where(StatusPageComponentRow.page_name == name))}
    notices, past = _notices(session, name, now)
    intervals, live = _intervals(session, services, now, impact)
    maintenances = maintenances_of(config, services)
    shown = [m for m in maintenances if m.ends_at > now - HISTORY]

    components = []
    for position, component in enumerate(page.components, start=1):
        row = rows.get(component.name)
        status = _status(row.status) if row is not None else ComponentStatus.OPERATIONAL
        bars = tuple(core.uptime_bars(component.services, intervals, now, UPTIME_DAYS, impact))
        components.append(ComponentView(
            name=component.name, position=position, status=status,
            services=frozenset(component.services), description=component.description,
            updated_at=_aware(row.updated_at) if row is not None else None,
            bars=bars, uptime=core.uptime_percent(bars)))
    indicator, description = core.indicator(c.status for c in components)
    changed = [c.updated_at for c in components if c.updated_at is not None]
    changed += [n.updated_at for n in (*notices, *past)]
    return PageView(
        name=name, title=page.title, description=page.description, visibility=page.visibility,
        now=now, updated_at=max(changed, default=now), indicator=indicator,
        status_description=description, components=tuple(components),
        open_notices=tuple(notices), past_notices=tuple(past),
        maintenances=tuple(MaintenanceView(m, m.stage(now), _affected(components, m))
                           for m in shown),
        stale_at=_stale_at(now, maintenances, past, live),
        email_subscribers=page.subscribers.email,
    )


def _status(raw: str) -> ComponentStatus:
    try:
        return ComponentStatus(raw)
    except ValueError:  # a value from a newer writer: show it as the worst we know
        return ComponentStatus.MAJOR_OUTAGE


def _affected(components: Iterable[ComponentView], m: Maintenance) -> tuple[str, ...]:
    return tuple(c.name for c in components if c.services & m.services)


def _notices(session: Session, name: str, now: datetime
             ) -> tuple[list[NoticeView], list[NoticeView]]:
    """Open notices and those resolved within HISTORY, each with its updates, newest first."""
    rows = list(session.scalars(
        select(StatusPageNoticeRow)
        .where(StatusPageNoticeRow.page_name == name,
               or_(StatusPageNoticeRow.resolved_at.is_(None),
                   StatusPageNoticeRow.resolved_at >= now - HISTORY))
        .order_by(StatusPageNoticeRow.created_at.desc(), StatusPageNoticeRow.id.desc())))
    updates: dict[int, list[UpdateView]] = {r.id: [] for r in rows}
    if rows:
        for u in session.scalars(
                select(StatusPageNoticeUpdateRow)
                .where(StatusPageNoticeUpdateRow.notice_id.in_(list(updates)))
                .order_by(StatusPageNoticeUpdateRow.created_at.desc(),
                          StatusPageNoticeUpdateRow.id.desc())):
            updates[u.notice_id].append(
                UpdateView(u.id, u.status, u.body, _aware(u.created_at)))
    views = [NoticeView(
        id=r.id, title=r.title, status=r.status, impact=r.impact,
        components=tuple(r.components or ()), created_at=_aware(r.created_at),
        updated_at=_aware(r.updated_at), resolved_at=_maybe(r.resolved_at),
        updates=tuple(updates[r.id])) for r in rows]
    return ([v for v in views if v.resolved_at is None],
            [v for v in views if v.resolved_at is not None])


def window_start(now: datetime, days: int = UPTIME_DAYS) -> datetime:
    """Midnight UTC of the oldest day the uptime bars show."""
    first = now.astimezone(UTC).date() - timedelta(days=days - 1)
    return datetime.combine(first, time(), UTC)


def _intervals(session: Session, services: frozenset[str], now: datetime,
               impact: Mapping[str, ComponentStatus | None]
               ) -> tuple[list[core.Interval], bool]:
    """The page's incidents overlapping the bars' window, and whether one with an impact is
    still open. Only where, how bad and when are selected."""
    if not services:
        return [], False
    rows = session.execute(
        select(ServiceRow.name, IncidentRow.priority, IncidentRow.triggered_at,
               IncidentRow.resolved_at)
        .join(ServiceRow, ServiceRow.id == IncidentRow.service_id)
        .where(ServiceRow.name.in_(sorted(services)),
               IncidentRow.triggered_at <= now,
               or_(IncidentRow.resolved_at.is_(None),
                   IncidentRow.resolved_at >= window_start(now))))
    intervals = [core.Interval(service, priority, _aware(start), _maybe(end))
                 for service, priority, start, end in rows]
    live = any(i.end is None and core.impact_of(i.priority, impact) is not None
               for i in intervals)
    return intervals, live


def _stale_at(now: datetime, maintenances: Iterable[Maintenance],
              past: Iterable[NoticeView], live: bool) -> datetime:
    midnight = datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), time(), UTC)
    moments = [midnight]
    for m in maintenances:
        moments += [m.starts_at, m.ends_at, m.ends_at + HISTORY]
    moments += [n.resolved_at + HISTORY for n in past if n.resolved_at is not None]
    if live:
        moments.append(now + LIVE_UPTIME_REFRESH)
    return min(t for t in moments if t > now)


def page_version(session: Session, name: str, services: Iterable[str]) -> tuple[object, ...]:
    """What changes whenever a row the page shows changes, in one statement: counts and the
    latest change of its components, notices and updates, and the latest change of its
    services' incidents (which move the uptime bars)."""
    notices = select(StatusPageNoticeRow.id).where(StatusPageNoticeRow.page_name == name)
    components = StatusPageComponentRow.page_name == name
    service_ids = select(ServiceRow.id).where(ServiceRow.name.in_(sorted(set(services))))
    row = session.execute(select(
        select(func.count()).select_from(StatusPageComponentRow).where(components)
        .scalar_subquery(),
        select(func.max(StatusPageComponentRow.updated_at)).where(components).scalar_subquery(),
        select(func.count()).select_from(StatusPageNoticeRow)
        .where(StatusPageNoticeRow.page_name == name).scalar_subquery(),
        select(func.max(StatusPageNoticeRow.updated_at))
        .where(StatusPageNoticeRow.page_name == name).scalar_subquery(),
        select(func.count()).select_from(StatusPageNoticeUpdateRow)
        .where(StatusPageNoticeUpdateRow.notice_id.in_(notices)).scalar_subquery(),
        select(func.max(StatusPageNoticeUpdateRow.id))
        .where(StatusPageNoticeUpdateRow.notice_id.in_(notices)).scalar_subquery(),
        select(func.max(IncidentRow.updated_at))
        .where(IncidentRow.service_id.in_(service_ids)).scalar_subquery(),
    )).one()
    return tuple(row)
