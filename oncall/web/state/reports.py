"""On-call health reports in the app: a team's or a service's figures over a period, charts,
and each table as a CSV download. Signed-in people only (every handler goes through the
session guard of `SessionState`); the figures are the ones the API and `oncall report` give
(`oncall.reports.service`)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from oncall.config.configset import ConfigSet
from oncall.core.reports import TABLES, BadPeriod, Period, Report, parse_period
from oncall.core.reports import duration_text as duration
from oncall.reports.service import Filter, UnknownFilter, build, csv_of
from oncall.web import context
from oncall.web.state.session import SessionState

EVERYTHING = "(all)"
CUSTOM = "Custom dates"
PERIODS = {"Last 7 days": 7, "Last 30 days": 30, "Last 90 days": 90, "Last 365 days": 365,
           CUSTOM: 0}
"""The period pickers; a custom period is a pair of dates, both days included."""



class ReportsState(SessionState):
    teams: list[str] = [EVERYTHING]  # noqa: RUF012
    services: list[str] = [EVERYTHING]  # noqa: RUF012
    periods: list[str] = list(PERIODS)  # noqa: RUF012
    tables: list[str] = list(TABLES)  # noqa: RUF012
    team: str = EVERYTHING
    service: str = EVERYTHING
    period: str = "Last 30 days"
    since: str = ""
    until: str = ""
    period_text: str = ""
    figures: dict[str, str] = {}  # noqa: RUF012
    priorities: list[dict[str, Any]] = []  # noqa: RUF012
    people: list[dict[str, Any]] = []  # noqa: RUF012
    oncall: list[dict[str, Any]] = []  # noqa: RUF012
    uncovered: str = ""

    def _filter(self) -> Filter:
        return Filter(team=None if self.team == EVERYTHING else self.team,
                      service=None if self.service == EVERYTHING else self.service)

    def _period(self) -> Period:
        days = PERIODS.get(self.period, 30)
        if days:
            return parse_period(None, None, context.now(), default_days=days)
        return parse_period(self.since or None, self.until or None, context.now())

    def _pickers(self, config: ConfigSet) -> None:
        self.teams = [EVERYTHING, *sorted(config.teams)]
        services = list(config.services.values())
        if self.team != EVERYTHING:
            services = [s for s in services if s.team == self.team]
        self.services = [EVERYTHING, *sorted(s.name for s in services)]
        if self.service not in self.services:
            self.service = EVERYTHING

    def _report(self) -> Report | None:
        """The report for the pickers, or None with the reason in `error`."""
        self.error = ""
        try:
            period = self._period()
            with context.read_session() as session:
                config = context.config(session)
                self._pickers(config)
                return build(session, config, self._filter(), period)
        except (BadPeriod, UnknownFilter) as exc:
            self.error = str(exc)
            return None

    def _refresh(self) -> None:
        report = self._report()
        if report is None:
            self.figures, self.priorities, self.people, self.oncall = {}, [], [], []
            self.period_text, self.uncovered = "", ""
            return
        p = report.period
        self.period_text = f"{p.since:%Y-%m-%d %H:%M} to {p.until:%Y-%m-%d %H:%M} UTC"
        self.figures = {
            "incidents": str(report.incidents),
            "mtta_median": duration(report.mtta.median),
            "mtta_p90": duration(report.mtta.p90),
            "mtta_over": str(report.mtta.count),
            "mttr_median": duration(report.mttr.median),
            "mttr_p90": duration(report.mttr.p90),
            "mttr_over": str(report.mttr.count),
            "pages": str(sum(x.pages for x in report.pages)),
            "night_pages": str(sum(x.night_pages for x in report.pages)),
            "schedules": ", ".join(report.schedules) or "none",
        }
        self.priorities = [{"priority": k, "incidents": v} for k, v in report.priorities.items()]
        self.people = [
            {"person": x.person, "pages": x.pages, "night_pages": x.night_pages,
             "time_zone": x.time_zone,
             "channels": ", ".join(f"{c} {n}" for c, n in x.by_channel.items())}
            for x in report.pages
        ]
        self.oncall = [
            {"person": x.person, "hours": round(x.hours, 1), "shifts": x.shifts,
             "share": f"{x.share:.1f}%", "schedules": ", ".join(x.schedules)}
            for x in report.oncall.people
        ]
        gaps = {n: h for n, h in report.oncall.gap_hours.items() if h > 0}
        self.uncovered = ", ".join(f"{n} {h:.1f} h" for n, h in gaps.items())

    @rx.event
    def load(self) -> Any:
        guard = self._require()
        if guard is not None:
            return guard
        self._refresh()
        return None

    @rx.event
    def set_team(self, value: str) -> None:
        self.team = value
        self.service = EVERYTHING
        self._refresh()

    @rx.event
    def set_service(self, value: str) -> None:
        self.service = value
        self._refresh()

    @rx.event
    def set_period(self, value: str) -> None:
        self.period = value if value in PERIODS else "Last 30 days"
        if self.period != CUSTOM:
            self._refresh()

    @rx.event
    def set_since(self, value: str) -> None:
        self.since = value

    @rx.event
    def set_until(self, value: str) -> None:
        self.until = value

    @rx.event
    def apply_dates(self) -> None:
        self._refresh()

    @rx.event
    def download(self, table: str) -> Any:
        """One table as a CSV file, computed now for the pickers."""
        if table not in TABLES:
            return None
        report = self._report()
        if report is None:
            return None
        p = report.period
        scope = self.service if self.service != EVERYTHING else (
            self.team if self.team != EVERYTHING else "all")
        return rx.download(data=csv_of(report, table),
                           filename=f"oncall-{table}-{scope}-{p.since:%Y%m%d}-"
                                    f"{p.until:%Y%m%d}.csv",
                           mime_type="text/csv")
