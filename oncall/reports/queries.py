"""What the reports read: counts grouped in SQL, and compact rows where a figure needs each
value (percentiles, night judged in each person's zone). Reads only; every statement serves
SQLite and PostgreSQL alike.

Whole seconds since the epoch are one expression compiled for each database
(`epoch_seconds`): PostgreSQL's EXTRACT returns numeric, whose arithmetic over a year of
incidents and pages cost more than the sorting and grouping it feeds.

Incidents are those triggered in the period; pages are those sent in it. A team's or a
service's incidents are found through `incidents.service_id`, a page's through its incident.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    case,
    cast,
    extract,
    func,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from oncall.core.reports import QUANTILES, SLOT, SLOTS_PER_DAY, Period, Person
from oncall.db.models import IncidentRow, NotificationRow, ServiceRow, UserRow

PAGE = "page"


@dataclass(frozen=True)
class Scope:
    """The services a report is over; `service_ids` None means every service (and every page,
    an incident's or not)."""

    service_ids: tuple[int, ...] | None
    services: tuple[str, ...]


def scope(session: Session, team: str | None, service: str | None) -> Scope:
    """The services of `team` and/or the one named `service` (retired ones included: their
    incidents still count)."""
    query = select(ServiceRow.id, ServiceRow.name).order_by(ServiceRow.name)
    if team is not None:
        query = query.where(ServiceRow.team_name == team)
    if service is not None:
        query = query.where(ServiceRow.name == service)
    rows = session.execute(query).all()
    names = tuple(name for _, name in rows)
    if team is None and service is None:
        return Scope(None, names)
    return Scope(tuple(i for i, _ in rows), names)


def service_team(session: Session, service: str) -> str | None:
    """The team owning `service`, None when no such service was ever applied."""
    return session.scalar(select(ServiceRow.team_name).where(ServiceRow.name == service))


def team_known(session: Session, team: str) -> bool:
    return session.scalar(
        select(func.count(ServiceRow.id)).where(ServiceRow.team_name == team)) != 0


def _incidents_of(where: Scope, period: Period) -> list[ColumnElement[bool]]:
    found = [IncidentRow.triggered_at >= period.since, IncidentRow.triggered_at < period.until]
    if where.service_ids is not None:
        found.append(IncidentRow.service_id.in_(where.service_ids))
    return found


def priority_counts(session: Session, where: Scope, period: Period) -> list[tuple[str | None, int]]:
    """(priority, incidents triggered in the period)."""
    rows = session.execute(
        select(IncidentRow.priority, func.count())
        .where(*_incidents_of(where, period))
        .group_by(IncidentRow.priority)
    )
    return [(p, n) for p, n in rows]


class epoch_seconds(FunctionElement[int]):
    """Whole seconds since the epoch of a timestamp column (fractions truncated, so every
    duration is the same on both databases)."""

    type = BigInteger()
    inherit_cache = True


@compiles(epoch_seconds)
def _epoch_seconds(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    (column,) = element.clauses
    return compiler.process(cast(extract("epoch", column), BigInteger), **kw)  # SQLite: %s


@compiles(epoch_seconds, "postgresql")
def _epoch_seconds_postgresql(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    (column,) = element.clauses
    return f"CAST(floor(date_part('epoch', {compiler.process(column, **kw)})) AS BIGINT)"


def duration_ranks(session: Session, where: Scope, period: Period, end: str
                   ) -> tuple[int, dict[int, float]]:
    """(n, {rank: seconds}) of the time from trigger to `end` ("acknowledged" or "resolved")
    over the period's incidents that have one: how many, and the sorted values at the ranks
    the median and p90 are interpolated from (`core.reports.ranks_needed`). The database sorts
    and counts; four rows come back, not one per incident."""
    column = {"acknowledged": IncidentRow.acknowledged_at,
              "resolved": IncidentRow.resolved_at}[end]
    seconds = epoch_seconds(column) - epoch_seconds(IncidentRow.triggered_at)
    ranked = (
        select(seconds.label("seconds"),
               (func.row_number().over(order_by=seconds) - 1).label("rank"),
               func.count().over().label("n"))
        .where(*_incidents_of(where, period), column.is_not(None))
        .subquery()
    )
    last = ranked.c.n - 1
    wanted = []
    for num, den in QUANTILES:  # the same integer arithmetic as ranks_needed
        low = (last * num) // den
        wanted += [ranked.c.rank == low, ranked.c.rank == low + 1]
    rows = session.execute(select(ranked.c.rank, ranked.c.seconds, ranked.c.n)
                           .where(or_(*wanted)))
    n, at = 0, {}
    for rank, value, count in rows:
        n, at[int(rank)] = int(count), float(value)
    return n, at


def _pages_of(where: Scope, period: Period) -> list[ColumnElement[bool]]:
    found = [
        NotificationRow.kind == PAGE,
        NotificationRow.sent_at >= period.since,
        NotificationRow.sent_at < period.until,
    ]
    if where.service_ids is not None:
        found.append(NotificationRow.incident_id.in_(
            select(IncidentRow.id).where(IncidentRow.service_id.in_(where.service_ids))))
    return found


def page_counts(session: Session, where: Scope, period: Period
                ) -> list[tuple[int | None, str, int]]:
    """(user id, channel, pages sent in the period): one notification row is one page."""
    query = (
        select(NotificationRow.user_id, NotificationRow.channel, func.count())
        .where(*_pages_of(where, period))
        .group_by(NotificationRow.user_id, NotificationRow.channel)
    )
    return [(u, c, n) for u, c, n in session.execute(query)]


def page_slots(session: Session, where: Scope, period: Period, changes: Sequence[datetime]
               ) -> list[tuple[int | None, int, int, int]]:
    """(user id, segment, slot, pages): the period's pages counted per person, per stretch
    between the UTC-offset changes `changes` (segment 0 before the first), and per
    15-minute slot of the UTC day. Within one such group every page has the same local time
    of day to the quarter hour in any zone, so night is judged once per group
    (`core.reports.night_pages`), not once per page."""
    quarter = epoch_seconds(NotificationRow.sent_at) // literal(SLOT, BigInteger)
    segment: Any = literal_column("0")
    if changes:
        segment = case(*((NotificationRow.sent_at < c, literal_column(str(i)))
                         for i, c in enumerate(changes)), else_=literal_column(str(len(changes))))
    pages = (
        select(NotificationRow.user_id.label("user_id"), segment.label("segment"),
               (quarter % literal_column(str(SLOTS_PER_DAY))).label("slot"))
        .where(*_pages_of(where, period))
        .subquery()
    )
    query = (select(pages.c.user_id, pages.c.segment, pages.c.slot, func.count())
             .group_by(pages.c.user_id, pages.c.segment, pages.c.slot))
    return [(u, int(seg), int(sl), n) for u, seg, sl, n in session.execute(query)]


def time_zones(session: Session) -> set[str | None]:
    """Every zone people have: where a UTC offset may change within a period."""
    return set(session.scalars(select(UserRow.time_zone).distinct()))


def people(session: Session, user_ids: Iterable[int | None]) -> dict[int, Person]:
    """Email and time zone of each user id."""
    ids = sorted({i for i in user_ids if i is not None})
    found: dict[int, Person] = {}
    for chunk in range(0, len(ids), 1000):  # SQLite's limit on bound parameters
        rows = session.execute(
            select(UserRow.id, UserRow.email, UserRow.time_zone)
            .where(UserRow.id.in_(ids[chunk:chunk + 1000])))
        found.update({i: Person(email, tz) for i, email, tz in rows})
    return found


__all__ = ["Scope", "duration_ranks", "page_counts", "page_slots", "people",
           "priority_counts", "scope", "service_team", "team_known", "time_zones"]
