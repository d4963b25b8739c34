"""Sign-in, sign-out and iCal routes over HTTP (Starlette's TestClient, no browser)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from oncall.db.engine import write_session
from oncall.db.models import AuditEventRow, SessionRow
from oncall.web import auth, context, routes
from oncall.web.settings import WebSettings

from .conftest import ADMIN, NOW, RESPONDER

PASSWORD = "correct horse battery staple"


@pytest.fixture
def client(web: Engine) -> TestClient:
    with write_session(web) as session:
        auth.create_local_account(session, ADMIN, PASSWORD, NOW)
    return TestClient(routes.router(), base_url="http://testserver", follow_redirects=False)


def _csrf(client: TestClient) -> str:
    page = client.get("/auth/local?next=/oncall")
    assert page.status_code == 200 and "Break-glass" in page.text
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def _audit(web: Engine, type: str) -> list[AuditEventRow]:
    with web.connect() as conn:
        return list(conn.execute(select(AuditEventRow).where(AuditEventRow.type == type)))  # type: ignore[arg-type]


def test_break_glass_sign_in_is_audited(client: TestClient, web: Engine) -> None:
    csrf = _csrf(client)
    response = client.post(
        "/auth/local", data={"csrf": csrf, "next": "/oncall", "email": ADMIN, "password": PASSWORD}
    )
    assert response.status_code == 303 and response.headers["location"] == "/oncall"
    cookie = response.headers["set-cookie"]
    assert "oncall_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    token = response.cookies[auth.SESSION_COOKIE]
    with write_session(web) as session:
        who = auth.signed_in(session, token, NOW)
        assert who is not None and who.email == ADMIN and who.auth_method == "local"
    [event] = _audit(web, auth.LOCAL_SIGN_IN)
    assert event.actor == f"user:{ADMIN}" and event.data["break_glass"] is True


def test_wrong_password_is_refused_and_audited(client: TestClient, web: Engine) -> None:
    csrf = _csrf(client)
    response = client.post(
        "/auth/local", data={"csrf": csrf, "email": ADMIN, "password": "wrong password!!"}
    )
    assert response.status_code == 401 and "Wrong email or password" in response.text
    assert len(_audit(web, auth.LOCAL_SIGN_IN_FAILED)) == 1
    with web.connect() as conn:
        assert conn.scalar(select(SessionRow.id)) is None


@pytest.mark.parametrize(
    ("csrf", "headers"),
    [("forged", {}), (None, {"origin": "https://evil.example"})],
)
def test_sign_in_without_matching_csrf_is_refused(
    client: TestClient, csrf: str | None, headers: dict[str, str]
) -> None:
    real = _csrf(client)
    response = client.post(
        "/auth/local",
        headers=headers,
        data={"csrf": csrf or real, "email": ADMIN, "password": PASSWORD},
    )
    assert response.status_code == 403


def test_sign_out_needs_the_session_csrf_token(
    client: TestClient, web: Engine, sign_in: Callable[[str], str]
) -> None:
    token = sign_in(RESPONDER)
    client.cookies.set(auth.SESSION_COOKIE, token)
    assert client.post("/auth/logout", data={"csrf": "nope"}).status_code == 403
    response = client.post("/auth/logout", data={"csrf": auth.csrf_token(token)})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    with write_session(web) as session:
        assert auth.signed_in(session, token, NOW) is None
    assert len(_audit(web, auth.SIGN_OUT)) == 1


def test_oidc_start_without_configuration(client: TestClient) -> None:
    response = client.get("/auth/oidc/start?next=/oncall")
    assert response.status_code == 303 and "not%20configured" in response.headers["location"]


def test_oidc_callback_without_pending_attempt(client: TestClient) -> None:
    context.use(web=WebSettings(oidc_issuer="http://127.0.0.1:1", oidc_client_id="oncall"))
    response = client.get("/auth/oidc/callback?code=x&state=y")
    assert response.status_code == 303 and "expired" in response.headers["location"]


def test_ical_feeds(client: TestClient, web: Engine) -> None:
    from oncall.incidents.actors import Actor
    from oncall.schedules_service import create_feed_token, revoke_feed_token

    with write_session(web) as session:
        config = context.config(session)
        actor = Actor("user", RESPONDER, {"storefront": "responder"}, None)
        schedule_token = create_feed_token(
            session, config, actor, "schedule:storefront-primary", NOW
        )
        person_token = create_feed_token(session, config, actor, f"person:{RESPONDER}", NOW)
    response = client.get(f"/ical/{schedule_token}.ics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    assert b"BEGIN:VCALENDAR" in response.content and b"storefront-primary" in response.content
    assert client.get(f"/ical/{person_token}.ics").status_code == 200
    assert client.get("/ical/unknown.ics").status_code == 404
    with write_session(web) as session:
        feed_id = session.scalar(
            select(AuditEventRow.data).where(AuditEventRow.type == "feed.token_created")
        )["id"]
        revoke_feed_token(session, actor, feed_id, NOW)
    assert client.get(f"/ical/{schedule_token}.ics").status_code == 404
