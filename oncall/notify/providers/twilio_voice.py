"""Voice calls through Twilio: the TwiML travels with the call, keypresses come back signed.

Answering machines are detected (`AnsweredBy` in the status callback), so a voicemail counts
as unanswered and the escalation goes on, as do no-answer, busy and failed calls.
"""

from __future__ import annotations

from twilio.rest import Client

from oncall.notify.message import Notice, render_voice
from oncall.notify.providers.base import DeliveryResult
from oncall.notify.providers.twilio_client import (
    VOICE_GATHER_PATH,
    VOICE_STATUS_PATH,
    callback_url,
    twilio_client,
    twilio_failure,
)
from oncall.notify.settings import ProviderSettings

RING_SECONDS = 30
STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]


class TwilioVoiceProvider:
    name = "twilio_voice"

    def __init__(self, settings: ProviderSettings, client: Client | None = None) -> None:
        self.settings = settings
        self.client = client or twilio_client(settings)
        self.sender = settings.twilio_from
        self.status_callback = callback_url(settings, VOICE_STATUS_PATH)

    def gather_url(self, notice: Notice) -> str:
        return callback_url(self.settings, VOICE_GATHER_PATH, incident=notice.incident_id)

    def send(self, address: str, notice: Notice) -> DeliveryResult:
        """`address`: an E.164 phone number; the call SID identifies the callbacks."""
        try:
            call = self.client.calls.create(
                to=address,
                from_=self.sender,
                twiml=render_voice(notice, self.gather_url(notice)),
                status_callback=self.status_callback,
                status_callback_event=STATUS_EVENTS,
                status_callback_method="POST",
                machine_detection="Enable",
                timeout=RING_SECONDS,
            )
        except Exception as exc:  # noqa: BLE001 - every failure becomes a result
            return twilio_failure(self.name, exc)
        return DeliveryResult.sent(self.name, str(call.sid))

    def hang_up(self, call_sid: str) -> DeliveryResult:
        """End a call still ringing or in progress (the incident was acknowledged elsewhere)."""
        try:
            call = self.client.calls(call_sid).update(status="completed")
        except Exception as exc:  # noqa: BLE001
            return twilio_failure(self.name, exc)
        return DeliveryResult.sent(self.name, str(call.sid))
