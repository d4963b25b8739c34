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


def build_chains(settings: ProviderSettings) -> ProviderChains:
    """Instantiate every configured provider (imports are local: an unused SDK costs nothing)."""
    chains: dict[Channel, list[Provider]] = {c: [] for c in Channel}
    if settings.slack_token:
        from oncall.notify.providers.slack import SlackProvider

        chains[Channel.SLACK].append(SlackProvider(settings))
    if settings.smtp is not None:
        from oncall.notify.providers.smtp import SmtpProvider

        chains[Channel.EMAIL].append(SmtpProvider(settings))
    if settings.ses_region:
        from oncall.notify.providers.ses import SesProvider

        chains[Channel.EMAIL].append(SesProvider(settings))
    if settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from:
        from oncall.notify.providers.twilio_sms import TwilioSmsProvider
        from oncall.notify.providers.twilio_voice import TwilioVoiceProvider

        chains[Channel.SMS].append(TwilioSmsProvider(settings))
        chains[Channel.VOICE].append(TwilioVoiceProvider(settings))
    if settings.sns_region:
        from oncall.notify.providers.sns_sms import SnsSmsProvider

        chains[Channel.SMS].append(SnsSmsProvider(settings))
    if settings.vapid_private_key and settings.vapid_public_key:
        from oncall.notify.providers.webpush import WebPushProvider

        chains[Channel.PUSH].append(WebPushProvider(settings))
    from oncall.notify.providers.teams import TeamsProvider

    chains[Channel.TEAMS].append(EnvWebhook(TeamsProvider(settings)))
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
