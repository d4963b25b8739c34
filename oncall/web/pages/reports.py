"""On-call health reports: pickers, the figures, charts and a CSV download per table."""
# Reflex state attributes read on the class are Vars, not their annotated Python types.
# mypy: disable-error-code="no-any-return, attr-defined, arg-type, operator, call-overload"

from __future__ import annotations

from typing import Any

import reflex as rx

from oncall.web.components.layout import page
from oncall.web.state.reports import CUSTOM
from oncall.web.state.reports import ReportsState as S


def _pickers() -> rx.Component:
    return rx.flex(
        rx.vstack(rx.text("Team", size="1", color_scheme="gray"),
                  rx.select(S.teams, value=S.team, on_change=S.set_team, id="report-team",
                            custom_attrs={"aria-label": "Team"})),
        rx.vstack(rx.text("Service", size="1", color_scheme="gray"),
                  rx.select(S.services, value=S.service, on_change=S.set_service,
                            id="report-service", custom_attrs={"aria-label": "Service"})),
        rx.vstack(rx.text("Period", size="1", color_scheme="gray"),
                  rx.select(S.periods, value=S.period, on_change=S.set_period,
                            id="report-period", custom_attrs={"aria-label": "Period"})),
        rx.cond(
            S.period == CUSTOM,
            rx.flex(
                rx.vstack(rx.text("From", size="1", color_scheme="gray"),
                          rx.input(type="date", value=S.since, on_change=S.set_since,
                                   id="report-since", aria_label="From")),
                rx.vstack(rx.text("To (included)", size="1", color_scheme="gray"),
                          rx.input(type="date", value=S.until, on_change=S.set_until,
                                   id="report-until", aria_label="To (included)")),
                rx.button("Show", on_click=S.apply_dates, id="report-apply"),
                spacing="2", align="end",
            ),
        ),
        spacing="4", align="end", wrap="wrap", width="100%",
    )


def _figure(label: str, value: Any, note: Any = "") -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(label, size="1", color_scheme="gray"),
            rx.heading(value, size="5"),
            rx.text(note, size="1", color_scheme="gray"),
            spacing="1",
        ),
        min_width="11em",
    )


def _figures() -> rx.Component:
    f = S.figures
    return rx.flex(
        _figure("Incidents", f["incidents"]),
        _figure("MTTA median", f["mtta_median"],
                rx.text("p90 ", f["mtta_p90"], " · over ", f["mtta_over"], " acknowledged")),
        _figure("MTTR median", f["mttr_median"],
                rx.text("p90 ", f["mttr_p90"], " · over ", f["mttr_over"], " resolved")),
        _figure("Pages", f["pages"], rx.text(f["night_pages"], " at night")),
        spacing="3", wrap="wrap", width="100%", id="report-figures",
    )


def _bar_chart(data: Any, x: str, bars: list[tuple[str, str, str]], height: int = 260
               ) -> rx.Component:
    return rx.recharts.bar_chart(
        *[rx.recharts.bar(data_key=key, name=name, fill=color) for key, name, color in bars],
        rx.recharts.x_axis(data_key=x),
        rx.recharts.y_axis(allow_decimals=False),
        rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
        rx.recharts.graphing_tooltip(),
        rx.recharts.legend(),
        data=data, width="100%", height=height,
    )


def _section(title: str, table: str, *children: rx.Component) -> rx.Component:
    return rx.vstack(
        rx.flex(
            rx.heading(title, size="4"),
            rx.spacer(),
            rx.button("Download CSV", size="1", variant="soft",
                      on_click=S.download(table), id=f"report-csv-{table}"),
            width="100%", align="center",
        ),
        *children,
        spacing="2", width="100%",
    )


def _table(headers: list[str], rows: Any, cells: Any, label: str = "Report table"
           ) -> rx.Component:
    return rx.box(
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
            rx.table.body(rx.foreach(rows, lambda r: rx.table.row(
                *[rx.table.cell(c(r)) for c in cells]))),
            width="100%", size="1",
        ),
        overflow_x="auto", width="100%", tab_index=0, role="region", aria_label=label,
    )


def reports_page() -> rx.Component:
    return page(
        _pickers(),
        rx.text(S.period_text, size="2", color_scheme="gray"),
        _figures(),
        _section("Summary", "summary",
                 rx.text("Night pages are those sent 22:00-08:00 in the person's own time "
                         "zone. Hours on call are from the schedules ", S.figures["schedules"],
                         ", with overrides made in the app.", size="2", color_scheme="gray")),
        _section("Incidents by priority", "priorities",
                 _bar_chart(S.priorities, "priority", [("incidents", "Incidents", "#e5484d")])),
        _section(
            "Pages per person", "people",
            _bar_chart(S.people, "person", [("pages", "Pages", "#3e63dd"),
                                            ("night_pages", "Night pages", "#1f2d5c")]),
            _table(["Person", "Pages", "At night", "Channels", "Time zone"], S.people,
                   [lambda r: r["person"], lambda r: r["pages"], lambda r: r["night_pages"],
                    lambda r: r["channels"], lambda r: r["time_zone"]]),
        ),
        _section(
            "Hours on call per person", "oncall",
            _bar_chart(S.oncall, "person", [("hours", "Hours on call", "#30a46c")]),
            _table(["Person", "Hours", "Shifts", "Share of the period", "Schedules"], S.oncall,
                   [lambda r: r["person"], lambda r: r["hours"], lambda r: r["shifts"],
                    lambda r: r["share"], lambda r: r["schedules"]]),
            rx.cond(S.uncovered != "",
                    rx.text("No one on call: ", S.uncovered, size="2", color_scheme="red")),
        ),
        title="Reports",
    )
