"""Who is on call now, per schedule and per service; one schedule's next 14 days."""
# Reflex state attributes read on the class are Vars, not their annotated Python types.
# mypy: disable-error-code="no-any-return, attr-defined, arg-type, operator"

from __future__ import annotations

from typing import Any

import reflex as rx

from oncall.web.components.layout import page
from oncall.web.oncall_view import GAP_COLOR
from oncall.web.state.oncall import OnCallState, ScheduleState


def _now_row(r: Any) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(r["schedule"], href=f"/schedules/{r['schedule']}")),
        rx.table.cell(r["team"]),
        rx.table.cell(
            rx.hstack(
                rx.box(width="0.7em", height="0.7em", border_radius="50%", background=r["color"]),
                rx.text(r["who"], weight="bold"),
                align="center",
            )
        ),
        rx.table.cell(r["until"]),
        rx.table.cell(r["source"]),
    )


def oncall_page() -> rx.Component:
    S = OnCallState
    return page(
        rx.heading("Schedules", size="4"),
        rx.link("New schedule", href="/schedules/new", id="new-schedule"),
        rx.box(
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[
                            rx.table.column_header_cell(h)
                            for h in ("Schedule", "Team", "On call now", "Until", "From")
                        ]
                    )
                ),
                rx.table.body(rx.foreach(S.schedules, _now_row)),
                width="100%",
                id="oncall-schedules",
            ),
            overflow_x="auto",
            width="100%",
            tab_index=0, role="region", aria_label="Who is on call now",
        ),
        rx.heading("Services: who the first step pages now", size="4"),
        rx.box(
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[
                            rx.table.column_header_cell(h)
                            for h in ("Service", "Team", "Policy", "Pages")
                        ]
                    )
                ),
                rx.table.body(
                    rx.foreach(
                        S.services,
                        lambda s: rx.table.row(
                            rx.table.cell(s["service"]),
                            rx.table.cell(s["team"]),
                            rx.table.cell(s["policy"]),
                            rx.table.cell(s["first"]),
                        ),
                    )
                ),
                width="100%",
            ),
            overflow_x="auto",
            width="100%",
            tab_index=0, role="region", aria_label="Whom each service pages now",
        ),
        title="On call",
    )


def _bar_row(row: Any) -> rx.Component:
    return rx.box(
        rx.text(row["name"], size="1", weight="bold"),
        rx.box(
            rx.foreach(
                row["bars"].to(list[dict[str, str]]),
                lambda b: rx.tooltip(
                    rx.box(
                        rx.text(
                            b["short"],
                            size="1",
                            # fixed colours: the bar's own, dark or (a gap) light in any theme
                            color=rx.cond(b["color"] == GAP_COLOR, "#1f2937", "white"),
                            white_space="nowrap",
                            overflow="hidden",
                            text_overflow="ellipsis",
                            padding_x="2px",
                        ),
                        position="absolute",
                        left=b["left"],
                        width=b["width"],
                        top="0",
                        height="100%",
                        background=b["color"],
                        border_right="1px solid white",
                        overflow="hidden",
                        class_name="shift-bar",
                    ),
                    content=b["label"],
                ),
            ),
            position="relative",
            height="1.8em",
            background="var(--gray-3)",
            border_radius="4px",
            overflow="hidden",
            width="100%",
        ),
        width="100%",
        class_name="timeline-row",
    )


def _override_form() -> rx.Component:
    S = ScheduleState
    return rx.card(
        rx.vstack(
            rx.heading("Override or swap", size="3"),
            rx.radio(
                ["override", "swap"],
                value=S.form_kind,
                on_change=lambda v: S.set_form("kind", v),
                direction="row",
            ),
            rx.text(
                rx.cond(S.form_kind == "swap", "Person giving the first window", "Who covers"),
                size="2",
            ),
            rx.select(S.members, value=S.form_who, on_change=lambda v: S.set_form("who", v),
                      custom_attrs={"aria-label": "Whose shift"}),
            rx.flex(
                rx.input(
                    type="datetime-local",
                    value=S.form_start,
                    on_change=lambda v: S.set_form("start", v),
                    id="override-start",
                    aria_label="From",
                ),
                rx.input(
                    type="datetime-local",
                    value=S.form_end,
                    on_change=lambda v: S.set_form("end", v),
                    id="override-end",
                    aria_label="Until",
                ),
                spacing="2",
                wrap="wrap",
            ),
            rx.cond(
                S.form_kind == "swap",
                rx.vstack(
                    rx.text("Person giving the second window", size="2"),
                    rx.select(
                        S.members, value=S.form_other, on_change=lambda v: S.set_form("other", v),
                        custom_attrs={"aria-label": "Person giving the second window"},
                    ),
                    rx.flex(
                        rx.input(
                            type="datetime-local",
                            value=S.form_other_start,
                            on_change=lambda v: S.set_form("other_start", v),
                            aria_label="Second window from",
                        ),
                        rx.input(
                            type="datetime-local",
                            value=S.form_other_end,
                            on_change=lambda v: S.set_form("other_end", v),
                            aria_label="Second window until",
                        ),
                        spacing="2",
                        wrap="wrap",
                    ),
                ),
                rx.input(
                    placeholder="Reason (optional)",
                    aria_label="Reason (optional)",
                    value=S.form_reason,
                    on_change=lambda v: S.set_form("reason", v),
                    width="100%",
                ),
            ),
            rx.text("Times are in ", S.tz, ".", size="1", color_scheme="gray"),
            rx.button("Save", on_click=S.submit_override, id="override-save"),
            spacing="2",
            width="100%",
        ),
        width="100%",
    )


def schedule_page() -> rx.Component:
    S = ScheduleState
    return page(
        rx.cond(
            S.found,
            rx.vstack(
                rx.text(
                    "Team ",
                    S.team,
                    " · schedule zone ",
                    S.schedule_tz,
                    " · shown in ",
                    S.tz,
                    size="2",
                    color_scheme="gray",
                ),
                rx.heading(S.schedule, size="5", id="schedule-name"),
                rx.link("Edit this schedule", href=f"/schedules/{S.schedule}/edit",
                        id="edit-schedule"),
                rx.box(
                    rx.box(
                        rx.foreach(
                            S.ticks,
                            lambda t: rx.text(
                                t["label"],
                                size="1",
                                position="absolute",
                                left=t["left"],
                                white_space="nowrap",
                                color_scheme="gray",
                            ),
                        ),
                        position="relative",
                        height="1.4em",
                        width="100%",
                    ),
                    rx.vstack(rx.foreach(S.rows, _bar_row), spacing="2", width="100%"),
                    width="100%",
                    min_width="640px",
                ),
                rx.heading("Overrides made here", size="4"),
                rx.cond(
                    S.overrides.length() > 0,
                    rx.vstack(
                        rx.foreach(
                            S.overrides,
                            lambda o: rx.flex(
                                rx.text(
                                    o["who"],
                                    " covers ",
                                    o["from"],
                                    " → ",
                                    o["to"],
                                    rx.cond(
                                        o["replaces"] != "", rx.text.span(" for ", o["replaces"])
                                    ),
                                    " (",
                                    o["reason"],
                                    ")",
                                    size="2",
                                ),
                                rx.button(
                                    "Cancel",
                                    size="1",
                                    variant="soft",
                                    color_scheme="red",
                                    on_click=S.cancel(o["id"]),
                                ),
                                spacing="2",
                                align="center",
                                wrap="wrap",
                            ),
                        ),
                        width="100%",
                    ),
                    rx.text("None.", size="2", color_scheme="gray"),
                ),
                rx.cond(S.can_respond, _override_form()),
                rx.heading("Calendar feeds", size="4"),
                rx.flex(
                    rx.button(
                        "New feed URL for this schedule",
                        on_click=S.feed_for_schedule,
                        variant="soft",
                    ),
                    rx.button("New feed URL for my shifts", on_click=S.feed_for_me, variant="soft"),
                    spacing="2",
                    wrap="wrap",
                ),
                rx.cond(S.new_feed_url != "", rx.code_block(S.new_feed_url, id="feed-url")),
                rx.vstack(
                    rx.foreach(
                        S.feeds,
                        lambda f: rx.flex(
                            rx.text(f["subject"], " · created ", f["created"], size="2"),
                            rx.button(
                                "Revoke",
                                size="1",
                                variant="soft",
                                color_scheme="red",
                                on_click=S.revoke_feed(f["id"]),
                            ),
                            spacing="2",
                            align="center",
                        ),
                    )
                ),
                spacing="3",
                width="100%",
                overflow_x="auto",
            ),
            rx.text("No such schedule.", color_scheme="gray"),
        ),
        title="Schedule",
    )
