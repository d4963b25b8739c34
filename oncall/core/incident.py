"""The incident state machine: what a responder's action does to an incident.

Pure: the incident's state, an action and `now` go in; the new state and its effects come out
(timers to schedule, escalation to stop or hasten, the event to record), or no change, or a
refusal. `oncall.incidents.service` reads and writes the rows; every decision is made here.
Running the escalation steps themselves is `oncall.core.escalation`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Final, get_args

from oncall.config.types import Priority


class Status(StrEnum):
    """An incident's status; equal to the strings stored in the database."""

    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


PRIORITIES: Final[tuple[str, ...]] = get_args(Priority)
"""The values of `Priority`, P1 (most urgent) first."""

START_CYCLE: Final = 0
START_STEP: Final = -1
"""An incident's escalation position before its first step has run."""
ASSIGNEE_CYCLE: Final = -1
"""The cycle of the timer, and of the page, that reaches the assignee after a reassignment."""


class Event(StrEnum):
    """The audit event a change records."""

    ACKNOWLEDGED = "incident.acknowledged"
    RESOLVED = "incident.resolved"
    REASSIGNED = "incident.reassigned"
    PRIORITY = "incident.priority_changed"
    ESCALATE_REQUESTED = "incident.escalate_requested"


@dataclass(frozen=True)
class Incident:
    """What the machine needs of an incident row."""

    status: Status
    generation: int = 0
    cycle: int = START_CYCLE
    step: int = START_STEP
    assignee: int | None = None
    priority: str | None = None
    version: int = 0


@dataclass(frozen=True)
class Acknowledge:
    pass


@dataclass(frozen=True)
class Resolve:
    pass


@dataclass(frozen=True)
class Escalate:
    """Run the next escalation step now instead of at its timeout."""


@dataclass(frozen=True)
class Reassign:
    """Page `assignee` now; after the first step's timeout the policy restarts at step 0,
    so the assignee's timer sits at the policy's last step of cycle `ASSIGNEE_CYCLE`."""

    assignee: int
    policy_steps: int


@dataclass(frozen=True)
class ChangePriority:
    priority: str


Action = Acknowledge | Resolve | Escalate | Reassign | ChangePriority


@dataclass(frozen=True)
class Timer:
    """A timer to schedule in the new state's escalation generation."""

    cycle: int
    step: int
    due_at: datetime


@dataclass(frozen=True)
class Transition:
    before: Incident
    after: Incident
    event: Event | None = None
    stop_escalation: bool = False
    """Cancel pending timers and unsent pages of the incident."""
    hasten: bool = False
    """Make the current escalation's next pending timer due now (no change if none is)."""
    timer: Timer | None = None
    refused: str | None = None
    """Why the action is not allowed; the state is unchanged."""

    @property
    def changed(self) -> bool:
        return self.event is not None


def decide(incident: Incident, action: Action, now: datetime) -> Transition:
    """The effect of `action` on `incident` at `now`."""
    same = Transition(incident, incident)
    bumped = replace(incident, version=incident.version + 1)
    status = incident.status
    match action:
        case Acknowledge():
            if status is not Status.TRIGGERED:
                return same
            return Transition(incident, replace(bumped, status=Status.ACKNOWLEDGED),
                              Event.ACKNOWLEDGED, stop_escalation=True)
        case Resolve():
            if status is Status.RESOLVED:
                return same
            return Transition(incident, replace(bumped, status=Status.RESOLVED),
                              Event.RESOLVED, stop_escalation=True)
        case Escalate():
            if status is not Status.TRIGGERED:
                return same
            return Transition(incident, bumped, Event.ESCALATE_REQUESTED, hasten=True)
        case Reassign(assignee=assignee, policy_steps=steps):
            if status is Status.RESOLVED:
                return Transition(incident, incident,
                                  refused="the incident is resolved: it cannot be reassigned")
            after = replace(bumped, status=Status.TRIGGERED, assignee=assignee,
                            generation=incident.generation + 1, cycle=ASSIGNEE_CYCLE,
                            step=START_STEP)
            timer = Timer(ASSIGNEE_CYCLE, max(steps - 1, 0), now)
            return Transition(incident, after, Event.REASSIGNED, stop_escalation=True,
                              timer=timer)
        case ChangePriority(priority=priority):
            if priority not in PRIORITIES:
                return Transition(incident, incident, refused=(
                    f"unknown priority {priority!r}: expected one of {', '.join(PRIORITIES)}"))
            if incident.priority == priority:
                return same
            return Transition(incident, replace(bumped, priority=priority), Event.PRIORITY)
