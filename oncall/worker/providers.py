"""Which providers carry each channel, in failover order, built from the provider settings.

A channel with no configured provider is not offered to the paging plan at all, so nobody is
"paged" through a channel that cannot reach them.

Every provider built here is instrumented (`instrument`): each call is timed into
`oncall_provider_call_seconds{channel,provider,outcome}` and is an OpenTelemetry span in the
incident's trace, without the dispatcher knowing.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.trace import SpanKind

from oncall.core.notification_rules import Channel
from oncall.notify.message import Notice
from oncall.notify.providers.base import DeliveryResult, Provider
from oncall.notify.settings import ProviderSettings
from oncall.observability import metrics, tracing

INSTRUMENTED = ("send", "update", "send_mail", "send_text")
"""The calls a provider may offer (`send` always; `update`, `send_mail`, `send_text` where it
can), each reaching out to the provider."""


@dataclass
class ProviderChains:
    chains: Mapping[Channel, Sequence[Provider]] = field(default_factory=dict)

    @property
    def enabled(self) -> set[Channel]:
        return {channel for channel, chain in self.chains.items() if chain}

    def chain(self, channel: Channel) -> Sequence[Provider]:
        return self.chains.get(channel, ())


def _provider(name: str, settings: ProviderSettings) -> Provider:
    """One provider client by name (imports are local: an unused SDK costs nothing)."""
    if name == "slack":
        from oncall.notify.providers.slack import SlackProvider
        return SlackProvider(settings)
    if name == "smtp":
        from oncall.notify.providers.smtp import SmtpProvider
        return SmtpProvider(settings)
    if name == "ses":
        from oncall.notify.providers.ses import SesProvider
        return SesProvider(settings)
    if name == "twilio_sms":
        from oncall.notify.providers.twilio_sms import TwilioSmsProvider
        return TwilioSmsProvider(settings)
    if name == "twilio_voice":
        from oncall.notify.providers.twilio_voice import TwilioVoiceProvider
        return TwilioVoiceProvider(settings)
    if name == "sns":
        from oncall.notify.providers.sns_sms import SnsSmsProvider
        return SnsSmsProvider(settings)
    if name == "webpush":
        from oncall.notify.providers.webpush import WebPushProvider
        return WebPushProvider(settings)
    from oncall.notify.providers.teams import TeamsProvider
    return EnvWebhook(TeamsProvider(settings))


def build_chains(settings: ProviderSettings) -> ProviderChains:
    """Instantiate every configured provider (`ProviderSettings.providers`)."""
    chains: dict[Channel, list[Provider]] = {}
    for channel, name in settings.providers():
        chains.setdefault(channel, []).append(instrument(_provider(name, settings), channel))
    return ProviderChains({c: tuple(p) for c, p in chains.items() if p})


class EnvWebhook:
    """A webhook provider whose address is a `${env:NAME}` reference (a service's
    `teams_webhook`): resolved at send time, so the secret URL is never stored in a row."""

    def __init__(self, inner: Provider, environ: Mapping[str, str] | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.environ = environ

    def send(self, address: str, notice: Notice) -> DeliveryResult:
        import os

        from oncall.config.types import MissingSecret, resolve_env

        try:
            url = resolve_env(address, self.environ if self.environ is not None else os.environ)
        except MissingSecret as exc:
            return DeliveryResult.failed(self.name, str(exc), retryable=False)
        return self.inner.send(url, notice)


def outcome_of(result: object) -> str:
    """A call's outcome label: sent, or failed worth a retry, or failed for good."""
    if getattr(result, "ok", False):
        return metrics.SENT
    return metrics.RETRYABLE if getattr(result, "retryable", False) else metrics.FAILED


def _incident_of(args: tuple[Any, ...]) -> int | str | None:
    """The incident a call is about: a notice's, or `send_text`'s last argument."""
    last = args[-1] if args else None
    if isinstance(last, Notice):
        return last.incident_id or None
    if isinstance(last, int) and not isinstance(last, bool):
        return last
    return None


def _timed(call: Callable[..., Any], provider: str, channel: str, method: str
           ) -> Callable[..., Any]:
    @functools.wraps(call)
    def timed(*args: Any) -> Any:
        attributes = {"oncall.channel": channel, "oncall.provider": provider,
                      "oncall.call": method}
        with tracing.span(f"provider.{method}", incident_id=_incident_of(args),
                          kind=SpanKind.CLIENT, attributes=attributes) as span:
            started = time.perf_counter()
            try:
                result = call(*args)
            except BaseException:
                metrics.observe_provider_call(channel, provider, metrics.RAISED,
                                              time.perf_counter() - started)
                raise
            outcome = outcome_of(result)
            metrics.observe_provider_call(channel, provider, outcome,
                                          time.perf_counter() - started)
            tracing.result_outcome(span, outcome, ok=outcome == metrics.SENT,
                                   error=getattr(result, "error", None),
                                   status_code=getattr(result, "status_code", None))
            return result

    timed.__wrapped_provider_call__ = True  # type: ignore[attr-defined]
    return timed


def instrument(provider: Provider, channel: Channel) -> Provider:
    """The same provider object, each of its calls timed, counted by outcome and traced.

    The calls are wrapped on the instance rather than behind a proxy object: workflow steps
    pick providers by type (`isinstance(p, SlackProvider)`, the `TextMailer` protocol), and
    the dispatcher asks for `update`/`send_mail` with `getattr`, so the object keeps its type
    and exactly the methods it had. Instrumenting twice changes nothing.
    """
    for method in INSTRUMENTED:
        call = getattr(provider, method, None)
        if callable(call) and not getattr(call, "__wrapped_provider_call__", False):
            setattr(provider, method, _timed(call, provider.name, channel.value, method))
    return provider
