"""The schedule list (who holds each schedule now, the next handoff) and the week overview."""

from __future__ import annotations

from typing import Any

import reflex as rx

from oncall.core.schedule import shifts
from oncall.schedules_service import effective_schedule
from oncall.web import context, format, schedule_list, week_grid
from oncall.web.state.session import SessionState
from oncall.web.state.zoned import ZonedPage

GAP = "no one (coverage gap)"


class ScheduleListState(ZonedPage, SessionState):
    query: str = ""
    rows: list[dict[str, str]] = []  # noqa: RUF012
    total: int = 0
    _all: list[dict[str, str]] = []  # noqa: RUF012 - every schedule; `rows` is the search

    def _refresh(self) -> None:
        now = context.now()
        horizon = schedule_list.HORIZON
        with context.read_session() as session:
            config = context.config(session)
            names = {email: u.name for email, u in config.users.items()}
            effective = {
                name: effective_schedule(session, s, now, now + horizon)
                for name, s in config.schedules.items()
            }
            found = schedule_list.summarize(config, effective, now, horizon)
        self._all = [
            {
                "name": s.name,
                "team": s.team,
                "timezone": s.timezone,
                "description": s.description,
                "who": schedule_list.display_name(s.on_call, names, GAP),
                "who_email": s.on_call or "",
                "handoff_at": format.when(s.handoff.at, self.tz) if s.handoff else "",
                "handoff_from": schedule_list.display_name(
                    s.handoff.before, names, "no one") if s.handoff else "",
                "handoff_to": schedule_list.display_name(
                    s.handoff.after, names, "no one") if s.handoff else "",
                "policies": ", ".join(s.policies) or "none",
                "services": ", ".join(s.services) or "none",
            }
            for s in found
        ]
        self.total = len(self._all)
        self._search()

    def _search(self) -> None:
        self.rows = [r for r in self._all if schedule_list.matches(r["name"], self.query)]

    @rx.event
    def set_query(self, value: str) -> None:
        self.query = str(value)[:200]
        self._search()


class WeekState(ZonedPage, SessionState):
    offset: int = 0
    week_label: str = ""
    days: list[str] = []  # noqa: RUF012
    rows: list[dict[str, Any]] = []  # noqa: RUF012
    people: list[dict[str, str]] = []  # noqa: RUF012

    def _refresh(self) -> None:
        week = week_grid.week_of(context.now(), format.zone(self.tz), self.offset)
        with context.read_session() as session:
            config = context.config(session)
            names = {email: u.name for email, u in config.users.items()}
            by_schedule = {
                name: shifts(effective_schedule(session, s, week.start, week.end),
                             week.start, week.end)
                for name, s in config.schedules.items()
            }
        self.week_label = week.label
        self.days = [f"{d:%a %d %b}" for d in week.days]
        self.rows = [
            {
                "schedule": row.schedule,
                "cells": [
                    {
                        "day": self.days[i],
                        "stints": [
                            {"who": schedule_list.display_name(s.who, names),
                             "hours": f"{s.start}–{s.end}"}
                            for s in stints
                        ],
                    }
                    for i, stints in enumerate(row.days)
                ],
            }
            for row in week_grid.grid(by_schedule, week)
        ]
        self.people = [
            {
                "who": schedule_list.display_name(p.who, names),
                "email": p.who,
                "hours": week_grid.hours_text(p.hours),
                "schedules": ", ".join(f"{name} {week_grid.hours_text(h)}"
                                       for name, h in p.by_schedule.items()),
            }
            for p in week_grid.people(by_schedule, week)
        ]

    def _start(self) -> None:
        self.offset = 0

    @rx.event
    def prev_week(self) -> None:
        self.offset = max(self.offset - 1, -520)
        self._refresh()

    @rx.event
    def next_week(self) -> None:
        self.offset = min(self.offset + 1, 520)
        self._refresh()

    @rx.event
    def this_week(self) -> None:
        self.offset = 0
        self._refresh()
