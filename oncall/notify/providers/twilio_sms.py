"""SMS through Twilio; delivery receipts come back to the status callback."""

from __future__ import annotations

from twilio.rest import Client

from oncall.notify.message import Notice, render_sms
from oncall.notify.providers.base import DeliveryResult
from oncall.notify.providers.twilio_client import (
    SMS_STATUS_PATH,
    callback_url,
    twilio_client,
    twilio_failure,
)
from oncall.notify.settings import ProviderSettings


class TwilioSmsProvider:
    name = "twilio_sms"

    def __init__(self, settings: ProviderSettings, client: Client | None = None) -> None:
        self.client = client or twilio_client(settings)
        self.sender = settings.twilio_from
        self.status_callback = callback_url(settings, SMS_STATUS_PATH)

    def send(self, address: str, notice: Notice) -> DeliveryResult:
        """`address`: an E.164 phone number; the message SID identifies the status callbacks."""
        try:
            message = self.client.messages.create(
                to=address,
                from_=self.sender,
                body=render_sms(notice),
                status_callback=self.status_callback,
            )
        except Exception as exc:  # noqa: BLE001 - every failure becomes a result
            return twilio_failure(self.name, exc)
        return DeliveryResult.sent(self.name, str(message.sid))
