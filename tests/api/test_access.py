"""Every HTTP route is in the access table, and every non-public route refuses an anonymous call.

The table (oncall/api/access.py) says which credential each (method, path) of the API and of the
web app's own routes requires. These tests walk both routers: a route missing from the table (or
a row naming no route) fails here, `create_api` refuses to build with one, and each listed route
is called with no credentials at all, expecting a refusal and none of the data behind it.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.testclient import TestClient

from oncall.api import access
from oncall.api.access import Access, UnlistedRoute
from oncall.api.app import ROUTE_MODULES, create_api
from oncall.db.engine import write_session
from oncall.db.models import IncidentRow
from oncall.settings import Settings
from oncall.testing import incidents
from oncall.web import context, routes
from oncall.web.settings import WebSettings

from .conftest import NOW

METRICS_TOKEN = "t" * 40
SECRET_TITLE = "Payments ledger drift: card 4111-1111-1111-1111"


def _api(engine: Engine, **context_fields: Any) -> Any:
    settings = Settings(database_url=str(engine.url), metrics_token=METRICS_TOKEN)
    return create_api(settings, engine, clock=lambda: NOW, config_recheck=0.0, **context_fields)


# --- the table covers every route, and nothing else ---------------------------------------------


def test_every_api_route_is_in_the_table(api_engine: Engine) -> None:
    app = _api(api_engine)
    served = set(access.route_keys(app.routes))
    assert access.unlisted(app.routes, access.API) == []
    assert served == set(access.API), "rows naming no route: " + str(set(access.API) - served)


def test_every_web_route_is_in_the_table() -> None:
    router = routes.router()
    served = set(access.route_keys(router.routes))
    assert access.unlisted(router.routes, access.WEB) == []
    assert served == set(access.WEB), "rows naming no route: " + str(set(access.WEB) - served)


def _debug_module(name: str, route: BaseRoute) -> Iterator[str]:
    module = types.ModuleType(name)
    module.routes = lambda ctx: [route]  # type: ignore[attr-defined]
    sys.modules[name] = module
    try:
        yield name
    finally:
        del sys.modules[name]


async def _dump(request: Request) -> Response:
    return JSONResponse({"everything": True})


@pytest.fixture
def unlisted_module() -> Iterator[str]:
    yield from _debug_module("tests_unlisted_debug_routes", Route("/api/v1/debug/dump", _dump))


def test_create_api_refuses_a_route_missing_from_the_table(
    api_engine: Engine, unlisted_module: str
) -> None:
    with pytest.raises(UnlistedRoute, match=r"GET /api/v1/debug/dump"):
        _api(api_engine, route_modules=[*ROUTE_MODULES, unlisted_module])
    _api(api_engine, route_modules=ROUTE_MODULES)  # the same app without it builds


def test_the_walk_finds_an_unlisted_route_wherever_it_hides() -> None:
    router = routes.router()
    assert access.unlisted(router.routes, access.WEB) == []
    router.routes.append(Route("/auth/debug", _dump, methods=["GET", "POST"]))
    router.routes.append(Mount("/admin", routes=[Route("/users", _dump)]))
    router.routes.append(WebSocketRoute("/live", _dump))
    router.routes.append(Route("/anything", _dump, methods=None))
    assert access.unlisted(router.routes, access.WEB) == [
        ("GET", "/auth/debug"),
        ("POST", "/auth/debug"),
        ("GET", "/admin/users"),
        ("WEBSOCKET", "/live"),
        ("GET", "/anything"),  # Starlette makes a function endpoint GET (and HEAD) by default
    ]
    with pytest.raises(UnlistedRoute, match="GET /auth/debug, POST /auth/debug"):
        access.require_listed(router.routes, access.WEB, "the web app")


def test_a_route_answering_every_method_is_caught() -> None:
    class AnyMethod(BaseRoute):
        path = "/catch-all"

    assert access.unlisted([AnyMethod()], access.API) == [("*", "/catch-all")]


# --- anonymous calls are refused ------------------------------------------------------------------

# What a call without any credential may get, by access class. Never 200 with data.
REFUSALS: dict[Access, set[int]] = {
    Access.INTEGRATION: {401, 403},
    Access.VENDOR_KEY: {400, 401},  # PagerDuty's "invalid event", Opsgenie's 401
    Access.HEARTBEAT: {401, 404},  # "prometheus-prod" is no heartbeat
    Access.API_KEY: {401},
    Access.SLACK_SIGNATURE: {401, 403, 404},
    Access.TWILIO_SIGNATURE: {401, 403, 404},
    Access.SIGNED_LINK: {401, 403, 404, 410},
    Access.FEED_TOKEN: {404},
    Access.METRICS_TOKEN: {401},
    Access.SIGN_IN: {303, 403},  # back to the sign-in page with an error, or a refused form
    Access.SESSION: {403},
    Access.PAGE_VISIBILITY: {404},  # "prometheus-prod" is no page: answered like a private one
    Access.SUBSCRIBER_TOKEN: {404},
    Access.PARTNER_SIGN_IN: {404},
    Access.PARTNER_LINK: {404},
}

PATH_VALUES = {
    "name": "prometheus-prod",
    "incident_id:int": "{incident}",
    "token": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "document:path": "summary",
    "postmortem_id:int": "1",
    "item_id:int": "1",
    "entry_key": "event:1",
    "identifier": "an-alias",
}


def _concrete(path: str, incident: int) -> str:
    for param, value in PATH_VALUES.items():
        path = path.replace("{" + param + "}", value.format(incident=incident))
    assert "{" not in path, path
    return path


def _call(client: TestClient, method: str, path: str) -> httpx.Response:
    if method == "GET":
        return client.get(path)
    body = '{"text": "hi", "assignee": "x@example.com", "priority": "P1", "alerts": []}'
    return client.request(method, path, content=body, headers={"Content-Type": "application/json"})


@pytest.fixture
def open_incident(api_engine: Engine) -> int:
    with write_session(api_engine) as session:
        return incidents.open_incident(
            session, service="checkout-api", group_key="secret", title=SECRET_TITLE,
            priority="P1", integration="prometheus-prod", now=NOW - timedelta(minutes=1))


def _assert_no_data(response: httpx.Response) -> None:
    body = response.text
    assert SECRET_TITLE not in body
    assert "@northwind.example" not in body
    assert "oncall_incidents" not in body
    assert "BEGIN:VCALENDAR" not in body


API_ROUTES = sorted(access.API.items())


@pytest.mark.parametrize(
    ("key", "rule"), API_ROUTES, ids=[f"{m} {p}" for (m, p), _ in API_ROUTES]
)
def test_an_anonymous_api_call_is_refused(
    api_engine: Engine,
    secrets_env: dict[str, str],
    open_incident: int,
    key: tuple[str, str],
    rule: Access,
) -> None:
    method, template = key
    environ = {
        **secrets_env,
        "ONCALL_SLACK_SIGNING_SECRET": "slack-signing-secret",
        "ONCALL_TWILIO_AUTH_TOKEN": "twilio-auth-token",
        "ONCALL_TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "ONCALL_PUBLIC_URL": "http://testserver",
    }
    with TestClient(_api(api_engine, environ=environ), raise_server_exceptions=False) as client:
        response = _call(client, method, _concrete(template, open_incident))
    if rule is Access.PUBLIC:
        assert response.status_code == 200
        return
    assert response.status_code in REFUSALS[rule], (response.status_code, response.text[:300])
    _assert_no_data(response)
    with write_session(api_engine) as session:  # and nothing changed
        incident = session.get(IncidentRow, open_incident)
        assert incident is not None and incident.status == "triggered"


WEB_ROUTES = sorted(access.WEB.items())


@pytest.mark.parametrize(
    ("key", "rule"), WEB_ROUTES, ids=[f"{m} {p}" for (m, p), _ in WEB_ROUTES]
)
def test_an_anonymous_web_call_is_refused(
    applied_engine: Engine, key: tuple[str, str], rule: Access
) -> None:
    context.use(engine=applied_engine, web=WebSettings(), clock=lambda: NOW)
    method, template = key
    client = TestClient(routes.router(), base_url="http://testserver", follow_redirects=False)
    response = _call(client, method, _concrete(template, 1))
    if rule is Access.PUBLIC:
        assert response.status_code in {200, 303}
        return
    assert response.status_code in REFUSALS[rule], (response.status_code, response.text[:300])
    if response.status_code == 303:
        assert response.headers["location"].startswith("/login?error=")
    assert "set-cookie" not in response.headers or "oncall_session=" not in str(
        response.headers.get_list("set-cookie")
    )
    _assert_no_data(response)


def test_every_access_class_in_use_has_an_anonymous_expectation() -> None:
    used = set(access.API.values()) | set(access.WEB.values())
    assert used - {Access.PUBLIC} <= set(REFUSALS)
