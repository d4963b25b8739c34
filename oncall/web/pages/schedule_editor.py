"""The schedule editor: /schedules/new and /schedules/NAME/edit."""
# Reflex state attributes read on the class are Vars, not their annotated Python types.
# mypy: disable-error-code="no-any-return, attr-defined, arg-type, operator, index"

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

import reflex as rx

from oncall.config.types import WEEKDAYS
from oncall.web.components.editor_review import editor_review
from oncall.web.components.layout import page
from oncall.web.editor.schedule_form import TYPES
from oncall.web.state.schedule_editor import ScheduleEditorState as S

ZONES = sorted(z for z in available_timezones() if "/" in z and not z.startswith(("posix/",
                                                                                   "right/")))
TYPE_LABELS = {"weekly": "Weekly", "daily": "Daily", "hourly": "Every N hours",
               "rrule": "Custom rule (RRULE)", "custom": "Any length (e.g. 1h30m)"}
DAY_LABELS = dict(zip(WEEKDAYS, ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), strict=True))
DEBOUNCE = 500
CELL = {"textAlign": "left", "padding": "0.35em 0.6em", "borderBottom": "1px solid var(--gray-5)",
        "whiteSpace": "nowrap"}
NATIVE = {"min_height": "44px", "padding": "0 0.5em", "border": "1px solid var(--gray-7)",
          "border_radius": "6px", "background": "var(--color-panel-solid)",
          "color": "var(--gray-12)"}


def _field(label: str, control: rx.Component) -> rx.Component:
    return rx.el.label(
        rx.text(label, size="2", weight="medium"),
        control,
        display="flex",
        flex_direction="column",
        gap="0.25em",
        min_width="10em",
    )


def _text(label: str, value: Any, on_change: Any, **props: Any) -> rx.Component:
    return _field(label, rx.input(value=value, on_change=on_change, debounce_timeout=DEBOUNCE,
                                  min_height="44px", **props))


def _members(layer: Any, i: Any) -> rx.Component:
    return rx.vstack(
        rx.text("Members, in turn order", size="2", weight="medium"),
        rx.el.ol(
            rx.foreach(
                S.layer_members[i],
                lambda email, j: rx.el.li(
                    rx.flex(
                        rx.text(S.people[email], " (", email, ")", size="2"),
                        rx.spacer(),
                        rx.button("Up", size="1", variant="soft", min_height="44px",
                                  disabled=j == 0, on_click=S.move_member_up(i, j),
                                  aria_label=f"Move {email} up"),
                        rx.button("Remove", size="1", variant="soft", color_scheme="red",
                                  min_height="44px", on_click=S.remove_member(i, j),
                                  aria_label=f"Remove {email}"),
                        spacing="2",
                        align="center",
                        wrap="wrap",
                    ),
                ),
            ),
            style={"paddingLeft": "1.5em", "width": "100%"},
        ),
        _field(
            "Add a member (search by name or email)",
            rx.input(
                value=S.member_query[i],
                on_change=lambda v: S.search_members(i, v),
                debounce_timeout=250,
                placeholder="name or email",
                min_height="44px",
                aria_label=f"Search people for layer {i + 1}",
            ),
        ),
        rx.flex(
            rx.foreach(
                S.member_matches[i],
                lambda p: rx.button(
                    "Add ", p["name"], " (", p["email"], ")",
                    size="1", variant="outline", min_height="44px",
                    on_click=S.add_member(i, p["email"]),
                ),
            ),
            spacing="2",
            wrap="wrap",
        ),
        width="100%",
        spacing="2",
    )


def _day(day: str, window: Any, k: Any, i: Any) -> rx.Component:
    return rx.checkbox(
        DAY_LABELS[day],
        checked=window["days"].contains(day),
        on_change=lambda on: S.toggle_day(i, k, day, on),
        min_height="44px",
        aria_label=f"Layer {i + 1} window {k + 1} {DAY_LABELS[day]}",
    )


def _window(window: Any, k: Any, i: Any) -> rx.Component:
    return rx.flex(
        rx.el.fieldset(
            rx.el.legend(f"Days of window {k + 1}", style={"fontSize": "0.85em"}),
            rx.flex(
                *[_day(day, window, k, i) for day in WEEKDAYS],
                spacing="3",
                wrap="wrap",
            ),
            style={"border": "none", "padding": 0, "margin": 0},
        ),
        _field("From", rx.input(type="time", value=window["from"], min_height="44px",
                                on_change=lambda v: S.set_window_field(i, k, "from", v),
                                debounce_timeout=DEBOUNCE,
                                aria_label=f"Layer {i + 1} window {k + 1} from")),
        _field("To", rx.input(type="time", value=window["to"], min_height="44px",
                              on_change=lambda v: S.set_window_field(i, k, "to", v),
                              debounce_timeout=DEBOUNCE,
                              aria_label=f"Layer {i + 1} window {k + 1} to")),
        rx.button("Remove window", size="1", variant="soft", color_scheme="red",
                  min_height="44px", on_click=S.remove_window(i, k), align_self="end"),
        spacing="3",
        wrap="wrap",
        align="end",
        padding="0.5em",
        border="1px dashed var(--gray-6)",
        border_radius="6px",
        width="100%",
    )


def _layer(layer: Any, i: Any) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("Layer ", i + 1, size="3"),
                rx.spacer(),
                rx.button("Remove layer", size="1", variant="soft", color_scheme="red",
                          min_height="44px", on_click=S.remove_layer(i),
                          aria_label=f"Remove layer {i + 1}"),
                width="100%",
            ),
            rx.text("A later layer takes over from an earlier one where it has someone.",
                    size="1", color="var(--gray-11)"),
            rx.flex(
                _text("Layer name", layer["name"],
                      lambda v: S.set_layer_field(i, "name", v),
                      aria_label=f"Layer {i + 1} name"),
                _field("Rotation", rx.el.select(
                    *[rx.el.option(TYPE_LABELS[t], value=t) for t in TYPES],
                    value=layer["type"],
                    on_change=lambda v: S.set_layer_field(i, "type", v),
                    aria_label=f"Layer {i + 1} rotation",
                    style=NATIVE,
                )),
                rx.cond(
                    layer["type"] == "rrule",
                    _text("Rule", layer["rrule"], lambda v: S.set_layer_field(i, "rrule", v),
                          placeholder="FREQ=WEEKLY;BYDAY=MO,TH",
                          aria_label=f"Layer {i + 1} rule"),
                    _text(rx.cond(layer["type"] == "custom", "Length", "Every (count)"),
                          layer["length"], lambda v: S.set_layer_field(i, "length", v),
                          aria_label=f"Layer {i + 1} length"),
                ),
                _field("First handoff (date)", rx.input(
                    type="date", value=layer["start_date"], min_height="44px",
                    on_change=lambda v: S.set_layer_field(i, "start_date", v),
                    debounce_timeout=DEBOUNCE, aria_label=f"Layer {i + 1} start date")),
                _field("Handoff time", rx.input(
                    type="time", value=layer["handoff"], min_height="44px",
                    on_change=lambda v: S.set_layer_field(i, "handoff", v),
                    debounce_timeout=DEBOUNCE, aria_label=f"Layer {i + 1} handoff time")),
                _text("Ends (optional, YYYY-MM-DDTHH:MM)", layer["until"],
                      lambda v: S.set_layer_field(i, "until", v),
                      aria_label=f"Layer {i + 1} until"),
                spacing="3",
                wrap="wrap",
                width="100%",
            ),
            _members(layer, i),
            rx.text("Time windows (none: all the time)", size="2", weight="medium"),
            rx.foreach(S.layer_windows[i], lambda w, k: _window(w, k, i)),
            rx.button("Add a time window", size="2", variant="soft", min_height="44px",
                      on_click=S.add_window(i), aria_label=f"Add a time window to layer {i + 1}"),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def _preview() -> rx.Component:
    return rx.vstack(
        rx.heading("Preview: the next 2 weeks", size="4"),
        rx.cond(
            S.preview_rows.length() > 0,
            rx.vstack(
                rx.text("Final shifts from ", rx.code(S.preview_from, id="preview-from"),
                        " to ", rx.code(S.preview_to, id="preview-to"), ", in ",
                        S.preview_tz, ".", size="2"),
                rx.box(
                    rx.el.table(
                        rx.el.thead(rx.el.tr(
                            *[rx.el.th(h, scope="col", style=CELL)
                              for h in ("From", "To", "On call", "Layer")])),
                        rx.el.tbody(rx.foreach(
                            S.preview_rows,
                            lambda r: rx.el.tr(
                                rx.el.td(r["start"], style=CELL),
                                rx.el.td(r["end"], style=CELL),
                                rx.el.td(r["who"], style=CELL),
                                rx.el.td(r["layer"], style=CELL),
                                custom_attrs={"data-line": r["line"]},
                                class_name="preview-shift",
                            ),
                        )),
                        style={"borderCollapse": "collapse", "width": "100%",
                               "fontSize": "0.85em"},
                    ),
                    role="region",
                    aria_label="Preview of the shifts",
                    tab_index=0,
                    overflow_x="auto",
                    width="100%",
                ),
                width="100%",
            ),
            rx.text("The preview shows once the schedule is complete and valid.", size="2",
                    color="var(--gray-11)"),
        ),
        id="preview",
        width="100%",
    )


def schedule_editor_page() -> rx.Component:
    return page(
        rx.text(
            "This editor writes YAML for the config repo; nothing changes until the pull "
            "request is merged and applied.", size="2",
        ),
        rx.cond(
            S.missing,
            rx.link("Back to the schedules", href="/oncall"),
            rx.vstack(
                rx.flex(
                    _text("Name", S.fields["name"], lambda v: S.set_field("name", v),
                          placeholder="e.g. payments-primary", aria_label="Schedule name"),
                    _text("Description", S.fields["description"],
                          lambda v: S.set_field("description", v),
                          aria_label="Schedule description"),
                    _field("Team", rx.el.select(
                        rx.foreach(S.teams, lambda t: rx.el.option(t, value=t)),
                        value=S.fields["team"],
                        on_change=lambda v: S.set_field("team", v),
                        aria_label="Team",
                        style=NATIVE,
                    )),
                    _field("Time zone", rx.el.select(
                        *[rx.el.option(z, value=z) for z in ZONES],
                        value=S.fields["timezone"],
                        on_change=lambda v: S.set_field("timezone", v),
                        aria_label="Time zone",
                        style=NATIVE,
                    )),
                    spacing="3",
                    wrap="wrap",
                    width="100%",
                ),
                rx.foreach(S.layers, _layer),
                rx.button("Add a layer", on_click=S.add_layer, min_height="44px",
                          variant="soft"),
                _preview(),
                editor_review(S),
                spacing="4",
                width="100%",
            ),
        ),
        title="Schedule editor",
    )
