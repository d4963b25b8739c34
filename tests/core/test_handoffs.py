"""Handoffs from a schedule's shifts: stretches joined across layers, short ones quiet, each
start and end told once, with the person's next turn."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from oncall.core.handoffs import Handoff, Stretch, handoffs, stretches
from oncall.core.schedule import Shift

D = datetime(2026, 12, 7, tzinfo=UTC)
HOUR = timedelta(hours=1)


def at(hours: float) -> datetime:
    return D + timedelta(hours=hours)


def shift(start: float, end: float, who: str | None, layer: str = "weekly") -> Shift:
    return Shift(at(start), at(end), who, layer)


def s(who: str, start: float, end: float) -> Stretch:
    return Stretch(who, at(start), at(end))


@pytest.mark.parametrize(("shifts", "expected"), [
    ([], []),
    ([shift(0, 8, "ana"), shift(8, 16, "ben")], [s("ana", 0, 8), s("ben", 8, 16)]),
    # the same person across a layer change is one stretch
    ([shift(0, 8, "ana", "nights"), shift(8, 16, "ana", "days"), shift(16, 20, "ben")],
     [s("ana", 0, 16), s("ben", 16, 20)]),
    # a gap breaks a stretch, and is no one's
    ([shift(0, 8, "ana"), shift(8, 9, None), shift(9, 12, "ana")],
     [s("ana", 0, 8), s("ana", 9, 12)]),
    # an override in the middle splits the layer's person in two
    ([shift(0, 4, "ana"), Shift(at(4), at(6), "dan", None, "override"), shift(6, 12, "ana")],
     [s("ana", 0, 4), s("dan", 4, 6), s("ana", 6, 12)]),
])
def test_stretches(shifts: list[Shift], expected: list[Stretch]) -> None:
    assert stretches(shifts) == expected


WEEK = [shift(-24, 0, "ana"), shift(0, 24, "ben"), shift(24, 48, "ana"), shift(48, 72, "ben")]


@pytest.mark.parametrize(("shifts", "since", "until", "min_shift", "expected"), [
    # at the handoff: ana's turn ends and ben's starts, each with their next turn
    (WEEK, -0.1, 0.1, HOUR,
     [Handoff("primary", "ana", "end", s("ana", -24, 0), s("ana", 24, 48)),
      Handoff("primary", "ben", "start", s("ben", 0, 24), s("ben", 48, 72))]),
    # the window is (since, until]: a handoff at `since` was told by the look before
    (WEEK, 0, 1, HOUR, []),
    (WEEK, -1, 0, HOUR,
     [Handoff("primary", "ana", "end", s("ana", -24, 0), s("ana", 24, 48)),
      Handoff("primary", "ben", "start", s("ben", 0, 24), s("ben", 48, 72))]),
    # the last turn read has no next one
    (WEEK, 47.9, 48.1, HOUR,
     [Handoff("primary", "ana", "end", s("ana", 24, 48), None),
      Handoff("primary", "ben", "start", s("ben", 48, 72), None)]),
    # a 30-minute restricted window tells no one, and is no one's "next turn"
    ([shift(0, 0.5, "cai", "lunch"), shift(0.5, 8, "ana"), shift(8, 8.5, "cai", "lunch")],
     -1, 9, HOUR,
     [Handoff("primary", "ana", "start", s("ana", 0.5, 8), None),
      Handoff("primary", "ana", "end", s("ana", 0.5, 8), None)]),
    ([shift(0, 0.5, "cai", "lunch"), shift(0.5, 8, "ana"), shift(8, 8.5, "cai", "lunch")],
     -1, 0.25, timedelta(minutes=15),
     [Handoff("primary", "cai", "start", s("cai", 0, 0.5), s("cai", 8, 8.5))]),
])
def test_handoffs(shifts: list[Shift], since: float, until: float, min_shift: timedelta,
                  expected: list[Handoff]) -> None:
    assert handoffs("primary", shifts, at(since), at(until), min_shift) == expected


def test_a_handoff_is_named_for_good() -> None:
    [end, start] = handoffs("primary", WEEK, at(-1), at(0), HOUR)
    assert start.at == at(0) and end.at == at(0)
    assert start.key == "handoff:primary:ben:start:2026-12-07T00:00:00+00:00"
    assert end.key == "handoff:primary:ana:end:2026-12-07T00:00:00+00:00"
