"""Process settings, read once from the environment and passed down explicitly.

`Settings.from_env` is the one parser: it reads the database and queue, and the typed groups
of the notification providers (`providers`) and of the web face (`web`). Nothing reads
`os.environ` at import time: tests and tools build a `Settings` from any mapping, so two
settings can coexist in one process (for example a test and the app it starts).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from oncall.notify.settings import ProviderSettings
    from oncall.web.settings import WebSettings

DEFAULT_DATABASE_URL = "sqlite:///oncall.db"
MIN_METRICS_TOKEN = 32
DEFAULT_DEADMAN_INTERVAL = 60.0
DEFAULT_WEBHOOK_DENY: tuple[str, ...] = (
    "169.254.169.254/32",  # AWS, GCP, Azure, OpenStack instance metadata
    "fd00:ec2::254/128",  # AWS metadata over IPv6
    "100.100.100.200/32",  # Alibaba Cloud metadata
    "metadata.google.internal",
)
"""Workflow webhook and runbook targets refused whatever ONCALL_WEBHOOK_DENY says: a
templated call must never reach the cloud's credentials endpoint."""
_HOST_NAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?"
                        r"(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$")


class SettingsError(ValueError):
    """A setting is present but unusable; the message names the variable."""


def normalize_database_url(url: str) -> str:
    """Accept the URL forms people paste (`postgres://`, `postgresql://`) and pick psycopg 3."""
    url = url.strip()
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _default_providers() -> ProviderSettings:
    from oncall.notify.settings import ProviderSettings

    return ProviderSettings()


def _default_web() -> WebSettings:
    from oncall.web.settings import WebSettings

    return WebSettings()


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    metrics_token: str | None = field(default=None, repr=False)
    """ONCALL_METRICS_TOKEN: the bearer token `GET /metrics` requires; unset, /metrics is 404."""
    providers: ProviderSettings = field(default_factory=_default_providers, repr=False)
    """Endpoints and credentials of the providers (ONCALL_SLACK_*, ONCALL_SMTP_URL ...)."""
    web: WebSettings = field(default_factory=_default_web, repr=False)
    """Sign-in and sessions of the web face (ONCALL_OIDC_*, ONCALL_SESSION_HOURS ...)."""
    webhook_deny: tuple[str, ...] = DEFAULT_WEBHOOK_DENY
    """ONCALL_WEBHOOK_DENY: comma-separated CIDRs, addresses and host names that workflow
    webhooks and runbooks may not call, added to `DEFAULT_WEBHOOK_DENY`."""
    deadman_url: str | None = field(default=None, repr=False)
    """ONCALL_DEADMAN_URL: pinged by each worker after a successful sweep (at most every
    `deadman_interval`), so something outside notices when paging itself has stopped."""
    deadman_interval: float = DEFAULT_DEADMAN_INTERVAL
    """ONCALL_DEADMAN_INTERVAL: seconds between two pings of ONCALL_DEADMAN_URL."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Every setting of a process, from one mapping; SettingsError names a bad variable."""
        from oncall.notify.settings import ProviderSettings
        from oncall.web.settings import WebSettings

        database_url = normalize_database_url(
            environ.get("ONCALL_DATABASE_URL") or DEFAULT_DATABASE_URL
        )
        if not database_url.startswith(("sqlite", "postgresql+psycopg://")):
            raise SettingsError(
                f"ONCALL_DATABASE_URL: unsupported database {database_url.split(':', 1)[0]!r}: "
                "use sqlite:///PATH or postgresql://USER@HOST/DB"
            )
        redis_url = (environ.get("ONCALL_REDIS_URL") or "").strip() or None
        if redis_url is not None and not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise SettingsError("ONCALL_REDIS_URL: expected redis://HOST:PORT/DB")
        metrics_token = (environ.get("ONCALL_METRICS_TOKEN") or "").strip() or None
        if metrics_token is not None and len(metrics_token) < MIN_METRICS_TOKEN:
            raise SettingsError(
                f"ONCALL_METRICS_TOKEN: use at least {MIN_METRICS_TOKEN} random characters "
                "(for example: openssl rand -hex 32)"
            )
        return cls(
            database_url=database_url,
            redis_url=redis_url,
            metrics_token=metrics_token,
            webhook_deny=parse_webhook_deny(environ.get("ONCALL_WEBHOOK_DENY") or ""),
            deadman_url=parse_deadman_url(environ.get("ONCALL_DEADMAN_URL") or ""),
            deadman_interval=parse_deadman_interval(environ.get("ONCALL_DEADMAN_INTERVAL") or ""),
            providers=ProviderSettings.from_env(environ),
            web=WebSettings.from_env(environ),
        )


def parse_webhook_deny(raw: str) -> tuple[str, ...]:
    """`DEFAULT_WEBHOOK_DENY` plus the comma-separated entries of ONCALL_WEBHOOK_DENY, each a
    CIDR, an address or a host name (which also covers its subdomains); the defaults cannot
    be removed. A typo fails at start-up rather than leaving a hole."""
    entries = list(DEFAULT_WEBHOOK_DENY)
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        try:
            entry = str(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            if not _HOST_NAME.match(entry) or entry.replace(".", "").isdigit():
                raise SettingsError(
                    f"ONCALL_WEBHOOK_DENY: {entry!r} is neither a CIDR, an address nor a host "
                    "name"
                ) from None
            entry = entry.rstrip(".").lower()
        if entry not in entries:
            entries.append(entry)
    return tuple(entries)


def parse_deadman_url(raw: str) -> str | None:
    """ONCALL_DEADMAN_URL: an http(s) URL, or unset (no platform switch)."""
    url = raw.strip()
    if not url:
        return None
    if not re.match(r"^https?://[^/\s]+", url):
        raise SettingsError("ONCALL_DEADMAN_URL: expected an http:// or https:// URL")
    return url


def parse_deadman_interval(raw: str) -> float:
    """ONCALL_DEADMAN_INTERVAL: seconds, at least 1 (default 60)."""
    text = raw.strip()
    if not text:
        return DEFAULT_DEADMAN_INTERVAL
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not seconds >= 1:
        raise SettingsError("ONCALL_DEADMAN_INTERVAL: expected a number of seconds, at least 1")
    return seconds
