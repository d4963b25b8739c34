"""SMS and voice through the twilio SDK against the Twilio peer, and the peer's callbacks."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from urllib.parse import parse_qsl

import pytest
from twilio.request_validator import RequestValidator

from oncall.notify.message import render_sms
from oncall.notify.providers.twilio_sms import TwilioSmsProvider
from oncall.notify.providers.twilio_voice import TwilioVoiceProvider
from oncall.testing.peers import Peer, RecordedRequest, TwilioPeer

from .conftest import PAGE, provider_settings

PHONE = "+14155550123"


@pytest.fixture
def twilio() -> Iterator[TwilioPeer]:
    with TwilioPeer() as peer:
        yield peer


@pytest.fixture
def app() -> Iterator[Peer]:
    """Stands in for our web app receiving Twilio's callbacks."""
    with Peer() as peer:
        yield peer


def _settings(twilio: TwilioPeer, app: Peer, **extra: str):  # type: ignore[no-untyped-def]
    return provider_settings(twilio.env(), ONCALL_PUBLIC_URL=app.url, **extra)


def _valid(twilio: TwilioPeer, app: Peer, request: RecordedRequest) -> bool:
    url = (
        app.url
        + request.path
        + ("?" + "&".join(f"{k}={v[0]}" for k, v in request.query.items()) if request.query else "")
    )
    params = dict(parse_qsl(request.text, keep_blank_values=True))
    signature = request.header("X-Twilio-Signature") or ""
    return bool(RequestValidator(twilio.auth_token).validate(url, params, signature))


def test_sms_is_sent_with_status_callback(twilio: TwilioPeer, app: Peer) -> None:
    result = TwilioSmsProvider(_settings(twilio, app)).send(PHONE, PAGE)

    assert result.ok and result.provider_message_id
    assert result.provider_message_id.startswith("SM") and len(result.provider_message_id) == 34
    (message,) = twilio.messages
    assert message["To"] == PHONE and message["From"] == twilio.from_number
    assert message["Body"] == render_sms(PAGE)
    assert message["Body"].endswith("Reply ACK 123 or RES 123")
    assert message["StatusCallback"] == f"{app.url}/api/v1/twilio/sms/status"


def test_status_callback_is_signed_like_twilio(twilio: TwilioPeer, app: Peer) -> None:
    sid = TwilioSmsProvider(_settings(twilio, app)).send(PHONE, PAGE).provider_message_id
    assert sid is not None

    answer = twilio.message_status(sid, "delivered")

    assert answer.status == 200
    (callback,) = app.requests
    assert callback.path == "/api/v1/twilio/sms/status"
    assert dict(parse_qsl(callback.text))["MessageStatus"] == "delivered"
    assert dict(parse_qsl(callback.text))["MessageSid"] == sid
    assert _valid(twilio, app, callback)


@pytest.mark.parametrize("signature", [None, "Zm9yZ2VkIHNpZ25hdHVyZQ=="])
def test_unsigned_or_forged_callbacks_fail_validation(
    twilio: TwilioPeer, app: Peer, signature: str | None
) -> None:
    twilio.inbound_sms(f"{app.url}/api/v1/twilio/sms", PHONE, "ACK 123", signature=signature)
    (callback,) = app.requests
    assert dict(parse_qsl(callback.text))["Body"] == "ACK 123"
    assert not _valid(twilio, app, callback)


def test_inbound_sms_is_signed(twilio: TwilioPeer, app: Peer) -> None:
    twilio.inbound_sms(f"{app.url}/api/v1/twilio/sms", PHONE, "RES 123")
    (callback,) = app.requests
    params = dict(parse_qsl(callback.text))
    assert params["From"] == PHONE and params["To"] == twilio.from_number
    assert _valid(twilio, app, callback)


def test_voice_call_carries_twiml_and_callbacks(twilio: TwilioPeer, app: Peer) -> None:
    result = TwilioVoiceProvider(_settings(twilio, app)).send(PHONE, PAGE)

    assert result.ok and (result.provider_message_id or "").startswith("CA")
    (call,) = twilio.calls
    assert call["To"] == PHONE
    assert call["StatusCallback"] == f"{app.url}/api/v1/twilio/voice/status"
    assert call["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert call["MachineDetection"] == "Enable"
    twiml = ET.fromstring(call["Twiml"])
    assert twiml.find("Gather/Say") is not None
    assert "Incident 123" in (twiml.find("Gather/Say").text or "")  # type: ignore[union-attr]


def test_keypress_reaches_the_gather_url_signed(twilio: TwilioPeer, app: Peer) -> None:
    sid = TwilioVoiceProvider(_settings(twilio, app)).send(PHONE, PAGE).provider_message_id
    assert sid is not None

    twilio.gather(sid, "1")

    (callback,) = app.requests
    assert callback.path == "/api/v1/twilio/voice/gather"
    assert callback.query == {"incident": [PAGE.incident_id]}
    assert dict(parse_qsl(callback.text))["Digits"] == "1"
    assert _valid(twilio, app, callback)


def test_no_answer_status_callback(twilio: TwilioPeer, app: Peer) -> None:
    sid = TwilioVoiceProvider(_settings(twilio, app)).send(PHONE, PAGE).provider_message_id
    assert sid is not None
    twilio.call_status(sid, "no-answer")
    twilio.call_status(sid, "completed", answered_by="machine_start")
    first, second = (dict(parse_qsl(r.text)) for r in app.requests)
    assert first["CallStatus"] == "no-answer"
    assert second["AnsweredBy"] == "machine_start"
    assert all(_valid(twilio, app, r) for r in app.requests)


def test_hang_up_ends_the_call(twilio: TwilioPeer, app: Peer) -> None:
    voice = TwilioVoiceProvider(_settings(twilio, app))
    sid = voice.send(PHONE, PAGE).provider_message_id
    assert sid is not None
    assert voice.hang_up(sid).ok
    assert twilio.resource(sid)["status"] == "completed"


@pytest.mark.parametrize("provider", [TwilioSmsProvider, TwilioVoiceProvider])
@pytest.mark.parametrize(("status", "retryable"), [(500, True), (503, True), (429, True)])
def test_outage_is_retryable(
    twilio: TwilioPeer, app: Peer, provider: type, status: int, retryable: bool
) -> None:
    twilio.fail(status)
    result = provider(_settings(twilio, app)).send(PHONE, PAGE)
    assert not result.ok and result.retryable is retryable and result.status_code == status
    assert len(twilio.requests) == 1


def test_invalid_number_is_permanent(twilio: TwilioPeer, app: Peer) -> None:
    result = TwilioSmsProvider(_settings(twilio, app)).send("555-0123", PAGE)
    assert not result.ok and not result.retryable and result.status_code == 400
    assert "21211" in (result.error or "")


def test_wrong_credentials_are_permanent(twilio: TwilioPeer, app: Peer) -> None:
    settings = _settings(twilio, app, ONCALL_TWILIO_AUTH_TOKEN="wrong")
    result = TwilioSmsProvider(settings).send(PHONE, PAGE)
    assert not result.ok and not result.retryable and result.status_code == 401


def test_hanging_twilio_times_out_retryably(
    twilio: TwilioPeer, app: Peer, short_timeout: str
) -> None:
    twilio.hang()
    result = TwilioSmsProvider(_settings(twilio, app, ONCALL_TWILIO_TIMEOUT=short_timeout)).send(
        PHONE, PAGE
    )
    assert not result.ok and result.retryable and "timeout" in (result.error or "")
