"""Postmortems, computed: the merged timeline of what happened and what changed around it, the
author's choice of events, the key figures, and the document as Markdown.

Pure: the services read rows and hand over plain facts; nothing here does I/O or reads a clock.
A figure is never typed by a person, so two readers of one postmortem always see the same
numbers: time to acknowledge and to resolve, people paged, pages per channel, and how many
pages reached someone at night on their own clock (`oncall.core.night`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum

from oncall.core.night import is_night, zone


class Status(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    PUBLISHED = "published"


class ItemStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    WONTFIX = "wontfix"


SEVERITIES = ("P1", "P2", "P3", "P4", "P5")
LOOKBACK = timedelta(hours=6)
"""How long before the first incident config applies and change events are shown: long enough
for a deploy that took an afternoon to hurt, short enough to stay readable."""
TRAILING = timedelta(hours=1)
"""How long after the last resolution changes are still shown (a fix deployed, a rollback)."""


class Kind(StrEnum):
    """What an entry of the timeline is about, for filters and the default choice."""

    ALERT = "alert"
    TRIGGERED = "triggered"
    PAGE = "page"
    DELIVERY = "delivery"
    ACKNOWLEDGED = "acknowledged"
    ESCALATED = "escalated"
    REASSIGNED = "reassigned"
    NOTE = "note"
    PRIORITY = "priority"
    RESOLVED = "resolved"
    WORKFLOW = "workflow"
    RUNBOOK = "runbook"
    STATUS = "status"
    CONFIG = "config"
    CHANGE = "change"
    OTHER = "other"


KEPT_BY_DEFAULT = frozenset({
    Kind.TRIGGERED, Kind.ACKNOWLEDGED, Kind.ESCALATED, Kind.REASSIGNED, Kind.NOTE,
    Kind.PRIORITY, Kind.RESOLVED, Kind.RUNBOOK, Kind.STATUS, Kind.CONFIG, Kind.CHANGE,
})
"""What a new postmortem keeps before the author chooses: the turns of the story, not every
page attempt or workflow step (those stay one click away)."""

_KINDS: dict[str, Kind] = {
    "incident.triggered": Kind.TRIGGERED,
    "incident.alert": Kind.ALERT,
    "alert.suppressed": Kind.ALERT,
    "incident.acknowledged": Kind.ACKNOWLEDGED,
    "incident.resolved": Kind.RESOLVED,
    "incident.escalated": Kind.ESCALATED,
    "incident.escalate_requested": Kind.ESCALATED,
    "escalation.step_skipped": Kind.ESCALATED,
    "escalation.exhausted": Kind.ESCALATED,
    "incident.reassigned": Kind.REASSIGNED,
    "incident.note": Kind.NOTE,
    "incident.note_added": Kind.NOTE,
    "incident.priority_changed": Kind.PRIORITY,
    "notification.sent": Kind.PAGE,
    "notification.unreachable": Kind.PAGE,
    "notification.delivered": Kind.DELIVERY,
    "notification.failed": Kind.DELIVERY,
    "notification.retry": Kind.DELIVERY,
    "notification.attempt_failed": Kind.DELIVERY,
    "runbook.requested": Kind.RUNBOOK,
    "status_page.notice_posted": Kind.STATUS,
    "status_page.notice_updated": Kind.STATUS,
}


def kind_of(event_type: str) -> Kind:
    """The kind of an audit event type; a workflow's events are workflow, unknown are other."""
    if event_type in _KINDS:
        return _KINDS[event_type]
    if event_type.startswith("workflow."):
        return Kind.WORKFLOW
    if event_type.startswith("config."):
        return Kind.CONFIG
    return Kind.OTHER


@dataclass(frozen=True)
class Entry:
    """One event of a postmortem's timeline, from whichever source, as a sentence.

    `key` names it across sources and stays the same every time the timeline is built
    ("event:<audit id>", "config:<reconcile run id>", "change:<change event id>",
    "notice:<notice update id>"), so the author's choice survives a rebuild."""

    key: str
    at: datetime
    kind: Kind
    text: str
    actor: str = ""
    incident_id: int | None = None
    kept: bool = False
    note: str | None = None
    chosen: bool = False
    """The author decided about this entry (kept or dropped); otherwise the default holds."""


@dataclass(frozen=True)
class Choice:
    kept: bool
    note: str | None = None


def kept_by_default(entry: Entry) -> bool:
    return entry.kind in KEPT_BY_DEFAULT


def merge(entries: Iterable[Entry], choices: Mapping[str, Choice]) -> list[Entry]:
    """Every entry in time order (ties by source, then key, so the order never changes
    between builds), each kept as the author chose or else by default."""
    order = {"config": 0, "change": 1, "event": 2, "notice": 3}

    def sort_key(e: Entry) -> tuple[datetime, int, int, str]:
        source, _, number = e.key.partition(":")
        return e.at, order.get(source, 9), int(number) if number.isdigit() else 0, e.key

    merged: list[Entry] = []
    for entry in sorted(entries, key=sort_key):
        choice = choices.get(entry.key)
        if choice is None:
            merged.append(replace(entry, kept=kept_by_default(entry), note=None, chosen=False))
        else:
            merged.append(replace(entry, kept=choice.kept, note=choice.note, chosen=True))
    return merged


def window(incidents: Sequence[IncidentFacts], now: datetime) -> tuple[datetime, datetime]:
    """When changes around the incidents are looked for: from LOOKBACK before the first
    trigger to TRAILING after the last resolution (or now, while one is open)."""
    start = min(i.triggered_at for i in incidents) - LOOKBACK
    if all(i.resolved_at is not None for i in incidents):
        end = max(i.resolved_at for i in incidents if i.resolved_at is not None) + TRAILING
    else:
        end = now
    return start, min(end, now)


# --- key figures -----------------------------------------------------------------------------


@dataclass(frozen=True)
class IncidentFacts:
    id: int
    title: str
    service: str
    team: str
    priority: str | None
    status: str
    triggered_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None


@dataclass(frozen=True)
class PageFacts:
    """One page that went out: to whom, how, when it was sent, and the person's time zone."""

    incident_id: int
    person: str
    channel: str
    sent_at: datetime
    time_zone: str | None


@dataclass(frozen=True)
class KeyFigures:
    started_at: datetime | None
    time_to_acknowledge: timedelta | None
    """From the first trigger to the first acknowledgement of any linked incident."""
    time_to_resolve: timedelta | None
    """From the first trigger to the last resolution; None while any is open."""
    people_paged: tuple[str, ...]
    pages: int
    pages_by_channel: dict[str, int]
    night_pages: int
    night_pages_by_person: dict[str, int] = field(default_factory=dict)


def key_figures(incidents: Sequence[IncidentFacts], pages: Sequence[PageFacts]) -> KeyFigures:
    if not incidents:
        return KeyFigures(None, None, None, (), 0, {}, 0)
    start = min(i.triggered_at for i in incidents)
    acks = [i.acknowledged_at for i in incidents if i.acknowledged_at is not None]
    tta = min(acks) - start if acks else None
    resolved = [i.resolved_at for i in incidents]
    ttr = (max(r for r in resolved if r is not None) - start
           if all(r is not None for r in resolved) else None)
    night = Counter(p.person for p in pages if is_night(p.sent_at, zone(p.time_zone)))
    return KeyFigures(
        started_at=start,
        time_to_acknowledge=tta,
        time_to_resolve=ttr,
        people_paged=tuple(sorted({p.person for p in pages})),
        pages=len(pages),
        pages_by_channel=dict(sorted(Counter(p.channel for p in pages).items())),
        night_pages=sum(night.values()),
        night_pages_by_person=dict(sorted(night.items())),
    )


def duration_text(value: timedelta | None) -> str:
    """`1 h 04 min`, `3 min 20 s`, `42 s`; an em dash for none."""
    if value is None:
        return "—"
    seconds = int(value.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h {minutes:02d} min"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


# --- the body --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    title: str
    text: str = ""


DEFAULT_SECTIONS = (
    Section("Summary", "What happened, to whom, and for how long."),
    Section("Impact"),
    Section("Root cause"),
    Section("Resolution"),
    Section("Lessons learned"),
)
"""The body of a postmortem when the config has no PostmortemTemplate at all."""


def starting_body(sections: Sequence[Section]) -> str:
    """A new postmortem's Markdown: a heading per section and what it asks for."""
    parts = []
    for section in sections:
        text = section.text.strip()
        parts.append(f"## {section.title.strip()}\n\n{text}\n" if text
                     else f"## {section.title.strip()}\n")
    return "\n".join(parts)


# --- export ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionItem:
    id: int
    title: str
    owner: str | None
    status: str
    due_on: date | None
    url: str | None


@dataclass(frozen=True)
class Document:
    """Everything the Markdown export (and the printable page) shows."""

    id: int
    title: str
    status: str
    severity: str | None
    owner: str | None
    incidents: Sequence[IncidentFacts]
    figures: KeyFigures
    timeline: Sequence[Entry]
    items: Sequence[ActionItem]
    body: str
    updated_at: datetime
    published_at: datetime | None = None


def _cell(value: object) -> str:
    """Text for one Markdown table cell: a pipe or a line break would end the cell."""
    return " ".join(str(value).split()).replace("|", "\\|")


def _utc(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def render_markdown(doc: Document) -> str:
    """The postmortem as one Markdown file to commit into a repository: header, key figures,
    the kept timeline with its notes, action items, then the body as written."""
    f = doc.figures
    lines = [f"# {doc.title}", ""]
    lines.append(f"- Status: {doc.status.replace('_', ' ')}")
    lines.append(f"- Severity: {doc.severity or '—'}")
    lines.append(f"- Owner: {doc.owner or '—'}")
    lines.append("- Incidents: " + ", ".join(
        f"#{i.id} {_cell(i.title)} ({i.service})" for i in doc.incidents))
    if doc.published_at is not None:
        lines.append(f"- Published: {_utc(doc.published_at)}")
    lines += ["", "## Key figures", "", "| Figure | Value |", "|---|---|"]
    lines.append(f"| Started | {_utc(f.started_at) if f.started_at else '—'} |")
    lines.append(f"| Time to acknowledge | {duration_text(f.time_to_acknowledge)} |")
    lines.append(f"| Time to resolve | {duration_text(f.time_to_resolve)} |")
    lines.append(f"| People paged | {len(f.people_paged)} |")
    channels = ", ".join(f"{c} {n}" for c, n in f.pages_by_channel.items()) or "none"
    lines.append(f"| Pages sent | {f.pages} ({channels}) |")
    lines.append(f"| Pages at night (recipient's time) | {f.night_pages} |")
    kept = [e for e in doc.timeline if e.kept]
    lines += ["", "## Timeline", ""]
    if kept:
        lines += ["| Time (UTC) | Event | Note |", "|---|---|---|"]
        for e in kept:
            lines.append(f"| {e.at.strftime('%Y-%m-%d %H:%M:%S')} | {_cell(e.text)} | "
                         f"{_cell(e.note or '')} |")
    else:
        lines.append("No events kept.")
    lines += ["", "## Action items", ""]
    if doc.items:
        lines += ["| Action | Owner | Due | Status | Ticket |", "|---|---|---|---|---|"]
        for item in doc.items:
            lines.append(f"| {_cell(item.title)} | {_cell(item.owner or '—')} | "
                         f"{item.due_on.isoformat() if item.due_on else '—'} | {item.status} | "
                         f"{_cell(item.url or '')} |")
    else:
        lines.append("None.")
    body = doc.body.strip()
    if body:
        lines += ["", body]
    return "\n".join(lines) + "\n"
