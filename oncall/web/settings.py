"""Settings of the web face (sign-in, sessions), read from the environment like `Settings`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from oncall.settings import SettingsError

DEFAULT_SESSION_HOURS = 12
DEFAULT_GITHUB_API_URL = "https://api.github.com"
DEFAULT_GITHUB_BASE_BRANCH = "main"


@dataclass(frozen=True)
class WebSettings:
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    public_url: str | None = None
    """The URL people open (`https://oncall.example.com`); derived from the request if unset."""
    session_hours: int = DEFAULT_SESSION_HOURS
    config_dir: str = "."
    """ONCALL_CONFIG_DIR: the config repo checkout the editors review against."""
    github_repository: str | None = None
    """ONCALL_GITHUB_REPOSITORY (`owner/name`): where the editors open pull requests."""
    github_token: str | None = field(default=None, repr=False)
    github_api_url: str = DEFAULT_GITHUB_API_URL
    github_base_branch: str = DEFAULT_GITHUB_BASE_BRANCH

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
        repository = get("ONCALL_GITHUB_REPOSITORY")
        if repository is not None and repository.count("/") != 1:
            raise SettingsError("ONCALL_GITHUB_REPOSITORY: expected owner/name")
        return cls(
            oidc_issuer=issuer.rstrip("/") if issuer else None,
            oidc_client_id=client_id,
            oidc_client_secret=get("ONCALL_OIDC_CLIENT_SECRET"),
            public_url=public_url.rstrip("/") if public_url else None,
            session_hours=hours,
            config_dir=get("ONCALL_CONFIG_DIR") or ".",
            github_repository=repository,
            github_token=get("ONCALL_GITHUB_TOKEN"),
            github_api_url=(get("ONCALL_GITHUB_API_URL") or DEFAULT_GITHUB_API_URL).rstrip("/"),
            github_base_branch=get("ONCALL_GITHUB_BASE_BRANCH") or DEFAULT_GITHUB_BASE_BRANCH,
        )

    @property
    def github_enabled(self) -> bool:
        """Pull requests can be opened: a repository and a token are configured."""
        return bool(self.github_repository and self.github_token)

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id)
