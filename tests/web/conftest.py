"""Web app fixtures: the example organisation applied, people signed in, states without a browser.

Reflex states are instantiated directly (pytest is a Reflex testing environment): a root state
with its substates, whose router carries the Cookie header a websocket handshake would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

import pytest
import reflex as rx
from reflex.istate.data import RouterData
from sqlalchemy import Engine, select

from oncall.context import Context
from oncall.db.engine import write_session
from oncall.db.models import UserRow
from oncall.settings import Settings
from oncall.testing.incidents import open_incident
from oncall.web import auth, context
from oncall.web.settings import WebSettings

ADMIN = "lena.fischer@northwind.example"  # admin of storefront
RESPONDER = "samuel.osei@northwind.example"  # responder of storefront
OBSERVER = "ruby.chen@northwind.example"  # observer of storefront
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)

S = TypeVar("S", bound=rx.State)


class FakeQueue:
    """Stands in for the worker queue: counts the wakes."""

    def __init__(self) -> None:
        self.wakes = 0

    def kick_soon(self) -> None:
        self.wakes += 1


@pytest.fixture
def queue() -> FakeQueue:
    return FakeQueue()


@pytest.fixture
def web(applied_engine: Engine, queue: FakeQueue) -> Iterator[Engine]:
    url = applied_engine.url.render_as_string(hide_password=False)
    settings = Settings(database_url=url, web=WebSettings())
    context.install(Context(settings, applied_engine, clock=lambda: NOW, queue=queue))
    yield applied_engine


@pytest.fixture
def sign_in(web: Engine) -> Callable[[str], str]:
    def make(email: str) -> str:
        with write_session(web) as session:
            user = session.scalar(select(UserRow).where(UserRow.email == email))
            assert user is not None
            return auth.start_session(session, user, "oidc", NOW, 12)

    return make


@pytest.fixture
def state(sign_in: Callable[[str], str]) -> Callable[..., Any]:
    """`state(IncidentsState, ADMIN, path, params)`: a state as a signed-in browser has it."""

    def make(
        cls: type[S], email: str | None, path: str = "/", params: dict[str, str] | None = None
    ) -> S:
        root = rx.State(_reflex_internal_init=True)
        cookie = f"{auth.SESSION_COOKIE}={sign_in(email)}" if email else ""
        root.router = RouterData.from_router_data(
            {
                "headers": {"cookie": cookie, "origin": "http://testserver"},
                "pathname": path,
                "asPath": path + ("?" + urlencode(params) if params else ""),
                "query": dict(params or {}),
            }
        )
        found = root.get_substate(cls.get_full_name().split("."))
        assert isinstance(found, cls)
        return found

    return make


def call(state: rx.State, handler: str, *args: Any) -> Any:
    """Run an event handler the way Reflex does: the plain function on the state instance."""
    return type(state).event_handlers[handler].fn(state, *args)


@pytest.fixture
def incident(web: Engine) -> Callable[..., int]:
    def make(title: str = "Checkout errors", service_name: str = "storefront-web") -> int:
        with write_session(web) as session:
            return open_incident(session, service=service_name, title=title,
                                 labels={"env": "prod"}, now=NOW)

    return make
