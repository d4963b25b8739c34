"""What a responder needs around an incident, shaped for the page: an alert's labels, links,
images and details; the services affected through the config's dependencies; who is on call
now and next; related incidents.

Pure: rows read elsewhere (`oncall.web.cockpit_reads`) go in, page rows come out. Every URL
goes through `sanitize.safe_url`; text stays text (React escapes it).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from oncall.web import format, sanitize

MAX_DETAILS_CHARS = 20_000
"""The most of an alert's details shown; the rest is cut, saying so."""


def _links(items: Iterable[Any], href_keys: Sequence[str], text_key: str,
           default: str) -> list[dict[str, str]]:
    out = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        raw = next((str(item[k]) for k in href_keys if isinstance(item.get(k), str)), "")
        href = sanitize.safe_url(raw)
        if href and "://" in href:
            out.append({"href": href, "text": str(item.get(text_key) or "") or default})
    return out


def details_json(details: Any) -> str:
    """Details as indented JSON, keys sorted; cut at `MAX_DETAILS_CHARS`."""
    text = json.dumps(details, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    if len(text) > MAX_DETAILS_CHARS:
        text = text[:MAX_DETAILS_CHARS] + "\n… (cut: the details are longer)"
    return text


def alert_row(*, id: int, integration: str, status: str, severity: str | None, summary: str,
              source: str | None, labels: Mapping[str, Any] | None,
              annotations: Mapping[str, Any] | None, received: str) -> dict[str, Any]:
    """An alert as the page shows it. Images are links, never `<img>`: the app's
    Content-Security-Policy allows images from its own origin only."""
    notes = dict(annotations or {})
    details = notes.pop("details", None)
    links = _links(notes.pop("links", None) or (), ("href",), "text", "Link")
    images = _links(details.get("images") or () if isinstance(details, Mapping) else (),
                    ("src", "href"), "alt", "Image")
    image_hrefs = {i["href"] for i in images}
    rest = {k: v for k, v in notes.items() if k not in ("images",)}
    return {
        "id": str(id),
        "integration": integration,
        "status": status,
        "severity": severity or "",
        "summary": summary,
        "source": source or "",
        "source_url": sanitize.safe_url(source),
        "received": received,
        "labels": [{"name": str(k), "value": str(v)} for k, v in sorted((labels or {}).items())],
        "links": [link for link in links if link["href"] not in image_hrefs],
        "images": images,
        "annotations": [{"name": str(k), "value": v if isinstance(v, str) else json.dumps(v)}
                        for k, v in sorted(rest.items())],
        "details": details_json(details) if details else "",
    }


@dataclass(frozen=True)
class Affected:
    name: str
    depth: int
    """1: a direct dependency (or dependant); 2 and more: through others."""
    known: bool
    """Whether the config has the service (a dependency may name one it does not)."""


def affected(service: str, depends_on: Mapping[str, Sequence[str]]
             ) -> tuple[list[Affected], list[Affected]]:
    """What `service` depends on (upstream) and what depends on it (downstream), transitively,
    each service once at its shortest distance; nearest first, then by name."""
    down: dict[str, list[str]] = {}
    for name, deps in depends_on.items():
        for dep in deps:
            down.setdefault(dep, []).append(name)

    def walk(edges: Mapping[str, Sequence[str]]) -> list[Affected]:
        depth: dict[str, int] = {service: 0}
        frontier = [service]
        while frontier:
            following = []
            for name in frontier:
                for nxt in edges.get(name, ()):
                    if nxt not in depth:
                        depth[nxt] = depth[name] + 1
                        following.append(nxt)
            frontier = following
        del depth[service]
        return [Affected(n, d, n in depends_on)
                for n, d in sorted(depth.items(), key=lambda kv: (kv[1], kv[0]))]

    return walk(depends_on), walk(down)


def affected_rows(found: Sequence[Affected]) -> list[dict[str, str]]:
    return [{"name": a.name, "depth": str(a.depth),
             "how": "direct" if a.depth == 1 else f"via {a.depth - 1} other"
                    + ("s" if a.depth > 2 else ""),
             "known": "yes" if a.known else ""} for a in found]


@dataclass(frozen=True)
class OnCall:
    """Who one schedule of the service's escalation policy pages now, and who takes over."""

    step: int
    schedule: str
    now: str | None
    until: datetime | None
    next: str | None
    """Who is on call from `until` (None: nobody, or not known within the horizon)."""


def oncall_rows(found: Sequence[OnCall], names: Mapping[str, str], tz: str
                ) -> list[dict[str, str]]:
    return [{"step": str(o.step), "schedule": o.schedule,
             "now": names.get(o.now, o.now) if o.now else "nobody (a gap in the schedule)",
             "until": format.when(o.until, tz),
             "next": names.get(o.next, o.next) if o.next else "nobody"} for o in found]


@dataclass(frozen=True)
class Related:
    id: int
    title: str
    status: str
    priority: str | None
    triggered_at: datetime


def related_rows(found: Sequence[Related], tz: str) -> list[dict[str, str]]:
    return [{"id": str(r.id), "title": r.title, "status": r.status,
             "priority": r.priority or "", "triggered": format.when(r.triggered_at, tz),
             "href": f"/incidents/{r.id}"} for r in found]
