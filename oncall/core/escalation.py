"""The escalation state machine: whom to page now, and when the next step is due.

Pure: the policy, the incident's escalation state and `now` go in; a decision comes out. The
worker persists the new state with a compare-and-set on (level, cycle, status), so a step that
two workers race for, or that a restarted worker replays, runs once. What a responder does to
an incident (acknowledge, resolve, reassign...) is decided by `oncall.core.incident`.

Steps count from 0. A step that reaches no one at that instant (an empty schedule slot, a team
of observers) is skipped at once, as PagerDuty does, so an incident never waits on nobody.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from oncall.config.models import EscalationPolicy
from oncall.config.types import Target
from oncall.core.incident import ASSIGNEE_CYCLE, Status


@dataclass(frozen=True)
class PolicyStep:
    targets: tuple[Target, ...]
    timeout: timedelta


@dataclass(frozen=True)
class Policy:
    """The parts of an EscalationPolicy the machine needs (see `policy_from_config`)."""

    steps: tuple[PolicyStep, ...]
    repeat: int = 0


@dataclass(frozen=True)
class State:
    """Where an incident's escalation stands.

    `level` is the step last run (-1 before the first), `cycle` how many times the policy has
    wrapped around, `next_due` when the following step is due (None: nothing is pending).
    `assignee` is set by a reassignment: it is paged instead of step 0's targets.
    """

    status: Status = Status.TRIGGERED
    level: int = -1
    cycle: int = 0
    next_due: datetime | None = None
    assignee: str | None = None

    @property
    def pending(self) -> bool:
        return self.status is Status.TRIGGERED and self.next_due is not None


@dataclass(frozen=True)
class Page:
    """Notify `users` because step `level` of cycle `cycle` ran."""

    level: int
    cycle: int
    users: tuple[str, ...]
    targets: tuple[Target, ...]


@dataclass(frozen=True)
class Skip:
    """Step `level` of cycle `cycle` reached no one and was passed over."""

    level: int
    cycle: int
    targets: tuple[Target, ...]


@dataclass(frozen=True)
class Decision:
    state: State
    pages: tuple[Page, ...] = ()
    skipped: tuple[Skip, ...] = ()
    exhausted: bool = False
    """True when the last step of the last cycle has run and its timeout passed: nobody acked."""

    @property
    def changed(self) -> bool:
        return bool(self.pages or self.skipped or self.exhausted)


Resolver = Callable[[Target, datetime], Sequence[str]]
"""Who a target reaches at an instant: a schedule's person on call, a user, a team's members."""


def next_position(policy: Policy, level: int, cycle: int) -> tuple[int, int] | None:
    """The (level, cycle) that follows, or None after the last step of the last cycle."""
    if level + 1 < len(policy.steps):
        return level + 1, cycle
    if cycle < policy.repeat:
        return 0, cycle + 1
    return None


def _run_from(
    policy: Policy, state: State, level: int, cycle: int, now: datetime, resolve: Resolver
) -> Decision:
    """Run the step at (level, cycle), skipping steps that reach no one."""
    skipped: list[Skip] = []
    position: tuple[int, int] | None = (level, cycle)
    budget = len(policy.steps) * (policy.repeat + 1)
    while position is not None and budget > 0:
        budget -= 1
        level, cycle = position
        step = policy.steps[level]
        users = _unique(u for t in step.targets for u in resolve(t, now))
        if users:
            page = Page(level, cycle, users, step.targets)
            new = replace(state, level=level, cycle=cycle, next_due=now + step.timeout)
            return Decision(new, pages=(page,), skipped=tuple(skipped))
        skipped.append(Skip(level, cycle, step.targets))
        position = next_position(policy, level, cycle)
    new = replace(state, level=level, cycle=cycle, next_due=None)
    return Decision(new, skipped=tuple(skipped), exhausted=True)


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def tick(policy: Policy, state: State, now: datetime, resolve: Resolver) -> Decision:
    """A timer fired: run the next step if it is due, else change nothing.

    Safe to call any number of times: before `next_due`, after an acknowledgement or after
    the policy is exhausted it returns the state unchanged.
    """
    if not state.pending or state.next_due is None or now < state.next_due:
        return Decision(state)
    position = next_position(policy, state.level, state.cycle)
    if position is None:
        return Decision(replace(state, next_due=None), exhausted=True)
    if state.assignee is not None:
        # after a reassignment the policy resumes at its first step once the assignee's
        # timeout has passed without an acknowledgement
        state = replace(state, assignee=None)
    return _run_from(policy, state, *position, now, resolve)


def reassign(policy: Policy, state: State, assignee: str, now: datetime) -> Decision:
    """Hand the incident to `assignee` and page them.

    If they do not acknowledge within the first step's timeout, the policy starts over at
    step 0: the state is placed just before (step 0, cycle 0).
    """
    if state.status is Status.RESOLVED or not policy.steps:
        return Decision(state)
    new = State(
        status=Status.TRIGGERED,
        level=len(policy.steps) - 1,
        cycle=ASSIGNEE_CYCLE,
        next_due=now + policy.steps[0].timeout,
        assignee=assignee,
    )
    return Decision(new, pages=(Page(ASSIGNEE_CYCLE, ASSIGNEE_CYCLE, (assignee,), ()),))


def policy_from_config(policy: EscalationPolicy) -> Policy:
    steps = tuple(PolicyStep(tuple(s.targets), s.timeout.timedelta) for s in policy.steps)
    return Policy(steps=steps, repeat=policy.repeat)


__all__ = [
    "Decision", "Page", "Policy", "PolicyStep", "Resolver", "Skip", "State",
    "Status", "next_position", "policy_from_config", "reassign", "tick",
]
