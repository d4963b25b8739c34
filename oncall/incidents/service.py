"""Incident operations: open or join, acknowledge, resolve, reassign, note, change priority.

Every change is a compare-and-set on the incident row (its status or `version`), so a button
pressed twice, an SMS reply racing a Slack click, or two web workers acting at once change the
incident once. Every change appends an audit event in the same transaction, and hands off to
escalation through rows (timers) that the worker reads, never through an in-memory call.

Callers own the transaction: these functions flush but never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from oncall.db.models import (
    EscalationTimerRow,
    IncidentRow,
    NotificationRow,
    ServiceRow,
    UserRow,
)
from oncall.incidents import events
from oncall.incidents.access import require_incident
from oncall.incidents.actors import Actor, Forbidden

TRIGGERED, ACKNOWLEDGED, RESOLVED = "triggered", "acknowledged", "resolved"
PRIORITIES = ("P1", "P2", "P3", "P4", "P5")
START_CYCLE, START_STEP = 0, -1
"""An incident's escalation position before its first step has run."""
ASSIGNEE_CYCLE = -1
"""Timers of cycle -1 page the assignee after a reassignment (see oncall.core.escalation)."""


class NotFound(LookupError):
    pass


class Invalid(ValueError):
    pass


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
    """The incident, if `actor` may `action` it (`oncall.incidents.access`: the one rule)."""
    incident = get(session, incident_id)
    require_incident(session, actor, incident, action)
    return incident


def _snapshot(incident: IncidentRow) -> dict[str, Any]:
    return {
        "status": incident.status,
        "priority": incident.priority,
        "assignee_id": incident.assignee_id,
    }


def _schedule_step(
    session: Session, incident: IncidentRow, cycle: int, step: int, due: datetime, now: datetime
) -> None:
    session.add(
        EscalationTimerRow(
            incident_id=incident.id,
            generation=incident.escalation_generation,
            cycle=cycle,
            step=step,
            due_at=due,
            status="pending",
            created_at=now,
        )
    )


def _stop_escalation(session: Session, incident_id: int, now: datetime) -> None:
    """Cancel timers and pages not yet sent; what is in flight is checked again at send time."""
    session.execute(
        update(EscalationTimerRow)
        .where(
            EscalationTimerRow.incident_id == incident_id, EscalationTimerRow.status == "pending"
        )
        .values(status="cancelled", done_at=now)
    )
    session.execute(
        update(NotificationRow)
        .where(
            NotificationRow.incident_id == incident_id,
            NotificationRow.status == "pending",
            NotificationRow.kind == "page",
        )
        .values(status="cancelled", failed_at=now, last_error="incident no longer triggered")
    )


def _queue_updates(session: Session, incident_id: int, status: str, now: datetime) -> None:
    """Messages already posted (Slack) are rewritten to show the new state; a Teams channel,
    whose webhook cannot edit a card, gets a new card."""
    posted = session.scalars(
        select(NotificationRow).where(
            NotificationRow.incident_id == incident_id,
            NotificationRow.status == "sent",
            NotificationRow.channel.in_(("slack", "teams")),
            NotificationRow.kind.in_(("page", "channel")),
        )
    ).all()
    for sent in posted:
        if sent.channel == "teams":
            _queue_teams_card(session, sent, status, now)
            continue
        data = sent.provider_data or {}
        if not data.get("ts") or not data.get("channel"):
            continue
        key = f"update:{sent.id}:{status}"
        if session.scalar(select(NotificationRow.id).where(NotificationRow.idempotency_key == key)):
            continue
        session.add(
            NotificationRow(
                idempotency_key=key,
                incident_id=incident_id,
                user_id=sent.user_id,
                channel="slack",
                address=str(data["channel"]),
                kind="update",
                status="pending",
                attempt_count=0,
                next_attempt_at=now,
                provider_data={"channel": data["channel"], "ts": data["ts"]},
                created_at=now,
            )
        )


def _queue_teams_card(session: Session, sent: NotificationRow, status: str, now: datetime) -> None:
    if sent.kind != "channel":
        return
    key = f"update:{sent.id}:{status}"
    if session.scalar(select(NotificationRow.id).where(NotificationRow.idempotency_key == key)):
        return
    session.add(
        NotificationRow(
            idempotency_key=key,
            incident_id=sent.incident_id,
            channel="teams",
            address=sent.address,
            kind="update",
            status="pending",
            attempt_count=0,
            next_attempt_at=now,
            created_at=now,
        )
    )


def open_or_join(
    session: Session,
    *,
    service: ServiceRow,
    group_key: str,
    title: str,
    priority: str | None,
    urgency: str,
    labels: dict[str, str],
    escalation_policy: str | None,
    actor: Actor,
    now: datetime,
    page: bool = True,
) -> tuple[IncidentRow, bool]:
    """The open incident of (service, group key), created if there is none.

    Concurrent callers end with one incident: the partial unique index on open incidents
    rejects the second insert, which then joins the winner's incident.
    """
    for _ in range(3):
        existing = session.scalar(
            select(IncidentRow)
            .where(
                IncidentRow.service_id == service.id,
                IncidentRow.group_key == group_key,
                IncidentRow.status != RESOLVED,
            )
            .with_for_update()
        )
        if existing is not None:
            existing.alert_count += 1
            existing.last_alert_at = now
            existing.updated_at = now
            return existing, False
        incident = IncidentRow(
            title=title[:1024],
            status=TRIGGERED,
            priority=priority,
            urgency=urgency,
            service_id=service.id,
            group_key=group_key,
            labels=labels,
            escalation_policy_name=escalation_policy,
            escalation_generation=0,
            escalation_cycle=START_CYCLE,
            escalation_step=START_STEP,
            version=0,
            alert_count=1,
            triggered_at=now,
            last_alert_at=now,
            updated_at=now,
        )
        try:
            with session.begin_nested():
                session.add(incident)
                session.flush()
        except IntegrityError:
            continue  # another transaction opened it first: join that one
        events.record(
            session,
            at=now,
            actor=actor,
            type=events.TRIGGERED,
            incident_id=incident.id,
            after=_snapshot(incident),
            data={"service": service.name, "group_key": group_key, "title": incident.title},
        )
        if page and escalation_policy is not None:
            _schedule_step(session, incident, 0, 0, now, now)
        return incident, True
    raise RuntimeError(f"could not open or join an incident for {service.name}/{group_key}")


def _transition(
    session: Session,
    incident_id: int,
    *,
    allowed_from: tuple[str, ...],
    values: dict[str, Any],
) -> IncidentRow | None:
    result = session.execute(
        update(IncidentRow)
        .where(IncidentRow.id == incident_id, IncidentRow.status.in_(allowed_from))
        .values(version=IncidentRow.version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    incident = session.get(IncidentRow, incident_id, populate_existing=True)
    if incident is None:
        raise NotFound(f"incident {incident_id} does not exist")
    return incident if result.rowcount else None  # type: ignore[attr-defined]


def _settle(
    session: Session,
    incident_id: int,
    actor: Actor,
    now: datetime,
    *,
    status: str,
    allowed_from: tuple[str, ...],
    event: str,
    data: dict[str, Any] | None = None,
) -> Outcome:
    """Acknowledge or resolve: one compare-and-set, escalation stopped, posted messages
    updated, one audit event. A repeat (already in that state) changes nothing."""
    before = get(session, incident_id).status
    incident = _transition(
        session,
        incident_id,
        allowed_from=allowed_from,
        values={
            "status": status,
            f"{status}_at": now,
            f"{status}_by_id": actor.user_id,
            "updated_at": now,
        },
    )
    if incident is None:
        return Outcome(get(session, incident_id), False)
    _stop_escalation(session, incident_id, now)
    _queue_updates(session, incident_id, status, now)
    events.record(
        session,
        at=now,
        actor=actor,
        type=event,
        incident_id=incident_id,
        before={"status": before},
        after={"status": status},
        data=data,
    )
    return Outcome(incident, True)


def acknowledge(session: Session, incident_id: int, actor: Actor, now: datetime) -> Outcome:
    authorize(session, incident_id, actor, "acknowledge")
    return _settle(
        session,
        incident_id,
        actor,
        now,
        status=ACKNOWLEDGED,
        allowed_from=(TRIGGERED,),
        event=events.ACKNOWLEDGED,
    )


def resolve(
    session: Session, incident_id: int, actor: Actor, now: datetime, note: str | None = None
) -> Outcome:
    authorize(session, incident_id, actor, "resolve")
    return _settle(
        session,
        incident_id,
        actor,
        now,
        status=RESOLVED,
        allowed_from=(TRIGGERED, ACKNOWLEDGED),
        event=events.RESOLVED,
        data={"note": note} if note else None,
    )


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
    authorize(session, incident_id, actor, "reassign")
    assignee = session.scalar(select(UserRow).where(UserRow.email == assignee_email.lower()))
    if assignee is None or assignee.disabled_at is not None:
        raise Invalid(f"unknown user {assignee_email!r}")
    current = get(session, incident_id)
    if current.status == RESOLVED:
        raise Invalid(f"incident {incident_id} is resolved: it cannot be reassigned")
    before = _snapshot(current)
    version = current.version
    result = session.execute(
        update(IncidentRow)
        .where(IncidentRow.id == incident_id, IncidentRow.version == version)
        .values(
            version=version + 1,
            status=TRIGGERED,
            assignee_id=assignee.id,
            escalation_generation=IncidentRow.escalation_generation + 1,
            escalation_cycle=ASSIGNEE_CYCLE,
            escalation_step=START_STEP,
            acknowledged_at=None,
            acknowledged_by_id=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise Invalid(f"incident {incident_id} changed meanwhile: try again")
    _stop_escalation(session, incident_id, now)
    incident = get(session, incident_id)
    session.refresh(incident)
    _schedule_step(session, incident, ASSIGNEE_CYCLE, max(policy_steps - 1, 0), now, now)
    events.record(
        session,
        at=now,
        actor=actor,
        type=events.REASSIGNED,
        incident_id=incident_id,
        before=before,
        after=_snapshot(incident) | {"assignee": assignee.email},
    )
    return Outcome(incident, True)


def escalate_now(session: Session, incident_id: int, actor: Actor, now: datetime) -> Outcome:
    """Run the next escalation step now instead of at its timeout (voice keypress 3).

    The pending timer of the current escalation is made due at once, so the worker runs the
    step through its usual compare-and-set: exactly once, even if pressed twice. Only a
    triggered incident escalates; there is nothing to do for an acknowledged or resolved one.
    """
    authorize(session, incident_id, actor, "escalate")
    incident = session.scalar(
        select(IncidentRow).where(IncidentRow.id == incident_id).with_for_update()
    )
    if incident is None:
        raise NotFound(f"incident {incident_id} does not exist")
    if incident.status != TRIGGERED:
        return Outcome(incident, False)
    timer = session.scalar(
        select(EscalationTimerRow)
        .where(
            EscalationTimerRow.incident_id == incident_id,
            EscalationTimerRow.generation == incident.escalation_generation,
            EscalationTimerRow.status == "pending",
        )
        .order_by(EscalationTimerRow.cycle, EscalationTimerRow.step)
        .limit(1)
        .with_for_update()
    )
    if timer is None:
        return Outcome(incident, False)
    timer.due_at = min(timer.due_at, now)
    incident.version += 1
    incident.updated_at = now
    events.record(
        session,
        at=now,
        actor=actor,
        type="incident.escalate_requested",
        incident_id=incident_id,
        data={"step": timer.step, "cycle": timer.cycle},
    )
    return Outcome(incident, True)


def add_note(session: Session, incident_id: int, actor: Actor, text: str, now: datetime) -> None:
    authorize(session, incident_id, actor, "add notes to")
    if not text.strip():
        raise Invalid("a note cannot be empty")
    if len(text) > 20_000:
        raise Invalid("a note is limited to 20,000 characters")
    get(session, incident_id)
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
    authorize(session, incident_id, actor, "change the priority of")
    if priority not in PRIORITIES:
        raise Invalid(f"unknown priority {priority!r}: expected one of {', '.join(PRIORITIES)}")
    current = get(session, incident_id)
    if current.priority == priority:
        return Outcome(current, False)
    before = current.priority
    result = session.execute(
        update(IncidentRow)
        .where(IncidentRow.id == incident_id, IncidentRow.version == current.version)
        .values(version=current.version + 1, priority=priority, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise Invalid(f"incident {incident_id} changed meanwhile: try again")
    incident = get(session, incident_id)
    session.refresh(incident)
    events.record(
        session,
        at=now,
        actor=actor,
        type=events.PRIORITY,
        incident_id=incident_id,
        before={"priority": before},
        after={"priority": priority},
    )
    return Outcome(incident, True)


__all__ = [
    "ACKNOWLEDGED",
    "RESOLVED",
    "TRIGGERED",
    "Forbidden",
    "Invalid",
    "NotFound",
    "Outcome",
    "acknowledge",
    "add_note",
    "authorize",
    "change_priority",
    "escalate_now",
    "open_or_join",
    "reassign",
    "resolve",
]
