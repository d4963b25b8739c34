"""The list of schedules: who holds each one now, the next handoff, what uses it.

Pure: the caller passes each schedule with the app's overrides already laid over
(`schedules_service.effective_schedule`) and the instant; the answers come from the schedule
engine's own `shifts`, so this page and escalation never disagree about who is on call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from oncall.config.configset import ConfigSet
from oncall.config.models import Schedule
from oncall.core.schedule import Shift, shifts

HORIZON = timedelta(days=31)
"""How far ahead a next handoff is looked for; none within it shows as "none soon"."""


@dataclass(frozen=True)
class Handoff:
    """At `at` the schedule passes from `before` to `after` (None: no one, a coverage gap)."""

    at: datetime
    before: str | None
    after: str | None


@dataclass(frozen=True)
class ScheduleSummary:
    name: str
    team: str
    timezone: str
    description: str
    on_call: str | None
    """The person on call now (email), None in a coverage gap."""
    handoff: Handoff | None
    policies: tuple[str, ...]
    services: tuple[str, ...]


def next_handoff(tiled: Iterable[Shift]) -> Handoff | None:
    """The first change of person in shifts that tile a window from now on: a change of layer
    or an override handing to the same person is no handoff."""
    ordered = sorted(tiled, key=lambda s: s.start)
    if not ordered:
        return None
    holder = ordered[0].who
    for shift in ordered[1:]:
        if shift.who != holder:
            return Handoff(shift.start, holder, shift.who)
    return None


def users_of(config: ConfigSet, schedule: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The escalation policies with a step paging the schedule, and the services using those."""
    policies = sorted(
        p.name for p in config.policies.values()
        if any(t.kind == "schedule" and t.ref == schedule for step in p.steps for t in step.targets)
    )
    services = sorted(
        s.name for s in config.services.values() if s.escalation_policy in set(policies)
    )
    return tuple(policies), tuple(services)


def summarize(
    config: ConfigSet, effective: Mapping[str, Schedule], now: datetime,
    horizon: timedelta = HORIZON,
) -> list[ScheduleSummary]:
    """One summary per schedule of `effective` (name → schedule with overrides laid over), by
    name."""
    found = []
    for name in sorted(effective):
        schedule = effective[name]
        tiled = shifts(schedule, now, now + horizon)
        policies, services = users_of(config, name)
        found.append(ScheduleSummary(
            name=name,
            team=schedule.team,
            timezone=schedule.timezone.key,
            description=schedule.description or "",
            on_call=tiled[0].who,
            handoff=next_handoff(tiled),
            policies=policies,
            services=services,
        ))
    return found


def matches(name: str, query: str) -> bool:
    """The search box: every word typed is part of the schedule's name (any case)."""
    return all(word in name.lower() for word in query.lower().split())


def display_name(email: str | None, names: Mapping[str, str | None], gap: str = "no one") -> str:
    """A person as the pages name them: the config's name, else the email; None is `gap`."""
    if email is None:
        return gap
    return names.get(email) or email
