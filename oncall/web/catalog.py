"""Services with owners, status and dependencies; config objects with where they came from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.db.models import ConfigObjectRow, IncidentRow, ReconcileRunRow, ServiceRow
from oncall.reconcile.state import read_current

MAX_DEPTH = 4


@dataclass(frozen=True)
class Node:
    name: str
    depth: int
    open: int
    known: bool


@dataclass(frozen=True)
class ServiceCard:
    name: str
    description: str
    team: str
    policy: str
    urgency: str
    open: int
    triggered: int
    upstream: list[Node]
    """What this service depends on, transitively, depth-first (depth 1 = direct)."""
    downstream: list[Node]
    """What depends on this service, transitively."""


def open_counts(session: Session) -> dict[str, tuple[int, int]]:
    rows = session.execute(
        select(ServiceRow.name, IncidentRow.status, func.count())
        .join(IncidentRow, IncidentRow.service_id == ServiceRow.id)
        .where(IncidentRow.status != "resolved")
        .group_by(ServiceRow.name, IncidentRow.status)
    )
    found: dict[str, tuple[int, int]] = {}
    for name, status, n in rows:
        total, triggered = found.get(name, (0, 0))
        found[name] = (total + n, triggered + (n if status == "triggered" else 0))
    return found


def _walk(
    start: str, edges: dict[str, list[str]], counts: dict[str, tuple[int, int]], known: set[str]
) -> list[Node]:
    found: list[Node] = []

    def visit(name: str, depth: int, path: set[str]) -> None:
        for nxt in sorted(edges.get(name, [])):
            found.append(Node(nxt, depth, counts.get(nxt, (0, 0))[0], nxt in known))
            if nxt not in path and depth < MAX_DEPTH:
                visit(nxt, depth + 1, path | {nxt})

    visit(start, 1, {start})
    return found


def services(session: Session, config: ConfigSet) -> list[ServiceCard]:
    counts = open_counts(session)
    up = {name: list(s.depends_on) for name, s in config.services.items()}
    down: dict[str, list[str]] = {}
    for name, deps in up.items():
        for dep in deps:
            down.setdefault(dep, []).append(name)
    known = set(config.services)
    return [
        ServiceCard(
            name=s.name,
            description=s.description or "",
            team=s.team,
            policy=s.escalation_policy or "",
            urgency=s.urgency,
            open=counts.get(s.name, (0, 0))[0],
            triggered=counts.get(s.name, (0, 0))[1],
            upstream=_walk(s.name, up, counts, known),
            downstream=_walk(s.name, down, counts, known),
        )
        for s in sorted(config.services.values(), key=lambda s: s.name)
    ]


@dataclass(frozen=True)
class Provenance:
    kind: str
    name: str
    source: str
    revision: str
    applied_at: datetime
    applied_by: str
    drift: bool


@dataclass(frozen=True)
class LastRun:
    at: datetime
    result: str
    revision: str
    actor: str
    source: str
    created: int
    updated: int
    deleted: int
    errors: list[Any]


def provenance(session: Session) -> tuple[list[Provenance], LastRun | None]:
    drift = {key for key, state in read_current(session).items() if state.drift}
    rows = session.scalars(
        select(ConfigObjectRow).order_by(ConfigObjectRow.kind, ConfigObjectRow.name)
    )
    objects = [
        Provenance(
            r.kind,
            r.name,
            f"{r.source_path}:{r.source_line}",
            r.revision or "",
            r.applied_at,
            r.applied_by,
            (r.kind, r.name) in drift,
        )
        for r in rows
    ]
    run = session.scalar(select(ReconcileRunRow).order_by(ReconcileRunRow.id.desc()).limit(1))
    last = (
        LastRun(
            run.finished_at,
            run.result,
            run.revision or "",
            run.actor,
            run.source,
            run.created,
            run.updated,
            run.deleted,
            list(run.errors or []),
        )
        if run is not None
        else None
    )
    return objects, last
