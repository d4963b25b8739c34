"""The dashboard of incidents: filters, counts, live list, actions."""
# Reflex state attributes read on the class are Vars, not their annotated Python types.
# mypy: disable-error-code="no-any-return, attr-defined, arg-type, operator"

from __future__ import annotations

import reflex as rx

from oncall.web.components import incident
from oncall.web.components.layout import page
from oncall.web.state.incidents import ANY, PRIORITY_CHOICES, STATUS_CHOICES, IncidentsState

S = IncidentsState


def _count(label: str, key: str) -> rx.Component:
    return rx.button(
        label,
        " ",
        rx.badge(S.counts[key], variant="solid", radius="full"),
        variant=rx.cond(S.status == key, "solid", "soft"),
        on_click=S.set_status_filter(key),
        size="2",
        id=f"count-{key}",
    )


def filters() -> rx.Component:
    return rx.flex(
        rx.select.root(
            rx.select.trigger(placeholder="Service"),
            rx.select.content(
                rx.select.item("Any service", value=ANY),
                rx.foreach(S.service_choices, lambda s: rx.select.item(s, value=s)),
            ),
            value=S.service,
            on_change=S.set_service_filter,
        ),
        rx.select.root(
            rx.select.trigger(placeholder="Team"),
            rx.select.content(
                rx.select.item("Any team", value=ANY),
                rx.foreach(S.team_choices, lambda s: rx.select.item(s, value=s)),
            ),
            value=S.team,
            on_change=S.set_team_filter,
        ),
        rx.select.root(
            rx.select.trigger(placeholder="Priority"),
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


def incidents_page() -> rx.Component:
    return page(
        rx.flex(
            *[_count(label.capitalize(), label) for label in STATUS_CHOICES],
            rx.spacer(),
            rx.cond(
                S.live,
                rx.badge("live", color_scheme="green", id="live-badge"),
                rx.badge("paused", color_scheme="gray"),
            ),
            spacing="2",
            wrap="wrap",
            align="center",
            width="100%",
        ),
        filters(),
        rx.cond(
            S.items.length() > 0,
            rx.vstack(
                rx.foreach(S.items, lambda item: incident.card(S, item, S.can_respond)),
                spacing="2",
                width="100%",
                id="incident-list",
            ),
            rx.text("No incidents match.", color="gray", id="no-incidents"),
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
        title="Incidents",
    )
