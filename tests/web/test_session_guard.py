"""Every Reflex event handler of the app goes through the one session guard of `SessionState`.

Two checks by class, so that a new page or handler cannot skip the guard:
- a static one: every handler of every state class in the app either carries the guard or is on
  the short list of handlers that must work before sign-in (Reflex's own, and the sign-in page);
- a dynamic one: every guarded handler, called without a session, leaves every page state at its
  defaults (no incident rows, no e-mail addresses, no schedule) and sends the browser to sign in.
Both are shown to catch a handler added without the guard.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import reflex as rx
from reflex.state import BaseState
from reflex_base.registry import RegistrationContext
from sqlalchemy import Engine, select

import oncall.web.app  # noqa: F401 - registers every page's state
from oncall.web import context, queries
from oncall.web.pages.login import LoginState
from oncall.web.state.incidents import IncidentsState
from oncall.web.state.session import GUARD_MARK, SessionState

from .conftest import ADMIN, call

ANONYMOUS: dict[type[BaseState], set[str]] = {LoginState: {"load", "leave", "setvar"}}
"""Handlers outside the guard on purpose: the sign-in page works before sign-in."""
REFLEX_OWN = {"reflex.state", "reflex.istate.shared"}
"""Modules of Reflex's own states (a state class defined in a function moves to
`reflex.istate.dynamic`, which is checked like any other)."""


def all_states(root: type[BaseState] = rx.State) -> Iterator[type[BaseState]]:
    yield root
    for sub in sorted(root.get_substates(), key=lambda c: c.get_full_name()):
        yield from all_states(sub)


def is_guarded(cls: type[BaseState], name: str) -> bool:
    return bool(getattr(cls.event_handlers[name].fn, GUARD_MARK, False))


def unguarded(root: type[BaseState] = rx.State) -> list[str]:
    """Handlers that run without the session guard and are not on the anonymous list."""
    found = []
    for cls in all_states(root):
        if cls.__module__ in REFLEX_OWN:
            continue  # Reflex's own: hydration, on_load dispatch, client storage, errors
        for name in sorted(cls.event_handlers):
            if not is_guarded(cls, name) and name not in ANONYMOUS.get(cls, set()):
                found.append(f"{cls.__name__}.{name}")
    return found


def guarded_handlers() -> list[tuple[type[BaseState], str]]:
    return [
        (cls, name)
        for cls in all_states(SessionState)
        for name in sorted(cls.event_handlers)
        if is_guarded(cls, name)
    ]


ARGS: dict[str, Any] = {
    "kind": "reassign",
    "value": "all",
    "tz": "Europe/Berlin",
    "field": "who",
    "priority": "P1",
    "text": "x",
    "name": "storefront-web",
    "method_id": "1",
    "code": "123456",
    "override_id": "1",
    "feed_id": "1",
    "var_name": "status",
}


def arguments(fn: Callable[..., Any], incident_id: int) -> list[Any]:
    params = list(inspect.signature(fn).parameters.values())[1:]  # after self
    return [incident_id if p.name == "incident_id" else ARGS.get(p.name, "1") for p in params]


def run_handler(fn: Callable[..., Any], state: BaseState, args: list[Any]) -> Any:
    result = fn(state, *args)
    if inspect.iscoroutine(result):
        return asyncio.run(result)
    if inspect.isgenerator(result):
        return list(result)
    return result


def page_data(state: BaseState) -> dict[str, Any]:
    """Every var of every page state of the browser holding `state` (the session's subtree)."""
    root = state._get_root_state()
    found = {}
    for cls in all_states(SessionState):
        sub = root.get_substate(cls.get_full_name().split("."))
        for name in cls.base_vars:
            found[f"{cls.__name__}.{name}"] = getattr(sub, name)
    return found


def leaks(state_of: Callable[..., Any], cls: type[BaseState], fn: Any, iid: int) -> list[str]:
    """Vars that a handler, called without a session, left different from their defaults."""
    s = state_of(cls, None, "/incidents/1", {"incident_id": str(iid)})
    before = page_data(s)
    run_handler(fn, s, arguments(fn, iid))
    after = page_data(s)
    return sorted(k for k in after if after[k] != before[k])


def test_every_handler_of_every_state_is_guarded_or_meant_for_anonymous_use() -> None:
    assert unguarded() == []
    names = {f"{c.__name__}.{n}" for c, n in guarded_handlers()}
    # the handlers the security review called anonymously are among the guarded ones
    assert {
        "IncidentsState.set_status_filter",
        "IncidentsState.open_dialog",
        "IncidentsState.watch",
        "OnCallState.apply_tz",
        "ConfigState.set_kind_filter",
        "ProfileState.remove",
        "IncidentsState.setvar",
    } <= names


@pytest.mark.parametrize(
    ("cls", "name"),
    guarded_handlers(),
    ids=[f"{c.__name__}.{n}" for c, n in guarded_handlers()],
)
def test_each_guarded_handler_without_session_gives_no_data(
    state: Callable[..., Any],
    incident: Callable[..., int],
    web: Engine,
    cls: type[BaseState],
    name: str,
) -> None:
    iid = incident()
    s = state(cls, None, "/incidents/1", {"incident_id": str(iid)})
    fn = cls.event_handlers[name].fn
    result = run_handler(fn, s, arguments(fn, iid))
    assert "/login?next=" in str(result)
    assert leaks(state, cls, fn, iid) == []


def test_a_handler_without_the_guard_is_caught_by_both_checks(
    state: Callable[..., Any], incident: Callable[..., int], web: Engine
) -> None:
    iid = incident()
    # dynamic: the bare function under the guard fills the incident list and the e-mails
    bare = IncidentsState.event_handlers["set_status_filter"].fn.__wrapped__
    assert "IncidentsState.items" in leaks(state, IncidentsState, bare, iid)
    bare_dialog = IncidentsState.event_handlers["open_dialog"].fn.__wrapped__
    assert "IncidentsState.reassign_choices" in leaks(state, IncidentsState, bare_dialog, iid)
    # static: a new page state outside SessionState is reported by the walk over the app
    with throwaway_registry():

        class PeekState(rx.State):
            titles: list[str] = []  # noqa: RUF012

            @rx.event
            def peek(self) -> None:
                with context.read_session() as session:
                    found = queries.list_incidents(session, queries.IncidentFilter(status="all"))
                self.titles = [i.incident.title for i in found.items]

        name = PeekState.__name__  # PeekState, renamed by Reflex when defined again
        assert unguarded() == [f"{name}.peek", f"{name}.setvar"]
        s = state(PeekState, None)
        call(s, "peek")
        assert s.titles  # this is what the check prevents
    assert unguarded() == []


def test_a_new_page_state_is_guarded_without_doing_anything(
    state: Callable[..., Any], incident: Callable[..., int], web: Engine
) -> None:
    incident()
    with throwaway_registry():

        class NewPageState(SessionState):
            titles: list[str] = []  # noqa: RUF012

            @rx.event
            def peek(self) -> None:
                with context.read_session() as session:
                    found = queries.list_incidents(session, queries.IncidentFilter(status="all"))
                self.titles = [i.incident.title for i in found.items]

        assert unguarded() == []
        anonymous = state(NewPageState, None)
        assert "/login" in str(call(anonymous, "peek")) and anonymous.titles == []
        signed_in = state(NewPageState, ADMIN)
        call(signed_in, "peek")
        assert signed_in.titles == ["Checkout errors"]


def test_watch_stops_and_clears_the_page_when_the_session_ends(
    state: Callable[..., Any],
    incident: Callable[..., int],
    web: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from oncall.db.engine import write_session
    from oncall.db.models import SessionRow
    from oncall.web.state import live

    incident()
    s: IncidentsState = state(IncidentsState, ADMIN)
    call(s, "load")
    assert s.items
    monkeypatch.setattr(live, "POLL_SECONDS", 0.0)
    monkeypatch.setattr(live, "client_connected", lambda token: True)
    with write_session(web) as session:
        for row in session.scalars(select(SessionRow)):
            row.revoked_at = row.created_at
    # the loop passed the guard when it started; the revocation happens while it runs
    bare_watch = IncidentsState.event_handlers["watch"].fn.__wrapped__
    result = asyncio.run(asyncio.wait_for(bare_watch(s), timeout=10))
    assert "/login?next=/" in str(result)
    assert s.items == [] and s.counts == {} and not s.live and s.user_email == ""


@contextmanager
def throwaway_registry() -> Iterator[None]:
    """State classes defined inside are registered in a copy of Reflex's registry, dropped after."""
    token = RegistrationContext._context_var.set(RegistrationContext.get().fork())
    try:
        yield
    finally:
        RegistrationContext._context_var.reset(token)
