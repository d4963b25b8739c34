"""An incident's timeline as people read it: each audit event a sentence with display names
and an icon, the notifications of one page (every channel, attempt, retry and fallback)
folded into one entry, a workflow's or runbook's steps folded under its run, and filters by
who or what acted.

Pure: the events, the notifications with their attempts, the names and the policy's step
timeouts are read by the caller (once per load, names in one query); time is passed in.
Sentences come from `oncall.core.timeline`, which the postmortem timeline uses too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from oncall.core.incident import ASSIGNEE_CYCLE
from oncall.core.timeline import CHANNELS, sentence
from oncall.incidents.events import is_run_event, params_text, workflow_summary
from oncall.web.format import zone

PAGES, PEOPLE, AUTOMATION, ALERTS, ALL = "pages", "people", "automation", "alerts", "all"
FILTERS: tuple[tuple[str, str], ...] = (
    (ALL, "All"), (PAGES, "Pages"), (PEOPLE, "People's actions"), (AUTOMATION, "Automation"),
    (ALERTS, "Alerts"))
"""The timeline's filters, in the order shown: (name, label)."""

CHANNEL_ICONS = {"email": "mail", "sms": "message-square", "voice": "phone", "push": "bell",
                 "slack": "hash", "teams": "users", "webhook": "webhook"}
KIND_ICONS = {
    "incident.triggered": "siren", "incident.alert": "triangle-alert",
    "alert.suppressed": "bell-off", "incident.declared": "megaphone",
    "incident.acknowledged": "check", "incident.resolved": "circle-check",
    "incident.escalated": "arrow-up-right", "incident.escalate_requested": "arrow-up-right",
    "escalation.step_skipped": "arrow-up-right", "escalation.exhausted": "circle-alert",
    "incident.reassigned": "user", "incident.role_assigned": "user",
    "incident.role_cleared": "user", "incident.note": "sticky-note",
    "incident.note_added": "sticky-note", "incident.priority_changed": "flag",
    "notification.unreachable": "user-x", "runbook.requested": "play",
    "status_page.notice_posted": "megaphone", "status_page.notice_updated": "megaphone",
}
ICONS = frozenset({*CHANNEL_ICONS.values(), *KIND_ICONS.values(), "workflow", "circle", "bell"})
"""Every icon an entry may name: the page draws each by name."""

NOTE_KINDS = ("incident.note", "incident.note_added")
_SUCCEEDED = ("sent", "delivered")
_OPEN = ("waiting", "pending", "sending")
_NOTIFICATION = "notification."


@dataclass(frozen=True)
class Event:
    """An audit event of the incident."""

    id: int
    at: datetime
    type: str
    actor: str
    data: Mapping[str, Any] = field(default_factory=dict)
    before: Any = None
    after: Any = None


@dataclass(frozen=True)
class Attempt:
    """One provider call made for a notification."""

    attempt: int
    provider: str
    outcome: str  # sent, failed, timeout, rejected
    started_at: datetime
    finished_at: datetime | None = None
    error: str | None = None


@dataclass(frozen=True)
class Notice:
    """One notification owed on the incident (a row of the outbox) with its attempts."""

    id: int
    kind: str  # page, update, workflow, verification
    channel: str
    address: str
    user_id: int | None
    timer_id: int | None
    status: str
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    failed_at: datetime | None = None
    attempts: tuple[Attempt, ...] = ()


@dataclass(frozen=True)
class Names:
    """Display names of the people an incident's events refer to, by user id and by email."""

    by_id: Mapping[int, str] = field(default_factory=dict)
    by_email: Mapping[str, str] = field(default_factory=dict)

    def email(self, email: str) -> str:
        return self.by_email.get(email) or email

    def user(self, user_id: int | None, fallback: str) -> str:
        return (self.by_id.get(user_id) if user_id is not None else None) or fallback


@dataclass(frozen=True)
class Line:
    """A line folded under an entry: an attempt, a retry, a workflow step."""

    at: datetime
    text: str


@dataclass(frozen=True)
class Entry:
    key: str
    at: datetime
    kind: str
    category: str
    icon: str
    text: str
    actor: str
    note: str = ""
    """A note's Markdown source (the page renders it), "" for other entries."""
    tone: str = ""
    """ok, bad, wait or "": how an entry with folded lines ended."""
    lines: tuple[Line, ...] = ()


def emails_in(events: Iterable[Event]) -> set[str]:
    """Every email an event names (actors, people paged, role holders, assignees): the names
    to look up with the user ids of `user_ids_in`."""
    found: set[str] = set()
    for e in events:
        kind, _, name = e.actor.partition(":")
        if kind == "user" and name:
            found.add(name)
        d = e.data or {}
        for key in ("user", "email", "previous"):
            if isinstance(d.get(key), str):
                found.add(d[key])
        found.update(u for u in d.get("users") or () if isinstance(u, str))
        if isinstance(e.after, Mapping) and isinstance(e.after.get("assignee"), str):
            found.add(e.after["assignee"])
    return found


def user_ids_in(events: Iterable[Event], notices: Iterable[Notice]) -> set[int]:
    ids = {n.user_id for n in notices if n.user_id is not None}
    ids.update(u for e in events if isinstance(u := (e.data or {}).get("user_id"), int))
    return ids


def category(type: str, actor: str) -> str:
    """Which filter an event falls under: what a person did, what paged people, what the
    alerts did, or what ran by itself."""
    if actor.startswith("user:"):
        return PEOPLE
    if type.startswith((_NOTIFICATION, "escalation.")) or type == "incident.escalated":
        return PAGES
    if type.startswith("alert.") or type in ("incident.triggered", "incident.alert") or (
            actor.startswith("integration:")):
        return ALERTS
    return AUTOMATION


def duration(seconds: float) -> str:
    """76 ms, 1.2 s, 3 min: how long a send took, as people say it."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{round(seconds / 60)} min"


def _span(td: timedelta) -> str:
    minutes = td.total_seconds() / 60
    if minutes >= 60 and minutes % 60 == 0:
        return f"{int(minutes // 60)} h"
    return f"{round(minutes)} min" if minutes >= 1 else f"{round(td.total_seconds())} s"


def _channel(name: str) -> str:
    return CHANNELS.get(name, name or "a channel")


def _and(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


# --- pages ------------------------------------------------------------------------------------


def _attempt_line(n: Notice, a: Attempt) -> Line:
    took = (f" in {duration((a.finished_at - a.started_at).total_seconds())}"
            if a.finished_at else "")
    error = f": {a.error}" if a.error and a.outcome != "sent" else ""
    return Line(a.finished_at or a.started_at,
                f"{_channel(n.channel)} via {a.provider}, attempt {a.attempt}: "
                f"{a.outcome}{took}{error}")


def _notice_lines(n: Notice, events: Sequence[Event], fallback: str | None) -> list[Line]:
    lines = [_attempt_line(n, a) for a in n.attempts]
    for e in events:
        if e.type == "notification.retry":
            lines.append(Line(e.at, f"{_channel(n.channel)}: will be tried again"))
        elif e.type == "notification.delivered":
            lines.append(Line(e.at, f"{_channel(n.channel)}: delivery confirmed by "
                                    f"{e.data.get('provider') or 'the provider'}"))
        elif e.type == "notification.failed":
            then = f", moving on to {fallback}" if fallback else ""
            lines.append(Line(e.at, f"{_channel(n.channel)}: gave up{then}"))
    if n.status in _OPEN and not n.attempts:
        lines.append(Line(n.next_attempt_at,
                          f"{_channel(n.channel)}: due unless acknowledged first"))
    elif n.status == "cancelled":
        lines.append(Line(n.failed_at or n.next_attempt_at,
                          f"{_channel(n.channel)}: not sent, the incident no longer needed it"))
    return lines


def _sent_in(n: Notice) -> str:
    ok = [a for a in n.attempts if a.outcome == "sent" and a.finished_at]
    if not ok:
        return ""
    first = min(a.started_at for a in n.attempts)
    end = n.delivered_at if n.status == "delivered" and n.delivered_at else ok[-1].finished_at
    assert end is not None
    return f" in {duration((end - first).total_seconds())}"


def _page_text(who: str, group: Sequence[Notice]) -> tuple[str, str]:
    """A page's sentence and tone: how it reached the person, or why it did not."""
    done = sorted((n for n in group if n.status in _SUCCEEDED),
                  key=lambda n: (n.sent_at or n.created_at, n.id))
    failed = _unique(_channel(n.channel) for n in group if n.status == "failed")
    if done:
        first = done[0]
        word = "delivered" if first.status == "delivered" else "sent"
        channels = _and(_unique(_channel(n.channel) for n in done))
        before = [_channel(n.channel) for n in group if n.status == "failed"
                  and (n.failed_at or n.created_at) <= (first.sent_at or first.created_at)]
        after = f", after {_and(_unique(before))} failed" if before else ""
        return f"Paged {who} by {channels} — {word}{_sent_in(first)}{after}", "ok"
    waiting = _unique(_channel(n.channel) for n in group if n.status in _OPEN)
    if waiting:
        tried = f" ({_and(failed)} failed)" if failed else ""
        return f"Paging {who} by {_and(waiting)}…{tried}", "wait"
    if failed:
        return f"Could not reach {who} by {_and(failed)}", "bad"
    cancelled = _and(_unique(_channel(n.channel) for n in group))
    return f"Page to {who} by {cancelled} not sent: acknowledged or resolved first", ""


def _page_entries(notices: Sequence[Notice], by_notice: Mapping[int, list[Event]],
                  names: Names) -> list[Entry]:
    """One entry per person per escalation step (a timer), every channel folded under it;
    updates (channel posts, message edits) one entry each."""
    groups: dict[tuple[Any, ...], list[Notice]] = {}
    for n in notices:
        if n.kind == "page" and n.user_id is not None:
            key: tuple[Any, ...] = ("page", n.user_id, n.timer_id if n.timer_id else -n.id)
        else:
            key = ("notice", n.id)
        groups.setdefault(key, []).append(n)
    out = []
    for key, group in groups.items():
        group.sort(key=lambda n: (n.next_attempt_at, n.id))
        at = min(n.created_at for n in group)
        lines: list[Line] = []
        for i, n in enumerate(group):
            later = [_channel(m.channel) for m in group[i + 1:]]
            lines.extend(_notice_lines(n, by_notice.get(n.id, []), later[0] if later else None))
        lines.sort(key=lambda line: line.at)
        first = group[0]
        who = names.user(first.user_id, first.address)
        if key[0] == "page":
            text, tone = _page_text(who, group)
            cat = PAGES
        else:
            verb = {"sent": "Sent", "delivered": "Sent", "failed": "Could not send",
                    "cancelled": "Did not send"}.get(first.status, "Sending")
            text = f"{verb} {first.kind} to {who} by {_channel(first.channel)}"
            if first.status in _SUCCEEDED:
                text += f" — {first.status}{_sent_in(first)}"
            tone = {"sent": "ok", "delivered": "ok", "failed": "bad",
                    "cancelled": ""}.get(first.status, "wait")
            cat = AUTOMATION
        out.append(Entry(
            key=f"notice:{first.id}", at=at, kind=f"notification.{first.kind}", category=cat,
            icon=CHANNEL_ICONS.get(first.channel, "bell"), text=text, actor="system:oncall",
            tone=tone, lines=tuple(lines)))
    return out


# --- escalation and runs ----------------------------------------------------------------------


def _escalated(e: Event, requested_by: str | None, names: Names,
               timeouts: Sequence[timedelta]) -> str:
    d = e.data or {}
    step, cycle = d.get("step"), d.get("cycle", 0)
    users = [names.email(u) for u in d.get("users") or () if isinstance(u, str)]
    paging = (f" — paging {_and(users)}" if users
              else " — nobody to page" if "users" in d else "")
    if not isinstance(step, int):
        return "Escalated" + paging
    if cycle == ASSIGNEE_CYCLE:
        return f"Paged the assignee {_and(users)}" if users else "Paged the assignee"
    if step == 0 and cycle == 0 and requested_by is None:
        return f"Escalation step 1{paging}"
    if requested_by is not None:
        why = f" (requested by {requested_by})"
    else:
        previous = step - 1 if step > 0 else len(timeouts) - 1
        why = (f" (no acknowledgement in {_span(timeouts[previous])})"
               if 0 <= previous < len(timeouts) else " (no acknowledgement)")
    again = f", repeat {cycle + 1}" if isinstance(cycle, int) and cycle > 0 else ""
    return f"Escalated to step {step + 1}{again}{why}{paging}"


def _run_text(e: Event, steps: Sequence[Event], names: Names) -> tuple[str, str]:
    """A workflow's or hand-run runbook's sentence, with how its steps ended."""
    d = e.data or {}
    if e.type == "workflow.started":
        base = (f"Workflow {d.get('workflow', '?')} ran on {d.get('event', '?')} "
                f"({d.get('steps', '?')} step{'' if d.get('steps') == 1 else 's'})")
    else:
        base = sentence(e.type, e.actor, d, e.before, e.after, {}, names.by_email)
        params = params_text(d.get("params") or {})
        base += f" ({params})" if params else ""
    ended = [s.type.removeprefix("workflow.step_") for s in steps
             if s.type in ("workflow.step_succeeded", "workflow.step_failed",
                           "workflow.step_skipped")]
    if not steps:
        return base, "wait"
    counts = {word: ended.count(word) for word in ("succeeded", "failed", "skipped") if
              ended.count(word)}
    told = ", ".join(f"{n} {word}" for word, n in counts.items()) or "running"
    tone = "bad" if "failed" in counts else ("ok" if counts else "wait")
    return f"{base}: {told}", tone


def _step_line(e: Event) -> str:
    """A step of a run, folded under it: its number and kind, outcome, HTTP status, duration,
    attempt and an excerpt of the answer."""
    d = e.data or {}
    told = workflow_summary(e.type, dict(d)).split(": ", 1)[-1]
    step, kind = d.get("step"), d.get("kind")
    label = f"Step {step + 1}" if isinstance(step, int) else "Run"
    return f"{label}{f' ({kind})' if kind else ''}: {told}"


def _run_owner(e: Event, open_runs: Mapping[str, int]) -> int | None:
    """The run entry (index) a workflow step event folds under: its workflow's latest start,
    or for a runbook run by hand, the latest request of that runbook."""
    d = e.data or {}
    if d.get("workflow"):
        return open_runs.get(f"workflow:{d['workflow']}")
    if d.get("runbook"):
        return open_runs.get(f"runbook:{d['runbook']}")
    return None


# --- the whole timeline -----------------------------------------------------------------------


def build(events: Sequence[Event], notices: Sequence[Notice], names: Names,
          timeouts: Sequence[timedelta] = ()) -> list[Entry]:
    """The timeline, oldest first. `timeouts` are the escalation policy's step timeouts, which
    say why a step escalated."""
    known = {n.id: n for n in notices if n.kind != "workflow"}
    by_notice: dict[int, list[Event]] = {}
    out: list[Entry] = []
    runs: dict[int, list[Event]] = {}
    open_runs: dict[str, int] = {}
    requested: str | None = None
    for e in sorted(events, key=lambda e: (e.at, e.id)):
        d = e.data or {}
        nid = d.get("notification_id")
        if e.type.startswith(_NOTIFICATION) and isinstance(nid, int) and nid in known:
            by_notice.setdefault(nid, []).append(e)
            continue
        cat = category(e.type, e.actor)
        icon = KIND_ICONS.get(e.type) or CHANNEL_ICONS.get(str(d.get("channel", "")), "circle")
        if e.type == "incident.escalate_requested":
            requested = names.email(e.actor.partition(":")[2]) if cat == PEOPLE else "oncall"
        if e.type == "incident.escalated":
            text = _escalated(e, requested, names, timeouts)
            requested = None
        elif e.type in ("workflow.started", "runbook.requested"):
            name = (f"workflow:{d.get('workflow')}" if e.type == "workflow.started"
                    else f"runbook:{d.get('runbook')}")
            open_runs[name] = len(out)
            runs[len(out)] = []
            out.append(Entry(key=f"event:{e.id}", at=e.at, kind=e.type, category=cat,
                             icon="workflow" if e.type == "workflow.started" else "play",
                             text="", actor=e.actor))
            continue
        elif is_run_event(e.type) and e.type != "workflow.plan_failed":
            owner = _run_owner(e, open_runs)
            if owner is not None:
                runs[owner].append(e)
                continue
            text = "Workflow " + workflow_summary(e.type, dict(d))
            icon = "workflow"
        else:
            text = sentence(e.type, e.actor, d, e.before, e.after, names.by_id, names.by_email)
        note = str(d.get("text") or "") if e.type in NOTE_KINDS else ""
        out.append(Entry(key=f"event:{e.id}", at=e.at, kind=e.type, category=cat, icon=icon,
                         text=f"Note by {names.email(e.actor.partition(':')[2])}" if note
                         else text, actor=e.actor, note=note))
    by_id = {e.id: e for e in events}
    for index, steps in runs.items():
        head = by_id[int(out[index].key.removeprefix("event:"))]
        text, tone = _run_text(head, steps, names)
        lines = tuple(Line(s.at, _step_line(s)) for s in steps)
        out[index] = Entry(key=out[index].key, at=head.at, kind=head.type,
                           category=out[index].category, icon=out[index].icon, text=text,
                           actor=head.actor, tone=tone, lines=lines)
    out.extend(_page_entries(list(known.values()), by_notice, names))
    out.sort(key=lambda x: (x.at, x.key))
    return out


def counts(entries: Sequence[Entry]) -> dict[str, int]:
    """How many entries each filter shows."""
    found = {name: 0 for name, _label in FILTERS}
    found[ALL] = len(entries)
    for e in entries:
        found[e.category] = found.get(e.category, 0) + 1
    return found


def only(entries: Sequence[Entry], name: str) -> list[Entry]:
    """The entries a filter shows; an unknown filter shows all."""
    if name == ALL or name not in dict(FILTERS):
        return list(entries)
    return [e for e in entries if e.category == name]


def stamp(at: datetime, tz: str, seconds_only: bool = False) -> tuple[str, str]:
    """When, in the viewer's zone (as shown) and in UTC to the second (on hover)."""
    local = at.astimezone(zone(tz))
    shown = local.strftime("%H:%M:%S" if seconds_only else "%a %d %b %H:%M:%S")
    return shown, at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def row(e: Entry, tz: str) -> dict[str, Any]:
    """An entry as the page's state holds it. The note is still Markdown source: the state
    sanitises it (`sanitize.markdown`) before it goes to the browser."""
    at, utc = stamp(e.at, tz)
    lines = []
    for line in e.lines:
        shown, exact = stamp(line.at, tz, seconds_only=True)
        lines.append({"at": shown, "utc": exact, "text": line.text})
    return {"key": e.key, "at": at, "utc": utc, "kind": e.kind, "category": e.category,
            "icon": e.icon if e.icon in ICONS else "circle", "text": e.text, "actor": e.actor,
            "note": e.note, "is_note": "yes" if e.kind in NOTE_KINDS else "", "tone": e.tone,
            "lines": lines}
