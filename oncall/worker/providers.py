"""Which providers carry each channel, in failover order, built from the provider settings.

A channel with no configured provider is not offered to the paging plan at all, so nobody is
"paged" through a channel that cannot reach them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from oncall.core.notification_rules import Channel
from oncall.notify.message import Notice
from oncall.notify.providers.base import DeliveryResult, Provider
from oncall.notify.settings import ProviderSettings


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
        chains.setdefault(channel, []).append(_provider(name, settings))
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
