"""Opening and editing postmortems: every face (web app, REST API, Slack, a workflow step)
goes through these functions, which check who asks, write through `oncall.store.postmortems`
and put each change on the audit log, in the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection

from oncall.config.configset import ConfigSet
from oncall.config.models import PostmortemTemplate
from oncall.core.postmortem import (
    DEFAULT_SECTIONS,
    SEVERITIES,
    Entry,
    ItemStatus,
    KeyFigures,
    Section,
    Status,
    key_figures,
    starting_body,
)
from oncall.incidents.actors import Actor, Forbidden
from oncall.postmortems import access, audit, queries, timeline
from oncall.postmortems.queries import NotFound, Postmortem
from oncall.store import postmortems as store

MAX_TITLE = 1024
MAX_BODY = 200_000
MAX_NOTE = 5_000
MAX_INCIDENTS = 50


class Invalid(ValueError):
    """The request cannot be done as asked; the message says why, fit for a reply."""


class Conflict(Exception):
    """Someone saved the postmortem since the version the edit was made on."""

    def __init__(self, current: Postmortem) -> None:
        super().__init__(f"postmortem #{current.id} was changed by {current.updated_by} at "
                         f"{current.updated_at:%H:%M:%S} UTC (now version {current.version})")
        self.current = current


@dataclass(frozen=True)
class Opened:
    id: int
    created: bool
    """False when the incident already had a postmortem, which is returned instead."""


@dataclass(frozen=True)
class View:
    """One postmortem as its reader sees it."""

    postmortem: Postmortem
    timeline: list[Entry]
    figures: KeyFigures
    can_edit: bool


__all__ = ["Conflict", "Forbidden", "Invalid", "NotFound", "Opened", "View"]


def template_for(config: ConfigSet, team: str | None,
                 name: str | None = None) -> tuple[str | None, tuple[Section, ...]]:
    """The template a new postmortem takes: the one asked for, else the team's, else the
    default, else the built-in sections."""
    templates = config.postmortem_templates
    chosen: PostmortemTemplate | None
    if name:
        chosen = templates.get(name)
        if chosen is None:
            known = ", ".join(sorted(templates)) or "none"
            raise Invalid(f"no postmortem template {name!r} (known: {known})")
    else:
        chosen = next((t for t in templates.values() if team in t.teams), None) or next(
            (t for t in templates.values() if t.default), None)
    if chosen is None:
        return None, DEFAULT_SECTIONS
    return chosen.name, tuple(Section(s.title, s.text) for s in chosen.sections)


def _readable(actor: Actor, pm: Postmortem) -> None:
    if not access.may_read(actor, pm.teams, pm.status):
        raise NotFound(f"no postmortem #{pm.id}")


def _editable(conn: Connection, actor: Actor, postmortem_id: int, what: str) -> Postmortem:
    pm = queries.load(conn, postmortem_id)
    _readable(actor, pm)
    access.require_editor(actor, pm.teams, what)
    return pm


def _text(value: str, what: str, limit: int, *, required: bool = True) -> str:
    text = value.strip()
    if required and not text:
        raise Invalid(f"{what} is empty")
    if len(text) > limit:
        raise Invalid(f"{what} is longer than {limit} characters")
    return text


def _severity(value: str | None) -> str | None:
    if value in (None, ""):
        return None
    if value not in SEVERITIES:
        raise Invalid(f"severity {value!r} is not one of {', '.join(SEVERITIES)}")
    return value


def _owner(conn: Connection, email: str | None) -> int | None:
    if not email:
        return None
    found = queries.user_id_of(conn, email)
    if found is None:
        raise Invalid(f"no user {email!r}")
    return found


def open_postmortem(conn: Connection, config: ConfigSet, actor: Actor, incident_ids: Sequence[int],
                    now: datetime, *, title: str | None = None, template: str | None = None,
                    severity: str | None = None, owner: str | None = None) -> Opened:
    """Open a postmortem of the incidents. Asked about one incident that a postmortem already
    reviews, it answers that one (a second click, a Slack command run twice, a workflow
    firing again never make a second)."""
    ids = sorted(set(incident_ids))
    if not ids:
        raise Invalid("a postmortem reviews at least one incident")
    if len(ids) > MAX_INCIDENTS:
        raise Invalid(f"a postmortem reviews at most {MAX_INCIDENTS} incidents")
    incidents = queries.incident_facts(conn, ids)
    missing = sorted(set(ids) - {i.id for i in incidents})
    if missing:
        raise NotFound("no incident " + ", ".join(f"#{i}" for i in missing))
    for incident in incidents:
        access.require_editor(actor, [incident.team],
                              f"open a postmortem of incident #{incident.id}")
    if len(ids) == 1:
        existing = queries.of_incident(conn, ids[0])
        if existing:
            return Opened(existing[0][0], created=False)
    first = incidents[0]
    chosen, sections = template_for(config, first.team, template)
    priorities = sorted(i.priority for i in incidents if i.priority in SEVERITIES)
    owner_id = _owner(conn, owner) if owner else (
        (actor.user_id or queries.user_id_of(conn, actor.name)) if actor.kind == "user" else None)
    pm_id = store.create(
        conn, title=_text(title, "title", MAX_TITLE) if title else first.title,
        severity=_severity(severity) if severity else (priorities[0] if priorities else None),
        owner_id=owner_id, template=chosen, body=starting_body(sections), actor=actor.label,
        now=now)
    store.link(conn, pm_id, ids, now)
    audit.record(conn, pm_id, audit.CREATED, actor=actor.label, at=now,
                 data={"incidents": ids, "template": chosen})
    return Opened(pm_id, created=True)


def view(conn: Connection, config: ConfigSet, actor: Actor, postmortem_id: int,
         now: datetime) -> View:
    pm = queries.load(conn, postmortem_id)
    _readable(actor, pm)
    entries = timeline.build(conn, config, pm.id, pm.incidents, now)
    figures = key_figures(pm.incidents, queries.page_facts(conn, pm.incident_ids))
    return View(pm, entries, figures, access.may_edit(actor, pm.teams))


def save(conn: Connection, actor: Actor, postmortem_id: int, version: int, now: datetime, *,
         title: str | None = None, body: str | None = None, severity: str | None = None,
         owner: str | None = None, status: str | None = None) -> int:
    """Save an edit made on `version`; the new version. Raises `Conflict` (nothing written)
    when someone saved in between. `owner=""` and `severity=""` clear them."""
    pm = _editable(conn, actor, postmortem_id, "edit it")
    changes: dict[str, Any] = {}
    if title is not None and title.strip() != pm.title:
        changes["title"] = _text(title, "title", MAX_TITLE)
    if body is not None and body != pm.body:
        if len(body) > MAX_BODY:
            raise Invalid(f"the body is longer than {MAX_BODY} characters")
        changes["body"] = body
    if severity is not None and (severity or None) != pm.severity:
        changes["severity"] = _severity(severity)
    if owner is not None:
        owner_id = _owner(conn, owner)
        if owner_id != pm.owner_id:
            changes["owner_id"] = owner_id
    if status is not None and status != pm.status:
        try:
            Status(status)
        except ValueError:
            raise Invalid(f"status {status!r} is not one of "
                          f"{', '.join(s.value for s in Status)}") from None
        changes["status"] = status
        changes["published_at"] = now if status == Status.PUBLISHED else None
    if not changes:
        if version != pm.version:
            raise Conflict(pm)
        return pm.version
    saved = store.save(conn, postmortem_id, version, changes, actor.label, now)
    if saved is None:
        raise Conflict(queries.load(conn, postmortem_id))
    fields = sorted(k for k in changes if k != "published_at")
    if "status" in changes:
        audit.record(conn, postmortem_id, audit.STATUS_CHANGED, actor=actor.label, at=now,
                     before=pm.status, after=status)
    others = [f for f in fields if f != "status"]
    if others:
        shown = {k: v for k, v in changes.items() if k in ("title", "severity", "owner_id")}
        audit.record(conn, postmortem_id, audit.UPDATED, actor=actor.label, at=now,
                     data={"fields": others, "version": saved, **shown})
    return saved


def link_incidents(conn: Connection, actor: Actor, postmortem_id: int,
                   incident_ids: Sequence[int], now: datetime) -> list[int]:
    pm = _editable(conn, actor, postmortem_id, "link incidents to it")
    incidents = queries.incident_facts(conn, incident_ids)
    missing = sorted(set(incident_ids) - {i.id for i in incidents})
    if missing:
        raise NotFound("no incident " + ", ".join(f"#{i}" for i in missing))
    if len(set(pm.incident_ids) | {i.id for i in incidents}) > MAX_INCIDENTS:
        raise Invalid(f"a postmortem reviews at most {MAX_INCIDENTS} incidents")
    for incident in incidents:
        access.require_editor(actor, [incident.team], f"add incident #{incident.id}")
    added = store.link(conn, postmortem_id, [i.id for i in incidents], now)
    if added:
        store.touch(conn, postmortem_id, actor.label, now)
        audit.record(conn, postmortem_id, audit.INCIDENT_LINKED, actor=actor.label, at=now,
                     data={"incidents": added})
    return added


def unlink_incident(conn: Connection, actor: Actor, postmortem_id: int, incident_id: int,
                    now: datetime) -> bool:
    pm = _editable(conn, actor, postmortem_id, "remove incidents from it")
    if incident_id in pm.incident_ids and len(pm.incident_ids) == 1:
        raise Invalid("a postmortem reviews at least one incident")
    removed = store.unlink(conn, postmortem_id, incident_id)
    if removed:
        store.touch(conn, postmortem_id, actor.label, now)
        audit.record(conn, postmortem_id, audit.INCIDENT_UNLINKED, actor=actor.label, at=now,
                     data={"incident": incident_id})
    return removed


def choose(conn: Connection, actor: Actor, postmortem_id: int, entry_key: str, kept: bool,
           note: str | None, now: datetime) -> None:
    """Keep or drop one timeline entry, with a note; the choice is saved for everyone."""
    _editable(conn, actor, postmortem_id, "choose its timeline")
    source, _, number = entry_key.partition(":")
    if source not in ("event", "config", "change", "notice") or not number.isdigit():
        raise Invalid(f"no timeline entry {entry_key!r}")
    text = _text(note, "note", MAX_NOTE, required=False) if note else None
    store.choose(conn, postmortem_id, entry_key, kept, text, actor.label, now)
    store.touch(conn, postmortem_id, actor.label, now)
    audit.record(conn, postmortem_id, audit.TIMELINE_CHOSEN, actor=actor.label, at=now,
                 data={"entry": entry_key, "kept": kept, "note": bool(text)})


def _due(value: date | str | None) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise Invalid(f"due date {value!r} is not a date (YYYY-MM-DD)") from None


def _url(value: str | None) -> str | None:
    if not value:
        return None
    text = value.strip()
    if not text.startswith(("https://", "http://")):
        raise Invalid("a ticket link starts with https:// or http://")
    return _text(text, "ticket link", 2048)


def add_item(conn: Connection, actor: Actor, postmortem_id: int, now: datetime, *, title: str,
             owner: str | None = None, due_on: date | str | None = None,
             url: str | None = None) -> int:
    _editable(conn, actor, postmortem_id, "add action items")
    item_id = store.add_item(conn, postmortem_id, title=_text(title, "title", MAX_TITLE),
                             owner_id=_owner(conn, owner), due_on=_due(due_on), url=_url(url),
                             actor=actor.label, now=now)
    store.touch(conn, postmortem_id, actor.label, now)
    audit.record(conn, postmortem_id, audit.ITEM_ADDED, actor=actor.label, at=now,
                 data={"item": item_id, "title": title.strip()[:200], "owner": owner or None})
    return item_id


def update_item(conn: Connection, actor: Actor, item_id: int, now: datetime, *,
                title: str | None = None, owner: str | None = None,
                due_on: date | str | None = None, url: str | None = None,
                status: str | None = None) -> bool:
    """Change an action item (`owner=""`, `due_on=""`, `url=""` clear them); whether it
    changed."""
    item = queries.item(conn, item_id)
    _editable(conn, actor, item.postmortem_id, "change its action items")
    changes: dict[str, Any] = {}
    if title is not None and title.strip() != item.title:
        changes["title"] = _text(title, "title", MAX_TITLE)
    if owner is not None and _owner(conn, owner) != item.owner_id:
        changes["owner_id"] = _owner(conn, owner)
    if due_on is not None and _due(due_on) != item.due_on:
        changes["due_on"] = _due(due_on)
    if url is not None and _url(url) != item.url:
        changes["url"] = _url(url)
    if status is not None and status != item.status:
        try:
            ItemStatus(status)
        except ValueError:
            raise Invalid(f"status {status!r} is not one of "
                          f"{', '.join(s.value for s in ItemStatus)}") from None
        changes["status"] = status
        changes["completed_at"] = None if status == ItemStatus.OPEN else now
    if not changes:
        return False
    store.update_item(conn, item_id, changes, now)
    store.touch(conn, item.postmortem_id, actor.label, now)
    audit.record(conn, item.postmortem_id, audit.ITEM_UPDATED, actor=actor.label, at=now,
                 data={"item": item_id, "fields": sorted(k for k in changes
                                                         if k != "completed_at"),
                       **({"status": status} if "status" in changes else {})})
    return True


def delete_item(conn: Connection, actor: Actor, item_id: int, now: datetime) -> None:
    item = queries.item(conn, item_id)
    _editable(conn, actor, item.postmortem_id, "delete its action items")
    store.delete_item(conn, item_id)
    store.touch(conn, item.postmortem_id, actor.label, now)
    audit.record(conn, item.postmortem_id, audit.ITEM_DELETED, actor=actor.label, at=now,
                 data={"item": item_id, "title": item.title[:200]})


def readable_summaries(conn: Connection, actor: Actor, *, status: str | None = None,
                       team: str | None = None) -> list[queries.Summary]:
    return [s for s in queries.summaries(conn, status=status, team=team)
            if access.may_read(actor, s.teams, s.status)]


def readable_items(conn: Connection, actor: Actor, *, team: str | None = None,
                   owner: str | None = None, status: str | None = ItemStatus.OPEN.value
                   ) -> list[queries.Item]:
    """Action items across postmortems (`queries.action_items`), those of postmortems the
    asker may read."""
    return [i for i in queries.action_items(conn, team=team, owner=owner, status=status)
            if access.may_read(actor, i.teams, i.postmortem_status)]
