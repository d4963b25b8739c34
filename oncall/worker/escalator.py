"""Running due escalation steps: the database side of `oncall.core.escalation`.

A batch of due timers runs in one write transaction that claims them (skipping those another
worker holds), locks their incidents in id order, checks that each step is still the next one
for its incident's current generation, and writes the outbox rows, the timeline, the
incidents' new positions and the next timers, a statement per table for the whole batch. A
worker killed mid-way rolls everything back and the timers stay pending for the sweeper; a
replayed or raced timer finds itself done and does nothing: each step runs once.

Every statement is Core, built once: a batch is about ten statements whatever it pages, so a
burst of new incidents costs the database a handful of round trips, not ten per incident.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
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
from oncall.observability import tracing
from oncall.paging.contacts import Person, people, plan
from oncall.paging.targets import TargetResolver
from oncall.store import outbox, stores_for
from oncall.store.timers import Timers

SYSTEM = "system:escalation"

_Row = Row[*tuple[Any, ...]]

_I = cast(Table, IncidentRow.__table__)
_S = cast(Table, ServiceRow.__table__)
_U = cast(Table, UserRow.__table__)

_INCIDENTS = (
    select(_I.c.id, _I.c.status, _I.c.escalation_generation, _I.c.escalation_cycle,
           _I.c.escalation_step,
           _I.c.escalation_policy_name, _I.c.urgency, _I.c.assignee_id, _I.c.triggered_at,
           _S.c.name.label("service_name"),
           _S.c.escalation_policy_name.label("service_policy"))
    .select_from(_I.outerjoin(_S, _S.c.id == _I.c.service_id))
    .where(_I.c.id.in_(bindparam("iids", expanding=True)))
    .order_by(_I.c.id)  # locked in one order by every worker: batches never deadlock
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
    timer_id: int = 0
    first_pages: dict[int, tuple[str, datetime]] = field(default_factory=dict)
    """The pages of an incident's first step: row id → (channel, when the incident
    triggered), so the worker can observe how long the first page took from the alert."""


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
    claimed = stores_for(conn.engine).timers.claim_due(conn, now, worker, 1, ids=[timer_id])
    if not claimed:
        return StepResult(False)
    return run_claimed(conn, claimed, now, config=config, enabled=enabled)[0]


def run_due(
    session: Session,
    now: datetime,
    *,
    config: ConfigSet,
    enabled: Collection[Channel],
    worker: str,
    limit: int,
    ids: list[int] | None = None,
) -> list[StepResult]:
    """Claim up to `limit` due timers (of `ids`, if given) and run them; one result per timer
    claimed. The caller commits."""
    conn = session.connection()
    claimed = stores_for(conn.engine).timers.claim_due(conn, now, worker, limit, ids=ids)
    return run_claimed(conn, claimed, now, config=config, enabled=enabled)


def run_claimed(
    conn: Connection,
    claimed: Sequence[_Row],
    now: datetime,
    *,
    config: ConfigSet,
    enabled: Collection[Channel],
) -> list[StepResult]:
    """Run claimed timers (id, incident_id, generation, cycle, step, due_at), in order, in the
    caller's transaction; a result per timer."""
    if not claimed:
        return []
    timers = stores_for(conn.engine).timers
    incidents = {row.id: dict(row._mapping) for row in conn.execute(
        _INCIDENTS, {"iids": sorted({timer.incident_id for timer in claimed})})}
    resolver = TargetResolver(conn, config)
    batch = _Batch(conn, timers, now)
    decided: list[tuple[_Step, _Row, dict[str, Any], core.Decision] | None] = []
    for timer in claimed:
        incident = incidents.get(timer.incident_id)
        if incident is None or not _is_next(incident, timer):
            batch.cancelled.append(timer.id)
            decided.append(None)
            continue
        step = batch.step(timer)
        policy_model = config.policies.get(incident["escalation_policy_name"] or "")
        if policy_model is None and incident["service_policy"]:
            policy_model = config.policies.get(incident["service_policy"])
        if policy_model is None or not policy_model.steps:
            step.event(events.EXHAUSTED, reason=(
                f"escalation policy {incident['escalation_policy_name']!r} not found"))
            decided.append(None)
            continue
        policy = core.policy_from_config(policy_model)
        with tracing.escalation_step(timer.incident_id, timer.step, policy=policy_model.name,
                                     repeat=max(timer.cycle, 0)) as span:
            if timer.cycle == ASSIGNEE_CYCLE:
                decision = _assignee_page(conn, incident["assignee_id"], policy, now)
            else:
                state = core.State(level=incident["escalation_step"],
                                   cycle=incident["escalation_cycle"], next_due=timer.due_at)
                decision = core.tick(policy, state, now, resolver)
            if span is not None:
                span.set_attribute("oncall.targets",
                                   sum(len(page.users) for page in decision.pages))
        new = decision.state
        # A later timer of the same incident in this batch sees where this one left it.
        incident["escalation_step"], incident["escalation_cycle"] = new.level, new.cycle
        batch.advanced[timer.incident_id] = {"iid": timer.incident_id, "level": new.level,
                                             "cycle": new.cycle}
        if new.next_due is not None:
            following = core.next_position(policy, new.level, new.cycle)
            level, cycle = following if following else (len(policy.steps), new.cycle)
            step.next_timer = {
                "incident_id": timer.incident_id, "generation": timer.generation,
                "cycle": cycle, "step": level, "due_at": new.next_due,
            }
        decided.append((step, timer, incident, decision))
    found = _people(conn, decided)
    for entry in decided:
        if entry is None:
            continue
        step, timer, incident, decision = entry
        urgency: Urgency = "low" if incident["urgency"] == "low" else "high"
        _pages(step, timer, decision, found[urgency], urgency, enabled)
        first = timer.generation == 0 and timer.cycle == 0 and timer.step == 0
        if first:
            step.first = incident["triggered_at"]
        if first and incident["service_name"] is not None:
            _channel_posts(step, config, incident["service_name"], enabled)
        if decision.exhausted:
            step.event(events.EXHAUSTED, reason="every step ran and nobody acknowledged")
    return batch.write([timer.id for timer in claimed])


def _people(conn: Connection, decided: Sequence[tuple[_Step, _Row, dict[str, Any],
                                                      core.Decision] | None]
            ) -> dict[Urgency, dict[str, Person]]:
    """Everyone the batch pages, read once per urgency."""
    wanted: dict[Urgency, set[str]] = {"high": set(), "low": set()}
    for entry in decided:
        if entry is not None:
            urgency: Urgency = "low" if entry[2]["urgency"] == "low" else "high"
            wanted[urgency].update(email for page in entry[3].pages for email in page.users)
    return {urgency: people(conn, emails, urgency) if emails else {}
            for urgency, emails in wanted.items()}


def _pages(step: _Step, timer: _Row, decision: core.Decision, found: dict[str, Person],
           urgency: Urgency, enabled: Collection[Channel]) -> None:
    """The outbox rows and timeline of one step's decision."""
    for skip in decision.skipped:
        step.event(events.STEP_SKIPPED, step=skip.level, cycle=skip.cycle,
                   targets=[str(t) for t in skip.targets], reason="reaches no one")
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
                    timer_id=timer.id,
                    channel=contact.channel.value,
                    address=contact.address,
                    kind="page",
                    next_attempt_at=step.now + contact.delay,
                )
            paged.append(email)
            if not contacts:
                step.event("notification.unreachable", user=email,
                           reason="no configured channel reaches this person")
        step.event(events.ESCALATED, step=page.level, cycle=page.cycle, users=paged,
                   targets=[str(t) for t in page.targets])


class _Step:
    """The rows one step owes, gathered by its batch."""

    def __init__(self, batch: _Batch, timer_id: int, incident_id: int) -> None:
        self.batch, self.timer_id, self.incident_id = batch, timer_id, incident_id
        self.now = batch.now
        self.owed: list[dict[str, Any]] = []
        self.next_timer: dict[str, Any] | None = None
        self.first: datetime | None = None
        """When the incident triggered, if this is its first step."""

    def event(self, type: str, **data: Any) -> None:
        self.batch.events.append(events.row_values(
            at=self.now, actor=SYSTEM, type=type, incident_id=self.incident_id, data=data))

    def owe(self, **row: Any) -> None:
        """One outbox row, written with the batch's others in one statement."""
        self.owed.append(outbox.owed(self.incident_id, self.now, **row))


class _Batch:
    """What a batch of steps writes, a statement per table."""

    def __init__(self, conn: Connection, timers: Timers, now: datetime) -> None:
        self.conn, self.timers, self.now = conn, timers, now
        self.steps: list[_Step] = []
        self.events: list[dict[str, Any]] = []
        self.advanced: dict[int, dict[str, Any]] = {}
        self.cancelled: list[int] = []

    def step(self, timer: _Row) -> _Step:
        step = _Step(self, timer.id, timer.incident_id)
        self.steps.append(step)
        return step

    def write(self, order: list[int]) -> list[StepResult]:
        """Write the batch; a result per timer id of `order` (not run: cancelled as stale)."""
        by_timer = {step.timer_id: StepResult(True, timer_id=step.timer_id)
                    for step in self.steps}
        owed = [(step, row) for step in self.steps for row in step.owed]
        if owed:
            ids = outbox.enqueue(self.conn, [row for _step, row in owed])
            for row_id, (step, row) in zip(ids, owed, strict=True):
                result = by_timer[step.timer_id]
                result.notifications.append((row_id, row["next_attempt_at"]))
                if step.first is not None and row["kind"] == "page":
                    result.first_pages[row_id] = (row["channel"], step.first)
        if self.events:
            self.conn.execute(_EVENTS, self.events)
        if self.advanced:
            self.conn.execute(_ADVANCE, list(self.advanced.values()))
        if self.cancelled:
            self.timers.cancel_many(self.conn, self.cancelled)
        following = [step for step in self.steps if step.next_timer is not None]
        if following:
            ids = self.timers.schedule_many(
                self.conn, [step.next_timer for step in following if step.next_timer],
                self.now)
            for next_id, step in zip(ids, following, strict=True):
                assert step.next_timer is not None
                by_timer[step.timer_id].next_timer = (next_id, step.next_timer["due_at"])
        return [by_timer.get(timer_id, StepResult(False, timer_id=timer_id))
                for timer_id in order]


def _is_next(incident: dict[str, Any], timer: _Row) -> bool:
    """The timer belongs to the incident's current escalation and has not run yet."""
    return bool(
        incident["status"] == TRIGGERED
        and incident["escalation_generation"] == timer.generation
        and (incident["escalation_cycle"], incident["escalation_step"]) < (timer.cycle,
                                                                          timer.step)
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
