"""On-call handoffs: when a person's time on call starts and ends, and their next turn.

Pure: the caller passes a schedule's shifts (overrides already laid over) and the window to look
in. A person's time on call is a *stretch*: their consecutive shifts joined, whichever layer or
override each came from, so a handoff between two layers to the same person tells nobody
anything. Stretches shorter than `min_shift` (the windows of a restricted layer, a short
override) make no notices: an hour's cover would otherwise cost two messages.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from oncall.core.schedule import Shift

Edge = Literal["start", "end"]


@dataclass(frozen=True)
class Stretch:
    """[start, end) during which `who` is on call without a break."""

    who: str
    start: datetime
    end: datetime

    @property
    def length(self) -> timedelta:
        return self.end - self.start


@dataclass(frozen=True)
class Handoff:
    """`who`'s stretch on `schedule` starts or ends at `at`; `next` is their turn after it."""

    schedule: str
    who: str
    edge: Edge
    stretch: Stretch
    next: Stretch | None

    @property
    def at(self) -> datetime:
        return self.stretch.start if self.edge == "start" else self.stretch.end

    @property
    def key(self) -> str:
        """Names this notice for good: the outbox queues it once, however many workers look."""
        return f"handoff:{self.schedule}:{self.who}:{self.edge}:{self.at.isoformat()}"


def stretches(shifts: Iterable[Shift]) -> list[Stretch]:
    """The shifts of each person joined where one ends as the next begins; gaps dropped."""
    out: list[Stretch] = []
    for shift in sorted(shifts, key=lambda s: s.start):
        if shift.who is None:
            continue
        last = out[-1] if out else None
        if last is not None and last.who == shift.who and last.end == shift.start:
            out[-1] = Stretch(shift.who, last.start, shift.end)
        else:
            out.append(Stretch(shift.who, shift.start, shift.end))
    return out


def handoffs(schedule: str, shifts: Iterable[Shift], since: datetime, until: datetime,
             min_shift: timedelta) -> list[Handoff]:
    """The starts and ends of stretches in (since, until], oldest first.

    `shifts` must reach well before `since` and after `until`, so that a stretch cut by their
    bounds is not taken for one that starts or ends there (the caller's window says how far).
    """
    all_stretches = [s for s in stretches(shifts) if s.length >= min_shift]
    found: list[Handoff] = []
    for i, stretch in enumerate(all_stretches):
        later = next((s for s in all_stretches[i + 1:] if s.who == stretch.who), None)
        if since < stretch.start <= until:
            found.append(Handoff(schedule, stretch.who, "start", stretch, later))
        if since < stretch.end <= until:
            found.append(Handoff(schedule, stretch.who, "end", stretch, later))
    found.sort(key=lambda h: (h.at, h.edge != "end", h.who))
    return found
