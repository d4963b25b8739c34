"""The key's own notification rules over the REST API, on SQLite and PostgreSQL: read with what a
page would do, replace per urgency in one checked transaction (422 naming each field, nothing
changed), and the test page through the outbox."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall import contacts
from oncall.core.notification_rules import Channel
from oncall.db.engine import write_session
from oncall.db.models import AuditEventRow, ContactMethodRow, NotificationRow
from oncall.incidents.people import actor_for_email
from oncall.notify.settings import ProviderSettings

from .conftest import NOW, OBSERVER, RESPONDER, Api

RULES = "/api/v1/users/me/notification-rules"
TEST_PAGE = "/api/v1/users/me/test-page"
PHONE = "+14155552671"


class Client:
    def __init__(self, api: Api, email: str) -> None:
        self.api = api
        self.headers = {"Authorization": f"Bearer {api.key(email)}"}

    def __call__(self, method: str, path: str, body: Any = None,
                 headers: dict[str, str] | None = None, **kw: Any) -> httpx.Response:
        if body is not None:
            kw["json"] = body
        return self.api.client.request(method, path, headers={**self.headers, **(headers or {})},
                                       **kw)


@pytest.fixture(autouse=True)
def every_channel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Providers for every channel, as a production installation has: the preview then shows
    the whole plan (`test_the_preview_leaves_out_channels_without_a_provider` shows less)."""
    monkeypatch.setattr(ProviderSettings, "channels", property(lambda self: set(Channel)))


@pytest.fixture
def marcus(api: Api) -> Client:
    return Client(api, RESPONDER)


def phone(api: Api, email: str = RESPONDER, verified: bool = True) -> tuple[int, int]:
    """(sms id, voice id) of a phone added for `email`."""
    with write_session(api.engine) as session:
        actor = actor_for_email(session, email, via="web")
        assert actor is not None and actor.user_id is not None
        sms, voice = contacts.add_phone(session, actor, actor.user_id, PHONE, NOW)
        if verified:
            for row in session.scalars(select(ContactMethodRow).where(
                    ContactMethodRow.id.in_([sms.id, voice.id]))):
                row.verified_at = NOW
    return sms.id, voice.id


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def _audit(api: Api) -> list[str]:
    with Session(api.engine) as session:
        return list(session.scalars(select(AuditEventRow.type).where(
            AuditEventRow.type.like("notification_rule.%")).order_by(AuditEventRow.id)))


def defaults(sms: int, voice: int) -> dict[str, Any]:
    return {
        "high": [
            {"delay_minutes": 0, "contact_method_id": None, "channel": "email",
             "address": RESPONDER, "default": True},
            {"delay_minutes": 0, "contact_method_id": None, "channel": "slack",
             "address": RESPONDER, "default": True},
            {"delay_minutes": 1, "contact_method_id": sms, "channel": "sms", "address": PHONE,
             "default": True},
            {"delay_minutes": 3, "contact_method_id": voice, "channel": "voice",
             "address": PHONE, "default": True},
        ],
        "low": [
            {"delay_minutes": 0, "contact_method_id": None, "channel": "email",
             "address": RESPONDER, "default": True},
            {"delay_minutes": 0, "contact_method_id": None, "channel": "slack",
             "address": RESPONDER, "default": True},
        ],
    }


def test_every_route_wants_an_api_key(api: Api) -> None:
    for method, path in [("GET", RULES), ("PUT", RULES), ("POST", TEST_PAGE)]:
        _problem(api.client.request(method, path, json={"high": []}), 401)
        _problem(api.client.request(method, path, json={"high": []},
                                    headers={"Authorization": "Bearer oncall_nope"}), 401)


def test_get_shows_no_rules_and_the_defaults(api: Api, marcus: Client) -> None:
    sms, voice = phone(api)
    response = marcus("GET", RULES)
    assert response.status_code == 200, response.text
    assert response.json() == {"high": [], "low": [], "effective": defaults(sms, voice)}


def test_put_replaces_the_urgencies_named_and_get_shows_them(api: Api, marcus: Client) -> None:
    sms, voice = phone(api)
    response = marcus("PUT", RULES, {"high": [
        {"delay_minutes": 5, "contact_method_id": voice},
        {"delay_minutes": 0, "contact_method_id": sms},
    ]})
    assert response.status_code == 200, response.text
    high = [
        {"delay_minutes": 0, "contact_method_id": sms, "channel": "sms", "address": PHONE,
         "usable": True},
        {"delay_minutes": 5, "contact_method_id": voice, "channel": "voice", "address": PHONE,
         "usable": True},
    ]
    expected = {
        "high": high,
        "low": [],
        "effective": {
            "high": [
                {"delay_minutes": 0, "contact_method_id": sms, "channel": "sms",
                 "address": PHONE, "default": False},
                {"delay_minutes": 5, "contact_method_id": voice, "channel": "voice",
                 "address": PHONE, "default": False},
            ],
            "low": defaults(sms, voice)["low"],
        },
    }
    assert response.json() == expected
    assert marcus("GET", RULES).json() == expected
    assert _audit(api) == ["notification_rule.added", "notification_rule.added"]
    # what GET answered can be sent back as it is: nothing changes, nothing is audited
    again = marcus("PUT", RULES, marcus("GET", RULES).json())
    assert again.status_code == 200 and again.json() == expected
    assert len(_audit(api)) == 2
    # low is set; high, not named, keeps its rules
    low = marcus("PUT", RULES, {"low": [{"delay_minutes": 2, "contact_method_id": sms}]}).json()
    assert low["high"] == high
    assert low["low"] == [{"delay_minutes": 2, "contact_method_id": sms, "channel": "sms",
                           "address": PHONE, "usable": True}]
    # an empty list: the defaults again
    back = marcus("PUT", RULES, {"high": [], "low": []})
    assert back.json() == {"high": [], "low": [], "effective": defaults(sms, voice)}
    assert _audit(api)[-3:] == ["notification_rule.removed"] * 3


def test_a_rule_on_an_unverified_method_is_kept_but_skipped(api: Api, marcus: Client) -> None:
    sms, _voice = phone(api, verified=False)
    body = marcus("PUT", RULES, {"high": [{"delay_minutes": 0, "contact_method_id": sms}]}).json()
    assert body["high"] == [{"delay_minutes": 0, "contact_method_id": sms, "channel": "sms",
                             "address": PHONE, "usable": False}]
    # nothing usable of their own: the defaults apply, over what they can be reached by
    assert body["effective"]["high"] == [
        {"delay_minutes": 0, "contact_method_id": None, "channel": "email",
         "address": RESPONDER, "default": True},
        {"delay_minutes": 0, "contact_method_id": None, "channel": "slack",
         "address": RESPONDER, "default": True}]


@pytest.mark.parametrize(
    ("body", "invalid"),
    [
        ({"medium": []}, [("medium", "urgency must be one of high, low, not 'medium'")]),
        ({"high": [{"delay_minutes": -1, "contact_method_id": "12"}]},
         [("high[0].delay_minutes", "must be from 0 to 120 minutes"),
          ("high[0].contact_method_id", "expected the id of a contact method")]),
        ({"high": [{"delay_minutes": 0, "contact_method_id": "SMS"},
                   {"delay_minutes": 121, "contact_method_id": "SMS"}]},
         [("high[1].delay_minutes", "must be from 0 to 120 minutes")]),
        ({"high": [{"delay_minutes": 1.5, "contact_method_id": None, "note": "x"}]},
         [("high[0].note", "unknown field"),
          ("high[0].delay_minutes", "expected a whole number of minutes"),
          ("high[0].contact_method_id", "expected the id of a contact method")]),
        ({"high": {"delay_minutes": 0}}, [("high", "expected a list of rules")]),
        ({"low": ["SMS"]},
         [("low[0]", "expected an object with delay_minutes and contact_method_id")]),
        ({"low": [{"delay_minutes": 0, "contact_method_id": "VOICE"}]},
         [("low[0].contact_method_id",
           "low-urgency incidents never ring a phone: choose another method")]),
        ({"high": [{"delay_minutes": 0, "contact_method_id": "SMS"},
                   {"delay_minutes": 0, "contact_method_id": 999999}],
          "low": [{"delay_minutes": 0, "contact_method_id": "SMS"},
                  {"delay_minutes": 0, "contact_method_id": "SMS"}]},
         [("high[1].contact_method_id",
           f"contact method 999999 is not one of {RESPONDER}'s"),
          ("low[1]", "the same rule is listed twice")]),
        ({"high": [{"delay_minutes": 0, "contact_method_id": "THEIRS"}]},
         [("high[0].contact_method_id", "contact method THEIRS is not one of "
                                        f"{RESPONDER}'s")]),
    ],
)
def test_put_refuses_with_each_field_named_and_changes_nothing(
    api: Api, marcus: Client, body: dict[str, Any], invalid: list[tuple[str, str]]
) -> None:
    sms, voice = phone(api)
    theirs, _ = phone(api, OBSERVER)
    ids = {"SMS": sms, "VOICE": voice, "THEIRS": theirs}

    def fill(value: Any) -> Any:
        """Method names in `contact_method_id` fields become the ids made here."""
        if isinstance(value, dict):
            return {k: ids.get(v, v) if k == "contact_method_id" else
                    fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value

    kept = marcus("PUT", RULES, {"high": [{"delay_minutes": 0, "contact_method_id": sms}]})
    assert kept.status_code == 200
    before = marcus("GET", RULES).json()
    sent = fill(body)
    expected = [(name, reason.replace("THEIRS", str(theirs))) for name, reason in invalid]
    response = marcus("PUT", RULES, sent)
    problem = _problem(response, 422)
    assert problem == {
        "type": "https://oncall.dev/problems/invalid-payload",
        "title": "Unprocessable Entity",
        "status": 422,
        "detail": f"{expected[0][0]}: {expected[0][1]}",
        "instance": RULES,
        "invalid-params": [{"name": n, "reason": r} for n, r in expected],
    }
    assert marcus("GET", RULES).json() == before
    assert _audit(api) == ["notification_rule.added"]


def test_put_refuses_bodies_that_are_not_json_objects(api: Api, marcus: Client) -> None:
    _problem(marcus("PUT", RULES, content=b"{", headers={"Content-Type": "application/json"}),
             400)
    _problem(marcus("PUT", RULES, content=b"high", headers={"Content-Type": "text/plain"}), 415)
    assert _problem(marcus("PUT", RULES, [1]), 422)["invalid-params"] == [
        {"name": "body", "reason": "expected a JSON object"}]


def test_test_page_is_queued_in_the_outbox(api: Api, marcus: Client) -> None:
    refused = _problem(marcus("POST", TEST_PAGE), 422)
    assert refused["detail"] == "body: no verified contact method to send a test page to"
    sms, voice = phone(api)
    response = marcus("POST", TEST_PAGE)
    assert response.status_code == 202 and response.json() == {"queued": 2}
    one = marcus("POST", TEST_PAGE, {"contact_method_id": sms})
    assert one.status_code == 202 and one.json() == {"queued": 1}
    with Session(api.engine) as session:
        queued = session.execute(select(NotificationRow.kind, NotificationRow.channel,
                                        NotificationRow.contact_method_id)
                                 .order_by(NotificationRow.id)).all()
        tests = session.scalars(select(AuditEventRow.actor).where(
            AuditEventRow.type == "user.test_page")).all()
    assert [tuple(r) for r in queued if r[0] == "test"] == [
        ("test", "sms", sms), ("test", "voice", voice), ("test", "sms", sms)]
    assert tests == [f"user:{RESPONDER}"] * 2
    other = _problem(marcus("POST", TEST_PAGE, {"contact_method_id": 999999}), 422)
    assert other["invalid-params"] == [
        {"name": "contact_method_id",
         "reason": "no verified contact method to send a test page to"}]


def test_the_routes_are_in_the_openapi_document(api: Api) -> None:
    paths = api.client.get("/api/v1/openapi.json").json()["paths"]
    assert set(paths[RULES]) == {"get", "put"} and set(paths[TEST_PAGE]) == {"post"}
