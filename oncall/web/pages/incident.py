"""One incident: status, actions, runbooks and their runs, alerts, the full timeline."""
# Reflex state attributes read on the class are Vars, not their annotated Python types.
# mypy: disable-error-code="no-any-return, attr-defined, arg-type, operator"

from __future__ import annotations

import reflex as rx

from oncall.web.components import changes, incident, runbooks, text
from oncall.web.components.layout import page, status_badge
from oncall.web.pages.postmortems import incident_postmortems
from oncall.web.state.incident import IncidentState

S = IncidentState


def _timeline() -> rx.Component:
    return rx.vstack(
        rx.foreach(
            S.timeline,
            lambda t: rx.box(
                rx.text(t["at"], " · ", t["actor"], size="1", color="gray"),
                rx.cond(
                    t["is_note"] != "",
                    rx.box(text.markdown(t["text"]), class_name="timeline-note"),
                    rx.text(rx.text.strong(t["kind"]), " ", t["text"], size="2"),
                ),
                border_left="3px solid var(--accent-8)",
                padding_left="0.75em",
                width="100%",
                class_name="timeline-entry",
            ),
        ),
        spacing="2",
        width="100%",
        id="timeline",
    )


def _alerts() -> rx.Component:
    return rx.vstack(
        rx.foreach(
            S.alerts,
            lambda a: rx.card(
                rx.text(rx.text.strong(a["summary"])),
                rx.text(
                    a["integration"],
                    " · ",
                    a["status"],
                    " · ",
                    a["severity"],
                    " · ",
                    a["received"],
                    size="1",
                    color="gray",
                ),
                rx.cond(
                    a["source_url"] != "",
                    rx.link(a["source"], href=a["source_url"], size="1", is_external=True),
                    rx.cond(a["source"] != "", rx.text(a["source"], size="1", color="gray")),
                ),
                width="100%",
            ),
        ),
        spacing="2",
        width="100%",
    )


def incident_page() -> rx.Component:
    item = S.incident
    return page(
        rx.cond(
            S.found,
            rx.vstack(
                rx.flex(
                    status_badge(item["status"]),
                    rx.cond(item["priority"] != "", rx.badge(item["priority"], variant="outline")),
                    rx.heading("#", item["id"], " ", item["title"], size="5", id="incident-title"),
                    rx.cond(S.live, rx.badge("live", color_scheme="green")),
                    spacing="2",
                    align="center",
                    wrap="wrap",
                ),
                rx.text(
                    "Service ",
                    rx.link(item["service"], href="/services"),
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
                    color="gray",
                ),
                incident.actions(S, item, S.can_respond),
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
                rx.heading("Runbooks", size="4"),
                runbooks.listing(S),
                runbooks.runs(S),
                rx.heading("Alerts", size="4"),
                _alerts(),
                rx.heading("Changes before it triggered", size="4"),
                changes.listing(S.changes, "No change events in the day before it triggered."),
                rx.heading("Timeline", size="4"),
                _timeline(),
                spacing="3",
                width="100%",
            ),
            rx.text("No such incident.", color="gray"),
        ),
        incident.dialog(S, S.reassign_choices),
        runbooks.form(S),
        title="Incident",
    )
