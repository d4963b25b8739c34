"""The frame of every page: the head links that make the app installable, and around each
signed-in page the navigation, who is signed in, messages."""
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
    ("Delivery", "/delivery"),
    ("Schedules", "/schedules"),
    ("This week", "/oncall/week"),
    ("Audit", "/audit"),
]
EDITORS = [
    ("New schedule", "/schedules/new"),
    ("New escalation policy", "/policies/new"),
    ("New workflow", "/workflows/new"),
]
"""The editors that write YAML for a pull request; editing an existing document starts from
its page (schedules, /config)."""
ADMIN_ONLY = frozenset({"/audit"})
"""NAV entries shown to platform admins only (the pages refuse everyone else as well)."""


def nav_link(label: str, href: str) -> rx.Component:
    link = rx.link(label, href=href, size="3", weight="medium")
    return rx.cond(SessionState.is_platform_admin, link) if href in ADMIN_ONLY else link


def editors_menu() -> rx.Component:
    """"Write config ▾": the editors, as links a keyboard reaches and a new tab can open."""
    return rx.menu.root(
        rx.menu.trigger(rx.button("Write config", rx.icon("chevron-down", size=14),
                                  variant="ghost", size="2", id="editors-menu")),
        rx.menu.content(*[
            rx.menu.item(rx.link(label, href=href, underline="none", color="inherit",
                                 width="100%"))
            for label, href in EDITORS
        ]),
    )


THEME_COLOR = "#3e63dd"
"""The indigo of the theme's accent, also the manifest's `theme_color`."""


def pwa_head() -> list[rx.Component]:
    """In every page's head: the web app manifest (assets/manifest.webmanifest) and icons, so
    the app can be installed and opened like a phone app (iOS reads the apple-* tags)."""
    return [
        rx.el.link(rel="manifest", href="/manifest.webmanifest"),
        rx.el.link(rel="icon", type="image/png", sizes="192x192", href="/icons/icon-192.png"),
        rx.el.link(rel="apple-touch-icon", sizes="180x180", href="/icons/apple-touch-icon.png"),
        rx.el.meta(name="theme-color", content=THEME_COLOR),
        rx.el.meta(name="mobile-web-app-capable", content="yes"),
        rx.el.meta(name="apple-mobile-web-app-capable", content="yes"),
        rx.el.meta(name="apple-mobile-web-app-title", content="oncall"),
        rx.el.meta(name="apple-mobile-web-app-status-bar-style", content="default"),
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
                high_contrast=True,  # green-11 on green-3 is under AA contrast
                role="status",
                width="100%",
            ),
        ),
    )


def navbar() -> rx.Component:
    return rx.flex(
        rx.link(rx.heading("oncall", size="5"), href="/", underline="none"),
        rx.el.nav(
            rx.flex(
                *[nav_link(label, href) for label, href in NAV],
                editors_menu(),
                spacing="3",
                align="center",
                wrap="wrap",
            ),
            aria_label="Main",
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


def skip_link() -> rx.Component:
    """The first thing Tab reaches: hidden until focused, it moves focus past the navigation
    to the page's `main` (focusable by its tabindex -1)."""
    return rx.el.a(
        "Skip to content",
        href="#main",
        # following a fragment link moves no focus in Chromium: focus main on the client
        on_click=rx.call_script("document.getElementById('main').focus()"),
        id="skip-link",
        position="absolute",
        left="-10000px",
        top="0.5em",
        z_index="1000",
        padding="0.75em 1em",
        background="var(--color-panel-solid)",
        color="var(--accent-12)",
        border="2px solid var(--accent-9)",
        border_radius="var(--radius-2)",
        _focus={"left": "0.5em"},
    )


FOCUS_RING = {"outline": "3px solid var(--focus-8)", "outline_offset": "2px"}
"""Radix Themes' own focus colour, for elements it does not style (focused cards, main)."""


def page(*children: rx.Component, title: str) -> rx.Component:
    return rx.box(
        skip_link(),
        rx.el.header(navbar()),
        rx.el.main(
            rx.vstack(
                rx.heading(title, size="6", as_="h1"),
                messages(),
                *children,
                spacing="4",
                padding="1em",
                width="100%",
                max_width="1200px",
                margin="0 auto",
            ),
            id="main",
            tab_index=-1,
            _focus={"outline": "none"},
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
        high_contrast=True,  # soft green and amber text is below AA contrast otherwise
        size="2",
    )
