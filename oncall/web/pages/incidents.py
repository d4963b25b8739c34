"""The dashboard of incidents: filters, counts, live list, actions, declaring an incident."""
# Reflex state attributes read on the class are Vars, not their annotated Python types.
# mypy: disable-error-code="no-any-return, attr-defined, arg-type, operator"

from __future__ import annotations

from typing import Any

import reflex as rx

from oncall.web.components import incident
from oncall.web.components.layout import page
from oncall.web.state.incidents import ANY, PRIORITY_CHOICES, STATUS_CHOICES, IncidentsState

S = IncidentsState


def _count(label: str, key: str) -> rx.Component:
    return rx.button(
        label,
        " ",
        rx.badge(S.counts[key], variant="solid", radius="full", high_contrast=True),
        variant=rx.cond(S.status == key, "solid", "soft"),
        on_click=S.set_status_filter(key),
        size="2",
        id=f"count-{key}",
    )


def filters() -> rx.Component:
    return rx.flex(
        rx.select.root(
            rx.select.trigger(placeholder="Service", aria_label="Service filter"),
            rx.select.content(
                rx.select.item("Any service", value=ANY),
                rx.foreach(S.service_choices, lambda s: rx.select.item(s, value=s)),
            ),
            value=S.service,
            on_change=S.set_service_filter,
        ),
        rx.select.root(
            rx.select.trigger(placeholder="Team", aria_label="Team filter"),
            rx.select.content(
                rx.select.item("Any team", value=ANY),
                rx.foreach(S.team_choices, lambda s: rx.select.item(s, value=s)),
            ),
            value=S.team,
            on_change=S.set_team_filter,
        ),
        rx.select.root(
            rx.select.trigger(placeholder="Priority", aria_label="Priority filter"),
            rx.select.content(
                rx.select.item("Any priority", value=ANY),
                *[rx.select.item(p, value=p) for p in PRIORITY_CHOICES],
            ),
            value=S.priority,
            on_change=S.set_priority_filter,
        ),
        rx.debounce_input(
            rx.input(
                placeholder="Search title or #id",
                aria_label="Search title or #id",
                value=S.text,
                on_change=S.set_text_filter,
                id="search",
            ),
            debounce_timeout=300,
        ),
        rx.button("Clear", variant="ghost", on_click=S.clear_filters),
        spacing="2",
        wrap="wrap",
        align="center",
    )


def _field(label: str, control: rx.Component) -> rx.Component:
    return rx.vstack(rx.text(label, size="2", weight="bold"), control, spacing="1",
                     width="100%")


def declare_dialog() -> rx.Component:
    """Declare an incident by hand: it pages the service's escalation policy at once."""
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Declare incident"),
            rx.dialog.description(
                "It pages the service's escalation policy now; you become its commander.",
                size="2", color_scheme="gray",
            ),
            rx.cond(
                S.declare_choices.length() > 0,
                rx.vstack(
                    _field("Service", rx.select(
                        S.declare_choices, value=S.declare_service,
                        on_change=lambda v: S.set_declare_field("service", v),
                        width="100%", id="declare-service",
                    )),
                    _field("Title", rx.input(
                        value=S.declare_title,
                        on_change=lambda v: S.set_declare_field("title", v),
                        placeholder="What is wrong, in a few words",
                        max_length=1024, width="100%", size="3", id="declare-title",
                    )),
                    _field("Priority", rx.select(
                        PRIORITY_CHOICES, value=S.declare_priority,
                        on_change=lambda v: S.set_declare_field("priority", v),
                        width="100%", id="declare-priority",
                    )),
                    _field("Description (optional, Markdown)", rx.text_area(
                        value=S.declare_description,
                        on_change=lambda v: S.set_declare_field("description", v),
                        rows="4", width="100%", id="declare-description",
                    )),
                    spacing="3",
                    width="100%",
                    margin_top="0.5em",
                ),
                rx.text("You are not a responder of any service's team.",
                        color_scheme="gray"),
            ),
            rx.cond(S.declare_error != "",
                    rx.callout(S.declare_error, color_scheme="red", margin_top="0.75em",
                               id="declare-error")),
            rx.flex(
                rx.button("Cancel", variant="soft", color_scheme="gray", size="3",
                          min_height="44px", on_click=S.close_declare),
                rx.button("Declare", on_click=S.submit_declare, size="3", color_scheme="red",
                          high_contrast=True,  # white on red-9 is under 4.5:1
                          min_height="44px",
                          disabled=S.declare_choices.length() == 0, id="declare-submit"),
                spacing="2",
                justify="end",
                margin_top="1em",
            ),
            max_width="min(34em, 94vw)",
        ),
        open=S.declaring,
        on_open_change=lambda _open: S.close_declare(),
    )


SHORTCUTS = [
    ("j", "focus the next incident"),
    ("k", "focus the previous incident"),
    ("Enter or o", "open the focused incident"),
    ("x", "select or unselect the focused incident"),
    ("a", "acknowledge the selection, or else the focused incident"),
    ("r", "resolve the selection, or else the focused incident"),
    ("?", "show this list"),
]
"""What assets/shortcuts.js does; each key presses one of the page's own buttons."""


def _select(item: Any) -> rx.Component:
    return rx.checkbox(
        checked=S.selected.contains(item["id"]),
        on_change=lambda _checked: S.toggle_selected(item["id"]),
        aria_label="Select incident #" + item["id"].to(str),
        size="3",
        class_name="select-incident",
    )


def bulk_bar() -> rx.Component:
    """Select all shown, and act on the selection: each incident is checked as one action."""
    return rx.flex(
        rx.flex(
            rx.checkbox("Select all shown", checked=S.all_shown_selected,
                        on_change=S.toggle_all_shown, size="3", id="select-all"),
            align="center", min_height="44px",
        ),
        rx.text(S.selected.length(), " selected", size="2", id="selected-count",
                aria_live="polite"),
        rx.button("Acknowledge selected", on_click=S.bulk_acknowledge, size="2",
                  color_scheme="amber", min_height="44px", disabled=S.selected.length() == 0,
                  id="bulk-ack"),
        rx.button("Resolve selected", on_click=S.open_bulk_resolve, size="2",
                  color_scheme="green", variant="soft", high_contrast=True, min_height="44px",
                  disabled=S.selected.length() == 0, id="bulk-resolve"),
        rx.button("Clear selection", on_click=S.clear_selection, size="2", variant="ghost",
                  min_height="44px", disabled=S.selected.length() == 0),
        spacing="3",
        wrap="wrap",
        align="center",
        id="bulk-bar",
        data_count=S.selected.length(),
    )


def bulk_resolve_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Resolve ", S.selected.length(), " incidents"),
            rx.dialog.description(
                "Each is resolved as if on its own; one you may not resolve is named, not "
                "skipped.", size="2", color_scheme="gray",
            ),
            rx.text_area(value=S.bulk_note, on_change=S.set_bulk_note,
                         placeholder="What fixed them? (optional)", rows="4", width="100%",
                         aria_label="Resolution note", id="bulk-note", margin_top="0.75em"),
            rx.flex(
                rx.button("Cancel", variant="soft", color_scheme="gray", size="3",
                          min_height="44px", on_click=S.close_bulk_resolve),
                rx.button("Resolve", on_click=S.bulk_resolve, size="3", color_scheme="green",
                          high_contrast=True, min_height="44px", id="bulk-resolve-save"),
                spacing="2",
                justify="end",
                margin_top="1em",
            ),
            max_width="min(30em, 94vw)",
        ),
        open=S.bulk_resolving,
        on_open_change=lambda _open: S.close_bulk_resolve(),
    )


def shortcuts_dialog() -> rx.Component:
    """The list of keyboard shortcuts; opened by its button or by "?" (no server round trip)."""
    return rx.dialog.root(
        rx.dialog.trigger(
            rx.button("Keyboard shortcuts", variant="soft", color_scheme="gray", size="2",
                      min_height="44px", id="shortcuts-open", aria_keyshortcuts="?"),
        ),
        rx.dialog.content(
            rx.dialog.title("Keyboard shortcuts"),
            rx.dialog.description("Not while typing in a field. Each key presses a button of "
                                  "this page.", size="2", color_scheme="gray"),
            rx.el.dl(
                *[rx.fragment(rx.el.dt(rx.code(key, size="3")), rx.el.dd(what))
                  for key, what in SHORTCUTS],
                id="shortcuts-list",
                style={"display": "grid", "grid_template_columns": "auto 1fr",
                       "gap": "0.5em 1em", "margin": "1em 0"},
            ),
            rx.flex(
                rx.dialog.close(rx.button("Close", size="3", min_height="44px",
                                          id="shortcuts-close")),
                justify="end",
            ),
            max_width="min(30em, 94vw)",
            id="shortcuts-dialog",
        ),
    )


def incidents_page() -> rx.Component:
    return page(
        rx.flex(
            *[_count(label.capitalize(), label) for label in STATUS_CHOICES],
            rx.spacer(),
            rx.cond(
                S.can_respond,
                rx.button("Declare incident", on_click=S.open_declare, size="2",
                          color_scheme="red", high_contrast=True, min_height="44px",
                          id="declare-open"),
            ),
            shortcuts_dialog(),
            rx.cond(
                S.live,
                rx.badge("live", color_scheme="green", high_contrast=True, id="live-badge"),
                rx.badge("paused", color_scheme="gray", high_contrast=True),
            ),
            spacing="2",
            wrap="wrap",
            align="center",
            width="100%",
        ),
        filters(),
        rx.cond(S.can_respond & (S.items.length() > 0), bulk_bar()),
        rx.cond(
            S.items.length() > 0,
            rx.vstack(
                rx.foreach(S.items, lambda item: incident.card(
                    S, item, item["can_act"] == "yes",
                    select=rx.cond(S.can_respond, _select(item)))),
                spacing="2",
                width="100%",
                id="incident-list",
            ),
            rx.text("No incidents match.", color_scheme="gray", id="no-incidents"),
        ),
        rx.flex(
            rx.button("← Newer", on_click=S.prev_page, disabled=S.page <= 1, variant="soft"),
            rx.text("Page ", S.page, " of ", S.pages, " · ", S.total, " incidents", size="2"),
            rx.button("Older →", on_click=S.next_page, disabled=S.page >= S.pages, variant="soft"),
            spacing="3",
            align="center",
            wrap="wrap",
        ),
        incident.dialog(S, S.reassign_choices),
        declare_dialog(),
        bulk_resolve_dialog(),
        rx.script(src="/shortcuts.js"),
        title="Incidents",
    )
