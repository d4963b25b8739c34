"""The twilio SDK's Client, pointed at `ONCALL_TWILIO_API_URL` through its own HTTP client hook.

The SDK builds every URL on `https://api.twilio.com`; `BaseUrlHttpClient` rewrites that base
to the configured one (a local peer, a regional edge, a proxy) at the single place the SDK
sends requests, so the SDK itself stays untouched.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from oncall.notify.providers.base import (
    DeliveryResult,
    network_failure,
    retryable_status,
    unexpected_failure,
)
from oncall.notify.settings import ProviderSettings

TWILIO_API_BASE = "https://api.twilio.com"

INBOUND_SMS_PATH = "/api/v1/twilio/sms"
SMS_STATUS_PATH = "/api/v1/twilio/sms/status"
VOICE_STATUS_PATH = "/api/v1/twilio/voice/status"
VOICE_GATHER_PATH = "/api/v1/twilio/voice/gather"
"""Where Twilio calls us back, under `ONCALL_PUBLIC_URL`; the web app serves these routes."""

_RETRYABLE_CODES = {20429, 20500, 20503, 30001, 30008}


class BaseUrlHttpClient(TwilioHttpClient):  # type: ignore[misc]
    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        if url.startswith(TWILIO_API_BASE):
            url = self.base_url + url[len(TWILIO_API_BASE) :]
        return super().request(method, url, *args, **kwargs)


def twilio_client(settings: ProviderSettings) -> Client:
    settings.require(
        "twilio",
        twilio_account_sid=settings.twilio_account_sid,
        twilio_auth_token=settings.twilio_auth_token,
        twilio_from=settings.twilio_from,
    )
    http_client = BaseUrlHttpClient(settings.twilio_api_url, settings.timeout("twilio"))
    return Client(
        settings.twilio_account_sid,
        settings.twilio_auth_token,
        http_client=http_client,
        environment={},
    )


def callback_url(settings: ProviderSettings, path: str, **query: str) -> str:
    suffix = f"?{urlencode(query)}" if query else ""
    return f"{settings.public_url}{path}{suffix}"


def twilio_failure(provider: str, exc: BaseException) -> DeliveryResult:
    if isinstance(exc, TwilioRestException):
        status = int(exc.status)
        retryable = retryable_status(status) or exc.code in _RETRYABLE_CODES
        code = f" (Twilio error {exc.code})" if exc.code else ""
        return DeliveryResult.failed(
            provider, f"HTTP {status}: {exc.msg}{code}", retryable=retryable, status_code=status
        )
    if isinstance(exc, (requests.RequestException, OSError)):
        return network_failure(provider, exc)
    if isinstance(exc, TwilioException):
        return DeliveryResult.failed(provider, f"twilio: {exc}", retryable=False)
    return unexpected_failure(provider, exc)
