"""Slack through slack-sdk's WebClient: the service channel's message and the paged user's DM.

The client's own retry handlers are off: retries belong to the dispatcher, which records each
attempt and applies backoff and the circuit breaker; a built-in retry would also double the
time a hanging Slack holds a worker. Its calls go over kept-alive connections
(`KeptAliveWebClient`).
"""

from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import urlsplit
from urllib.request import Request, proxy_bypass

from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from oncall.notify.mail import Mail
from oncall.notify.message import Notice, mrkdwn, render_slack
from oncall.notify.providers import connections
from oncall.notify.providers.base import (
    DeliveryResult,
    network_failure,
    retryable_status,
    unexpected_failure,
)
from oncall.notify.settings import ProviderSettings

_RETRYABLE_ERRORS = {
    "ratelimited",
    "rate_limited",
    "service_unavailable",
    "fatal_error",
    "internal_error",
    "request_timeout",
}


DM_CACHE_SECONDS = 3600.0
TEXT_LIMIT = 4000
"""Characters of a message's `text`: Slack truncates longer ones."""
_GONE_DM_ERRORS = {"channel_not_found", "is_archived", "not_in_channel", "user_not_found",
                   "account_inactive", "cannot_dm_bot"}


class KeptAliveWebClient(WebClient):
    """slack-sdk's WebClient, its HTTP requests sent over a pool of kept-alive connections.

    The SDK opens a connection (and over HTTPS a TLS session) for every call; its request
    building, answers and errors are unchanged: only the one method that sends a built
    request is replaced. slack_sdk is pinned, and tests/notify/test_slack.py and
    test_connections.py hold the replaced method to the SDK's contract. The proxy is the
    SDK's (`HTTPS_PROXY` and the like), except that `NO_PROXY` is honoured too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        host = urlsplit(self.base_url).netloc
        proxy = None if not self.proxy or proxy_bypass(host) else self.proxy
        self._http = connections.pool(self.ssl, proxy)

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        if not url.lower().startswith(("http://", "https://")):
            return super()._perform_urllib_http_request_internal(url, req)  # refuses it
        data = req.data
        response = connections.post(self._http, url, data if isinstance(data, bytes) else None,
                                    dict(req.header_items()), float(self.timeout))
        return {"status": response.status, "headers": response.headers,
                "body": response.data.decode(
                    get_encoding_from_headers(CaseInsensitiveDict(response.headers)) or "utf-8",
                    errors="replace")}


class _Remembered:
    """email -> DM channel id, each for `ttl` seconds; shared by the worker's threads."""

    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._lock = threading.Lock()
        self._items: dict[str, tuple[float, str]] = {}

    def get(self, key: str) -> str | None:
        with self._lock:
            hit = self._items.get(key)
        if hit is None or time.monotonic() - hit[0] >= self._ttl:
            return None
        return hit[1]

    def put(self, key: str, value: str) -> None:
        with self._lock:
            self._items[key] = (time.monotonic(), value)

    def forget(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)


class SlackProvider:
    name = "slack"

    def __init__(self, settings: ProviderSettings, client: WebClient | None = None) -> None:
        settings.require("slack", slack_token=settings.slack_token)
        timeout = settings.timeout("slack")
        self._dms = _Remembered(DM_CACHE_SECONDS)
        self.client = client or KeptAliveWebClient(
            token=settings.slack_token,
            base_url=settings.slack_api_url,
            # typed as int, but handed to the socket as is: fractions of a second work
            timeout=timeout,  # type: ignore[arg-type]
            retry_handlers=[],
        )

    def send(self, address: str, notice: Notice) -> DeliveryResult:
        """`address`: a channel id or `#name`, or an email address for a direct message."""
        try:
            response = self._send_dm(address, notice) if "@" in address else self._post(
                address, notice)
            return DeliveryResult.sent(
                self.name,
                f"{response['channel']}/{response['ts']}",
                channel=str(response["channel"]),
                ts=str(response["ts"]),
            )
        except _LookupFailed as exc:
            return DeliveryResult.failed(self.name, str(exc), retryable=False)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a result
            return self._failure(exc)

    def update(self, channel: str, ts: str, notice: Notice) -> DeliveryResult:
        """Rewrite a posted message for a state change (buttons follow the state)."""
        try:
            response = self.client.chat_update(channel=channel, ts=ts, **render_slack(notice))
            return DeliveryResult.sent(
                self.name,
                f"{response['channel']}/{response['ts']}",
                channel=str(response["channel"]),
                ts=str(response["ts"]),
            )
        except Exception as exc:  # noqa: BLE001
            return self._failure(exc)

    def post_text(self, channel: str, text: str) -> DeliveryResult:
        """A plain message to a channel (a workflow's `slack` step): the text shown as
        written (escaped as every sender-written value is), cut to what Slack keeps."""
        escaped = mrkdwn(text)
        if len(escaped) > TEXT_LIMIT:
            escaped = escaped[: TEXT_LIMIT - 1] + "…"
        try:
            response = self.client.chat_postMessage(
                channel=channel, text=escaped, unfurl_links=False, unfurl_media=False)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a result
            return self._failure(exc)
        return DeliveryResult.sent(self.name, f"{response['channel']}/{response['ts']}",
                                   channel=str(response["channel"]), ts=str(response["ts"]))

    def send_mail(self, address: str, mail: Mail) -> DeliveryResult:
        """A ready-made message (an action item's reminder) as a direct message: `address`
        is the person's email, or their Slack user id."""
        try:
            channel = self._dm_channel(address) if "@" in address else address
        except _LookupFailed as exc:
            return DeliveryResult.failed(self.name, str(exc), retryable=False)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a result
            return self._failure(exc)
        return self.post_text(channel, f"{mail.subject}\n\n{mail.text}")

    def lookup_user(self, email: str) -> str | None:
        """Slack user id of the account with this email, None if Slack knows no such user."""
        try:
            response = self.client.users_lookupByEmail(email=email)
        except SlackApiError as exc:
            if _error_code(exc) == "users_not_found":
                return None
            raise
        user: dict[str, Any] = response["user"]
        return str(user["id"])

    def _post(self, channel: str, notice: Notice) -> Any:
        return self.client.chat_postMessage(
            channel=channel, unfurl_links=False, unfurl_media=False, **render_slack(notice)
        )

    def _send_dm(self, email: str, notice: Notice) -> Any:
        """A DM takes three API calls the first time (user by email, open the conversation,
        post) and one after: the conversation is remembered for an hour, and forgotten at once
        if Slack says it is gone."""
        cached = self._dms.get(email)
        if cached is not None:
            try:
                return self._post(cached, notice)
            except SlackApiError as exc:
                if _error_code(exc) not in _GONE_DM_ERRORS:
                    raise
                self._dms.forget(email)
        channel = self._dm_channel(email)
        self._dms.put(email, channel)
        return self._post(channel, notice)

    def _dm_channel(self, email: str) -> str:
        user_id = self.lookup_user(email)
        if user_id is None:
            raise _LookupFailed(f"no Slack user with email {email}")
        opened = self.client.conversations_open(users=[user_id])
        channel: dict[str, Any] = opened["channel"]
        return str(channel["id"])

    def _failure(self, exc: BaseException) -> DeliveryResult:
        if isinstance(exc, SlackApiError):
            status = int(exc.response.status_code)
            code = _error_code(exc)
            retryable = retryable_status(status) or code in _RETRYABLE_ERRORS
            return DeliveryResult.failed(
                self.name, f"HTTP {status}: {code}", retryable=retryable, status_code=status
            )
        if isinstance(exc, (OSError, SlackClientError)):
            return network_failure(self.name, exc)
        return unexpected_failure(self.name, exc)


class _LookupFailed(Exception):
    pass


def _error_code(exc: SlackApiError) -> str:
    data = exc.response.data
    if isinstance(data, dict):
        return str(data.get("error") or "unknown_error")
    return "unknown_error"
