"""A postmortem's generated timeline: every event of its incidents, and what changed around
them, read from where each is recorded and merged by `oncall.core.postmortem.merge`.

Sources, each entry keyed so the author's choice survives a rebuild:
- the incidents' audit events (alerts, pages and their delivery, acknowledgements,
  escalations, notes, priority changes, workflow and runbook runs): `event:<id>`;
- config applies in the window (`core.postmortem.window`), with the git revision, who
  applied it and which objects changed: `config:<reconcile run id>`;
- change events reported by integrations for the incidents' services and the services they
  depend on: `change:<id>`;
- status page notices about the incidents or their services' components: `notice:<id>`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, or_, select
from sqlalchemy.orm import join

from oncall.config.configset import ConfigSet
from oncall.core.postmortem import Choice, Entry, IncidentFacts, Kind, kind_of, merge, window
from oncall.core.timeline import sentence
from oncall.db.models import (
    AuditEventRow,
    ChangeEventRow,
    PostmortemEntryRow,
    ReconcileRunRow,
    ServiceRow,
    StatusPageNoticeRow,
    StatusPageNoticeUpdateRow,
    UserRow,
)

_E = AuditEventRow
_R = ReconcileRunRow
_C = ChangeEventRow
_S = ServiceRow
_U = UserRow
_N = StatusPageNoticeRow
_NU = StatusPageNoticeUpdateRow
_T = PostmortemEntryRow

MAX_OBJECTS_NAMED = 8
"""A config apply names at most this many changed objects, then says how many more."""


def choices(conn: Connection, postmortem_id: int) -> dict[str, Choice]:
    return {r.entry_key: Choice(r.kept, r.note) for r in conn.execute(
        select(_T.entry_key, _T.kept, _T.note).where(_T.postmortem_id == postmortem_id))}


def _people(conn: Connection, rows: Sequence[Any]) -> dict[int, str]:
    ids = {d["user_id"] for r in rows if isinstance(d := r.data, dict)
           and isinstance(d.get("user_id"), int)}
    if not ids:
        return {}
    return {r.id: r.email for r in conn.execute(select(_U.id, _U.email)
                                                .where(_U.id.in_(sorted(ids))))}


def _incident_events(conn: Connection, ids: Sequence[int]) -> list[Entry]:
    rows = list(conn.execute(
        select(_E.id, _E.at, _E.actor, _E.type, _E.incident_id, _E.before,
               _E.after, _E.data)
        .where(_E.incident_id.in_(list(ids)))))
    people = _people(conn, rows)
    return [Entry(key=f"event:{r.id}", at=r.at, kind=kind_of(r.type),
                  text=sentence(r.type, r.actor, r.data, r.before, r.after, people),
                  actor=r.actor, incident_id=r.incident_id) for r in rows]


def _config_applies(conn: Connection, start: datetime, end: datetime) -> list[Entry]:
    runs = list(conn.execute(
        select(_R.id, _R.started_at, _R.revision, _R.actor, _R.source)
        .where(_R.result == "applied", _R.started_at >= start, _R.started_at <= end)))
    if not runs:
        return []
    changed: dict[datetime, list[str]] = {}
    for r in conn.execute(
            select(_E.at, _E.type, _E.subject_kind, _E.subject_name)
            .where(_E.type.like("config.%"), _E.at.in_([run.started_at for run in runs]))
            .order_by(_E.id)):
        action = str(r.type).removeprefix("config.")
        changed.setdefault(r.at, []).append(f"{r.subject_kind} {r.subject_name} {action}")
    entries = []
    for run in runs:
        objects = changed.get(run.started_at, [])
        named = ", ".join(objects[:MAX_OBJECTS_NAMED])
        if len(objects) > MAX_OBJECTS_NAMED:
            named += f" and {len(objects) - MAX_OBJECTS_NAMED} more"
        revision = f" at revision {run.revision[:12]}" if run.revision else ""
        who = str(run.actor).removeprefix("user:")
        entries.append(Entry(key=f"config:{run.id}", at=run.started_at, kind=Kind.CONFIG,
                             text=f"Config applied by {who}{revision}: {named or 'no objects'}",
                             actor=run.actor))
    return entries


def _services_around(config: ConfigSet, services: set[str]) -> set[str]:
    """The incidents' services and those they depend on (a change upstream can be the cause)."""
    around = set(services)
    for name in services:
        svc = config.services.get(name)
        if svc is not None:
            around.update(svc.depends_on)
    return around


def _changes(conn: Connection, services: set[str], start: datetime,
             end: datetime) -> list[Entry]:
    if not services:
        return []
    rows = conn.execute(
        select(_C.id, _C.occurred_at, _C.summary, _C.source, _C.integration_name,
               _S.name.label("service"))
        .select_from(join(_C, _S, _S.id == _C.service_id))
        .where(_S.name.in_(sorted(services)), _C.occurred_at >= start,
               _C.occurred_at <= end))
    return [Entry(key=f"change:{r.id}", at=r.occurred_at, kind=Kind.CHANGE,
                  text=f"Change on {r.service}: {r.summary}"
                       + (f" ({r.source})" if r.source else ""),
                  actor=f"integration:{r.integration_name}") for r in rows]


def _components_of(config: ConfigSet, services: set[str]) -> list[tuple[str, str]]:
    return [(page.name, c.name) for page in config.status_pages.values()
            for c in page.components if services & set(c.services)]


def _notices(conn: Connection, config: ConfigSet, ids: Sequence[int], services: set[str],
             start: datetime, end: datetime) -> list[Entry]:
    about: list[ColumnElement[bool]] = [_N.incident_id.in_(list(ids))]
    about += [and_(_N.page_name == page, _N.auto_component == component)
              for page, component in _components_of(config, services)]
    rows = conn.execute(
        select(_NU.id, _NU.created_at, _NU.status, _NU.body, _NU.created_by,
               _N.page_name, _N.title)
        .select_from(join(_NU, _N, _N.id == _NU.notice_id))
        .where(or_(*about), _NU.created_at >= start, _NU.created_at <= end))
    return [Entry(key=f"notice:{r.id}", at=r.created_at, kind=Kind.STATUS,
                  text=f"Status page {r.page_name}, {r.title}: {r.status}, {r.body}",
                  actor=r.created_by or "system") for r in rows]


def build(conn: Connection, config: ConfigSet, postmortem_id: int,
          incidents: Sequence[IncidentFacts], now: datetime,
          chosen: Mapping[str, Choice] | None = None) -> list[Entry]:
    """The whole timeline of a postmortem, in order, each entry kept as the author chose."""
    if not incidents:
        return []
    ids = [i.id for i in incidents]
    start, end = window(incidents, now)
    services = {i.service for i in incidents}
    entries = _incident_events(conn, ids)
    entries += _config_applies(conn, start, end)
    entries += _changes(conn, _services_around(config, services), start, end)
    entries += _notices(conn, config, ids, services, start, end)
    return merge(entries, choices(conn, postmortem_id) if chosen is None else chosen)
