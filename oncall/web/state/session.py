"""The signed-in person, checked against the sessions table before every event of every page.

The session token never enters state that is sent to the browser: it is read from the Cookie
header of the websocket handshake (HttpOnly, so page scripts cannot read it either).

One guard for every event handler: `SessionState` wraps each event handler function of itself
and of every state derived from it (handlers defined on the class, copied from mixins, `setvar`)
as Reflex creates the handler, so a handler added later cannot skip the check. Before the handler
runs, the guard reads the session cookie and looks it up in the sessions table; without a live
session the handler does not run, every page state of the browser is reset to its defaults (no
incident, person or schedule data stays in it) and the browser is sent to the sign-in page.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

import reflex as rx
from redis.exceptions import RedisError
from reflex.state import EventHandlerSetVar, _override_base_method
from reflex_base.event import EventHandler
from sqlalchemy.orm import Session

from oncall.api import throttle
from oncall.core.ratelimit import Limit
from oncall.core.tokens import hash_token
from oncall.db.engine import write_session
from oncall.incidents.actors import Actor, Forbidden
from oncall.web import auth, context
from oncall.web.auth import SignedIn
from oncall.web.format import zone

log = logging.getLogger(__name__)

T = TypeVar("T")
TZ_SCRIPT = "Intl.DateTimeFormat().resolvedOptions().timeZone"
GUARD_MARK = "__oncall_session_guard__"
"""Set on every guarded handler function; the class check in the tests looks for it."""

_checked: ContextVar[tuple[str, SignedIn] | None] = ContextVar("oncall_checked", default=None)
"""The session the guard found for the event running now (keyed by the Cookie header), so the
handler's own `_signed()` / `_actor()` do not look it up again within the same event."""


class NotSignedIn(Exception):
    pass


class Throttled(Exception):
    """The session sent more events than its rate limit allows: the event is dropped."""


def _within_limit(session: Session, token: str) -> None:
    """One event of the session against its bucket (`Organization.rate_limits.sessions`,
    shared by every web process); over it, `Throttled`. Buckets out of reach: let through."""
    ctx = context.current()
    spec = throttle.limits_of(ctx.config(session)).sessions
    key = f"session:{hash_token(token)[:32]}"
    try:
        decision = ctx.limits().take(key, Limit(spec.per_second, spec.burst),
                                     ctx.now().timestamp(), conn=session.connection())
    except RedisError as exc:
        log.warning("rate limit of a web session not checked: %s", exc)
        return
    if not decision.allowed:
        log.warning("web session over its rate limit: an event was dropped")
        raise Throttled()


def _slow_down() -> Any:
    """What a dropped event answers: a note in the browser's console, nothing else."""
    return rx.console_log("oncall: too many actions at once; this one was dropped")


def _login_redirect(state: Any) -> Any:
    path = state.router.url.path or "/"
    return rx.redirect(f"/login?next={path}")


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn`, an event handler of a SessionState, run only for a live session."""
    if getattr(fn, GUARD_MARK, False):
        return fn
    if inspect.isasyncgenfunction(fn):

        @functools.wraps(fn)
        async def run_async_gen(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                who = await asyncio.to_thread(self._lookup, True)
            except Throttled:
                yield _slow_down()
                return
            if who is None:
                async with self:
                    self._forget()
                yield _login_redirect(self)
                return
            async for event in fn(self, *args, **kwargs):
                yield event

        wrapper: Callable[..., Any] = run_async_gen
    elif inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def run_async(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                who = await asyncio.to_thread(self._lookup, True)
            except Throttled:
                return _slow_down()
            if who is None:
                async with self:
                    self._forget()
                return _login_redirect(self)
            return await fn(self, *args, **kwargs)

        wrapper = run_async
    elif inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def run_gen(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                who = self._lookup(True)
            except Throttled:
                yield _slow_down()
                return
            if who is None:
                self._forget()
                yield _login_redirect(self)
                return
            yield from fn(self, *args, **kwargs)

        wrapper = run_gen
    else:

        @functools.wraps(fn)
        def run(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                who = self._lookup(True)
            except Throttled:
                return _slow_down()
            if who is None:
                self._forget()
                return _login_redirect(self)
            token = _checked.set((self._cookie_header(), who))
            try:
                return fn(self, *args, **kwargs)
            finally:
                _checked.reset(token)

        wrapper = run
    setattr(wrapper, GUARD_MARK, True)
    return wrapper


class _GuardedSetVar(EventHandlerSetVar):
    """`setvar`, behind the session guard like every other handler of a SessionState."""

    setvar = guarded(EventHandlerSetVar.setvar)  # type: ignore[assignment]


class SessionState(rx.State):
    user_email: str = ""
    user_name: str = ""
    roles_text: str = ""
    is_admin: bool = False
    is_platform_admin: bool = False
    _team_roles: dict[str, str] = {}  # noqa: RUF012 - backend only: what hides buttons
    _platform_admin: bool = False
    _user_id: int | None = None
    can_respond: bool = False
    tz: str = "UTC"
    tz_known: bool = False
    error: str = ""
    notice: str = ""

    # --- the guard: every event handler of this state and its substates is wrapped ---------

    @classmethod
    @_override_base_method
    def _create_event_handler(
        cls, fn: Any, event_handler_cls: type[EventHandler] = EventHandler
    ) -> EventHandler:
        handler: EventHandler = super()._create_event_handler(guarded(fn), event_handler_cls)
        return handler

    @classmethod
    @_override_base_method
    def _create_setvar(cls) -> None:
        cls.setvar = cls.event_handlers["setvar"] = _GuardedSetVar(state_cls=cls)

    def _cookie_header(self) -> str:
        return self.router.headers.cookie or ""

    def _lookup(self, counted: bool = False) -> SignedIn | None:
        """The session of the Cookie header, read from the sessions table now. `counted`: this
        is the guard before an event, which takes one from the session's rate limit (raising
        `Throttled` over it); the handler's own look-ups are not counted again."""
        token = auth.cookie_token(self._cookie_header())
        if token is None:
            return None
        with write_session(context.engine()) as session:
            who = auth.signed_in(session, token, context.now())
            if who is not None and counted:
                _within_limit(session, token)
            return who

    def _session_alive(self) -> bool:
        return self._lookup() is not None

    def _forget(self) -> None:
        """No session: every page state of this browser back to its defaults (the signed-in
        person, incident lists, e-mail addresses, schedules), not only the one of this event."""
        top: Any = self
        while top.__class__ is not SessionState and top.parent_state is not None:
            top = top.parent_state
        top.reset()

    def _signed(self) -> SignedIn | None:
        checked = _checked.get()
        if checked is not None and checked[0] == self._cookie_header():
            return checked[1]
        return self._lookup()

    def _remember(self, who: SignedIn) -> None:
        self.user_email = who.email
        self.user_name = who.name or who.email
        self.roles_text = ", ".join(f"{role} of {team}" for team, role in sorted(who.roles.items()))
        self.is_admin = who.is_admin
        self.is_platform_admin = who.platform_admin
        self.can_respond = who.can_respond
        self._team_roles, self._platform_admin = dict(who.roles), who.platform_admin
        self._user_id = who.user_id
        if who.time_zone and self.tz == "UTC":
            self.tz = who.time_zone

    def _remembered_actor(self) -> Actor | None:
        """The signed-in person as last checked, without reading the session again: for
        showing or hiding buttons on a refresh; every change still goes through `_actor`."""
        if not self.user_email:
            return None
        return Actor("user", self.user_email, dict(self._team_roles), user_id=self._user_id,
                     via="web", platform_admin=self._platform_admin)

    def _actor(self) -> Actor:
        """The acting person, checked for this event: a revoked or expired session acts as no
        one."""
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
        """The on_load step: remembers who is signed in, or sends them to the sign-in page."""
        who = self._signed()
        if who is None:
            self.user_email = ""
            return _login_redirect(self)
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
