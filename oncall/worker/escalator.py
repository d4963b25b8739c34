"""Running one due escalation step: the database side of `oncall.core.escalation`.

Each timer row runs in one write transaction that claims the timer (skipping it if another
worker holds it), locks the incident, checks that the step is still the next one for the
incident's current generation, writes the outbox rows, the timeline and the next timer, and
marks the timer done. A worker killed mid-way rolls everything back and the timer stays pending
for the sweeper; a replayed or raced timer finds it done and does nothing: each step runs once.

Every statement is Core, built once: a step is about ten statements whatever it pages, and on
SQLite it holds the one writer for little more than their execution.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Row, Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.core import escalation as core
from oncall.core.notification_rules import Channel, Urgency
from oncall.db.models import (
    AuditEventRow,
    IncidentRow,
    ServiceRow,
    UserRow,
)
from oncall.incidents import events
from oncall.incidents.service import ASSIGNEE_CYCLE, TRIGGERED
from oncall.paging.contacts import people, plan
from oncall.paging.targets import TargetResolver
from oncall.store import outbox, stores_for
from oncall.store.timers import Timers

SYSTEM = "system:escalation"

_Row = Row[*tuple[Any, ...]]

_I = cast(Table, IncidentRow.__table__)
_S = cast(Table, ServiceRow.__table__)
_U = cast(Table, UserRow.__table__)

_INCIDENT = (
    select(_I.c.status, _I.c.escalation_generation, _I.c.escalation_cycle, _I.c.escalation_step,
           _I.c.escalation_policy_name, _I.c.urgency, _I.c.assignee_id,
           _S.c.name.label("service_name"),
           _S.c.escalation_policy_name.label("service_policy"))
    .select_from(_I.outerjoin(_S, _S.c.id == _I.c.service_id))
    .where(_I.c.id == bindparam("iid"))
    .with_for_update(of=_I)
)
_ADVANCE = (
    update(_I)
    .where(_I.c.id == bindparam("iid"))
    .values(escalation_step=bindparam("level"), escalation_cycle=bindparam("cycle"),
            version=_I.c.version + 1)
)
_EMAIL = select(_U.c.email).where(_U.c.id == bindparam("uid"))

_EVENTS = insert(cast(Table, AuditEventRow.__table__))


@dataclass
class StepResult:
    ran: bool
    notifications: list[tuple[int, datetime]] = field(default_factory=list)
    """Outbox rows written, with the time each falls due (the fast path enqueues them)."""
    next_timer: tuple[int, datetime] | None = None


def due_timer_ids(session: Session, now: datetime, limit: int = 100) -> list[int]:
    conn = session.connection()
    return stores_for(conn.engine).timers.due_ids(conn, now, limit)


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
    conn = session.connection()
    timers = stores_for(conn.engine).timers
    timer = timers.claim(conn, timer_id, now, worker)
    if timer is None:
        return StepResult(False)
    incident = conn.execute(_INCIDENT, {"iid": timer.incident_id}).first()
    if incident is None or not _is_next(incident, timer):
        timers.cancel(conn, timer_id)
        return StepResult(False)
    step = _Step(conn, timers, timer.incident_id, now)
    policy_model = config.policies.get(incident.escalation_policy_name or "")
    if policy_model is None and incident.service_policy:
        policy_model = config.policies.get(incident.service_policy)
    if policy_model is None or not policy_model.steps:
        step.event(events.EXHAUSTED, reason=(
            f"escalation policy {incident.escalation_policy_name!r} not found"))
        step.write()
        return StepResult(True)
    policy = core.policy_from_config(policy_model)
    if timer.cycle == ASSIGNEE_CYCLE:
        decision = _assignee_page(conn, incident.assignee_id, policy, now)
    else:
        state = core.State(level=incident.escalation_step, cycle=incident.escalation_cycle,
                           next_due=timer.due_at)
        decision = core.tick(policy, state, now, TargetResolver(conn, config))
    urgency: Urgency = "low" if incident.urgency == "low" else "high"
    for skip in decision.skipped:
        step.event(events.STEP_SKIPPED, step=skip.level, cycle=skip.cycle,
                   targets=[str(t) for t in skip.targets], reason="reaches no one")
    found = people(conn, (email for page in decision.pages for email in page.users), urgency)
    for page in decision.pages:
        paged: list[str] = []
        for email in page.users:
            person = found.get(email)
            if person is None:
                continue
            contacts = plan(person, urgency, enabled)
            for contact in contacts:
                step.owe(
                    idempotency_key=(
                        f"page:{timer.incident_id}:{timer.generation}:{page.cycle}:{page.level}:"
                        f"{email}:{contact.channel.value}:{contact.address}:"
                        f"{int(contact.delay.total_seconds())}"
                    ),
                    user_id=person.id,
                    contact_method_id=contact.contact_method_id,
                    timer_id=timer_id,
                    channel=contact.channel.value,
                    address=contact.address,
                    kind="page",
                    next_attempt_at=now + contact.delay,
                )
            paged.append(email)
            if not contacts:
                step.event("notification.unreachable", user=email,
                           reason="no configured channel reaches this person")
        step.event(events.ESCALATED, step=page.level, cycle=page.cycle, users=paged,
                   targets=[str(t) for t in page.targets])
    first = timer.generation == 0 and timer.cycle == 0 and timer.step == 0
    if first and incident.service_name is not None:
        _channel_posts(step, config, incident.service_name, enabled)
    if decision.exhausted:
        step.event(events.EXHAUSTED, reason="every step ran and nobody acknowledged")
    new = decision.state
    conn.execute(_ADVANCE, {"iid": timer.incident_id, "level": new.level, "cycle": new.cycle})
    if new.next_due is not None:
        following = core.next_position(policy, new.level, new.cycle)
        level, cycle = following if following else (len(policy.steps), new.cycle)
        step.next_timer = {
            "incident_id": timer.incident_id, "generation": timer.generation, "cycle": cycle,
            "step": level, "due_at": new.next_due, "now": now,
        }
    return step.write()


class _Step:
    """The rows one step writes, gathered so that each table takes one statement."""

    def __init__(self, conn: Connection, timers: Timers, incident_id: int, now: datetime):
        self.conn, self.timers, self.incident_id, self.now = conn, timers, incident_id, now
        self.owed: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.next_timer: dict[str, Any] | None = None

    def event(self, type: str, **data: Any) -> None:
        self.events.append(events.row_values(at=self.now, actor=SYSTEM, type=type,
                                             incident_id=self.incident_id, data=data))

    def owe(self, **row: Any) -> None:
        """One outbox row, written with the others in one statement."""
        self.owed.append(outbox.owed(self.incident_id, self.now, **row))

    def write(self) -> StepResult:
        result = StepResult(True)
        if self.owed:
            ids = outbox.enqueue(self.conn, self.owed)
            result.notifications = [
                (row_id, row["next_attempt_at"]) for row_id, row in zip(ids, self.owed,
                                                                         strict=True)
            ]
        if self.events:
            self.conn.execute(_EVENTS, self.events)
        if self.next_timer is not None:
            next_id = self.timers.schedule(self.conn, **self.next_timer)
            result.next_timer = (next_id, self.next_timer["due_at"])
        return result


def _is_next(incident: _Row, timer: _Row) -> bool:
    """The timer belongs to the incident's current escalation and has not run yet."""
    return bool(
        incident.status == TRIGGERED
        and incident.escalation_generation == timer.generation
        and (incident.escalation_cycle, incident.escalation_step) < (timer.cycle, timer.step)
    )


def _assignee_page(
    conn: Connection, assignee_id: int | None, policy: core.Policy, now: datetime
) -> core.Decision:
    email = conn.scalar(_EMAIL, {"uid": assignee_id}) if assignee_id else None
    decision = core.reassign(policy, core.State(), email or "", now)
    if email is None:
        return core.Decision(decision.state)
    return decision


def _channel_posts(step: _Step, config: ConfigSet, service_name: str,
                   enabled: Collection[Channel]) -> None:
    """The service's Slack and Teams channels hear about a new incident once, with its first
    page. The Teams address is the `${env:…}` reference, resolved only when sending."""
    spec = config.services.get(service_name)
    if spec is None:
        return
    for channel, address in ((Channel.SLACK, spec.slack_channel),
                             (Channel.TEAMS, spec.teams_webhook)):
        if address and channel in enabled:
            step.owe(idempotency_key=f"channel:{step.incident_id}:{channel.value}:{address}",
                     channel=channel.value, address=address, kind="channel",
                     next_attempt_at=step.now)
