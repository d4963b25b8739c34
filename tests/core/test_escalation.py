"""Running escalation steps, exhaustively and without a database."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from oncall.config.types import Target
from oncall.core.escalation import (
    Decision,
    Policy,
    PolicyStep,
    Resolver,
    State,
    Status,
    reassign,
    tick,
)
from oncall.core.incident import ASSIGNEE_CYCLE

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)

PRIMARY = Target("schedule", "primary")
SECONDARY = Target("schedule", "secondary")
EVE = Target("user", "eve@example.com")
TEAM = Target("team", "payments")
EMPTY = Target("schedule", "nobody-home")

WHO = {
    PRIMARY: ["alice@example.com"],
    SECONDARY: ["bob@example.com"],
    EVE: ["eve@example.com"],
    TEAM: ["alice@example.com", "bob@example.com", "carol@example.com"],
    EMPTY: [],
}


def resolve(target: Target, at: datetime) -> Sequence[str]:
    return WHO[target]


def start(policy: Policy, now: datetime, resolver: Resolver) -> Decision:
    """A new incident: its first timer, for step 0, is due when it opens."""
    return tick(policy, State(next_due=now), now, resolver)


POLICY = Policy(
    steps=(
        PolicyStep((PRIMARY,), 5 * MIN),
        PolicyStep((SECONDARY, EVE), 10 * MIN),
        PolicyStep((TEAM,), 15 * MIN),
    ),
    repeat=1,
)


def run_until_quiet(policy: Policy, minutes: int) -> list[tuple[int, int, int, tuple[str, ...]]]:
    """Start at T0 and tick every minute; the pages as (minute, level, cycle, users)."""
    decision = start(policy, T0, resolve)
    pages = [(0, p.level, p.cycle, p.users) for p in decision.pages]
    state = decision.state
    for minute in range(1, minutes + 1):
        decision = tick(policy, state, T0 + minute * MIN, resolve)
        pages += [(minute, p.level, p.cycle, p.users) for p in decision.pages]
        state = decision.state
    return pages


def test_full_escalation_with_repeat() -> None:
    assert run_until_quiet(POLICY, 120) == [
        (0, 0, 0, ("alice@example.com",)),
        (5, 1, 0, ("bob@example.com", "eve@example.com")),
        (15, 2, 0, ("alice@example.com", "bob@example.com", "carol@example.com")),
        (30, 0, 1, ("alice@example.com",)),
        (35, 1, 1, ("bob@example.com", "eve@example.com")),
        (45, 2, 1, ("alice@example.com", "bob@example.com", "carol@example.com")),
    ]


def test_exhausted_after_last_timeout() -> None:
    state = State(level=2, cycle=1, next_due=T0)
    decision = tick(POLICY, state, T0, resolve)
    assert decision.exhausted and decision.pages == ()
    assert decision.state.next_due is None
    # and then it stays quiet
    assert tick(POLICY, decision.state, T0 + 60 * MIN, resolve).changed is False


@pytest.mark.parametrize(
    ("now", "runs"),
    [(T0 + 5 * MIN - timedelta(seconds=1), False), (T0 + 5 * MIN, True), (T0 + 50 * MIN, True)],
)
def test_tick_runs_only_when_due(now: datetime, runs: bool) -> None:
    state = start(POLICY, T0, resolve).state
    assert tick(POLICY, state, now, resolve).changed is runs


def test_a_late_timer_runs_one_step_not_several() -> None:
    state = start(POLICY, T0, resolve).state
    decision = tick(POLICY, state, T0 + 100 * MIN, resolve)
    assert [p.level for p in decision.pages] == [1]


def test_ticking_twice_runs_a_step_once() -> None:
    state = start(POLICY, T0, resolve).state
    first = tick(POLICY, state, T0 + 5 * MIN, resolve)
    # the same timer replayed against the new state does nothing
    again = tick(POLICY, first.state, T0 + 5 * MIN, resolve)
    assert first.pages and not again.changed


@pytest.mark.parametrize("status", [Status.ACKNOWLEDGED, Status.RESOLVED])
def test_no_step_runs_unless_triggered(status: Status) -> None:
    state = State(status=status, level=0, next_due=T0 + 5 * MIN)
    assert tick(POLICY, state, T0 + 60 * MIN, resolve).changed is False


def test_step_that_reaches_no_one_is_skipped_at_once() -> None:
    policy = Policy(steps=(PolicyStep((EMPTY,), 5 * MIN), PolicyStep((EVE,), 5 * MIN)))
    decision = start(policy, T0, resolve)
    assert [(s.level, s.cycle) for s in decision.skipped] == [(0, 0)]
    assert [(p.level, p.users) for p in decision.pages] == [(1, ("eve@example.com",))]
    assert decision.state.next_due == T0 + 5 * MIN


def test_policy_reaching_no_one_is_exhausted_not_looping() -> None:
    policy = Policy(steps=(PolicyStep((EMPTY,), 5 * MIN),), repeat=3)
    decision = start(policy, T0, resolve)
    assert decision.exhausted
    assert len(decision.skipped) == 4
    assert decision.pages == ()


def test_reassign_pages_assignee_then_restarts_at_step_zero() -> None:
    state = tick(POLICY, start(POLICY, T0, resolve).state, T0 + 5 * MIN, resolve).state
    decision = reassign(POLICY, state, "dave@example.com", T0 + 6 * MIN)
    assert [(p.level, p.users) for p in decision.pages] == [(ASSIGNEE_CYCLE, ("dave@example.com",))]
    state = decision.state
    assert state.assignee == "dave@example.com"
    assert tick(POLICY, state, T0 + 10 * MIN, resolve).changed is False
    restarted = tick(POLICY, state, T0 + 11 * MIN, resolve)
    assert [(p.level, p.cycle) for p in restarted.pages] == [(0, 0)]
    assert restarted.state.assignee is None


def test_reassign_after_acknowledge_triggers_again() -> None:
    acked = State(status=Status.ACKNOWLEDGED, level=0)
    decision = reassign(POLICY, acked, "dave@example.com", T0 + MIN)
    assert decision.state.status is Status.TRIGGERED
    assert decision.pages[0].users == ("dave@example.com",)


def test_reassign_of_resolved_incident_changes_nothing() -> None:
    resolved = State(status=Status.RESOLVED, level=0)
    assert reassign(POLICY, resolved, "dave@example.com", T0).changed is False


def test_targets_resolve_at_the_instant_of_the_step() -> None:
    seen: list[datetime] = []

    def spy(target: Target, at: datetime) -> Sequence[str]:
        seen.append(at)
        return ["x@example.com"]

    state = start(POLICY, T0, spy).state
    tick(POLICY, state, T0 + 7 * MIN, spy)
    assert seen == [T0, T0 + 7 * MIN, T0 + 7 * MIN]


def test_same_user_through_two_targets_is_paged_once() -> None:
    policy = Policy(steps=(PolicyStep((PRIMARY, TEAM), 5 * MIN),))
    users = start(policy, T0, resolve).pages[0].users
    assert users == ("alice@example.com", "bob@example.com", "carol@example.com")
