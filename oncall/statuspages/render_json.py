"""A page as Statuspage's public v2 JSON, so widgets and status aggregators built for
Statuspage read it unchanged: the same documents, field names, values and id/time formats.

Pure: a PageView and the page's public URL in, plain dicts out. Ids are strings (stable hashes
where the thing has no row: the page, a component, a maintenance window); times are ISO 8601
with milliseconds and an offset, as Statuspage writes them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from oncall.statuspages.view import (
    ComponentView,
    MaintenanceView,
    NoticeView,
    PageView,
    UpdateView,
)

Json = dict[str, Any]

TIME_ZONE = "Etc/UTC"
"""Times are written in UTC: a page has no zone of its own in config."""


def stable_id(kind: str, *names: str) -> str:
    """A 12-character id like Statuspage's, the same for the same thing on every rebuild."""
    digest = hashlib.sha256("\x1f".join((kind, *names)).encode("utf-8")).hexdigest()
    return digest[:12]


def when(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


def page_url(base_url: str, name: str) -> str:
    return f"{base_url.rstrip('/')}/status/{name}"


def _page(view: PageView, base_url: str) -> Json:
    return {"id": stable_id("page", view.name), "name": view.title,
            "url": page_url(base_url, view.name), "time_zone": TIME_ZONE,
            "updated_at": when(view.updated_at)}


def _component(view: PageView, c: ComponentView) -> Json:
    changed = when(c.updated_at or view.updated_at)
    return {
        "id": stable_id("component", view.name, c.name),
        "name": c.name,
        "status": c.status.value,
        "created_at": changed,
        "updated_at": changed,
        "position": c.position,
        "description": c.description,
        "showcase": True,
        "start_date": None,
        "group_id": None,
        "page_id": stable_id("page", view.name),
        "group": False,
        "only_show_if_degraded": False,
    }


def _components_named(view: PageView, names: tuple[str, ...]) -> list[Json]:
    wanted = set(names)
    return [_component(view, c) for c in view.components if c.name in wanted]


def _update(u: UpdateView, incident_id: str) -> Json:
    at = when(u.created_at)
    return {"id": str(u.id), "status": u.status, "body": u.body, "incident_id": incident_id,
            "created_at": at, "updated_at": at, "display_at": at, "affected_components": None}


def _incident(view: PageView, n: NoticeView, base_url: str) -> Json:
    incident_id = str(n.id)
    return {
        "id": incident_id,
        "name": n.title,
        "status": n.status,
        "created_at": when(n.created_at),
        "updated_at": when(n.updated_at),
        "monitoring_at": when(n.monitoring_at),
        "resolved_at": when(n.resolved_at),
        "impact": n.impact,
        "shortlink": f"{page_url(base_url, view.name)}#incident-{incident_id}",
        "started_at": when(n.created_at),
        "page_id": stable_id("page", view.name),
        "incident_updates": [_update(u, incident_id) for u in n.updates],
        "components": _components_named(view, n.components),
    }


def _maintenance(view: PageView, m: MaintenanceView, base_url: str) -> Json:
    w = m.maintenance
    mid = stable_id("maintenance", view.name, w.name)
    changed = w.ends_at if m.stage == "completed" else w.starts_at
    updates = []
    if w.description:
        at = when(changed)
        updates.append({"id": stable_id("maintenance-update", view.name, w.name, m.stage),
                        "status": m.stage, "body": w.description, "incident_id": mid,
                        "created_at": at, "updated_at": at, "display_at": at,
                        "affected_components": None})
    return {
        "id": mid,
        "name": w.name,
        "status": m.stage,
        "created_at": when(w.starts_at),
        "updated_at": when(changed),
        "monitoring_at": None,
        "resolved_at": when(w.ends_at) if m.stage == "completed" else None,
        "impact": "maintenance",
        "shortlink": f"{page_url(base_url, view.name)}#maintenance-{mid}",
        "started_at": when(w.starts_at),
        "page_id": stable_id("page", view.name),
        "incident_updates": updates,
        "components": _components_named(view, m.components),
        "scheduled_for": when(w.starts_at),
        "scheduled_until": when(w.ends_at),
    }


def _status(view: PageView) -> Json:
    return {"indicator": view.indicator.value, "description": view.status_description}


def summary(view: PageView, base_url: str) -> Json:
    return {
        "page": _page(view, base_url),
        "components": [_component(view, c) for c in view.components],
        "incidents": [_incident(view, n, base_url) for n in view.open_notices],
        "scheduled_maintenances": [_maintenance(view, m, base_url)
                                   for m in (*view.active, *view.upcoming)],
        "status": _status(view),
    }


def status(view: PageView, base_url: str) -> Json:
    return {"page": _page(view, base_url), "status": _status(view)}


def components(view: PageView, base_url: str) -> Json:
    return {"page": _page(view, base_url),
            "components": [_component(view, c) for c in view.components]}


def incidents(view: PageView, base_url: str) -> Json:
    return {"page": _page(view, base_url),
            "incidents": [_incident(view, n, base_url) for n in view.notices]}


def unresolved_incidents(view: PageView, base_url: str) -> Json:
    return {"page": _page(view, base_url),
            "incidents": [_incident(view, n, base_url) for n in view.open_notices]}


def scheduled_maintenances(view: PageView, base_url: str) -> Json:
    return {"page": _page(view, base_url),
            "scheduled_maintenances": [_maintenance(view, m, base_url)
                                       for m in view.maintenances]}


def upcoming_maintenances(view: PageView, base_url: str) -> Json:
    return {"page": _page(view, base_url),
            "scheduled_maintenances": [_maintenance(view, m, base_url)
                                       for m in view.upcoming]}


def active_maintenances(view: PageView, base_url: str) -> Json:
    return {"page": _page(view, base_url),
            "scheduled_maintenances": [_maintenance(view, m, base_url) for m in view.active]}


DOCUMENTS: dict[str, Callable[[PageView, str], Json]] = {
    "summary": summary,
    "status": status,
    "components": components,
    "incidents": incidents,
    "incidents/unresolved": unresolved_incidents,
    "scheduled-maintenances": scheduled_maintenances,
    "scheduled-maintenances/upcoming": upcoming_maintenances,
    "scheduled-maintenances/active": active_maintenances,
}
"""Each document by its path under /api/v2/, without `.json`."""


def encode(document: Json) -> bytes:
    """The bytes served: compact UTF-8."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
