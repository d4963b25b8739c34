"""Every schedule with who holds it now and the next handoff; everyone on call this week."""
# Reflex state attributes read on the class are Vars, not their annotated Python types.
# mypy: disable-error-code="no-any-return, attr-defined, arg-type, operator"

from __future__ import annotations

from typing import Any

import reflex as rx

from oncall.web.components.layout import page
from oncall.web.state.schedules import ScheduleListState, WeekState


def _scroll(table: rx.Component, label: str) -> rx.Component:
    """A table that scrolls sideways on a phone; focusable, so a keyboard can scroll it."""
    return rx.box(table, overflow_x="auto", width="100%", tab_index=0, role="region",
                  aria_label=label)


def _header(*names: str) -> rx.Component:
    return rx.table.header(rx.table.row(*[rx.table.column_header_cell(n) for n in names]))


def _schedule_row(r: Any) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.vstack(
                rx.link(r["name"], href="/schedules/" + r["name"], weight="bold"),
                rx.text(r["description"], size="1"),
                spacing="0",
            ),
        ),
        rx.table.cell(r["team"]),
        rx.table.cell(rx.text(r["who"], weight="bold"), class_name="on-call-now",
                      data_email=r["who_email"]),
        rx.table.cell(
            rx.cond(
                r["handoff_at"] != "",
                rx.vstack(
                    rx.text(r["handoff_at"], size="2"),
                    rx.text(r["handoff_from"], " → ", r["handoff_to"], size="1"),
                    spacing="0",
                ),
                rx.text("none within 31 days", size="1"),
            ),
            class_name="next-handoff",
        ),
        rx.table.cell(r["timezone"]),
        rx.table.cell(
            rx.vstack(
                rx.text("Policies: ", r["policies"], size="1"),
                rx.text("Services: ", r["services"], size="1"),
                spacing="0",
            ),
        ),
        class_name="schedule-row",
        data_schedule=r["name"],
    )


def schedules_page() -> rx.Component:
    S = ScheduleListState
    return page(
        rx.flex(
            rx.link("Who is on call now, per service", href="/oncall"),
            rx.link("Everyone on call this week", href="/oncall/week"),
            spacing="4",
            wrap="wrap",
        ),
        rx.input(
            placeholder="Search schedules by name",
            value=S.query,
            on_change=S.set_query,
            aria_label="Search schedules by name",
            id="schedule-search",
            width="100%",
            max_width="24em",
        ),
        rx.text(S.rows.length(), " of ", S.total, " schedules · times in ", S.tz, size="2",
                id="schedule-count"),
        _scroll(
            rx.table.root(
                _header("Schedule", "Team", "On call now", "Next handoff", "Time zone",
                        "Used by"),
                rx.table.body(rx.foreach(S.rows, _schedule_row)),
                width="100%",
                min_width="720px",  # scrolls sideways on a phone rather than one word a line
                id="schedule-list",
            ),
            "Schedules",
        ),
        title="Schedules",
    )


def _stint(s: Any) -> rx.Component:
    return rx.box(
        rx.text(s["who"], size="2", weight="medium"),
        rx.text(s["hours"], size="1"),
        class_name="stint",
    )


def _week_row(row: Any) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.link(row["schedule"], href="/schedules/" + row["schedule"].to(str))),
        rx.foreach(
            row["cells"].to(list[dict[str, Any]]),
            lambda c: rx.table.cell(
                rx.vstack(rx.foreach(c["stints"].to(list[dict[str, str]]), _stint), spacing="1"),
                class_name="week-cell",
                data_day=c["day"],
                vertical_align="top",
            ),
        ),
        class_name="week-row",
        data_schedule=row["schedule"],
    )


def week_page() -> rx.Component:
    S = WeekState
    return page(
        rx.flex(
            rx.button("← Previous week", on_click=S.prev_week, variant="soft", id="week-prev"),
            rx.button("This week", on_click=S.this_week, variant="soft", id="week-this"),
            rx.button("Next week →", on_click=S.next_week, variant="soft", id="week-next"),
            spacing="2",
            wrap="wrap",
        ),
        rx.heading(S.week_label, size="4", id="week-label"),
        rx.text("Days and hours in ", S.tz, ".", size="2"),
        _scroll(
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        rx.table.column_header_cell("Schedule"),
                        rx.foreach(S.days, lambda d: rx.table.column_header_cell(d)),
                    )
                ),
                rx.table.body(rx.foreach(S.rows, _week_row)),
                width="100%",
                min_width="900px",
                id="week-grid",
            ),
            "Schedules by day",
        ),
        rx.heading("Hours on call this week", size="4"),
        _scroll(
            rx.table.root(
                _header("Person", "Hours", "Per schedule"),
                rx.table.body(
                    rx.foreach(
                        S.people,
                        lambda p: rx.table.row(
                            rx.table.row_header_cell(p["who"]),
                            rx.table.cell(p["hours"]),
                            rx.table.cell(p["schedules"]),
                            class_name="person-week",
                            data_email=p["email"],
                        ),
                    )
                ),
                width="100%",
                id="week-people",
            ),
            "Hours per person",
        ),
        title="On call this week",
    )
