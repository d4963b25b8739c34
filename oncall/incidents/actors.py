"""Who is acting, and what they may do. Checked here, server-side, for every face."""

from __future__ import annotations

from dataclasses import dataclass, field


class Forbidden(Exception):
    """The actor may not do this; the message says why in words fit for a reply."""


@dataclass(frozen=True)
class Actor:
    """A person (by email, with their roles per team), an integration, or the system itself."""

    kind: str  # user | integration | system
    name: str
    roles: dict[str, str] = field(default_factory=dict)
    user_id: int | None = None
    via: str | None = None
    """The channel the action came through (web, api, slack, sms, voice, email)."""
    platform_admin: bool = False
    """Named in the applied config's `Organization.admins`: may act on every team's incidents."""

    @classmethod
    def system(cls) -> Actor:
        return cls("system", "oncall")

    @classmethod
    def integration(cls, name: str) -> Actor:
        return cls("integration", name)

    @property
    def label(self) -> str:
        """How the audit log names the actor: `user:alice@example.com`, `integration:prom`."""
        return f"{self.kind}:{self.name}"

    @property
    def can_respond(self) -> bool:
        """Responder or admin of some team (or a platform admin): may act on incidents at all.

        Which incidents is decided per incident by `oncall.incidents.access.require_incident`;
        this is only what a face uses to show or hide its buttons."""
        if self.kind != "user" or self.platform_admin:
            return True
        return any(role in ("admin", "responder") for role in self.roles.values())

    def require_responder(self, action: str) -> None:
        if not self.can_respond:
            if not self.roles:
                raise Forbidden(f"{self.name} is not a member of any team and cannot {action}")
            raise Forbidden(f"{self.name} is an observer and cannot {action}")
