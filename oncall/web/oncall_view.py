"""Who is on call now, and a schedule's next days drawn as bars: computed here, drawn by pages.

Everything comes from the schedule engine over the applied config with the app's overrides laid
on top (`schedules_service.effective_schedule`), the same answer escalation uses.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.config.models import Schedule
from oncall.core.schedule import shifts
from oncall.schedules_service import effective_schedule, on_call_at
from oncall.web import format

PALETTE = [  # dark enough for white text at AA contrast (4.5:1), in light and dark theme
    "#1d4ed8",
    "#15803d",
    "#b45309",
    "#7e22ce",
    "#b91c1c",
    "#0e7490",
    "#4338ca",
    "#4d7c0f",
    "#a21caf",
    "#c2410c",
    "#0f766e",
    "#6d28d9",
]
GAP_COLOR = "#e5e7eb"
WINDOW = timedelta(days=14)


def color(who: str | None) -> str:
    if who is None:
        return GAP_COLOR
    return PALETTE[int(hashlib.sha1(who.encode()).hexdigest(), 16) % len(PALETTE)]


@dataclass(frozen=True)
class OnCallNow:
    schedule: str
    team: str
    who: str
    until: str
    source: str


def schedule_now(session: Session, schedule: Schedule, now: datetime, tz: str) -> OnCallNow:
    shift = on_call_at(session, schedule, now, horizon=timedelta(days=31))
    return OnCallNow(
        schedule=schedule.name,
        team=schedule.team,
        who=shift.who or "no one (coverage gap)",
        until=format.when(shift.end, tz),
        source="override" if shift.source == "override" else (shift.layer or ""),
    )


def everyone_now(session: Session, config: ConfigSet, now: datetime, tz: str) -> list[OnCallNow]:
    return [
        schedule_now(session, s, now, tz)
        for s in sorted(config.schedules.values(), key=lambda s: s.name)
    ]


@dataclass(frozen=True)
class ServiceOnCall:
    service: str
    team: str
    policy: str
    first: list[str]
    """Who the first escalation step pages right now."""


def services_now(
    session: Session, config: ConfigSet, now: datetime, by_schedule: dict[str, str]
) -> list[ServiceOnCall]:
    found = []
    for service in sorted(config.services.values(), key=lambda s: s.name):
        policy = config.policies.get(service.escalation_policy or "")
        first: list[str] = []
        if policy is not None:
            for target in policy.steps[0].targets:
                if target.kind == "schedule":
                    first.append(f"{by_schedule.get(target.ref, '?')} ({target.ref})")
                elif target.kind == "user":
                    first.append(target.ref)
                else:
                    first.append(f"team {target.ref}")
        found.append(
            ServiceOnCall(service.name, service.team, service.escalation_policy or "", first)
        )
    return found


@dataclass(frozen=True)
class Bar:
    who: str
    left: float
    width: float
    color: str
    label: str
    """Start and end in the viewer's zone, for the tooltip."""


@dataclass(frozen=True)
class Row:
    name: str
    bars: list[Bar]


@dataclass(frozen=True)
class Tick:
    left: float
    label: str


def _bars(schedule: Schedule, start: datetime, end: datetime, tz: str) -> list[Bar]:
    total = (end - start).total_seconds()
    bars = []
    for s in shifts(schedule, start, end):
        if s.who is None:
            continue
        bars.append(
            Bar(
                who=s.who,
                left=round((s.start - start).total_seconds() / total * 100, 3),
                width=round((s.end - s.start).total_seconds() / total * 100, 3),
                color=color(s.who),
                label=f"{s.who}: {format.when(s.start, tz)} → {format.when(s.end, tz)}"
                + (" (override)" if s.source == "override" else ""),
            )
        )
    return bars


def timeline(
    session: Session, schedule: Schedule, now: datetime, tz: str
) -> tuple[list[Row], list[Tick]]:
    """One row per layer (alone, before overrides) and a final row, over the next 14 days."""
    zone = format.zone(tz)
    local = now.astimezone(zone)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    start_utc = start.astimezone(now.tzinfo)
    end_utc = (start + WINDOW).astimezone(now.tzinfo)
    rows = []
    for layer in schedule.layers:
        alone = schedule.model_copy(update={"layers": [layer], "overrides": []})
        rows.append(Row(f"Layer: {layer.name}", _bars(alone, start_utc, end_utc, tz)))
    final = effective_schedule(session, schedule, start_utc, end_utc)
    rows.append(Row("Final", _bars(final, start_utc, end_utc, tz)))
    total = (end_utc - start_utc).total_seconds()
    ticks = []
    for day in range(WINDOW.days):
        at = (start + timedelta(days=day)).replace(tzinfo=zone)
        ticks.append(
            Tick(
                round((at.astimezone(now.tzinfo) - start_utc).total_seconds() / total * 100, 3),
                at.strftime("%a %d"),
            )
        )
    return rows, ticks
