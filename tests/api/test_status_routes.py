"""Status pages over HTTP: who may read which page, the cache headers, and what never leaks.

The example organisation has a public page (`northwind-status`) and a private one
(`internal`); a `partners` page is added here. Status rows are inserted directly, as the status
writer leaves them.
"""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, event
from sqlalchemy.exc import OperationalError
from starlette.testclient import TestClient

from oncall.api.app import create_api
from oncall.config.configset import ConfigSet, Source
from oncall.config.diagnostics import Position
from oncall.config.models import StatusPage
from oncall.config.yamlsource import Document
from oncall.db.engine import write_session
from oncall.db.models import StatusPageComponentRow, StatusPageNoticeRow
from oncall.reconcile.apply import Origin, apply_config
from oncall.settings import Settings
from oncall.testing import incidents
from oncall.web import auth

from .conftest import NOW, RESPONDER, Api, with_integrations

PUBLIC = "/status/northwind-status"
PRIVATE = "/status/internal"
PARTNERS = "/status/partners-status"
UNKNOWN = "/status/no-such-page"
DOCUMENTS = ["summary", "status", "components", "incidents", "incidents/unresolved",
             "scheduled-maintenances", "scheduled-maintenances/upcoming",
             "scheduled-maintenances/active"]
SECRET_TITLE = "Ledger drift on db-7.internal for card 4111-1111-1111-1111"
SECRET_LABEL = "customer-acme-corp"


@pytest.fixture
def status_engine(api_engine: Engine, example_config: ConfigSet) -> Engine:
    """The example organisation, plus a page for partners."""
    config = with_integrations(example_config)
    page = StatusPage.model_validate({
        "kind": "StatusPage", "name": "partners-status", "title": "Partner status",
        "visibility": "partners", "partners": ["@acme.example"],
        "components": [{"name": "Partner API", "services": ["checkout-api"]}]})
    config.add(page, Source(Document("rules/partners.yaml", None, Position(1, 1))))
    apply_config(api_engine, config,
                 Origin(actor="tests", source="tests", revision=None, now=NOW - timedelta(hours=1)))
    return api_engine


@pytest.fixture
def app(status_engine: Engine, make_api: Callable[..., Api]) -> Api:
    return make_api()


@pytest.fixture
def cookie(status_engine: Engine) -> str:
    """A signed-in responder's session cookie."""
    with write_session(status_engine) as session:
        user = auth.find_user(session, RESPONDER)
        assert user is not None
        token = auth.start_session(session, user, "local", NOW, hours=12)
    return f"{auth.SESSION_COOKIE}={token}"


def _get(app: Api, path: str, **headers: str) -> httpx.Response:
    return app.client.get(path, headers=headers)


def _comparable(response: httpx.Response, path: str) -> tuple[int, str, dict[str, str]]:
    """Status, body and headers, with the path asked for and the request id taken out."""
    headers = {k: v for k, v in response.headers.items() if k != "x-request-id"}
    headers.pop("content-length", None)
    return response.status_code, response.text.replace(path, "<path>"), headers


# --- public ---------------------------------------------------------------------------------------


def test_a_public_page_is_served_to_anyone(app: Api) -> None:
    response = _get(app, PUBLIC)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=5"
    assert response.headers["etag"].startswith('"')
    assert "default-src 'none'" in response.headers["content-security-policy"]
    for name in ("Website", "Search", "Checkout and payments", "Sign-in",
                 "All Systems Operational"):
        assert name in response.text


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_json_document_is_served_with_cors(app: Api, document: str) -> None:
    response = _get(app, f"{PUBLIC}/api/v2/{document}.json")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cache-control"] == "public, max-age=5"
    body = response.json()
    assert body["page"]["name"] == "Northwind Commerce status"
    if document == "summary":
        assert [c["name"] for c in body["components"]] == [
            "Website", "Search", "Checkout and payments", "Sign-in"]
        assert body["status"] == {"indicator": "none", "description": "All Systems Operational"}


def test_the_feed_is_atom(app: Api) -> None:
    response = _get(app, f"{PUBLIC}/feed.atom")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert ET.fromstring(response.content).tag == "{http://www.w3.org/2005/Atom}feed"


@pytest.mark.parametrize("path", [f"{PUBLIC}/api/v2/pages.json", f"{PUBLIC}/api/v2/../x.json",
                                  f"{PUBLIC}/api/v2/incidents/all.json"])
def test_an_unknown_document_is_404(app: Api, path: str) -> None:
    assert _get(app, path).status_code == 404


def test_etag_answers_304(app: Api) -> None:
    first = _get(app, f"{PUBLIC}/api/v2/summary.json")
    etag = first.headers["etag"]
    again = _get(app, f"{PUBLIC}/api/v2/summary.json", **{"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    assert _get(app, f"{PUBLIC}/api/v2/summary.json",
                **{"If-None-Match": '"other"'}).status_code == 200


def test_a_change_is_served_within_the_refresh_window(app: Api, status_engine: Engine) -> None:
    before = _get(app, f"{PUBLIC}/api/v2/status.json")
    assert before.json()["status"]["indicator"] == "none"
    with write_session(status_engine) as session:
        session.add(StatusPageComponentRow(
            page_name="northwind-status", component_name="Search", status="major_outage",
            computed_status="major_outage", updated_at=NOW))
    deadline = time.monotonic() + 5
    seen = []
    while time.monotonic() < deadline:
        response = _get(app, f"{PUBLIC}/api/v2/status.json")
        seen.append(response.json()["status"]["indicator"])
        if seen[-1] == "critical":
            break
        time.sleep(0.1)
    assert seen[0] == "none"  # the first reader after the change still gets the cached bytes
    assert seen[-1] == "critical", seen
    assert len(seen) <= 15  # about one refresh interval, not the whole 5 seconds
    assert _get(app, f"{PUBLIC}/api/v2/status.json",
                **{"If-None-Match": before.headers["etag"]}).status_code == 200


def test_incident_title_and_labels_never_reach_a_page(app: Api, status_engine: Engine,
                                                      cookie: str) -> None:
    with write_session(status_engine) as session:
        incidents.open_incident(session, service="checkout-api", title=SECRET_TITLE,
                                priority="P1", now=NOW - timedelta(minutes=5),
                                labels={"customer": SECRET_LABEL, "host": "db-7.internal"},
                                page=False)
        session.add(StatusPageComponentRow(
            page_name="northwind-status", component_name="Checkout and payments",
            status="major_outage", computed_status="major_outage", updated_at=NOW))
        session.add(StatusPageNoticeRow(
            page_name="northwind-status", title="Checkout is failing", body="Investigating.",
            status="investigating", impact="critical", components=["Checkout and payments"],
            created_at=NOW, updated_at=NOW))
    paths = [PUBLIC, f"{PUBLIC}/feed.atom", *(f"{PUBLIC}/api/v2/{d}.json" for d in DOCUMENTS)]
    for path in [*paths, PRIVATE, PARTNERS]:
        response = _get(app, path, Cookie=cookie)
        assert response.status_code == 200, path
        for secret in (SECRET_TITLE, "4111", SECRET_LABEL, "db-7"):
            assert secret not in response.text, (path, secret)
    summary = _get(app, f"{PUBLIC}/api/v2/summary.json").json()
    assert summary["status"]["indicator"] == "critical"
    assert [i["name"] for i in summary["incidents"]] == ["Checkout is failing"]
    assert "Major outage" in _get(app, PUBLIC).text


# --- private and partners -------------------------------------------------------------------


@pytest.mark.parametrize("page", [PRIVATE, PARTNERS])
@pytest.mark.parametrize("suffix", ["", "/feed.atom", "/api/v2/summary.json",
                                    "/api/v2/incidents/unresolved.json"])
def test_a_hidden_page_is_404_like_an_unknown_one(app: Api, page: str, suffix: str) -> None:
    unknown = _get(app, UNKNOWN + suffix)
    assert unknown.status_code == 404
    expected = _comparable(unknown, UNKNOWN)
    for headers in ({}, {"Cookie": f"{auth.SESSION_COOKIE}=forged-token"}):
        hidden = _get(app, page + suffix, **headers)
        assert _comparable(hidden, page) == expected


@pytest.mark.parametrize("page", [PRIVATE, PARTNERS])
def test_a_signed_in_session_reads_a_hidden_page(app: Api, cookie: str, page: str) -> None:
    response = _get(app, page, Cookie=cookie)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "private, no-store"
    assert response.headers["vary"] == "Cookie"
    summary = _get(app, f"{page}/api/v2/summary.json", Cookie=cookie)
    assert summary.status_code == 200
    assert "access-control-allow-origin" not in summary.headers
    assert summary.headers["cache-control"] == "private, no-store"
    if page == PRIVATE:
        assert "Kubernetes" in response.text
        names = [c["name"] for c in summary.json()["components"]]
        assert names == ["Kubernetes", "Order pipelines", "Recommendations"]
    assert _get(app, page).status_code == 404  # and the next anonymous reader still gets 404


def test_a_private_page_read_by_a_session_is_not_cached_for_others(
        app: Api, cookie: str) -> None:
    assert _get(app, f"{PRIVATE}/api/v2/summary.json", Cookie=cookie).status_code == 200
    anonymous = _get(app, f"{PRIVATE}/api/v2/summary.json")
    assert anonymous.status_code == 404
    assert "Kubernetes" not in anonymous.text


def test_an_expired_session_is_refused(app: Api, cookie: str) -> None:
    app.clock[0] = NOW + timedelta(hours=13)
    assert _get(app, PRIVATE, Cookie=cookie).status_code == 404


def test_the_routes_are_in_the_openapi_document(app: Api) -> None:
    doc = json.loads(_get(app, "/api/v1/openapi.json").text)
    assert {"/status/{name}", "/status/{name}/feed.atom",
            "/status/{name}/api/v2/{document}.json"} <= set(doc["paths"])


@pytest.mark.usefixtures("make_api")  # for its working directory
def test_a_fresh_public_page_costs_no_query(status_engine: Engine) -> None:
    """Readers within the refresh interval are answered from memory, not the database."""
    settings = Settings(database_url=str(status_engine.url))
    app = create_api(settings, status_engine, clock=lambda: NOW, config_recheck=60.0)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    with TestClient(app) as client:
        assert client.get(f"{PUBLIC}/api/v2/summary.json").status_code == 200
        event.listen(status_engine, "before_cursor_execute", count)
        try:
            for path in (PUBLIC, f"{PUBLIC}/feed.atom", f"{PUBLIC}/api/v2/summary.json"):
                assert client.get(path).status_code == 200
        finally:
            event.remove(status_engine, "before_cursor_execute", count)
    assert statements == []


def test_a_public_page_outlives_the_database(app: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _get(app, f"{PUBLIC}/api/v2/summary.json")
    ctx = app.app.state.ctx

    def down(*args: Any) -> None:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(ctx.process.configs, "get", down)
    time.sleep(1.1)  # past the refresh interval: the cache has to ask, and cannot
    during = _get(app, f"{PUBLIC}/api/v2/summary.json")
    assert during.status_code == 200 and during.content == before.content
    assert _get(app, PRIVATE).status_code == 503  # nothing held for a private page
