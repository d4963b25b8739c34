"""Settings of the web face (sign-in, sessions), read from the environment like `Settings`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from oncall.settings import SettingsError

DEFAULT_SESSION_HOURS = 12


@dataclass(frozen=True)
class WebSettings:
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    public_url: str | None = None
    """The URL people open (`https://oncall.example.com`); derived from the request if unset."""
    session_hours: int = DEFAULT_SESSION_HOURS

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> WebSettings:
        def get(name: str) -> str | None:
            return (environ.get(name) or "").strip() or None

        hours_text = get("ONCALL_SESSION_HOURS")
        try:
            hours = int(hours_text) if hours_text else DEFAULT_SESSION_HOURS
        except ValueError:
            raise SettingsError("ONCALL_SESSION_HOURS: expected a whole number of hours") from None
        if not 1 <= hours <= 24 * 30:
            raise SettingsError("ONCALL_SESSION_HOURS: expected 1 to 720 hours")
        issuer = get("ONCALL_OIDC_ISSUER")
        client_id = get("ONCALL_OIDC_CLIENT_ID")
        if issuer and not client_id:
            raise SettingsError("ONCALL_OIDC_CLIENT_ID: required when ONCALL_OIDC_ISSUER is set")
        public_url = get("ONCALL_PUBLIC_URL")
        return cls(
            oidc_issuer=issuer.rstrip("/") if issuer else None,
            oidc_client_id=client_id,
            oidc_client_secret=get("ONCALL_OIDC_CLIENT_SECRET"),
            public_url=public_url.rstrip("/") if public_url else None,
            session_hours=hours,
        )

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id)
