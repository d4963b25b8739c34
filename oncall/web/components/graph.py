"""The dependency graph on /services: controls, legend, blast radius and the drawing."""
# Reflex state attributes read on the class are Vars, not their annotated Python types.
# mypy: disable-error-code="no-any-return, attr-defined, arg-type, operator"

from __future__ import annotations

from typing import Any

import reflex as rx

from oncall.web.state.services import ServicesState

GRAPH_CSS: dict[str, Any] = {
    "& svg": {"width": "var(--graph-width)", "height": "auto", "max_width": "none",
              "display": "block"},
    "& svg a:focus": {"outline": "3px solid #1d4ed8"},
}


def _legend_entry(e: Any) -> rx.Component:
    return rx.flex(
        rx.box(
            rx.text(e["status"], size="1", weight="bold"),
            background=e["fill"],
            color=e["font"],
            border="1px solid #1f2328",
            border_radius="4px",
            padding="0 0.4em",
        ),
        rx.text(e["words"], size="1"),
        spacing="1",
        align="center",
        class_name="legend-entry",
    )


def _controls() -> rx.Component:
    S = ServicesState
    return rx.flex(
        rx.flex(
            rx.text("Team", as_="label", html_for="graph-team", size="2"),
            rx.select.root(
                rx.select.trigger(id="graph-team", aria_label="Team"),
                rx.select.content(rx.foreach(S.teams, lambda t: rx.select.item(t, value=t))),
                value=S.team_filter,
                on_change=S.set_team_filter,
            ),
            spacing="2",
            align="center",
        ),
        rx.flex(
            rx.button("−", on_click=S.zoom_out, variant="soft", id="zoom-out",
                      aria_label="Zoom out", min_height="44px", min_width="44px"),
            rx.text(S.zoom, "%", size="2", id="zoom-level", aria_live="polite",
                    min_width="3.5em", text_align="center"),
            rx.button("+", on_click=S.zoom_in, variant="soft", id="zoom-in",
                      aria_label="Zoom in", min_height="44px", min_width="44px"),
            rx.button("Reset zoom", on_click=S.zoom_reset, variant="outline", id="zoom-reset",
                      min_height="44px"),
            spacing="2",
            align="center",
        ),
        spacing="4",
        wrap="wrap",
        align="center",
    )


def _focus() -> rx.Component:
    S = ServicesState
    return rx.fragment(
        rx.cond(
            S.focus_text != "",
            rx.callout(
                rx.vstack(
                    rx.text(S.focus_text),
                    rx.text(
                        S.focus_services.length(), " service(s) affected: ",
                        S.focus_services.join(", "),
                        size="2",
                    ),
                    rx.link("Show the whole graph", href="/services", size="2"),
                    spacing="1",
                ),
                color_scheme="red",
                id="blast-radius",
            ),
        ),
        rx.cond(S.focus_error != "",
                rx.callout(S.focus_error, color_scheme="amber", id="blast-radius-error")),
    )


def dependency_graph() -> rx.Component:
    S = ServicesState
    return rx.card(
        rx.vstack(
            rx.heading("Dependencies", size="4", as_="h2"),
            rx.text("An arrow points from a service to what it depends on. "
                    "Select a service to open it.", size="2", color_scheme="gray"),
            _controls(),
            _focus(),
            rx.flex(rx.foreach(S.legend, _legend_entry), spacing="3", wrap="wrap",
                    id="graph-legend"),
            rx.cond(S.graph_error != "",
                    rx.callout(S.graph_error, color_scheme="red", id="graph-error")),
            rx.box(
                rx.html(S.graph_svg),
                id="dependency-graph",
                role="region",
                aria_label="Dependency graph (scrolls)",
                tab_index=0,
                overflow="auto",
                max_height="75vh",
                width="100%",
                border="1px solid var(--gray-6)",
                border_radius="6px",
                background="#ffffff",
                style={"--graph-width": S.svg_width, **GRAPH_CSS},
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )
