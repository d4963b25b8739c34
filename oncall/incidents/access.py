"""Who may act on which incident: the one rule every face (web, REST API, Slack, SMS, voice,
email links) goes through, because every incident change goes through `oncall.incidents.service`.

A person may acknowledge, resolve, reassign, escalate, annotate or re-prioritise an incident if

- they are a platform admin (named in the applied config's `Organization.admins`), or
- they are a responder or admin of the team that owns the incident's service, or
- the incident paged them (a page was queued for them, or it is assigned to them), unless they
  are an observer of the owning team or an observer on every team they belong to.

Running a runbook by hand is narrower: it changes production, so only platform admins and the
owning team's responders and admins may, not everyone the incident paged. Declaring an incident
by hand on a service is as narrow: it pages the service's people, and nobody was paged yet.

Observers never act. Integrations and the system itself are not people and are not limited here
(an integration resolves what it opened; the worker escalates).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.db.models import IncidentRow, NotificationRow, ServiceRow
from oncall.incidents.actors import Actor, Forbidden

ACTING_ROLES = ("admin", "responder")


def owning_team(session: Session, incident: IncidentRow) -> str | None:
    return session.scalar(select(ServiceRow.team_name).where(ServiceRow.id == incident.service_id))


def was_paged(session: Session, incident: IncidentRow, user_id: int) -> bool:
    """The incident paged this person: it is assigned to them, or a page was queued for them."""
    if incident.assignee_id == user_id:
        return True
    found = session.scalar(
        select(NotificationRow.id)
        .where(
            NotificationRow.incident_id == incident.id,
            NotificationRow.user_id == user_id,
            NotificationRow.kind == "page",
        )
        .limit(1)
    )
    return found is not None


def _decide(actor: Actor, owner: Callable[[], str | None], incident_id: int,
            paged: Callable[[], bool]) -> tuple[bool, str]:
    """The rule of `may_act`, given ways to ask for the owning team and whether it paged
    them: asked only when the answer matters (an integration resolving asks neither)."""
    if actor.kind != "user" or actor.platform_admin:
        return True, ""
    team = owner()
    role = actor.roles.get(team) if team is not None else None
    if role in ACTING_ROLES:
        return True, ""
    if role == "observer":
        return False, f"{actor.name} is an observer of team {team}"
    if not actor.can_respond:
        if not actor.roles:
            return False, f"{actor.name} is not a member of any team"
        return False, f"{actor.name} is an observer"
    if actor.user_id is not None and paged():
        return True, ""
    return False, (
        f"{actor.name} is neither a responder of team {team} (which owns incident "
        f"#{incident_id}) nor paged for it"
    )


def _same(team: str | None) -> str | None:
    return team


def may_act(session: Session, actor: Actor, incident: IncidentRow) -> tuple[bool, str]:
    """Whether `actor` may change `incident`, and if not, why (in words fit for a reply)."""
    return _decide(actor, partial(owning_team, session, incident), incident.id,
                   lambda: actor.user_id is not None
                   and was_paged(session, incident, actor.user_id))


def acting_on(session: Session, actor: Actor, incidents: Iterable[tuple[IncidentRow, str]]
              ) -> set[int]:
    """The ids of the (incident, owning team) pairs `actor` may act on: `may_act` for a page
    of incidents at once (which buttons a list shows), with one query for who was paged."""
    found = list(incidents)
    paged: set[int] = set()
    if actor.user_id is not None and found:
        ids = [i.id for i, _ in found]
        paged = {i.id for i, _ in found if i.assignee_id == actor.user_id}
        paged |= set(session.scalars(
            select(NotificationRow.incident_id).where(
                NotificationRow.incident_id.in_(ids), NotificationRow.user_id == actor.user_id,
                NotificationRow.kind == "page").distinct()))
    return {incident.id for incident, team in found
            if _decide(actor, partial(_same, team), incident.id,
                       partial(set.__contains__, paged, incident.id))[0]}


def may_declare(actor: Actor, team: str | None) -> bool:
    """Whether `actor` may declare an incident by hand on a service `team` owns."""
    if actor.kind != "user":
        return False
    return actor.platform_admin or (team is not None and actor.roles.get(team) in ACTING_ROLES)


def require_declare(actor: Actor, team: str | None, service: str) -> None:
    """Raise `Forbidden` unless `actor` may declare an incident on `service` (of `team`)."""
    if not may_declare(actor, team):
        raise Forbidden(
            f"{actor.name} is not a responder or admin of team {team} (which owns service "
            f"{service}), so cannot declare an incident on it"
        )


def require_incident(session: Session, actor: Actor, incident: IncidentRow, action: str) -> None:
    """Raise `Forbidden` unless `actor` may `action` (e.g. "acknowledge") this incident."""
    allowed, why = may_act(session, actor, incident)
    if not allowed:
        raise Forbidden(f"{why}, so cannot {action} it")


def may_run_runbooks(actor: Actor, team: str | None) -> bool:
    """Whether `actor` may run runbooks by hand on incidents of `team`'s services."""
    if actor.kind != "user":
        return False
    return actor.platform_admin or (team is not None and actor.roles.get(team) in ACTING_ROLES)


def require_runbook(session: Session, actor: Actor, incident: IncidentRow, name: str) -> None:
    """Raise `Forbidden` unless `actor` may run runbook `name` on this incident by hand."""
    team = owning_team(session, incident)
    if not may_run_runbooks(actor, team):
        raise Forbidden(
            f"{actor.name} is not a responder or admin of team {team} (which owns incident "
            f"#{incident.id}), so cannot run runbook {name}"
        )
