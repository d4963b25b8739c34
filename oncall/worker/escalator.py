"""Running one due escalation step: the database side of `oncall.core.escalation`.

Each timer row runs in one write transaction that locks the timer (skipping it if another
worker holds it) and the incident, checks that the step is still the next one for the
incident's current generation, writes the outbox rows and the next timer, and marks the timer
done. A worker killed mid-way rolls everything back and the timer stays pending for the sweeper;
a replayed or raced timer finds it done and does nothing: each step runs once.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.core import escalation as core
from oncall.core.notification_rules import Channel, Urgency
from oncall.db.models import EscalationTimerRow, IncidentRow, NotificationRow, ServiceRow, UserRow
from oncall.incidents import events
from oncall.incidents.service import ASSIGNEE_CYCLE, TRIGGERED
from oncall.worker.paging import contacts_for
from oncall.worker.targets import TargetResolver

SYSTEM = "system:escalation"


@dataclass
class StepResult:
    ran: bool
    notifications: list[tuple[int, datetime]] = field(default_factory=list)
    """Outbox rows written, with the time each falls due (the fast path enqueues them)."""
    next_timer: tuple[int, datetime] | None = None


def due_timer_ids(session: Session, now: datetime, limit: int = 100) -> list[int]:
    return list(
        session.scalars(
            select(EscalationTimerRow.id)
            .where(EscalationTimerRow.status == "pending", EscalationTimerRow.due_at <= now)
            .order_by(EscalationTimerRow.due_at)
            .limit(limit)
        )
    )


def run_timer(
    session: Session,
    timer_id: int,
    now: datetime,
    *,
    config: ConfigSet,
    enabled: Collection[Channel],
    worker: str,
) -> StepResult:
    """Run timer `timer_id` if it is pending and due. The caller commits."""
    timer = session.scalar(
        select(EscalationTimerRow)
        .where(
            EscalationTimerRow.id == timer_id,
            EscalationTimerRow.status == "pending",
            EscalationTimerRow.due_at <= now,
        )
        .with_for_update(skip_locked=True)
    )
    if timer is None:
        return StepResult(False)
    timer.claimed_by, timer.claimed_at, timer.attempts = worker, now, timer.attempts + 1
    found = session.execute(
        select(IncidentRow, ServiceRow)
        .outerjoin(ServiceRow, ServiceRow.id == IncidentRow.service_id)
        .where(IncidentRow.id == timer.incident_id)
        .with_for_update(of=IncidentRow)
    ).first()
    incident, service = found if found is not None else (None, None)
    if incident is None or not _is_next(incident, timer):
        _finish(timer, now, "cancelled")
        return StepResult(False)
    policy_model = config.policies.get(incident.escalation_policy_name or "")
    if policy_model is None and service is not None and service.escalation_policy_name:
        policy_model = config.policies.get(service.escalation_policy_name)
    if policy_model is None or not policy_model.steps:
        events.record(
            session,
            at=now,
            actor=SYSTEM,
            type=events.EXHAUSTED,
            incident_id=incident.id,
            data={"reason": f"escalation policy {incident.escalation_policy_name!r} not found"},
        )
        _finish(timer, now, "done")
        return StepResult(True)
    policy = core.policy_from_config(policy_model)
    resolver = TargetResolver(session, config)
    if timer.cycle == ASSIGNEE_CYCLE:
        decision = _assignee_page(session, incident, policy, now)
    else:
        state = core.State(
            level=incident.escalation_step,
            cycle=incident.escalation_cycle,
            next_due=timer.due_at,
        )
        decision = core.tick(policy, state, now, resolver)
    result = StepResult(True)
    urgency: Urgency = "low" if incident.urgency == "low" else "high"
    for skip in decision.skipped:
        events.record(
            session,
            at=now,
            actor=SYSTEM,
            type=events.STEP_SKIPPED,
            incident_id=incident.id,
            data={
                "step": skip.level,
                "cycle": skip.cycle,
                "targets": [str(t) for t in skip.targets],
                "reason": "reaches no one",
            },
        )
    owed: list[NotificationRow] = []
    for page in decision.pages:
        paged: list[str] = []
        for email in page.users:
            user = session.scalar(select(UserRow).where(UserRow.email == email))
            if user is None or user.disabled_at is not None:
                continue
            contacts = contacts_for(session, user, urgency, enabled)
            for contact in contacts:
                row = NotificationRow(
                    idempotency_key=(
                        f"page:{incident.id}:{timer.generation}:{page.cycle}:{page.level}:"
                        f"{email}:{contact.channel.value}:{contact.address}:"
                        f"{int(contact.delay.total_seconds())}"
                    ),
                    incident_id=incident.id,
                    user_id=user.id,
                    contact_method_id=contact.contact_method_id,
                    timer_id=timer.id,
                    channel=contact.channel.value,
                    address=contact.address,
                    kind="page",
                    status="pending",
                    attempt_count=0,
                    next_attempt_at=now + contact.delay,
                    created_at=now,
                )
                session.add(row)
                owed.append(row)
            paged.append(email)
            if not contacts:
                events.record(
                    session,
                    at=now,
                    actor=SYSTEM,
                    type="notification.unreachable",
                    incident_id=incident.id,
                    data={"user": email, "reason": "no configured channel reaches this person"},
                )
        events.record(
            session,
            at=now,
            actor=SYSTEM,
            type=events.ESCALATED,
            incident_id=incident.id,
            data={
                "step": page.level,
                "cycle": page.cycle,
                "users": paged,
                "targets": [str(t) for t in page.targets],
            },
        )
    if timer.generation == 0 and timer.cycle == 0 and timer.step == 0 and service is not None:
        owed += _channel_posts(session, config, incident, service, enabled, now)
    if decision.exhausted:
        events.record(
            session,
            at=now,
            actor=SYSTEM,
            type=events.EXHAUSTED,
            incident_id=incident.id,
            data={"reason": "every step ran and nobody acknowledged"},
        )
    new = decision.state
    incident.escalation_step, incident.escalation_cycle = new.level, new.cycle
    incident.version += 1
    nxt = None
    if new.next_due is not None:
        following = core.next_position(policy, new.level, new.cycle)
        level, cycle = following if following else (len(policy.steps), new.cycle)
        nxt = EscalationTimerRow(
            incident_id=incident.id,
            generation=timer.generation,
            cycle=cycle,
            step=level,
            due_at=new.next_due,
            status="pending",
            created_at=now,
        )
        session.add(nxt)
    _finish(timer, now, "done")
    session.flush()  # everything at once: one INSERT per table, one UPDATE per row
    result.notifications += [(row.id, row.next_attempt_at) for row in owed]
    if nxt is not None:
        result.next_timer = (nxt.id, nxt.due_at)
    return result


def _is_next(incident: IncidentRow, timer: EscalationTimerRow) -> bool:
    """The timer belongs to the incident's current escalation and has not run yet."""
    return (
        incident.status == TRIGGERED
        and incident.escalation_generation == timer.generation
        and (incident.escalation_cycle, incident.escalation_step) < (timer.cycle, timer.step)
    )


def _assignee_page(
    session: Session, incident: IncidentRow, policy: core.Policy, now: datetime
) -> core.Decision:
    assignee = session.get(UserRow, incident.assignee_id) if incident.assignee_id else None
    decision = core.reassign(policy, core.State(), assignee.email if assignee else "", now)
    if assignee is None:
        return core.Decision(decision.state)
    return decision


def _channel_posts(
    session: Session,
    config: ConfigSet,
    incident: IncidentRow,
    service: ServiceRow,
    enabled: Collection[Channel],
    now: datetime,
) -> list[NotificationRow]:
    """The service's Slack and Teams channels hear about a new incident once, with its first
    page. The Teams address is the `${env:…}` reference, resolved only when sending."""
    spec = config.services.get(service.name)
    if spec is None:
        return []
    wanted = [
        (Channel.SLACK, spec.slack_channel),
        (Channel.TEAMS, spec.teams_webhook),
    ]
    posts: list[NotificationRow] = []
    for channel, address in wanted:
        if not address or channel not in enabled:
            continue
        row = NotificationRow(
            idempotency_key=f"channel:{incident.id}:{channel.value}:{address}",
            incident_id=incident.id,
            channel=channel.value,
            address=address,
            kind="channel",
            status="pending",
            attempt_count=0,
            next_attempt_at=now,
            created_at=now,
        )
        session.add(row)
        posts.append(row)
    return posts


def _finish(timer: EscalationTimerRow, now: datetime, status: str) -> None:
    timer.status = status
    timer.done_at = now
