"""Heartbeats (dead man's switches): when a job that should ping has gone quiet.

A heartbeat expects a ping every `interval`; `grace` more is tolerated before it is down. One
that was never pinged pages no one: a job being set up must not page before its first run.
Pure: the caller passes the last ping and the time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from oncall.config.models import Heartbeat
from oncall.core.alerts import Alert

DEDUP_PREFIX = "heartbeat:"
INTEGRATION_PREFIX = "heartbeat:"
"""Alerts of a heartbeat are stored under `heartbeat:<name>`, a name no Integration can have
(names are `[a-z0-9-]`), so a heartbeat and an integration of the same name never mix."""


class State(StrEnum):
    NEVER = "never"
    """Never pinged: nothing to miss yet."""
    UP = "up"
    LATE = "late"
    """The interval has passed, the grace has not: not paging yet."""
    DOWN = "down"


@dataclass(frozen=True)
class Status:
    state: State
    last_ping_at: datetime | None
    due_at: datetime | None
    """When the next ping is expected (last ping + interval)."""
    down_at: datetime | None
    """When it is (or was) down without a ping (due + grace)."""


def status(beat: Heartbeat, last_ping_at: datetime | None, now: datetime) -> Status:
    """The heartbeat's state at `now` given its last ping."""
    if last_ping_at is None:
        return Status(State.NEVER, None, None, None)
    due = last_ping_at + beat.interval.timedelta
    down = due + beat.grace.timedelta
    if now >= down:
        state = State.DOWN
    elif now >= due:
        state = State.LATE
    else:
        state = State.UP
    return Status(state, last_ping_at, due, down)


def cutoff(beat: Heartbeat, now: datetime) -> datetime:
    """A last ping at or before this instant means the heartbeat is down at `now`."""
    return now - beat.interval.timedelta - beat.grace.timedelta


def integration_name(beat: Heartbeat | str) -> str:
    name = beat if isinstance(beat, str) else beat.name
    return f"{INTEGRATION_PREFIX}{name}"


def _window(beat: Heartbeat) -> str:
    grace = f" + {beat.grace.text} grace" if beat.grace.total_seconds else ""
    return f"{beat.interval.text}{grace}"


def missed(beat: Heartbeat, last_ping_at: datetime, now: datetime) -> Alert:
    """The trigger a missed heartbeat sends through ingest: one dedup key per heartbeat, so
    however many sweeps send it, one incident is open."""
    summary = f"Heartbeat {beat.name} missed: no ping for {_window(beat)}"
    annotations = {"last_ping_at": last_ping_at.isoformat()}
    if beat.description:
        annotations["description"] = beat.description
    return Alert(
        provider="generic", action="trigger", summary=summary, severity="critical",
        dedup_key=f"{DEDUP_PREFIX}{beat.name}", occurred_at=now,
        labels={"heartbeat": beat.name, "service": beat.service},
        annotations=annotations, source="heartbeat", integration=integration_name(beat),
    )


def recovered(beat: Heartbeat, now: datetime) -> Alert:
    """The resolve the next ping sends after a miss."""
    return Alert(
        provider="generic", action="resolve", summary=f"Heartbeat {beat.name} pinged again",
        severity="info", dedup_key=f"{DEDUP_PREFIX}{beat.name}", occurred_at=now,
        labels={"heartbeat": beat.name, "service": beat.service}, source="heartbeat",
        integration=integration_name(beat),
    )
