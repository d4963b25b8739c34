"""Subscribing to status pages over HTTP: who may, what the answers give away (nothing), the
throttle, webhooks for signed-in people only, and the token links mailed to subscribers.

The example organisation has a public page taking email and webhooks (`northwind-status`), a
private one taking email (`internal`) and a partners page (`payment-partners`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from oncall.db.engine import write_session
from oncall.db.models import NotificationRow, StatusPageSubscriberRow
from oncall.web import auth

from .conftest import NOW, RESPONDER, Api

PUBLIC = "/status/northwind-status"
PRIVATE = "/status/internal"
PARTNERS = "/status/payment-partners"
UNKNOWN = "/status/no-such-page"
BASE_URL = "https://status.northwind.example"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def app(make_api: Callable[..., Api]) -> Api:
    return make_api(environ={"ONCALL_PUBLIC_URL": BASE_URL})


@pytest.fixture
def cookie(api_engine: Engine) -> str:
    """A signed-in responder's session cookie."""
    with write_session(api_engine) as session:
        user = auth.find_user(session, RESPONDER)
        assert user is not None
        token = auth.start_session(session, user, "local", NOW, hours=12)
    return f"{auth.SESSION_COOKIE}={token}"


def form(app: Api, page: str, body: str, **headers: str) -> httpx.Response:
    response: httpx.Response = app.client.post(f"{page}/subscribe", content=body,
                                               headers={**FORM, **headers})
    return response


def as_json(app: Api, page: str, body: Any, **headers: str) -> httpx.Response:
    response: httpx.Response = app.client.post(f"{page}/subscribe", json=body, headers=headers)
    return response


def subscribers(engine: Engine) -> list[StatusPageSubscriberRow]:
    with Session(engine) as session:
        return list(session.scalars(select(StatusPageSubscriberRow)
                                    .order_by(StatusPageSubscriberRow.id)))


def mails(engine: Engine) -> list[NotificationRow]:
    with Session(engine) as session:
        return list(session.scalars(select(NotificationRow).where(NotificationRow.kind == "mail")
                                    .order_by(NotificationRow.id)))


def _comparable(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.text


# --- subscribing -------------------------------------------------------------------------------


def test_the_form_queues_one_confirmation_and_says_the_same_every_time(app: Api) -> None:
    first = form(app, PUBLIC, "email=Reader%40example.org&component=Search")
    assert first.status_code == 202
    assert "Check your email" in first.text
    assert first.headers["cache-control"] == "no-store"
    (row,) = subscribers(app.engine)
    assert (row.address, row.components, row.confirmed_at) == (
        "reader@example.org", ["Search"], None)
    (mail,) = mails(app.engine)
    assert mail.address == "reader@example.org"
    confirm = f"{BASE_URL}{PUBLIC}/subscriptions/{row.token}/confirm"
    assert confirm in (mail.provider_data or {})["text"]
    # asked again at once, then confirmed and asked again: the same answer, no new mail
    again = form(app, PUBLIC, "email=reader%40example.org")
    assert _comparable(again) == _comparable(first)
    assert app.client.post(f"{PUBLIC}/subscriptions/{row.token}/confirm").status_code == 200
    confirmed = form(app, PUBLIC, "email=reader%40example.org")
    assert _comparable(confirmed) == _comparable(first)
    assert len(mails(app.engine)) == 1


def test_json_subscriptions_answer_the_same_for_new_and_confirmed_addresses(app: Api) -> None:
    new = as_json(app, PUBLIC, {"email": "new@example.org", "components": ["Website"]})
    assert new.status_code == 202 and new.json()["status"] == "pending"
    (row,) = subscribers(app.engine)
    app.client.post(f"{PUBLIC}/subscriptions/{row.token}/confirm")
    old = as_json(app, PUBLIC, {"email": "new@example.org"})
    assert _comparable(old) == _comparable(new)


@pytest.mark.parametrize(("page", "signed_in", "status"), [
    (PUBLIC, False, 202),
    (PRIVATE, False, 404),
    (PRIVATE, True, 202),
    (PARTNERS, False, 404),
    (UNKNOWN, False, 404),
    (UNKNOWN, True, 404),
])
def test_who_may_subscribe_follows_the_pages_visibility(app: Api, cookie: str, page: str,
                                                        signed_in: bool, status: int) -> None:
    headers = {"Cookie": cookie} if signed_in else {}
    response = form(app, page, "email=reader%40example.org", **headers)
    assert response.status_code == status
    if status == 404:  # exactly the answer of a page that does not exist
        unknown = form(app, UNKNOWN, "email=reader%40example.org", **headers)
        assert response.json()["detail"] == unknown.json()["detail"].replace(UNKNOWN, page)
        assert subscribers(app.engine) == []


@pytest.mark.parametrize(("body", "words"), [
    ("email=not-an-address", "is not an email address"),
    ("email=", "enter an email address"),
    ("email=r%40example.org&component=Kitchen", "has no component"),
])
def test_a_bad_form_is_answered_with_a_page_saying_why(app: Api, body: str, words: str
                                                      ) -> None:
    response = form(app, PUBLIC, body)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    assert words in response.text
    assert mails(app.engine) == []


@pytest.mark.parametrize(("body", "words"), [
    ({"email": "x"}, "is not an email address"),
    ({"email": "a@example.org", "url": "https://h.example"}, "either email or url"),
    ({"email": "a@example.org", "components": "Search"}, "components"),
    ([], "JSON object"),
])
def test_a_bad_json_request_is_a_problem(app: Api, body: Any, words: str) -> None:
    response = as_json(app, PUBLIC, body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert words in response.json()["detail"]


def test_the_form_cannot_be_used_to_flood_a_mailbox(app: Api) -> None:
    answers = [form(app, PUBLIC, f"email=r{n}%40example.org").status_code for n in range(7)]
    assert answers == [202] * 5 + [429] * 2
    assert len(mails(app.engine)) == 5


def test_a_webhook_needs_a_signed_in_session_and_gets_its_secret_once(app: Api,
                                                                      cookie: str) -> None:
    body = {"url": "https://hooks.example/status", "components": ["Search"]}
    refused = as_json(app, PUBLIC, body)
    assert refused.status_code == 401
    assert subscribers(app.engine) == []
    done = as_json(app, PUBLIC, body, Cookie=cookie)
    assert done.status_code == 201, done.text
    answer = done.json()
    (row,) = subscribers(app.engine)
    assert answer["secret"] == row.secret and len(answer["secret"]) == 64
    assert answer["unsubscribe"] == f"{BASE_URL}{PUBLIC}/subscriptions/{row.token}/unsubscribe"
    assert (row.kind, row.created_by, row.confirmed_at is not None) == (
        "webhook", RESPONDER, True)
    assert done.headers["cache-control"] == "no-store"


def test_a_page_without_webhooks_refuses_one(app: Api, cookie: str) -> None:
    response = as_json(app, PRIVATE, {"url": "https://hooks.example/s"}, Cookie=cookie)
    assert response.status_code == 403
    assert "does not take webhook subscribers" in response.json()["detail"]


# --- the links in the mail ---------------------------------------------------------------------


def _token(app: Api, email: str = "reader@example.org", page: str = PUBLIC) -> str:
    form(app, page, f"email={email.replace('@', '%40')}")
    rows = [r for r in subscribers(app.engine) if r.address == email]
    return rows[-1].token


def test_opening_the_confirm_link_confirms_nothing_the_button_does(app: Api) -> None:
    token = _token(app)
    link = f"{PUBLIC}/subscriptions/{token}/confirm"
    shown = app.client.get(link)
    assert shown.status_code == 200 and "<form method='post'>" in shown.text
    assert shown.headers["referrer-policy"] == "no-referrer"
    assert subscribers(app.engine)[0].confirmed_at is None
    done = app.client.post(link)
    assert done.status_code == 200 and "Subscribed" in done.text
    assert subscribers(app.engine)[0].confirmed_at is not None


def test_one_click_unsubscribe_needs_no_further_step(app: Api) -> None:
    token = _token(app)
    app.client.post(f"{PUBLIC}/subscriptions/{token}/confirm")
    link = f"{PUBLIC}/subscriptions/{token}/unsubscribe"
    assert "<form method='post'>" in app.client.get(link).text
    assert subscribers(app.engine)[0].unsubscribed_at is None
    done = app.client.post(link, content="List-Unsubscribe=One-Click", headers=FORM)
    assert done.status_code == 200 and "Unsubscribed" in done.text
    assert subscribers(app.engine)[0].unsubscribed_at is not None
    assert app.client.post(link, content="List-Unsubscribe=One-Click",
                           headers=FORM).status_code == 200  # again: still fine


@pytest.mark.parametrize("action", ["confirm", "unsubscribe"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_an_unknown_or_another_pages_token_is_404(app: Api, action: str, method: str
                                                  ) -> None:
    token = _token(app)
    for path in (f"{PUBLIC}/subscriptions/not-a-token/{action}",
                 f"{PRIVATE}/subscriptions/{token}/{action}",
                 f"{UNKNOWN}/subscriptions/{token}/{action}"):
        assert app.client.request(method, path).status_code == 404, path
    row = subscribers(app.engine)[0]
    assert (row.confirmed_at, row.unsubscribed_at) == (None, None)
