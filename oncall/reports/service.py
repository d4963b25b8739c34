"""A report for a team and/or a service over a period, and its tables as CSV.

Hours on call come from the applied config's schedules with the app's overrides laid over them
(`schedules_service.effective_schedule`), the same answer escalation and the iCal feeds give.
Which schedules: for a team, the schedules whose own `team` is that team (`Schedule.team`, the
owner the config validates), not those its services' escalation policies happen to target, so
a schedule shared across teams is counted once, for its owner; for a service, the schedules its
escalation policy targets (`schedule:NAME` steps), since those are the people it pages; for the
whole organisation, every schedule.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.config.models import Schedule
from oncall.core import reports as core
from oncall.core.reports import TABLES, Period, Report, Table
from oncall.core.schedule import shifts
from oncall.reports import queries
from oncall.schedules_service import effective_schedule

__all__ = ["TABLES", "Filter", "Report", "UnknownFilter", "build", "csv_of", "table"]


class UnknownFilter(ValueError):
    """A team or service the report cannot be about; `param` names which."""

    def __init__(self, param: str, reason: str) -> None:
        super().__init__(f"{param}: {reason}")
        self.param = param
        self.reason = reason


@dataclass(frozen=True)
class Filter:
    team: str | None = None
    service: str | None = None


def _check(session: Session, config: ConfigSet, flt: Filter) -> None:
    if flt.team is not None and flt.team not in config.teams and not queries.team_known(
            session, flt.team):
        raise UnknownFilter("team", f"no team {flt.team!r}")
    if flt.service is not None:
        owner = queries.service_team(session, flt.service)
        if owner is None:
            raise UnknownFilter("service", f"no service {flt.service!r}")
        if flt.team is not None and owner != flt.team:
            raise UnknownFilter("service", f"{flt.service} belongs to team {owner}, "
                                           f"not {flt.team}")


def schedules_for(config: ConfigSet, flt: Filter) -> list[Schedule]:
    """The schedules whose hours the report shows (see the module's docstring)."""
    if flt.service is not None:
        svc = config.services.get(flt.service)
        policy = config.policies.get(svc.escalation_policy or "") if svc else None
        names = dict.fromkeys(
            t.ref for step in (policy.steps if policy else []) for t in step.targets
            if t.kind == "schedule")
        return [config.schedules[n] for n in names if n in config.schedules]
    found = sorted(config.schedules.values(), key=lambda s: s.name)
    if flt.team is not None:
        found = [s for s in found if s.team == flt.team]
    return found


def build(session: Session, config: ConfigSet, flt: Filter, period: Period) -> Report:
    """The report; UnknownFilter for a team or service that does not exist."""
    _check(session, config, flt)
    where = queries.scope(session, flt.team, flt.service)
    priorities = core.priority_counts(queries.priority_counts(session, where, period))
    mtta = core.figure_of_ranks(*queries.duration_ranks(session, where, period,
                                                        "acknowledged"))
    mttr = core.figure_of_ranks(*queries.duration_ranks(session, where, period, "resolved"))
    counts = queries.page_counts(session, where, period)
    people = queries.people(session, (u for u, _, _ in counts))
    changes = core.offset_changes(queries.time_zones(session), period)
    slots = queries.page_slots(session, where, period, changes)
    pages = core.pages_per_person(counts, core.night_pages(slots, people, changes, period),
                                  people)
    schedules = schedules_for(config, flt)
    by_schedule = {
        s.name: shifts(effective_schedule(session, s, period.since, period.until),
                       period.since, period.until)
        for s in schedules
    }
    return Report(
        period=period, team=flt.team, service=flt.service, priorities=priorities,
        mtta=mtta, mttr=mttr, pages=pages, oncall=core.hours_on_call(by_schedule, period),
        services=where.services, schedules=tuple(s.name for s in schedules),
    )


def table(report: Report, name: str) -> Table:
    """One of TABLES (KeyError for another name)."""
    return core.table(report, name)


def csv_of(report: Report, table_name: str) -> str:
    """One table as CSV: a header row, then a row per record; empty cells for no value."""
    found = table(report, table_name)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(found.columns)
    writer.writerows([_cell(v) for v in row] for row in found.rows)
    return out.getvalue()


def _cell(value: core.Cell) -> str | int | float:
    """No value as an empty cell; text a spreadsheet would run as a formula, quoted."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in _FORMULA:
        return "'" + value
    return value


_FORMULA = ("=", "+", "-", "@", "\t", "\r")
