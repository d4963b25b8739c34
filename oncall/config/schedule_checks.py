"""Schedule warnings: coverage gaps ahead, people double-booked across teams, outsiders in layers.

Gaps and double-booking look at the 28 days after `ctx.now`; without an instant they are
skipped (a check must not read the clock). Membership does not depend on time.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from oncall.config.configset import ConfigSet
from oncall.config.context import Context
from oncall.config.diagnostics import Diagnostic, warning
from oncall.config.models import Schedule
from oncall.config.yamlsource import Path
from oncall.core.schedule.engine import Shift, shifts
from oncall.core.schedule.gaps import coverage_gaps

LOOKAHEAD = timedelta(days=28)
DOUBLE_BOOKING = timedelta(hours=24)
MAX_GAPS_REPORTED = 10


class _Reporter:
    """Warnings positioned inside one schedule's document (as in `checks._Reporter`)."""

    def __init__(self, config: ConfigSet, schedule: Schedule) -> None:
        self.source = config.source(schedule)

    def warning(self, loc: Path, message: str) -> Diagnostic:
        return warning(self.source.path, self.source.position(loc), message)


def check_schedules(ctx: Context) -> Iterator[Diagnostic]:
    config = ctx.config
    for s in config.schedules.values():
        yield from _outsiders(ctx, s)
    if ctx.now is None:
        return
    start, end = ctx.now, ctx.now + LOOKAHEAD
    for s in config.schedules.values():
        yield from _gaps(ctx, s, start, end)
    yield from _double_booked(ctx, start, end)


def _outsiders(ctx: Context, schedule: Schedule) -> Iterator[Diagnostic]:
    team = ctx.config.teams.get(schedule.team)
    if team is None:
        return
    in_team = {m.email for m in team.members}
    users = ctx.config.users
    r = _Reporter(ctx.config, schedule)
    for i, layer in enumerate(schedule.layers):
        for j, email in enumerate(layer.members):
            if email not in in_team and email in users:
                yield r.warning(
                    ("layers", i, "members", j),
                    f"{email} is in layer {layer.name!r} but not a member of team "
                    f"{schedule.team!r}",
                )


def _gaps(ctx: Context, schedule: Schedule, start: datetime, end: datetime) -> Iterator[Diagnostic]:
    found = coverage_gaps(schedule, start, end)
    r = _Reporter(ctx.config, schedule)
    for gap in found[:MAX_GAPS_REPORTED]:
        yield r.warning(("name",), f"coverage gap: no one is on call from {gap.describe()}")
    if len(found) > MAX_GAPS_REPORTED:
        more = len(found) - MAX_GAPS_REPORTED
        yield r.warning(("name",), f"coverage gap: {more} more gaps in the next 28 days")


def _double_booked(ctx: Context, start: datetime, end: datetime) -> Iterator[Diagnostic]:
    schedules = sorted(ctx.config.schedules.values(), key=lambda s: s.name)
    by_person: dict[str, dict[str, list[Shift]]] = {}
    for s in schedules:
        for shift in shifts(s, start, end):
            if shift.who is not None:
                by_person.setdefault(shift.who, {}).setdefault(s.name, []).append(shift)
    named = {s.name: s for s in schedules}
    for who in sorted(by_person):
        held = by_person[who]
        names = sorted(held)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                if named[a].team == named[b].team:
                    continue
                overlap = _longest_overlap(held[a], held[b])
                if overlap is not None and overlap[1] - overlap[0] > DOUBLE_BOOKING:
                    tz = named[b].timezone
                    lo, hi = overlap[0].astimezone(tz), overlap[1].astimezone(tz)
                    hours = (overlap[1] - overlap[0]) / timedelta(hours=1)
                    yield _Reporter(ctx.config, named[b]).warning(
                        ("name",),
                        f"{who} is on call in both {a!r} (team {named[a].team}) and {b!r} "
                        f"(team {named[b].team}) from {lo:%Y-%m-%d %H:%M} to {hi:%Y-%m-%d %H:%M} "
                        f"({tz.key}), {hours:.0f} h at once",
                    )


def _merged(items: list[Shift]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for s in items:
        if out and out[-1][1] >= s.start:
            out[-1] = (out[-1][0], max(out[-1][1], s.end))
        else:
            out.append((s.start, s.end))
    return out


def _longest_overlap(a: list[Shift], b: list[Shift]) -> tuple[datetime, datetime] | None:
    best: tuple[datetime, datetime] | None = None
    spans: list[tuple[datetime, datetime]] = []
    for a0, a1 in _merged(a):
        for b0, b1 in _merged(b):
            lo, hi = max(a0, b0), min(a1, b1)
            if lo < hi:
                spans.append((lo, hi))
    for lo, hi in _merged([Shift(lo, hi, None, None) for lo, hi in sorted(spans)]):
        if best is None or hi - lo > best[1] - best[0]:
            best = (lo, hi)
    return best
