"""A validated config repo: every object by kind and name, where it came from, and its users."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from oncall.config.diagnostics import Position
from oncall.config.models import (
    ConfigObject,
    EscalationPolicy,
    Heartbeat,
    Integration,
    MaintenanceWindow,
    Organization,
    PostmortemTemplate,
    RoutingRule,
    Runbook,
    Schedule,
    Service,
    StatusPage,
    Team,
    Workflow,
)
from oncall.config.yamlsource import Document, Path

T = TypeVar("T", bound=ConfigObject)


@dataclass(frozen=True)
class Source:
    """Where an object was defined: the reconciler stores this, errors point at it."""

    document: Document

    @property
    def path(self) -> str:
        return self.document.path

    @property
    def line(self) -> int:
        return self.document.start.line

    def position(self, loc: Path = (), *, key: bool = False) -> Position:
        return self.document.position(loc, key=key)


@dataclass(frozen=True)
class User:
    """A person, identified by email; roles come from the teams that list them."""

    email: str
    name: str | None
    roles: dict[str, str]


@dataclass
class ConfigSet:
    objects: dict[str, dict[str, ConfigObject]] = field(default_factory=dict)
    sources: dict[tuple[str, str], Source] = field(default_factory=dict)

    def add(self, obj: ConfigObject, source: Source) -> None:
        self.objects.setdefault(obj.KIND, {})[obj.name] = obj
        self.sources[(obj.KIND, obj.name)] = source

    def of(self, cls: type[T]) -> dict[str, T]:
        return self.objects.get(cls.KIND, {})  # type: ignore[return-value]

    def get(self, cls: type[T], name: str) -> T | None:
        return self.of(cls).get(name)

    def source(self, obj: ConfigObject) -> Source:
        return self.sources[(obj.KIND, obj.name)]

    def __iter__(self) -> Iterator[ConfigObject]:
        for by_name in self.objects.values():
            yield from by_name.values()

    def __len__(self) -> int:
        return sum(len(v) for v in self.objects.values())

    @property
    def teams(self) -> dict[str, Team]:
        return self.of(Team)

    @property
    def schedules(self) -> dict[str, Schedule]:
        return self.of(Schedule)

    @property
    def policies(self) -> dict[str, EscalationPolicy]:
        return self.of(EscalationPolicy)

    @property
    def services(self) -> dict[str, Service]:
        return self.of(Service)

    @property
    def integrations(self) -> dict[str, Integration]:
        return self.of(Integration)

    @property
    def routing_rules(self) -> list[RoutingRule]:
        """Rules in evaluation order: ascending `order`, then name."""
        return sorted(self.of(RoutingRule).values(), key=lambda r: (r.order, r.name))

    @property
    def maintenance_windows(self) -> dict[str, MaintenanceWindow]:
        return self.of(MaintenanceWindow)

    @property
    def runbooks(self) -> dict[str, Runbook]:
        return self.of(Runbook)

    @property
    def workflows(self) -> dict[str, Workflow]:
        return self.of(Workflow)

    @property
    def status_pages(self) -> dict[str, StatusPage]:
        return self.of(StatusPage)

    @property
    def heartbeats(self) -> dict[str, Heartbeat]:
        return self.of(Heartbeat)

    @property
    def postmortem_templates(self) -> dict[str, PostmortemTemplate]:
        return self.of(PostmortemTemplate)

    @property
    def organization(self) -> Organization | None:
        """The one Organization document, if the config has one (validation allows at most one)."""
        found = sorted(self.of(Organization).values(), key=lambda o: o.name)
        return found[0] if found else None

    @property
    def platform_admins(self) -> frozenset[str]:
        """Emails named in `Organization.admins`: they act on every team's incidents."""
        org = self.organization
        return frozenset(org.admins) if org is not None else frozenset()

    @property
    def users(self) -> dict[str, User]:
        found: dict[str, User] = {}
        for team in sorted(self.teams.values(), key=lambda t: t.name):
            for m in team.members:
                user = found.get(m.email)
                if user is None:
                    found[m.email] = User(m.email, m.name, {team.name: m.role})
                else:
                    user.roles[team.name] = m.role
                    if user.name is None and m.name:
                        found[m.email] = User(m.email, m.name, user.roles)
        return found
