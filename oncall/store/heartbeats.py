"""The one writer of `heartbeats`: record a ping, claim a missed ping, read the states.

Both changes are compare-and-set updates in the caller's transaction, so a ping and any number
of sweeping workers agree on one outcome: a missed ping is claimed by exactly one of them
(`down_since` set only where it was unset and the last ping is old enough), and the ping that
ends it is the one that finds `down_since` set and clears it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite

from oncall.db.models import HeartbeatRow

_H = HeartbeatRow.__table__.c


@dataclass(frozen=True)
class Stored:
    name: str
    last_ping_at: datetime | None
    down_since: datetime | None


def _insert(conn: Connection) -> Any:
    """The dialect's INSERT, for its ON CONFLICT (the same clause on both databases)."""
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def record_ping(conn: Connection, name: str, now: datetime) -> bool:
    """Store a ping at `now`; True if it ends a missed-ping episode (the caller resolves its
    incident in the same transaction)."""
    conn.execute(_insert(conn)(HeartbeatRow)
                 .values(name=name, last_ping_at=None, down_since=None, updated_at=now)
                 .on_conflict_do_nothing(index_elements=["name"]))
    recovered = conn.execute(
        update(HeartbeatRow)
        .where(_H.name == name, _H.down_since.is_not(None))
        .values(down_since=None, last_ping_at=now, updated_at=now)).rowcount
    if not recovered:
        conn.execute(update(HeartbeatRow).where(_H.name == name)
                     .values(last_ping_at=now, updated_at=now))
    return bool(recovered)


def claim_missed(conn: Connection, name: str, cutoff: datetime, now: datetime) -> datetime | None:
    """Mark the heartbeat down if its last ping is at or before `cutoff` and no one marked it
    yet; the last ping when this call did (the caller opens the incident in the same
    transaction), else None."""
    last = conn.scalar(select(_H.last_ping_at).where(
        _H.name == name, _H.down_since.is_(None), _H.last_ping_at <= cutoff))
    if last is None:
        return None
    claimed = conn.execute(
        update(HeartbeatRow)
        .where(_H.name == name, _H.down_since.is_(None), _H.last_ping_at == last)
        .values(down_since=now, updated_at=now)).rowcount
    return last if claimed else None


def overdue(conn: Connection, cutoffs: dict[str, datetime]) -> list[str]:
    """Of the named heartbeats, those not marked down whose last ping is at or before their
    cutoff: the candidates a sweep tries to claim (one indexed read per sweep)."""
    if not cutoffs:
        return []
    rows = conn.execute(select(_H.name, _H.last_ping_at).where(
        _H.name.in_(list(cutoffs)), _H.down_since.is_(None), _H.last_ping_at.is_not(None)))
    return sorted(name for name, last in rows if last <= cutoffs[name])


def states(conn: Connection, names: list[str] | None = None) -> dict[str, Stored]:
    """The stored state of each heartbeat (all of them, or the named ones)."""
    query = select(_H.name, _H.last_ping_at, _H.down_since)
    if names is not None:
        query = query.where(_H.name.in_(names))
    return {r.name: Stored(r.name, r.last_ping_at, r.down_since) for r in conn.execute(query)}
