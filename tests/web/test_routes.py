"""Sign-in, sign-out and iCal routes over HTTP (Starlette's TestClient, no browser)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from oncall.config.configset import ConfigSet
from oncall.db.engine import write_session
from oncall.db.models import (
    AuditEventRow,
    LocalAccountRow,
    SecretTokenRow,
    SessionRow,
    UserRow,
)
from oncall.incidents.actors import Actor
from oncall.incidents.people import actor_for_email
from oncall.reconcile.apply import Origin, apply_config
from oncall.schedules_service import create_feed_token
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
    from oncall.schedules_service import revoke_feed_token

    with write_session(web) as session:
        config = context.config(session)
        actor = _actor(session, RESPONDER)
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


def _actor(session: Session, email: str) -> Actor:
    found = actor_for_email(session, email, via="web")
    assert found is not None
    return found


def test_a_removed_users_feed_stops_after_apply(
    client: TestClient, web: Engine, example_config: ConfigSet
) -> None:
    """Issue 15 row 5: the iCal feed of someone removed from the config still answered 200."""
    with write_session(web) as session:
        actor = _actor(session, RESPONDER)
        config = context.config(session)
        token = create_feed_token(session, config, actor, f"person:{RESPONDER}", NOW)
    assert client.get(f"/ical/{token}.ics").status_code == 200
    out = ConfigSet(objects={k: dict(v) for k, v in example_config.objects.items()},
                    sources=dict(example_config.sources))
    team = example_config.teams["storefront"]
    out.objects["Team"]["storefront"] = team.model_copy(
        update={"members": [m for m in team.members if m.email != RESPONDER]}
    )
    apply_config(web, out, Origin(actor="tests", source="tests", revision="r2", now=NOW))
    assert client.get(f"/ical/{token}.ics").status_code == 404
    with Session(web) as session:
        row = session.scalar(select(SecretTokenRow).where(SecretTokenRow.purpose == "ical"))
        assert row is not None and row.revoked_at == NOW
        sessions = session.scalars(select(SessionRow.revoked_at)).all()
        assert all(r is not None for r in sessions)


def test_a_removed_users_feed_is_refused_even_before_revocation(
    client: TestClient, web: Engine
) -> None:
    with write_session(web) as session:
        actor = _actor(session, RESPONDER)
        config = context.config(session)
        token = create_feed_token(session, config, actor, f"person:{RESPONDER}", NOW)
        user = session.scalar(select(UserRow).where(UserRow.email == RESPONDER))
        assert user is not None
        user.in_config = False  # as the reconciler leaves a removed person
    assert client.get(f"/ical/{token}.ics").status_code == 404


def test_hammering_the_form_answers_429_with_retry_after(client: TestClient, web: Engine) -> None:
    """Issue 15 row 6 over HTTP: wrong passwords are throttled (429 + Retry-After), never a
    disabled account."""
    def attempt(password: str) -> Any:
        form = {"csrf": _csrf(client), "email": ADMIN, "password": password}
        return client.post("/auth/local", data=form)

    codes = [attempt("wrong password!!").status_code for _ in range(10)]
    assert codes == [401] * auth.ACCOUNT_ADDRESS_FREE + [429] * (10 - auth.ACCOUNT_ADDRESS_FREE)
    response = attempt(PASSWORD)
    assert response.status_code == 429
    assert 0 < int(response.headers["retry-after"]) <= 60
    assert "Too many failed sign-ins" in response.text
    with Session(web) as session:
        account = session.scalar(select(LocalAccountRow))
        assert account is not None and account.disabled_at is None
