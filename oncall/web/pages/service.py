"""/services/NAME: one service, opened from a node of the dependency graph."""
# Reflex state attributes read on the class are Vars, not their annotated Python types.
# mypy: disable-error-code="no-any-return, attr-defined, arg-type, operator"

from __future__ import annotations

from typing import Any

import reflex as rx

from oncall.web.components.layout import page, status_badge
from oncall.web.state.service import ServiceState


def _deps(title: str, nodes: Any, id_: str) -> rx.Component:
    return rx.box(
        rx.heading(title, size="3", as_="h3"),
        rx.cond(
            nodes.length() > 0,
            rx.el.ul(
                rx.foreach(
                    nodes,
                    lambda n: rx.el.li(
                        rx.text(
                            "└ ",
                            rx.cond(n["href"] != "",
                                    rx.link(n["name"], href=n["href"], underline="always"),
                                    rx.text.span(n["name"])),
                            rx.text.span(" · ", n["status"], color_scheme="gray"),
                            size="2",
                        ),
                        padding_left=n["indent"],
                        list_style="none",
                    ),
                ),
                padding="0",
                margin="0",
            ),
            rx.text("none", size="2", color_scheme="gray"),
        ),
        id=id_,
        min_width="16em",
    )


def _incidents(title: str, rows: Any, id_: str, empty: str) -> rx.Component:
    return rx.box(
        rx.heading(title, size="3", as_="h3"),
        rx.cond(
            rows.length() > 0,
            rx.vstack(
                rx.foreach(
                    rows,
                    lambda i: rx.flex(
                        status_badge(i["status"]),
                        rx.badge(i["priority"], variant="outline", size="2"),
                        rx.link("#", i["id"], " ", i["title"], href=i["href"], underline="always"),
                        rx.text(i["at"], size="1", color_scheme="gray"),
                        rx.cond(i["status"] != "resolved",
                                rx.link("blast radius", href=i["blast"], size="1",
                                        underline="always")),
                        spacing="2",
                        align="center",
                        wrap="wrap",
                        class_name="service-incident",
                    ),
                ),
                spacing="2",
            ),
            rx.text(empty, size="2", color_scheme="gray"),
        ),
        id=id_,
        width="100%",
    )


def _found() -> rx.Component:
    S = ServiceState
    return rx.vstack(
        rx.flex(
            rx.heading(S.service_name, size="5", as_="h2"),
            rx.box(
                rx.text(S.info["status"], size="2", weight="bold"),
                background=S.info["fill"],
                color=S.info["font"],
                border="1px solid #1f2328",
                border_radius="4px",
                padding="0 0.5em",
                id="service-status",
            ),
            spacing="3",
            align="center",
            wrap="wrap",
        ),
        rx.text(S.info["description"], size="2"),
        rx.text(
            "Owner ", rx.text.strong(S.info["team"], id="service-team"),
            " · escalation policy ", rx.text.strong(S.info["policy"], id="service-policy"),
            " · urgency ", S.info["urgency"],
            size="2",
        ),
        rx.card(
            rx.flex(
                _deps("Depends on (upstream)", S.upstream, "service-upstream"),
                _deps("Used by (downstream)", S.downstream, "service-downstream"),
                spacing="5",
                wrap="wrap",
            ),
            width="100%",
        ),
        rx.card(
            rx.vstack(
                _incidents("Open incidents", S.open_incidents, "service-open",
                           "No open incidents."),
                _incidents("Recently resolved", S.recent_incidents, "service-recent",
                           "Nothing resolved yet."),
                spacing="4",
                width="100%",
            ),
            width="100%",
        ),
        rx.card(
            rx.heading("Integrations", size="3", as_="h3"),
            rx.cond(
                S.integrations.length() > 0,
                rx.el.ul(
                    rx.foreach(
                        S.integrations,
                        lambda i: rx.el.li(
                            rx.text(rx.code(i["name"]), " (", i["type"], ") ",
                                    i["description"], size="2"),
                        ),
                    ),
                    id="service-integrations",
                ),
                rx.text("No integrations send alerts to this service.", size="2",
                        color_scheme="gray"),
            ),
            width="100%",
        ),
        rx.link("All services and the dependency graph", href="/services", size="2"),
        spacing="3",
        width="100%",
    )


def service_page() -> rx.Component:
    S = ServiceState
    return page(
        rx.cond(
            S.found,
            _found(),
            rx.cond(
                S.service_name != "",
                rx.callout(
                    rx.text("No service named ", rx.code(S.service_name),
                            " in the applied config."),
                    color_scheme="amber",
                    id="service-missing",
                ),
            ),
        ),
        title="Service",
    )
