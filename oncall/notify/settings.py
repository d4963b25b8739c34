"""Endpoints and credentials of the notification providers, read from the environment.

Every endpoint is a setting, so the same code talks to the real services in production and to
the local peers (`oncall.testing.peers`) offline and in tests, without patching any SDK.
Credentials are never in git: they come from the process environment or a secret store
that fills it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

from oncall.core.notification_rules import Channel
from oncall.settings import DEFAULT_WEBHOOK_DENY, SettingsError, parse_webhook_deny

DEFAULT_TIMEOUT = 10.0
"""Seconds a provider call may take before it counts as failed (and retryable)."""

PROVIDERS = ("slack", "smtp", "ses", "twilio", "sns", "webpush", "teams")


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    implicit_tls: bool = False
    """`smtps://`: TLS from the first byte (port 465)."""
    starttls: bool = False
    """`?starttls=true`: upgrade a plain connection before authenticating."""

    @classmethod
    def from_url(cls, url: str) -> SmtpSettings:
        """`smtp://[user[:password]@]host[:port][?starttls=true]` or `smtps://...`."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise SettingsError(
                "ONCALL_SMTP_URL: expected smtp://[USER:PASSWORD@]HOST[:PORT][?starttls=true] "
                "or smtps://..."
            )
        implicit = parts.scheme == "smtps"
        query = parse_qs(parts.query)
        starttls = (query.get("starttls") or ["false"])[0].lower() in ("1", "true", "yes")
        try:
            port = parts.port or (465 if implicit else 25)
        except ValueError as exc:
            raise SettingsError(f"ONCALL_SMTP_URL: {exc}") from None
        return cls(
            host=parts.hostname,
            port=port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            implicit_tls=implicit,
            starttls=starttls and not implicit,
        )


def _float(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = (environ.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}: expected a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name}: must be more than 0 seconds")
    return value


def _get(environ: Mapping[str, str], name: str) -> str | None:
    return (environ.get(name) or "").strip() or None


@dataclass(frozen=True)
class ProviderSettings:
    public_url: str = "http://localhost:3000"
    """Where people and providers reach this deployment: incident links, Twilio callbacks."""

    slack_token: str | None = None
    slack_api_url: str = "https://slack.com/api/"

    smtp: SmtpSettings | None = None
    email_from: str = "oncall@localhost"

    aws_region: str = "us-east-1"
    ses_region: str | None = None
    sns_region: str | None = None
    aws_endpoint_url: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None

    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from: str | None = None
    twilio_api_url: str = "https://api.twilio.com"

    vapid_public_key: str | None = None
    vapid_private_key: str | None = None
    vapid_subject: str | None = None
    webpush_ttl: int = 3600
    endpoint_deny: tuple[str, ...] = DEFAULT_WEBHOOK_DENY
    """Where a push endpoint may not point: the workflow webhooks' deny list
    (ONCALL_WEBHOOK_DENY added to the defaults), since browsers choose the endpoints."""

    timeouts: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ProviderSettings:
        default_timeout = _float(environ, "ONCALL_PROVIDER_TIMEOUT", DEFAULT_TIMEOUT)
        timeouts = {
            name: _float(environ, f"ONCALL_{name.upper()}_TIMEOUT", default_timeout)
            for name in PROVIDERS
        }
        smtp_url = _get(environ, "ONCALL_SMTP_URL")
        aws_region = _get(environ, "ONCALL_AWS_REGION") or "us-east-1"
        ttl_raw = _get(environ, "ONCALL_WEBPUSH_TTL") or "3600"
        if not ttl_raw.isdigit():
            raise SettingsError(f"ONCALL_WEBPUSH_TTL: expected whole seconds, got {ttl_raw!r}")
        public_url = (_get(environ, "ONCALL_PUBLIC_URL") or cls.public_url).rstrip("/")
        if not public_url.startswith(("http://", "https://")):
            raise SettingsError("ONCALL_PUBLIC_URL: expected http(s)://HOST[/PATH]")
        return cls(
            public_url=public_url,
            slack_token=_get(environ, "ONCALL_SLACK_TOKEN"),
            slack_api_url=_with_slash(_get(environ, "ONCALL_SLACK_API_URL") or cls.slack_api_url),
            smtp=SmtpSettings.from_url(smtp_url) if smtp_url else None,
            email_from=_get(environ, "ONCALL_EMAIL_FROM") or cls.email_from,
            aws_region=aws_region,
            ses_region=_get(environ, "ONCALL_SES_REGION"),
            sns_region=_get(environ, "ONCALL_SNS_REGION"),
            aws_endpoint_url=_get(environ, "ONCALL_AWS_ENDPOINT_URL"),
            aws_access_key_id=_get(environ, "ONCALL_AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=_get(environ, "ONCALL_AWS_SECRET_ACCESS_KEY"),
            twilio_account_sid=_get(environ, "ONCALL_TWILIO_ACCOUNT_SID"),
            twilio_auth_token=_get(environ, "ONCALL_TWILIO_AUTH_TOKEN"),
            twilio_from=_get(environ, "ONCALL_TWILIO_FROM"),
            twilio_api_url=(_get(environ, "ONCALL_TWILIO_API_URL") or cls.twilio_api_url).rstrip(
                "/"
            ),
            vapid_public_key=_get(environ, "ONCALL_VAPID_PUBLIC_KEY"),
            vapid_private_key=_get(environ, "ONCALL_VAPID_PRIVATE_KEY"),
            vapid_subject=_get(environ, "ONCALL_VAPID_SUBJECT"),
            webpush_ttl=int(ttl_raw),
            endpoint_deny=parse_webhook_deny(environ.get("ONCALL_WEBHOOK_DENY") or ""),
            timeouts=timeouts,
        )

    def providers(self) -> list[tuple[Channel, str]]:
        """The providers these settings configure, by channel, in failover order: the one
        answer both to which clients a worker builds and to which channels a page can use."""
        found: list[tuple[Channel, str]] = []
        if self.slack_token:
            found.append((Channel.SLACK, "slack"))
        if self.smtp is not None:
            found.append((Channel.EMAIL, "smtp"))
        if self.ses_region:
            found.append((Channel.EMAIL, "ses"))
        if self.twilio_account_sid and self.twilio_auth_token and self.twilio_from:
            found += [(Channel.SMS, "twilio_sms"), (Channel.VOICE, "twilio_voice")]
        if self.sns_region:
            found.append((Channel.SMS, "sns"))
        if self.vapid_private_key and self.vapid_public_key:
            found.append((Channel.PUSH, "webpush"))
        found.append((Channel.TEAMS, "teams"))  # its webhook URL is each service's own
        return found

    @property
    def channels(self) -> set[Channel]:
        return {channel for channel, _ in self.providers()}

    def timeout(self, provider: str) -> float:
        return self.timeouts.get(provider, DEFAULT_TIMEOUT)

    def region(self, service: str) -> str:
        """SES and SNS may live in different regions (SMS sending is not in every region)."""
        specific = {"ses": self.ses_region, "sns": self.sns_region}.get(service)
        return specific or self.aws_region

    def require(self, provider: str, **values: str | None) -> None:
        """Fail early, naming the variables, when a provider is used without its settings."""
        missing = [name for name, value in values.items() if not value]
        if missing:
            names = ", ".join(f"ONCALL_{name.upper()}" for name in missing)
            raise SettingsError(f"{provider} is not configured: set {names}")


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"
