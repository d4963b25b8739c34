"""The signed-in person, checked against the sessions table on every page load and action.

The session token never enters state that is sent to the browser: it is read from the Cookie
header of the websocket handshake (HttpOnly, so page scripts cannot read it either).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import reflex as rx

from oncall.db.engine import write_session
from oncall.incidents.actors import Actor, Forbidden
from oncall.web import auth, context
from oncall.web.auth import SignedIn
from oncall.web.format import zone

T = TypeVar("T")
TZ_SCRIPT = "Intl.DateTimeFormat().resolvedOptions().timeZone"


class NotSignedIn(Exception):
    pass


class SessionState(rx.State):
    user_email: str = ""
    user_name: str = ""
    roles_text: str = ""
    is_admin: bool = False
    can_respond: bool = False
    tz: str = "UTC"
    tz_known: bool = False
    error: str = ""
    notice: str = ""

    def _cookie_header(self) -> str:
        return self.router.headers.cookie or ""

    def _signed(self) -> SignedIn | None:
        token = auth.cookie_token(self._cookie_header())
        if token is None:
            return None
        with write_session(context.engine()) as session:
            return auth.signed_in(session, token, context.now())

    def _remember(self, who: SignedIn) -> None:
        self.user_email = who.email
        self.user_name = who.name or who.email
        self.roles_text = ", ".join(f"{role} of {team}" for team, role in sorted(who.roles.items()))
        self.is_admin = who.is_admin
        self.can_respond = who.can_respond
        if who.time_zone and self.tz == "UTC":
            self.tz = who.time_zone

    def _actor(self) -> Actor:
        """The acting person, re-checked now: a revoked or expired session acts as no one."""
        who = self._signed()
        if who is None:
            self.user_email = ""
            raise NotSignedIn()
        self._remember(who)
        return who.actor()

    def _act(self, action: Callable[[Actor], T]) -> T | None:
        """Run a change as the signed-in person; refusals become the page's error message."""
        self.error = ""
        self.notice = ""
        try:
            return action(self._actor())
        except NotSignedIn:
            self.error = "Your session has ended: sign in again."
        except Forbidden as exc:
            self.error = str(exc)
        except (LookupError, ValueError) as exc:
            self.error = str(exc)
        return None

    def _require(self) -> Any:
        """The on_load guard: remembers who is signed in, or sends them to the sign-in page."""
        who = self._signed()
        if who is None:
            self.user_email = ""
            path = self.router.url.path or "/"
            return rx.redirect(f"/login?next={path}")
        self._remember(who)
        return None

    def _ask_tz(self, callback: Any) -> Any:
        """Ask the browser for its zone once per session; `callback` re-renders in that zone."""
        if self.tz_known:
            return None
        return rx.call_script(TZ_SCRIPT, callback=callback)

    def _take_tz(self, tz: Any) -> None:
        self.tz_known = True
        if isinstance(tz, str) and tz:
            self.tz = zone(tz).key

    @rx.event
    def check_login(self) -> Any:
        return self._require()

    @rx.event
    def dismiss(self) -> None:
        self.error = ""
        self.notice = ""

    @rx.event
    def sign_out(self) -> Any:
        token = auth.cookie_token(self._cookie_header())
        if token is not None:
            with write_session(context.engine()) as session:
                auth.end_session(session, token, context.now())
        self.user_email = ""
        return rx.redirect("/login")
