"""The frame of every signed-in page: navigation, who is signed in, messages."""
# Reflex state attributes read on the class are Vars, not their annotated Python types.
# mypy: disable-error-code="no-any-return, attr-defined, arg-type, operator"

from __future__ import annotations

import reflex as rx

from oncall.web.state.session import SessionState

NAV = [
    ("Incidents", "/"),
    ("On call", "/oncall"),
    ("Services", "/services"),
    ("Status pages", "/status-pages"),
    ("Postmortems", "/postmortems"),
    ("Reports", "/reports"),
    ("Config", "/config"),
    ("Profile", "/profile"),
]


def messages() -> rx.Component:
    return rx.fragment(
        rx.cond(
            SessionState.error != "",
            rx.callout(
                rx.hstack(
                    rx.text(SessionState.error, id="error-message"),
                    rx.spacer(),
                    rx.button("×", size="1", variant="ghost", on_click=SessionState.dismiss),
                    width="100%",
                ),
                color_scheme="red",
                role="alert",
                width="100%",
            ),
        ),
        rx.cond(
            SessionState.notice != "",
            rx.callout(
                rx.hstack(
                    rx.text(SessionState.notice, id="notice-message"),
                    rx.spacer(),
                    rx.button("×", size="1", variant="ghost", on_click=SessionState.dismiss),
                    width="100%",
                ),
                color_scheme="green",
                role="status",
                width="100%",
            ),
        ),
    )


def navbar() -> rx.Component:
    return rx.flex(
        rx.link(rx.heading("oncall", size="5"), href="/", underline="none"),
        rx.flex(
            *[rx.link(label, href=href, size="3", weight="medium") for label, href in NAV],
            spacing="3",
            wrap="wrap",
        ),
        rx.spacer(),
        rx.flex(
            rx.text(SessionState.user_name, size="2", id="signed-in-as"),
            rx.button(
                "Sign out", size="1", variant="soft", on_click=SessionState.sign_out, id="sign-out"
            ),
            spacing="2",
            align="center",
        ),
        spacing="4",
        align="center",
        wrap="wrap",
        padding="0.75em 1em",
        border_bottom="1px solid var(--gray-5)",
        width="100%",
    )


def page(*children: rx.Component, title: str) -> rx.Component:
    return rx.box(
        navbar(),
        rx.vstack(
            rx.heading(title, size="6"),
            messages(),
            *children,
            spacing="4",
            padding="1em",
            width="100%",
            max_width="1200px",
            margin="0 auto",
        ),
        width="100%",
    )


def status_badge(status: rx.Var[str]) -> rx.Component:
    return rx.badge(
        status,
        color_scheme=rx.match(
            status,
            ("triggered", "red"),
            ("acknowledged", "amber"),
            ("resolved", "green"),
            ("critical", "red"),
            ("degraded", "amber"),
            ("ok", "green"),
            ("maintenance", "blue"),
            "gray",
        ),
        size="2",
    )
