"""Delivery health: the window picker, the totals, and a row per channel and provider."""
# Reflex state attributes read on the class are Vars, not their annotated Python types.
# mypy: disable-error-code="no-any-return, attr-defined, arg-type, operator, call-overload"

from __future__ import annotations

from typing import Any

import reflex as rx

from oncall.web.components.layout import page
from oncall.web.state.delivery import DeliveryState as S

COLUMNS = [("Channel", "channel"), ("Provider", "provider"), ("Calls", "attempts"),
           ("Sent", "sent"), ("Failed", "failed"), ("Success", "success"), ("p50", "p50"),
           ("p95", "p95"), ("Retries", "retries"), ("Circuit", "circuit")]


def _figure(label: str, value: Any, element_id: str) -> rx.Component:
    return rx.card(
        rx.vstack(rx.text(label, size="1", color_scheme="gray"), rx.heading(value, size="5"),
                  spacing="1"),
        min_width="9em", id=element_id,
    )


def _circuit(value: Any) -> rx.Component:
    return rx.badge(value, color_scheme=rx.cond(value == "closed", "green", "red"),
        high_contrast=True)


def _table() -> rx.Component:
    return rx.box(
        rx.table.root(
            rx.table.header(rx.table.row(
                *[rx.table.column_header_cell(label) for label, _ in COLUMNS])),
            rx.table.body(rx.foreach(S.rows, lambda r: rx.table.row(
                *[rx.table.cell(_circuit(r[key]) if key == "circuit" else r[key])
                  for _, key in COLUMNS],
                class_name="delivery-row"))),
            width="100%", size="1",
        ),
        overflow_x="auto", width="100%", id="delivery-table", tab_index=0, role="region",
        aria_label="Delivery by channel",
    )


def delivery_page() -> rx.Component:
    return page(
        rx.flex(
            rx.select(S.windows, value=S.window, on_change=S.set_window, id="delivery-window",
                      custom_attrs={"aria-label": "Window"}),
            rx.text(S.period_text, size="2", color_scheme="gray"),
            spacing="3", align="center", wrap="wrap", width="100%",
        ),
        rx.flex(
            _figure("Provider calls", S.figures["attempts"], "delivery-attempts"),
            _figure("Success rate", S.figures["success"], "delivery-success"),
            _figure("Retries and failovers", S.figures["retries"], "delivery-retries"),
            _figure("Open circuits", S.figures["open_circuits"], "delivery-circuits"),
            spacing="3", wrap="wrap", width="100%",
        ),
        rx.cond(S.truncated,
                rx.text("Busier than the page reads: the figures are of the latest calls.",
                        size="2", color_scheme="orange")),
        rx.cond(
            S.rows.length() > 0,
            _table(),
            rx.text("No provider was called in this window.", size="2", color_scheme="gray",
                    id="delivery-empty"),
        ),
        rx.text("Retries count every call after a notification's first: retries after a "
                "failure and failovers to the next provider. Durations are of the provider "
                "call itself.", size="1", color_scheme="gray"),
        title="Delivery health",
    )
