"""Final shifts of a schedule: overrides over layers, later layers over earlier ones.

At an instant the later-listed override that covers it wins; otherwise the last layer that has
someone; otherwise no one (a coverage gap). Every source answers with a stretch of time over
which its answer holds, so the engine steps from stretch to stretch: the cost of a query does
not depend on how far it is from a rotation's start, and listing shifts costs one step per
change. Adjacent stretches with the same person from the same source are merged, so the shifts
of a window are the same however the window is split.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from oncall.config.models import Schedule
from oncall.core.schedule.layers import LayerPlan
from oncall.core.schedule.localtime import TICK, require_aware
from oncall.core.schedule.overlay import OverridePlan

Source = Literal["layer", "override"]


@dataclass(frozen=True)
class Shift:
    """[start, end) in UTC with the person on call; `who` None is a coverage gap."""

    start: datetime
    end: datetime
    who: str | None
    layer: str | None
    source: Source = "layer"

    @property
    def is_gap(self) -> bool:
        return self.who is None

    def same_assignment(self, other: Shift) -> bool:
        return (self.who, self.layer, self.source) == (other.who, other.layer, other.source)


class Plan:
    """A schedule compiled for queries. Build once per schedule (see `plan`)."""

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule
        self.tz = schedule.timezone
        self.layers = [LayerPlan(layer, self.tz) for layer in reversed(schedule.layers)]
        self.overrides = OverridePlan(schedule.overrides, self.tz)

    def state(self, t: datetime) -> Shift:
        """The assignment at `t` and a stretch around `t` over which it holds (not maximal)."""
        who, lo, hi = self.overrides.state(t)
        if who is not None:
            return Shift(lo, hi, who, None, "override")
        for layer in self.layers:
            who, llo, lhi = layer.state(t)
            lo, hi = max(lo, llo), min(hi, lhi)
            if who is not None:
                return Shift(lo, hi, who, layer.name, "layer")
        return Shift(lo, hi, None, None, "layer")

    def shifts(self, start: datetime, end: datetime) -> list[Shift]:
        start, end = require_aware(start, "start"), require_aware(end, "end")
        if end <= start:
            raise ValueError("a window must end after it starts")
        found: list[Shift] = []
        t = start
        while t < end:
            s = self.state(t)
            piece = Shift(t, min(s.end, end), s.who, s.layer, s.source)
            if found and found[-1].same_assignment(piece):
                found[-1] = Shift(found[-1].start, piece.end, s.who, s.layer, s.source)
            else:
                found.append(piece)
            t = piece.end
        return found

    def on_call(self, at: datetime, horizon: timedelta) -> Shift:
        at = require_aware(at, "at")
        current = self.state(at)
        start, end = current.start, current.end
        first, last = at - horizon, at + horizon
        while end < last:
            nxt = self.state(end)
            if not nxt.same_assignment(current):
                break
            end = nxt.end
        while start > first:
            prev = self.state(start - TICK)
            if not prev.same_assignment(current):
                break
            start = prev.start
        return Shift(max(start, first), min(end, last), current.who, current.layer, current.source)


_PLANS: OrderedDict[int, Plan] = OrderedDict()
_MAX_PLANS = 256


def plan(schedule: Schedule) -> Plan:
    """The compiled plan of a schedule, kept for the schedule objects used most recently."""
    key = id(schedule)
    found = _PLANS.get(key)
    if found is not None and found.schedule is schedule:
        _PLANS.move_to_end(key)
        return found
    built = Plan(schedule)
    _PLANS[key] = built
    if len(_PLANS) > _MAX_PLANS:
        _PLANS.popitem(last=False)
    return built


ON_CALL_HORIZON = timedelta(days=366)


def shifts(schedule: Schedule, start: datetime, end: datetime) -> list[Shift]:
    """The final shifts tiling [start, end), gaps included, in UTC."""
    return plan(schedule).shifts(start, end)


def on_call(schedule: Schedule, at: datetime, horizon: timedelta = ON_CALL_HORIZON) -> Shift:
    """The shift containing `at`, with its real start and end when within `horizon` of `at`."""
    return plan(schedule).on_call(at, horizon)


def who_at(schedule: Schedule, at: datetime) -> str | None:
    """The person on call at `at`, or None in a coverage gap."""
    return plan(schedule).state(require_aware(at, "at")).who
