"""Incident operations: declare, acknowledge, resolve, reassign, note, change priority,
escalate now, incident roles.

Opening (or joining) an incident is the ingest store's `open_or_join` (`oncall.store.ingest`),
one definition per database; a person declaring an incident goes through it too (`declare`).

What an action does is decided by `oncall.core.incident`; here it is read from and written to
the rows. Every change is a compare-and-set on the incident row's `version`, so a button
pressed twice, an SMS reply racing a Slack click, or two web workers acting at once change the
incident once. Every change appends an audit event in the same transaction, and hands off to
escalation through rows (timers) that the worker reads, never through an in-memory call.

Callers own the transaction: these functions flush but never commit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from oncall.config.models import Integration
from oncall.config.types import Priority
from oncall.core import incident as machine
from oncall.core.alerts import Alert
from oncall.core.incident import (
    ASSIGNEE_CYCLE,
    PRIORITIES,
    START_CYCLE,
    START_STEP,
    Status,
)
from oncall.core.routing import SEVERITY_PRIORITY, Destination
from oncall.db.models import (
    IncidentRow,
    ServiceRow,
    UserRow,
    fit,
)
from oncall.incidents import events, roles
from oncall.incidents.access import require_declare, require_incident
from oncall.incidents.actors import Actor, Forbidden
from oncall.incidents.people import is_active
from oncall.store import outbox, stores_for
from oncall.store.timers import Timers

TRIGGERED, ACKNOWLEDGED, RESOLVED = Status.TRIGGERED, Status.ACKNOWLEDGED, Status.RESOLVED


class NotFound(LookupError):
    pass


class Invalid(ValueError):
    pass


class Rejected(Invalid):
    """A value a person typed is not acceptable; `field` names it (REST answers 422)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Outcome:
    incident: IncidentRow
    changed: bool


def get(session: Session, incident_id: int) -> IncidentRow:
    incident = session.get(IncidentRow, incident_id)
    if incident is None:
        raise NotFound(f"incident {incident_id} does not exist")
    return incident


def authorize(session: Session, incident_id: int, actor: Actor, action: str) -> IncidentRow:
    """The incident as the database has it now, if `actor` may `action` it
    (`oncall.incidents.access`: the one rule). Fresh, so a change decides on it directly."""
    incident = _load(session, incident_id)
    require_incident(session, actor, incident, action)
    return incident


def _snapshot(incident: IncidentRow) -> dict[str, Any]:
    return {
        "status": incident.status,
        "priority": incident.priority,
        "assignee_id": incident.assignee_id,
    }


def _timers(session: Session) -> Timers:
    return stores_for(session.connection().engine).timers


def _schedule_step(
    session: Session, incident: IncidentRow, cycle: int, step: int, due: datetime, now: datetime
) -> None:
    _timers(session).schedule(
        session,
        incident_id=incident.id,
        generation=incident.escalation_generation,
        cycle=cycle,
        step=step,
        due_at=due,
        now=now,
    )


def _stop_escalation(session: Session, incident_id: int, now: datetime) -> None:
    """Cancel timers and pages not yet sent; what is in flight is checked again at send time."""
    _timers(session).cancel_pending(session, incident_id, now)
    outbox.cancel_pages(session, incident_id, now)


def _queue_updates(session: Session, incident_id: int, status: str, now: datetime) -> None:
    outbox.queue_updates(session, incident_id, status, now)


def _state(incident: IncidentRow) -> machine.Incident:
    return state_of(incident)


def state_of(incident: Any) -> machine.Incident:
    """The state machine's view of an incident row (ORM or plain)."""
    return machine.Incident(
        status=Status(incident.status),
        generation=incident.escalation_generation,
        cycle=incident.escalation_cycle,
        step=incident.escalation_step,
        assignee=incident.assignee_id,
        priority=incident.priority,
        version=incident.version,
    )


def _load(session: Session, incident_id: int, *, lock: bool = False) -> IncidentRow:
    """The incident as the database has it now, not as this session last saw it."""
    query = (
        select(IncidentRow)
        .where(IncidentRow.id == incident_id)
        .execution_options(populate_existing=True)
    )
    incident = session.scalar(query.with_for_update() if lock else query)
    if incident is None:
        raise NotFound(f"incident {incident_id} does not exist")
    return incident


def transition_columns(t: machine.Transition, actor: Actor, now: datetime) -> dict[str, Any]:
    """The incident columns that change from `t.before` to `t.after` (statuses as text)."""
    before, after = t.before, t.after
    values: dict[str, Any] = {"version": after.version, "updated_at": now}
    if after.status is not before.status:
        values["status"] = after.status.value
    if after.status is Status.TRIGGERED and before.status is Status.ACKNOWLEDGED:
        values |= {"acknowledged_at": None, "acknowledged_by_id": None}
    elif after.status is not before.status:
        values |= {f"{after.status}_at": now, f"{after.status}_by_id": actor.user_id}
    if after.priority != before.priority:
        values["priority"] = after.priority
    if after.assignee != before.assignee:
        values["assignee_id"] = after.assignee
    if (after.generation, after.cycle, after.step) != (before.generation, before.cycle,
                                                       before.step):
        values |= {"escalation_generation": after.generation,
                   "escalation_cycle": after.cycle, "escalation_step": after.step}
    return values


@dataclass(frozen=True)
class _Applied:
    incident: IncidentRow
    transition: machine.Transition
    before: dict[str, Any]
    hastened: dict[str, int] | None = None
    """The step made due now, as {"step", "cycle"}."""


def _apply(
    session: Session, loaded: IncidentRow, actor: Actor, action: machine.Action, now: datetime
) -> _Applied | IncidentRow:
    """Decide `action` on the incident (`loaded` as `authorize` just read it) and write the
    outcome with a compare-and-set on its version; a lost race reads it again and decides on
    the new state. The unchanged incident if the action changes nothing; `Invalid` if it is
    refused. Hastening reads it locked, as the timers it moves must not run meanwhile."""
    incident_id = loaded.id
    hasten = isinstance(action, machine.Escalate)
    current: IncidentRow | None = None if hasten else loaded
    for _ in range(3):
        if current is None:
            current = _load(session, incident_id, lock=hasten)
        before = _snapshot(current)
        t = machine.decide(_state(current), action, now)
        if t.refused is not None:
            raise Invalid(t.refused)
        if not t.changed:
            return current
        hastened = None
        if t.hasten:
            position = _timers(session).hasten(session, incident_id, t.before.generation, now)
            if position is None:
                return current
            hastened = {"step": position[1], "cycle": position[0]}
        incident = session.scalar(
            update(IncidentRow)
            .where(IncidentRow.id == incident_id, IncidentRow.version == t.before.version)
            .values(**transition_columns(t, actor, now))
            .returning(IncidentRow)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        if incident is None:
            current = None
            continue
        if t.stop_escalation:
            _stop_escalation(session, incident_id, now)
        if t.after.status is not t.before.status and t.after.status is not Status.TRIGGERED:
            _queue_updates(session, incident_id, t.after.status, now)
        if t.timer is not None:
            _schedule_step(session, incident, t.timer.cycle, t.timer.step, t.timer.due_at, now)
        return _Applied(incident, t, before, hastened)
    raise Invalid(f"incident {incident_id} changed meanwhile: try again")


def _record(
    session: Session,
    applied: _Applied,
    actor: Actor,
    now: datetime,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
) -> Outcome:
    event = applied.transition.event
    assert event is not None
    events.write(
        session,
        at=now,
        actor=actor,
        type=event,
        incident_id=applied.incident.id,
        before=before,
        after=after,
        data=data,
    )
    return Outcome(applied.incident, True)


def _settle(
    session: Session,
    loaded: IncidentRow,
    actor: Actor,
    action: machine.Acknowledge | machine.Resolve,
    now: datetime,
    data: dict[str, Any] | None = None,
) -> Outcome:
    """Acknowledge or resolve: escalation stopped, posted messages updated, one audit event.
    A repeat (already in that state) changes nothing."""
    applied = _apply(session, loaded, actor, action, now)
    if not isinstance(applied, _Applied):
        return Outcome(applied, False)
    before, after = settled(applied.transition)
    return _record(session, applied, actor, now, before=before, after=after, data=data)


def settled(t: machine.Transition) -> tuple[dict[str, str], dict[str, str]]:
    """The audit event's before and after of an acknowledge or resolve: the status."""
    return {"status": t.before.status.value}, {"status": t.after.status.value}


def acknowledge(session: Session, incident_id: int, actor: Actor, now: datetime) -> Outcome:
    loaded = authorize(session, incident_id, actor, "acknowledge")
    return _settle(session, loaded, actor, machine.Acknowledge(), now)


def resolve(
    session: Session, incident_id: int, actor: Actor, now: datetime, note: str | None = None
) -> Outcome:
    loaded = authorize(session, incident_id, actor, "resolve")
    return _settle(session, loaded, actor, machine.Resolve(), now,
                   data={"note": note} if note else None)


def reassign(
    session: Session,
    incident_id: int,
    actor: Actor,
    assignee_email: str,
    now: datetime,
    *,
    policy_steps: int,
) -> Outcome:
    """Hand the incident to someone: page them now, and restart the policy if they don't ack."""
    loaded = authorize(session, incident_id, actor, "reassign")
    assignee = session.scalar(select(UserRow).where(UserRow.email == assignee_email.lower()))
    if assignee is None or assignee.disabled_at is not None:
        raise Invalid(f"unknown user {assignee_email!r}")
    action = machine.Reassign(assignee.id, policy_steps)
    applied = _apply(session, loaded, actor, action, now)
    if not isinstance(applied, _Applied):
        return Outcome(applied, False)
    return _record(session, applied, actor, now, before=applied.before,
                   after=_snapshot(applied.incident) | {"assignee": assignee.email})


def escalate_now(session: Session, incident_id: int, actor: Actor, now: datetime) -> Outcome:
    """Run the next escalation step now instead of at its timeout (voice keypress 3).

    The pending timer of the current escalation is made due at once, so the worker runs the
    step through its usual compare-and-set: exactly once, even if pressed twice. Only a
    triggered incident escalates; there is nothing to do for an acknowledged or resolved one.
    """
    loaded = authorize(session, incident_id, actor, "escalate")
    applied = _apply(session, loaded, actor, machine.Escalate(), now)
    if not isinstance(applied, _Applied):
        return Outcome(applied, False)
    return _record(session, applied, actor, now, data=applied.hastened)


def add_note(session: Session, incident_id: int, actor: Actor, text: str, now: datetime) -> None:
    authorize(session, incident_id, actor, "add notes to")
    if not text.strip():
        raise Invalid("a note cannot be empty")
    if len(text) > 20_000:
        raise Invalid("a note is limited to 20,000 characters")
    events.record(
        session,
        at=now,
        actor=actor,
        type=events.NOTE,
        incident_id=incident_id,
        data={"text": text},
    )


def change_priority(
    session: Session, incident_id: int, actor: Actor, priority: str, now: datetime
) -> Outcome:
    loaded = authorize(session, incident_id, actor, "change the priority of")
    applied = _apply(session, loaded, actor, machine.ChangePriority(priority), now)
    if not isinstance(applied, _Applied):
        return Outcome(applied, False)
    return _record(session, applied, actor, now, before={"priority": applied.before["priority"]},
                   after={"priority": priority})


# --- declaring an incident by hand ------------------------------------------------------------

DECLARED_SOURCE = "declared"
"""The source a declared incident's one alert is recorded under (alerts.integration_name)."""
DEFAULT_PRIORITY = "P3"
TITLE_MAX = 1024
DESCRIPTION_MAX = 20_000
_SEVERITY = {p: s for s, p in SEVERITY_PRIORITY.items()}


def _text(field: str, value: str, limit: int) -> str:
    value = value.strip()
    if "\x00" in value:
        raise Rejected(field, f"the {field} must not contain NUL characters")
    if len(value) > limit:
        raise Rejected(field, f"the {field} is limited to {limit:,} characters")
    return value


def declare(
    session: Session,
    actor: Actor,
    *,
    service_name: str,
    title: str,
    priority: str | None,
    description: str | None,
    now: datetime,
) -> IncidentRow:
    """Open an incident by hand on a service; it escalates through the service's policy.

    Written by the same open-or-join as an alert's incident (a group key of its own, so it
    never joins another), then recorded as declared by `actor`, who becomes its commander.
    `Rejected` names the field that is wrong; `Forbidden` unless `actor` is a platform admin
    or a responder or admin of the service's team.
    """
    from oncall.ingest.pipeline import alert_fingerprint  # the pipeline imports this module
    from oncall.store.ingest import Opening

    title = _text("title", title, TITLE_MAX)
    if not title:
        raise Rejected("title", "a title is required")
    priority = (priority or DEFAULT_PRIORITY).strip().upper()
    if priority not in PRIORITIES:
        raise Rejected("priority",
                       f"unknown priority {priority!r}: expected one of {', '.join(PRIORITIES)}")
    text = _text("description", description or "", DESCRIPTION_MAX) or None
    name = service_name.strip()
    svc = session.scalar(select(ServiceRow).where(ServiceRow.name == name,
                                                  ServiceRow.retired_at.is_(None)))
    if svc is None:
        raise Rejected("service", f"unknown service {name!r}")
    require_declare(actor, svc.team_name, svc.name)
    level = cast(Priority, priority)
    key = f"{DECLARED_SOURCE}:{uuid.uuid4().hex}"
    alert = Alert(provider="generic", action="trigger", summary=title,
                  severity=_SEVERITY.get(level, "error"), dedup_key=key, occurred_at=now,
                  integration=DECLARED_SOURCE)
    destination = Destination(service=svc.name, rule=None, priority=level,
                              priority_from="rule", group_key=key, group_by=(), maintenance=())
    source = Integration.model_construct(name=DECLARED_SOURCE, kind="Integration",
                                         type="generic", service=svc.name)
    opening = Opening(source, alert, alert_fingerprint(key), destination, svc.id, svc.urgency,
                      svc.escalation_policy_name, now)
    ingest = stores_for(session.connection().engine).ingest
    incident_id = ingest.open_or_join(session, opening).incident_id
    if text is not None:
        session.execute(update(IncidentRow).where(IncidentRow.id == incident_id)
                        .values(description=text).execution_options(synchronize_session=False))
    events.record(session, at=now, actor=actor, type=roles.DECLARED, incident_id=incident_id,
                  data={"service": svc.name, "title": fit(IncidentRow.title, title),
                        "priority": priority})
    if actor.user_id is not None:
        _set_role(session, _load(session, incident_id, lock=True), actor, "commander",
                  actor.user_id, actor.name, now)
    return _load(session, incident_id)


# --- incident roles ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoleOutcome:
    incident: IncidentRow
    changed: bool
    holders: dict[str, roles.Holder]


def _role(role: str) -> str:
    if role not in roles.ROLES:
        raise Rejected("role", f"unknown role {role!r}: expected one of {', '.join(roles.ROLES)}")
    return role


def _set_role(session: Session, incident: IncidentRow, actor: Actor, role: str,
              user_id: int | None, email: str | None, now: datetime) -> bool:
    """Write the role's new holder (None: nobody) and its timeline event; False if it is
    already so. The caller holds the incident's row lock."""
    held = roles.holders(session, incident.id).get(role)
    if (held.user_id if held else None) == user_id:
        return False
    previous = held.email if held else None
    if user_id is None:
        roles.remove(session, incident.id, role)
        events.record(session, at=now, actor=actor, type=roles.CLEARED, incident_id=incident.id,
                      before={"user": previous}, data={"role": role, "previous": previous})
    else:
        roles.put(session, incident.id, role, user_id, actor.label, now)
        events.record(session, at=now, actor=actor, type=roles.ASSIGNED,
                      incident_id=incident.id, before={"user": previous},
                      after={"user": email},
                      data={"role": role, "user": email, "previous": previous})
    return True


def assign_role(session: Session, incident_id: int, actor: Actor, role: str, email: str | None,
                now: datetime) -> RoleOutcome:
    """Give `role` to the person with `email` (a member of any team), or take it (no email).

    Anyone who may act on the incident may (`access.may_act`); the change and who made it
    are on the timeline."""
    _role(role)
    authorize(session, incident_id, actor, f"change the {role} of")
    wanted = (email or actor.name).strip().lower()
    user = session.scalar(select(UserRow).where(UserRow.email == wanted))
    if user is None or not is_active(user):
        raise Rejected("user", f"{wanted!r} is not a member of any team")
    incident = _load(session, incident_id, lock=True)
    changed = _set_role(session, incident, actor, role, user.id, user.email, now)
    return RoleOutcome(incident, changed, roles.holders(session, incident_id))


def clear_role(session: Session, incident_id: int, actor: Actor, role: str,
               now: datetime) -> RoleOutcome:
    """Nobody holds `role` any more (no change if nobody did)."""
    _role(role)
    authorize(session, incident_id, actor, f"change the {role} of")
    incident = _load(session, incident_id, lock=True)
    changed = _set_role(session, incident, actor, role, None, None, now)
    return RoleOutcome(incident, changed, roles.holders(session, incident_id))


__all__ = [
    "ACKNOWLEDGED",
    "ASSIGNEE_CYCLE",
    "PRIORITIES",
    "RESOLVED",
    "START_CYCLE",
    "START_STEP",
    "TRIGGERED",
    "Forbidden",
    "Invalid",
    "NotFound",
    "Outcome",
    "Rejected",
    "RoleOutcome",
    "acknowledge",
    "add_note",
    "assign_role",
    "authorize",
    "change_priority",
    "clear_role",
    "declare",
    "escalate_now",
    "reassign",
    "resolve",
]
