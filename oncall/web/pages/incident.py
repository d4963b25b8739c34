"""One incident as a responder's cockpit: status, roles and actions first, then the alerts,
who is on call, the timeline, and around it the runbooks, related incidents, the services
affected and the changes before it. On a phone the panels stack in that order; on a wide
screen the timeline has the left column and the context the right."""
# Reflex state attributes read on the class are Vars, not their annotated Python types.
# mypy: disable-error-code="no-any-return, attr-defined, arg-type, operator"

from __future__ import annotations

from typing import Any

import reflex as rx

from oncall.web.components import changes, cockpit, incident, runbooks, text
from oncall.web.components import timeline as timeline_view
from oncall.web.components.layout import page, status_badge
from oncall.web.pages.postmortems import incident_postmortems
from oncall.web.state.incident import IncidentState

S = IncidentState


def _roles() -> rx.Component:
    """Commander, scribe, communications: who holds each, and (for responders) take, assign,
    clear."""
    return rx.flex(
        rx.foreach(
            S.roles,
            lambda r: rx.flex(
                rx.text(
                    r["label"], ": ",
                    rx.cond(r["user"] != "", rx.text.strong(r["name"]),
                            rx.text.span("nobody", color_scheme="gray")),
                    size="2",
                    id="role-" + r["role"],
                ),
                rx.cond(
                    S.can_act,
                    rx.flex(
                        rx.cond(r["mine"] == "",
                                rx.button("Take", size="2", variant="soft", min_height="44px",
                                          on_click=S.take_role(r["role"]),
                                          id="take-" + r["role"])),
                        rx.button("Assign", size="2", variant="soft", min_height="44px",
                                  on_click=S.open_role(r["role"])),
                        rx.cond(r["user"] != "",
                                rx.button("Clear", size="2", variant="soft", color_scheme="gray",
                                          min_height="44px",
                                          on_click=S.clear_role(r["role"]))),
                        spacing="1",
                    ),
                ),
                spacing="2",
                align="center",
                wrap="wrap",
            ),
        ),
        spacing="3",
        wrap="wrap",
        id="incident-roles",
    )


def _role_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Assign ", S.role_dialog),
            rx.select(S.role_choices, value=S.role_user, on_change=S.set_role_user,
                      placeholder="Choose a person", width="100%",
                      custom_attrs={"aria-label": "Person for the role"}),
            rx.flex(
                rx.button("Cancel", variant="soft", color_scheme="gray", min_height="44px",
                          on_click=S.close_role),
                rx.button("Save", on_click=S.submit_role, min_height="44px", id="role-save"),
                spacing="2",
                justify="end",
                margin_top="1em",
            ),
            max_width="min(30em, 94vw)",
        ),
        open=S.role_dialog != "",
        on_open_change=lambda _open: S.close_role(),
    )


def _escalate(item: Any) -> rx.Component:
    return rx.cond(
        S.can_act & (item["status"] == "triggered"),
        rx.button("Escalate now", on_click=S.escalate_now, size="3", variant="soft",
                  color_scheme="red", min_height="44px", id="escalate-now"),
    )


_AREAS = rx.breakpoints(
    initial='"head" "alerts" "oncall" "timeline" "context"',
    md='"head oncall" "alerts context" "timeline context"',
)


def _area(name: str, *children: rx.Component) -> rx.Component:
    return rx.vstack(*children, spacing="3", width="100%", min_width="0", grid_area=name,
                     class_name=f"cockpit-{name}")


def _head(item: Any) -> rx.Component:
    return _area(
        "head",
        rx.flex(
            status_badge(item["status"]),
            rx.cond(item["priority"] != "", rx.badge(item["priority"], variant="outline",
                                                           high_contrast=True)),
            rx.heading("#", item["id"], " ", item["title"], size="5", id="incident-title"),
            rx.cond(S.live, rx.badge("live", color_scheme="green", high_contrast=True)),
            spacing="2",
            align="center",
            wrap="wrap",
        ),
        rx.text(
            "Service ",
            rx.link(item["service"], href="/services/" + item["service"], underline="always"),
            " (", rx.link("blast radius", href="/services?incident=" + item["id"],
                          underline="always"), ")",
            " · team ",
            item["team"],
            " · policy ",
            item["policy"],
            " · triggered ",
            item["triggered"],
            rx.cond(
                item["assignee"] != "", rx.text.span(" · assigned to ", item["assignee"])
            ),
            size="2",
            color_scheme="gray",
        ),
        rx.flex(incident.actions(S, item, S.can_act), _escalate(item), spacing="2",
                wrap="wrap", align="start"),
        _roles(),
        incident_postmortems(S),
        rx.cond(item["description"] != "", text.markdown(item["description"])),
        rx.cond(
            S.labels.length() > 0,
            rx.flex(
                rx.foreach(
                    S.labels,
                    lambda kv: rx.badge(kv["name"], "=", kv["value"], variant="surface"),
                ),
                spacing="1",
                wrap="wrap",
            ),
        ),
    )


def incident_page() -> rx.Component:
    item = S.incident
    return page(
        rx.cond(
            S.found,
            rx.box(
                _head(item),
                _area("alerts", rx.heading("Alerts", size="4"), cockpit.alerts(S)),
                _area("oncall", rx.heading("On call", size="4"), cockpit.oncall(S)),
                _area("timeline", rx.heading("Timeline", size="4"), timeline_view.section(S)),
                _area(
                    "context",
                    rx.heading("Runbooks", size="4"),
                    runbooks.listing(S),
                    runbooks.runs(S),
                    rx.heading("Related incidents", size="4"),
                    cockpit.related(S),
                    rx.heading("Services affected", size="4"),
                    cockpit.affected(S),
                    rx.heading("Changes before it triggered", size="4"),
                    changes.listing(S.changes,
                                    "No change events in the day before it triggered."),
                ),
                display="grid",
                grid_template_areas=_AREAS,
                grid_template_columns=rx.breakpoints(initial="minmax(0, 1fr)",
                                                     md="minmax(0, 2fr) minmax(0, 1fr)"),
                grid_template_rows=rx.breakpoints(initial="auto", md="auto auto 1fr"),
                gap="1.25em",
                align_items="start",
                width="100%",
                id="incident-cockpit",
            ),
            rx.text("No such incident.", color_scheme="gray"),
        ),
        incident.dialog(S, S.reassign_choices),
        _role_dialog(),
        runbooks.form(S),
        title="Incident",
    )
