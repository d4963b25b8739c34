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
        """Acknowledge, resolve, reassign, annotate: anyone but an observer."""
        if self.kind != "user":
            return True
        return any(role in ("admin", "responder") for role in self.roles.values())

    def require_responder(self, action: str) -> None:
        if not self.can_respond:
            if not self.roles:
                raise Forbidden(f"{self.name} is not a member of any team and cannot {action}")
            raise Forbidden(f"{self.name} is an observer and cannot {action}")
