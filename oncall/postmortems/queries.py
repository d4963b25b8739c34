"""Reading postmortems: one with its incidents and items, lists, the action items across
postmortems, and the facts the key figures are computed from. Nothing here writes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, and_, func, select, true
from sqlalchemy.orm import aliased, join, outerjoin

from oncall.core.postmortem import IncidentFacts, PageFacts
from oncall.db.models import (
    ActionItemRow,
    IncidentRow,
    NotificationRow,
    PostmortemIncidentRow,
    PostmortemRow,
    ServiceRow,
    UserRow,
)

_P = PostmortemRow
_L = PostmortemIncidentRow
_A = ActionItemRow
_I = IncidentRow
_S = ServiceRow
_U = UserRow
_N = NotificationRow


class NotFound(LookupError):
    """No such postmortem (or action item), or not one the asker may read."""


@dataclass(frozen=True)
class Item:
    id: int
    postmortem_id: int
    title: str
    owner: str | None
    owner_id: int | None
    status: str
    due_on: date | None
    url: str | None
    created_at: datetime
    completed_at: datetime | None
    postmortem_title: str = ""
    teams: tuple[str, ...] = ()
    postmortem_status: str = ""
    """Who may read the item follows from its postmortem's status and teams."""

    def overdue(self, today: date) -> bool:
        return self.status == "open" and self.due_on is not None and self.due_on < today


@dataclass(frozen=True)
class Postmortem:
    id: int
    title: str
    status: str
    severity: str | None
    owner: str | None
    owner_id: int | None
    template: str | None
    body: str
    version: int
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime
    published_at: datetime | None
    incidents: tuple[IncidentFacts, ...]
    items: tuple[Item, ...]

    @property
    def teams(self) -> tuple[str, ...]:
        return tuple(sorted({i.team for i in self.incidents}))

    @property
    def incident_ids(self) -> tuple[int, ...]:
        return tuple(i.id for i in self.incidents)


@dataclass(frozen=True)
class Summary:
    id: int
    title: str
    status: str
    severity: str | None
    owner: str | None
    incident_ids: tuple[int, ...]
    teams: tuple[str, ...]
    updated_at: datetime
    published_at: datetime | None
    open_items: int


_FACTS = (
    select(_I.id, _I.title, _S.name.label("service"), _S.team_name, _I.priority,
           _I.status, _I.triggered_at, _I.acknowledged_at, _I.resolved_at)
    .select_from(join(_I, _S, _S.id == _I.service_id))
)


def incident_facts(conn: Connection, ids: Iterable[int]) -> list[IncidentFacts]:
    """The incidents by id, in the order they started; unknown ids are left out."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    rows = conn.execute(_FACTS.where(_I.id.in_(wanted)).order_by(_I.triggered_at, _I.id))
    return [IncidentFacts(id=r.id, title=r.title, service=r.service, team=r.team_name,
                          priority=r.priority, status=r.status, triggered_at=r.triggered_at,
                          acknowledged_at=r.acknowledged_at, resolved_at=r.resolved_at)
            for r in rows]


def page_facts(conn: Connection, ids: Sequence[int]) -> list[PageFacts]:
    """Every page that went out for these incidents (sent, whatever came after), with the
    recipient's time zone."""
    if not ids:
        return []
    rows = conn.execute(
        select(_N.incident_id, _U.email, _N.channel, _N.sent_at, _U.time_zone)
        .select_from(join(_N, _U, _U.id == _N.user_id))
        .where(_N.incident_id.in_(list(ids)), _N.kind == "page", _N.sent_at.is_not(None))
        .order_by(_N.sent_at, _N.id))
    return [PageFacts(r.incident_id, r.email, r.channel, r.sent_at, r.time_zone) for r in rows]


def _items(conn: Connection, where: object, today: date | None = None) -> list[Item]:
    owner = aliased(UserRow, name="owner")
    stmt = (select(*_A.__mapper__.columns, owner.email.label("owner_email"),
                   _P.title.label("pm_title"), _P.status.label("pm_status"))
            .select_from(join(_A, _P, _P.id == _A.postmortem_id)
                         .outerjoin(owner, owner.id == _A.owner_id))
            .where(where)  # type: ignore[arg-type]
            .order_by(_A.due_on.is_(None), _A.due_on, _A.id))
    rows = list(conn.execute(stmt))
    teams = _teams_of(conn, {r.postmortem_id for r in rows})
    return [Item(id=r.id, postmortem_id=r.postmortem_id, title=r.title, owner=r.owner_email,
                 owner_id=r.owner_id, status=r.status, due_on=r.due_on, url=r.url,
                 created_at=r.created_at, completed_at=r.completed_at,
                 postmortem_title=r.pm_title, teams=teams.get(r.postmortem_id, ()),
                 postmortem_status=r.pm_status)
            for r in rows]


def _teams_of(conn: Connection, postmortem_ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
    wanted = sorted(set(postmortem_ids))
    found: dict[int, set[str]] = {}
    if wanted:
        for pm, team in conn.execute(
                select(_L.postmortem_id, _S.team_name).distinct()
                .select_from(join(_L, _I, _I.id == _L.incident_id)
                             .join(_S, _S.id == _I.service_id))
                .where(_L.postmortem_id.in_(wanted))):
            found.setdefault(pm, set()).add(team)
    return {pm: tuple(sorted(teams)) for pm, teams in found.items()}


def load(conn: Connection, postmortem_id: int) -> Postmortem:
    owner = aliased(UserRow, name="owner")
    row = conn.execute(
        select(*_P.__mapper__.columns, owner.email.label("owner_email"))
        .select_from(outerjoin(_P, owner, owner.id == _P.owner_id))
        .where(_P.id == postmortem_id)).first()
    if row is None:
        raise NotFound(f"no postmortem #{postmortem_id}")
    ids = conn.scalars(select(_L.incident_id).where(_L.postmortem_id == postmortem_id))
    return Postmortem(
        id=row.id, title=row.title, status=row.status, severity=row.severity,
        owner=row.owner_email, owner_id=row.owner_id, template=row.template, body=row.body,
        version=row.version, created_by=row.created_by, created_at=row.created_at,
        updated_by=row.updated_by, updated_at=row.updated_at, published_at=row.published_at,
        incidents=tuple(incident_facts(conn, ids)),
        items=tuple(_items(conn, _A.postmortem_id == postmortem_id)))


def of_incident(conn: Connection, incident_id: int) -> list[tuple[int, str, str]]:
    """The postmortems reviewing an incident: (id, title, status), newest first."""
    return [(r.id, r.title, r.status) for r in conn.execute(
        select(_P.id, _P.title, _P.status)
        .select_from(join(_P, _L, _L.postmortem_id == _P.id))
        .where(_L.incident_id == incident_id).order_by(_P.id.desc()))]


def summaries(conn: Connection, *, status: str | None = None, team: str | None = None,
              limit: int = 200) -> list[Summary]:
    """Postmortems, most recently changed first (the caller keeps those the asker may read)."""
    owner = aliased(UserRow, name="owner")
    open_items = (select(func.count()).select_from(_A)
                  .where(_A.postmortem_id == _P.id, _A.status == "open")
                  .scalar_subquery())
    stmt = (select(_P.id, _P.title, _P.status, _P.severity, _P.updated_at,
                   _P.published_at, owner.email.label("owner_email"),
                   open_items.label("open_items"))
            .select_from(outerjoin(_P, owner, owner.id == _P.owner_id))
            .order_by(_P.updated_at.desc(), _P.id.desc()))
    if status:
        stmt = stmt.where(_P.status == status)
    if team:
        stmt = stmt.where(_P.id.in_(
            select(_L.postmortem_id).select_from(
                join(_L, _I, _I.id == _L.incident_id).join(_S, _S.id == _I.service_id))
            .where(_S.team_name == team)))
    rows = list(conn.execute(stmt.limit(limit)))
    pm_ids = [r.id for r in rows]
    incidents: dict[int, list[int]] = {}
    if pm_ids:
        for pm, incident in conn.execute(
                select(_L.postmortem_id, _L.incident_id)
                .where(_L.postmortem_id.in_(pm_ids)).order_by(_L.incident_id)):
            incidents.setdefault(pm, []).append(incident)
    teams = _teams_of(conn, pm_ids)
    return [Summary(r.id, r.title, r.status, r.severity, r.owner_email,
                    tuple(incidents.get(r.id, ())), teams.get(r.id, ()), r.updated_at,
                    r.published_at, int(r.open_items or 0)) for r in rows]


def action_items(conn: Connection, *, team: str | None = None, owner: str | None = None,
                 status: str | None = "open") -> list[Item]:
    """Action items across postmortems, soonest due first; filtered by the team a postmortem
    belongs to and by the owner's email."""
    conditions = []
    if status:
        conditions.append(_A.status == status)
    if owner:
        conditions.append(_A.owner_id.in_(
            select(_U.id).where(func.lower(_U.email) == owner.strip().lower())))
    if team:
        conditions.append(_A.postmortem_id.in_(
            select(_L.postmortem_id).select_from(
                join(_L, _I, _I.id == _L.incident_id).join(_S, _S.id == _I.service_id))
            .where(_S.team_name == team)))
    return _items(conn, and_(true(), *conditions))


def item(conn: Connection, item_id: int) -> Item:
    found = _items(conn, _A.id == item_id)
    if not found:
        raise NotFound(f"no action item #{item_id}")
    return found[0]


def user_id_of(conn: Connection, email: str) -> int | None:
    return conn.scalar(select(_U.id).where(func.lower(_U.email) == email.strip().lower(),
                                             _U.disabled_at.is_(None)))
