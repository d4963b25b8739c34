"""Overrides and swaps as operations: validated before they reach a schedule.

An override gives a window to one person; a swap trades two people's shifts and is written as two
overrides, so it shows up in the same place as any other cover and is undone the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from oncall.config.models import Override, Schedule
from oncall.core.schedule.engine import shifts
from oncall.core.schedule.localtime import require_aware, resolve, to_local


class OverrideError(ValueError):
    """An override or swap that cannot be made; the message says why."""


class Cover(NamedTuple):
    """One person's time in a swap: the window they hold now and give away."""

    who: str
    start: datetime
    end: datetime


def _local(schedule: Schedule, instant: datetime, what: str) -> datetime:
    tz = schedule.timezone
    instant = require_aware(instant, what)
    if instant.microsecond:
        raise OverrideError(f"{what} {instant.isoformat()} must be a whole second")
    local = to_local(instant, tz)
    if resolve(local, tz) != instant:
        raise OverrideError(
            f"{what} {instant.isoformat()} is the second {local:%H:%M} of a repeated hour in "
            f"{tz.key}, which a local time cannot name: choose an instant outside that hour"
        )
    return local


def make_override(schedule: Schedule, who: str, start: datetime, end: datetime) -> Override:
    """An override of `schedule` giving [start, end) to `who`."""
    if require_aware(end, "end") <= require_aware(start, "start"):
        raise OverrideError("an override must end after it starts")
    return Override.model_validate(
        {"who": who, "from": _local(schedule, start, "start"), "to": _local(schedule, end, "end")}
    )


def with_overrides(schedule: Schedule, *overrides: Override) -> Schedule:
    """A copy of `schedule` with `overrides` listed last, so they win over earlier ones."""
    return schedule.model_copy(update={"overrides": [*schedule.overrides, *overrides]})


def laid_over(schedule: Schedule, windows: Iterable[tuple[str, datetime, datetime]]) -> Schedule:
    """`schedule` with windows given away in the app, as (who, start, end) oldest first, laid
    over its config's overrides. A window the zone's local time cannot name is left out: every
    reader of the schedule would fail on it otherwise."""
    made: list[Override] = []
    for who, start, end in windows:
        try:
            made.append(make_override(schedule, who, start, end))
        except OverrideError:
            continue
    return with_overrides(schedule, *made) if made else schedule


def members(schedule: Schedule) -> set[str]:
    return {m for layer in schedule.layers for m in layer.members}


def swap(schedule: Schedule, first: Cover, second: Cover) -> tuple[Override, Override]:
    """Overrides that trade `first`'s window with `second`'s.

    Each person must be on call (in the schedule's final shifts) for the whole window they give,
    and both must be members of the schedule, so no one is swapped into a shift they are not in.
    """
    if first.who == second.who:
        raise OverrideError(f"cannot swap {first.who} with themselves")
    known = members(schedule)
    for cover in (first, second):
        if cover.who not in known:
            raise OverrideError(f"{cover.who} is not a member of schedule {schedule.name!r}")
        if require_aware(cover.end, "end") <= require_aware(cover.start, "start"):
            raise OverrideError(f"{cover.who}'s window must end after it starts")
    if first.start < second.end and second.start < first.end:
        raise OverrideError("the two windows of a swap must not overlap")
    for cover in (first, second):
        for s in shifts(schedule, cover.start, cover.end):
            if s.who != cover.who:
                holder = s.who or "no one"
                raise OverrideError(
                    f"{cover.who} is not on call from {s.start.isoformat()} to "
                    f"{s.end.isoformat()} ({holder} is): a swap trades only one's own shifts"
                )
    return (
        make_override(schedule, second.who, first.start, first.end),
        make_override(schedule, first.who, second.start, second.end),
    )
