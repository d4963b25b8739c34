"""The sign-in page: single sign-on, or the break-glass form when SSO is down."""
# Reflex state attributes read on the class are Vars, not their annotated Python types.
# mypy: disable-error-code="no-any-return, attr-defined, arg-type, operator"

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import reflex as rx

from oncall.web import auth, context
from oncall.web.oidc import safe_next

SERVER_ROUTES = ("/auth/oidc/start", "/auth/local")


class LoginState(rx.State):
    oidc_enabled: bool = False
    message: str = ""
    next_path: str = "/"

    @rx.event
    def load(self) -> Any:
        params = self.router.url.query_parameters
        self.next_path = safe_next(params.get("next", "/"))
        self.message = params.get("error", "")[:300]
        self.oidc_enabled = context.web_settings().oidc_enabled
        token = auth.cookie_token(self.router.headers.cookie or "")
        if token:
            with context.read_session() as session:
                if auth.signed_in(session, token, context.now()) is not None:
                    return rx.redirect(self.next_path)
        return None

    @rx.event
    def leave(self, route: str) -> Any:
        """A full page load of a server route (the sign-in flows are not pages of the app)."""
        if route not in SERVER_ROUTES:
            return None
        target = f"{route}?next={quote(self.next_path, safe='/')}"
        return rx.call_script(f"window.location.assign({json.dumps(target)})")


def login_page() -> rx.Component:
    S = LoginState
    return rx.el.main(rx.center(
        rx.card(
            rx.vstack(
                rx.heading("oncall", size="7"),
                rx.text("Sign in to see and act on incidents.", color_scheme="gray"),
                rx.cond(
                    S.message != "",
                    rx.callout(S.message, color_scheme="red", id="login-error", width="100%"),
                ),
                rx.cond(
                    S.oidc_enabled,
                    rx.button(
                        "Sign in with single sign-on",
                        size="3",
                        width="100%",
                        on_click=S.leave("/auth/oidc/start"),
                        id="sso-sign-in",
                    ),
                    rx.text("Single sign-on is not configured.", size="2", color_scheme="gray"),
                ),
                rx.button(
                    "Break-glass sign-in",
                    variant="ghost",
                    color_scheme="red",
                    size="2",
                    on_click=S.leave("/auth/local"),
                    id="break-glass",
                ),
                spacing="4",
                width="100%",
                align="center",
            ),
            width="100%",
            max_width="380px",
        ),
        padding="2em 1em",
        min_height="80vh",
    ), id="main")
