"""One layer's answer at an instant: who (or no one), and the stretch over which that holds."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from oncall.config.models import Layer
from oncall.core.schedule.localtime import EARLIEST, LATEST, resolve
from oncall.core.schedule.restrictions import Windows
from oncall.core.schedule.rotation import Handoffs, handoffs

State = tuple[str | None, datetime, datetime]
"""(who or None, lo, hi): the answer holds for every instant in [lo, hi)."""


class LayerPlan:
    """A layer compiled for queries: its handoffs, its bounds in UTC and its windows."""

    def __init__(self, layer: Layer, tz: ZoneInfo) -> None:
        self.name = layer.name
        self.members = list(layer.members)
        self.handoffs: Handoffs = handoffs(layer.rotation, tz)
        self.start = self.handoffs.at(0)
        self.until = resolve(layer.until, tz) if layer.until is not None else LATEST
        windows = Windows(layer.restrictions, tz) if layer.restrictions else None
        self.windows = None if windows is None or windows.always else windows

    def member(self, k: int) -> str:
        return self.members[k % len(self.members)]

    def state(self, t: datetime) -> State:
        if t < self.start:
            return None, EARLIEST, self.start
        if t >= self.until:
            return None, self.until, LATEST
        lo, hi = self.start, self.until
        if self.windows is not None:
            inside, wlo, whi = self.windows.at(t)
            lo, hi = max(lo, wlo), min(hi, whi)
            if not inside:
                return None, lo, hi
        if len(self.members) == 1:
            # Handoffs between the same person change nothing anyone would notice.
            return self.members[0], lo, hi
        k = self.handoffs.index(t)
        return self.member(k), max(lo, self.handoffs.at(k)), min(hi, self.handoffs.at(k + 1))
