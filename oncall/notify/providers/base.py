"""What a provider call returns, and the one rule for what is worth retrying.

Providers never raise to the dispatcher: every SDK or network error becomes a `DeliveryResult`
whose `retryable` flag drives the backoff in `oncall.core.delivery`. Retrying is for faults
that may pass (timeouts, refused connections, 5xx, 429); a request the provider rejects as
wrong (4xx) fails the same way the next time, so it goes straight to the next channel.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Protocol

from oncall.notify.message import Notice


@dataclass(frozen=True)
class DeliveryResult:
    ok: bool
    provider: str
    provider_message_id: str | None = None
    error: str | None = None
    retryable: bool = False
    status_code: int | None = None
    channel: str | None = None
    """Slack: the conversation the message went to, needed with `ts` to update it."""
    ts: str | None = None
    """Slack: the message's timestamp id."""
    gone: bool = False
    """Web push: the subscription no longer exists (404/410); delete it, do not retry."""

    @classmethod
    def sent(
        cls,
        provider: str,
        message_id: str | None,
        *,
        channel: str | None = None,
        ts: str | None = None,
    ) -> DeliveryResult:
        return cls(
            ok=True, provider=provider, provider_message_id=message_id, channel=channel, ts=ts
        )

    @classmethod
    def failed(
        cls,
        provider: str,
        error: str,
        *,
        retryable: bool,
        status_code: int | None = None,
        gone: bool = False,
    ) -> DeliveryResult:
        return cls(
            ok=False,
            provider=provider,
            error=error,
            retryable=retryable,
            status_code=status_code,
            gone=gone,
        )


class Provider(Protocol):
    name: str

    def send(self, address: str, notice: Notice) -> DeliveryResult: ...


def retryable_status(status: int) -> bool:
    """HTTP statuses worth another attempt: server faults, throttling, request timeouts."""
    return status >= 500 or status in (408, 425, 429)


def http_failure(provider: str, status: int, detail: str) -> DeliveryResult:
    detail = " ".join(detail.split())[:300]
    return DeliveryResult.failed(
        provider,
        f"HTTP {status}: {detail}" if detail else f"HTTP {status}",
        retryable=retryable_status(status),
        status_code=status,
    )


def network_failure(provider: str, exc: BaseException) -> DeliveryResult:
    """Timeouts, refused or reset connections, DNS: the provider may be back in a moment."""
    kind = "timeout" if is_timeout(exc) else "network error"
    return DeliveryResult.failed(provider, f"{kind}: {type(exc).__name__}: {exc}", retryable=True)


def is_timeout(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (TimeoutError, socket.timeout)) or "timed out" in str(current):
            return True
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException) and is_timeout(reason):
            return True
        current = current.__cause__ or current.__context__
    return False


def unexpected_failure(provider: str, exc: BaseException) -> DeliveryResult:
    """An error we did not foresee: not retried, so a bug cannot hammer a provider."""
    return DeliveryResult.failed(provider, f"{type(exc).__name__}: {exc}", retryable=False)
