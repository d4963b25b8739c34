"""Who an escalation target reaches at an instant: schedules (with overrides made in the app),
users and teams, over the config in force."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.config.models import Schedule
from oncall.config.types import Target
from oncall.core.schedule import who_at
from oncall.core.schedule.overrides import laid_over
from oncall.db.models import ScheduleOverrideRow, UserRow

_O = ScheduleOverrideRow.__table__
_U = UserRow.__table__
_IN_FORCE = (
    select(_U.c.email, _O.c.starts_at, _O.c.ends_at)
    .join(_U, _U.c.id == _O.c.user_id)
    .where(
        _O.c.schedule_name == bindparam("schedule"),
        _O.c.cancelled_at.is_(None),
        _O.c.starts_at <= bindparam("at"),
        _O.c.ends_at > bindparam("at"),
    )
    .order_by(_O.c.id)  # oldest first, as `schedules_service.active_overrides`: later ones win
)


def effective_schedule(conn: Connection, schedule: Schedule, at: datetime) -> Schedule:
    """`schedules_service.effective_schedule` at one instant, in one Core statement: the step's
    hot path."""
    return laid_over(schedule, conn.execute(_IN_FORCE, {"schedule": schedule.name, "at": at}))


class TargetResolver:
    """A `Resolver` for the escalation core, bound to one connection and one config. A
    schedule's overrides are read once per instant: a batch of steps paging one schedule
    costs one query."""

    def __init__(self, conn: Connection, config: ConfigSet) -> None:
        self.conn = conn
        self.config = config
        self._who: dict[tuple[str, datetime], str | None] = {}

    def __call__(self, target: Target, at: datetime) -> Sequence[str]:
        if target.kind == "user":
            return [target.ref] if target.ref in self.config.users else []
        if target.kind == "team":
            team = self.config.teams.get(target.ref)
            if team is None:
                return []
            return [m.email for m in team.members if m.role != "observer"]
        schedule = self.config.schedules.get(target.ref)
        if schedule is None:
            return []
        key = (schedule.name, at)
        if key not in self._who:
            self._who[key] = who_at(effective_schedule(self.conn, schedule, at), at)
        who = self._who[key]
        return [who] if who else []


def first_responders(
    session: Session, config: ConfigSet, service_name: str, at: datetime
) -> tuple[int, list[str]]:
    """Who a new incident on the service would page now: the first escalation step that reaches
    anyone, as (step index, emails); (-1, []) when nobody would be paged."""
    service = config.services.get(service_name)
    policy = config.policies.get(service.escalation_policy or "") if service else None
    if policy is None:
        return -1, []
    resolve = TargetResolver(session.connection(), config)
    for index, step in enumerate(policy.steps):
        people = list(dict.fromkeys(u for t in step.targets for u in resolve(t, at)))
        if people:
            return index, people
    return -1, []
