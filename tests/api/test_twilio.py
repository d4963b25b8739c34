"""Twilio callbacks refuse bad input: unsigned or forged requests, unknown numbers, malformed
bodies and replies about someone else's incident change nothing, are logged, and get a polite
TwiML answer. (The happy paths run end to end in tests/worker/test_phone_paging.py.)"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient
from twilio.request_validator import RequestValidator

from oncall.api.app import create_api
from oncall.db.engine import write_session
from oncall.db.models import (
    AuditEventRow,
    ContactMethodRow,
    IncidentRow,
    NotificationRow,
    UserRow,
)
from oncall.settings import Settings
from oncall.testing.incidents import open_incident

PUBLIC = "https://oncall.example"
TOKEN = "0123456789abcdef0123456789abcdef"
RESPONDER = ("marcus.bell@northwind.example", "+14155550101")
OTHER = ("priya.raman@northwind.example", "+14155550102")
OBSERVER = ("eve.larsen@northwind.example", "+14155550103")
NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


@dataclass
class Twilio:
    client: TestClient
    engine: Engine
    incidents: dict[str, int]

    def post(self, path: str, params: dict[str, str], *, signature: str | None = "sign",
             signed_url: str | None = None, body: bytes | None = None) -> httpx.Response:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if signature == "sign":
            url = signed_url or PUBLIC + path
            headers["X-Twilio-Signature"] = RequestValidator(TOKEN).compute_signature(url, params)
        elif signature is not None:
            headers["X-Twilio-Signature"] = signature
        content = body if body is not None else urlencode(params).encode()
        response: httpx.Response = self.client.post(path, content=content, headers=headers)
        return response

    def sms(self, sender: str, text: str, **kw: str | None) -> httpx.Response:
        params = {"MessageSid": "SM" + "1" * 32, "From": sender, "To": "+15005550006",
                  "Body": text, "AccountSid": "AC" + "2" * 32}
        return self.post("/api/v1/twilio/sms", params, **kw)  # type: ignore[arg-type]

    def state(self) -> tuple[list[str], int]:
        """Every incident's status and the number of audit events: what must not change."""
        with Session(self.engine) as session:
            statuses = list(session.scalars(select(IncidentRow.status).order_by(IncidentRow.id)))
            events = session.scalar(select(func.count()).select_from(AuditEventRow)) or 0
        return statuses, events


@pytest.fixture
def twilio(applied_engine: Engine) -> Iterator[Twilio]:
    incidents: dict[str, int] = {}
    with write_session(applied_engine) as session:
        for email, number in (RESPONDER, OTHER, OBSERVER):
            user = session.scalar(select(UserRow).where(UserRow.email == email))
            assert user is not None
            session.add(ContactMethodRow(user_id=user.id, type="sms", address=number,
                                         verified_at=NOW, created_at=NOW))
            incident_id = open_incident(
                session, service="checkout-api", group_key=email, title=f"Paged {email}",
                integration="prometheus-prod", now=NOW, page=False)
            session.add(NotificationRow(
                idempotency_key=f"page:{email}", incident_id=incident_id, user_id=user.id,
                channel="sms", address=number, kind="page", status="sent", attempt_count=1,
                next_attempt_at=NOW, provider="twilio_sms", provider_message_id=f"SM{email}",
                created_at=NOW, sent_at=NOW))
            incidents[email] = incident_id
    env = {"ONCALL_TWILIO_AUTH_TOKEN": TOKEN, "ONCALL_PUBLIC_URL": PUBLIC}
    app = create_api(Settings(database_url=str(applied_engine.url)), applied_engine,
                     route_modules=["oncall.api.twilio"], check_schema=False,
                     clock=lambda: NOW, environ=env)
    with TestClient(app) as client:
        yield Twilio(client, applied_engine, incidents)


@pytest.mark.parametrize(
    ("signature", "signed_url"),
    [
        (None, None),  # unsigned
        ("bm90IGEgc2lnbmF0dXJl", None),  # forged
        ("sign", "https://attacker.example/api/v1/twilio/sms"),  # signed for another URL
        ("sign", "http://oncall.example/api/v1/twilio/sms"),  # another scheme
    ],
)
def test_unsigned_or_forged_sms_changes_nothing(
    twilio: Twilio, caplog: pytest.LogCaptureFixture, signature: str | None,
    signed_url: str | None,
) -> None:
    before = twilio.state()
    incident = twilio.incidents[RESPONDER[0]]
    with caplog.at_level(logging.WARNING, "oncall.api.twilio"):
        reply = twilio.sms(RESPONDER[1], f"ACK {incident}", signature=signature,
                           signed_url=signed_url)
    assert reply.status_code == 403
    assert "<Message>" in reply.text and "not signed by Twilio" in reply.text
    assert twilio.state() == before
    assert "refused a Twilio callback" in caplog.text


def test_every_callback_checks_the_signature(twilio: Twilio) -> None:
    before = twilio.state()
    for path in ("/api/v1/twilio/sms/status", "/api/v1/twilio/voice/status",
                 "/api/v1/twilio/voice/gather?incident=1"):
        params = {"MessageSid": f"SM{RESPONDER[0]}", "MessageStatus": "failed",
                  "CallSid": "CA1", "CallStatus": "no-answer", "Digits": "1"}
        assert twilio.post(path, params, signature="forged").status_code == 403
    assert twilio.state() == before


def test_a_tampered_form_fails_the_signature(twilio: Twilio) -> None:
    incident = twilio.incidents[RESPONDER[0]]
    params = {"From": RESPONDER[1], "Body": "RES 999"}
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC + "/api/v1/twilio/sms", params)
    tampered = urlencode({"From": RESPONDER[1], "Body": f"RES {incident}"}).encode()
    reply = twilio.post("/api/v1/twilio/sms", params, signature=signature, body=tampered)
    assert reply.status_code == 403


def test_unknown_number_changes_nothing(
    twilio: Twilio, caplog: pytest.LogCaptureFixture
) -> None:
    before = twilio.state()
    incident = twilio.incidents[RESPONDER[0]]
    with caplog.at_level(logging.WARNING, "oncall.api.twilio"):
        reply = twilio.sms("+14155559999", f"ACK {incident}")
    assert reply.status_code == 200
    assert "not a verified oncall contact" in reply.text
    assert twilio.state() == before
    assert "unknown number" in caplog.text and "9999" in caplog.text


def test_an_unverified_number_is_unknown(twilio: Twilio) -> None:
    with write_session(twilio.engine) as session:
        for method in session.scalars(select(ContactMethodRow)):
            method.verified_at = None
    reply = twilio.sms(RESPONDER[1], f"ACK {twilio.incidents[RESPONDER[0]]}")
    assert "not a verified oncall contact" in reply.text
    assert twilio.state()[0] == ["triggered"] * 3


def test_ack_for_someone_elses_incident_changes_nothing(
    twilio: Twilio, caplog: pytest.LogCaptureFixture
) -> None:
    before = twilio.state()
    theirs = twilio.incidents[OTHER[0]]
    with caplog.at_level(logging.WARNING, "oncall.api.twilio"):
        reply = twilio.sms(RESPONDER[1], f"ACK {theirs}")
    assert reply.status_code == 200
    assert f"#{theirs} is not one you were paged for" in reply.text
    assert twilio.state() == before
    assert "not paged for it" in caplog.text


@pytest.mark.parametrize(
    ("params", "body"),
    [
        ({"From": RESPONDER[1]}, None),  # no Body
        ({"Body": "ACK"}, None),  # no From
        ({}, b"\xff\xfe%%%not a form"),  # not a form at all
    ],
)
def test_malformed_bodies_change_nothing(
    twilio: Twilio, params: dict[str, str], body: bytes | None
) -> None:
    before = twilio.state()
    reply = twilio.post("/api/v1/twilio/sms", params, body=body)
    assert reply.status_code == 400
    assert "could not be read" in reply.text
    assert twilio.state() == before


@pytest.mark.parametrize("text", ["hello", "ACK me", "DELETE 1", ""])
def test_unknown_words_get_help(twilio: Twilio, text: str) -> None:
    before = twilio.state()
    reply = twilio.sms(RESPONDER[1], text)
    assert reply.status_code == 200 and "Reply ACK 123" in reply.text
    assert twilio.state() == before


def test_observer_cannot_acknowledge_by_sms(twilio: Twilio) -> None:
    before = twilio.state()
    reply = twilio.sms(OBSERVER[1], f"ACK {twilio.incidents[OBSERVER[0]]}")
    assert "Not allowed" in reply.text and "observer" in reply.text
    assert twilio.state() == before


def test_resolve_by_reply(twilio: Twilio) -> None:
    incident = twilio.incidents[RESPONDER[0]]
    reply = twilio.sms(RESPONDER[1], f"res #{incident}")
    assert f"Incident #{incident} resolved" in reply.text
    again = twilio.sms(RESPONDER[1], f"RES {incident}")
    assert "already resolved" in again.text


def test_a_reply_that_changes_an_incident_wakes_the_worker(
        twilio: Twilio, monkeypatch: pytest.MonkeyPatch) -> None:
    woken: list[str] = []
    app: Any = twilio.client.app
    monkeypatch.setattr(app.state.ctx, "wake", lambda: woken.append("wake"))
    incident = twilio.incidents[RESPONDER[0]]
    twilio.sms(OBSERVER[1], f"ACK {twilio.incidents[OBSERVER[0]]}")
    assert woken == []  # refused: nothing changed
    assert f"Incident #{incident} acknowledged" in twilio.sms(RESPONDER[1], f"ACK {incident}").text
    assert woken == ["wake"]


def test_receipts_and_keypresses_for_unknown_sids_change_nothing(twilio: Twilio) -> None:
    before = twilio.state()
    status = twilio.post("/api/v1/twilio/sms/status",
                         {"MessageSid": "SMunknown", "MessageStatus": "failed"})
    assert status.status_code == 200
    call = twilio.post("/api/v1/twilio/voice/status",
                       {"CallSid": "CAunknown", "CallStatus": "no-answer"})
    assert call.status_code == 200
    incident = twilio.incidents[RESPONDER[0]]
    path = f"/api/v1/twilio/voice/gather?incident={incident}"
    press = twilio.post(path, {"CallSid": "CAunknown", "Digits": "1"})
    assert press.status_code == 200 and "<Say>" in press.text and "not linked" in press.text
    assert twilio.state() == before
    with Session(twilio.engine) as session:
        assert set(session.scalars(select(NotificationRow.status))) == {"sent"}


def test_without_a_twilio_token_nothing_is_accepted(applied_engine: Engine) -> None:
    app = create_api(Settings(database_url=str(applied_engine.url)), applied_engine,
                     route_modules=["oncall.api.twilio"], check_schema=False,
                     environ={"ONCALL_PUBLIC_URL": PUBLIC})
    with TestClient(app) as client:
        reply = client.post("/api/v1/twilio/sms", data={"From": "+1", "Body": "ACK"})
    assert reply.status_code == 503
