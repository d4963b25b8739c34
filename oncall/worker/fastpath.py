"""Claiming a plain page or channel post in one or two statements.

Nearly every outbox row a worker sends is a page or a service-channel post for a triggered
incident, on a channel that needs no acknowledge link (Slack, Teams, SMS, voice). Through the
ORM its claim is a transaction of its own: lock the row, read the incident and the service,
update the row, then read the provider circuits. On PostgreSQL it is one autocommitted
`UPDATE … RETURNING` that locks, checks, claims and reads what the notice needs, then the read
of the circuits on the same connection: two round trips instead of ten. On SQLite, whose
RETURNING cannot name the other tables of an UPDATE, it is a joined read and an update by id
in one write transaction (writers take turns, so nothing else can claim the row in between).

It claims exactly what `dispatcher._claim` claims and builds the notice `notices.build_notice`
builds (tests/worker/test_fastpath.py compares both); anything else (updates, verifications,
email and push with their acknowledge links, a page whose incident is no longer triggered,
which the general path cancels) returns None and takes the general path.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, text

from oncall.config.configset import ConfigSet
from oncall.core.delivery import Breaker
from oncall.db.engine import is_postgresql, write_session
from oncall.db.models import UTCDateTime
from oncall.notify.message import Notice, NoticeKind
from oncall.paging.notices import ACK_CHANNELS, IncidentFacts, notice_of

_PLAIN = f"""
      c.kind IN ('page', 'channel')
      AND c.channel NOT IN ({", ".join(f"'{c}'" for c in ACK_CHANNELS)})
      AND ((c.status = 'pending' AND c.next_attempt_at <= :now)
           OR (c.status = 'sending' AND c.claimed_at < :stale))
      AND (c.kind <> 'page' OR ci.status = 'triggered')"""

_ROW = "kind, channel, address, attempt_count, provider_data, incident_id, user_id"
_INCIDENT = "title, description, status, priority, urgency, labels"


def _qualified(alias: str, names: str) -> str:
    return ", ".join(f"{alias}.{name.strip()}" for name in names.split(","))


_TIMES = (bindparam("now", type_=UTCDateTime()), bindparam("stale", type_=UTCDateTime()))

_CLAIM_POSTGRES = text(f"""
UPDATE notifications AS n
SET status = 'sending', claimed_by = :worker, claimed_at = :now,
    attempt_count = n.attempt_count + 1
FROM incidents AS i LEFT JOIN services AS s ON s.id = i.service_id
WHERE i.id = n.incident_id AND n.id = (
    SELECT c.id FROM notifications AS c JOIN incidents AS ci ON ci.id = c.incident_id
    WHERE c.id = :nid AND{_PLAIN}
    FOR UPDATE OF c SKIP LOCKED
)
RETURNING {_qualified("n", _ROW)}, {_qualified("i", _INCIDENT)}, s.name
""").bindparams(*_TIMES)

_READ_SQLITE = text(f"""
SELECT {_qualified("c", _ROW)}, {_qualified("ci", _INCIDENT)}, cs.name
FROM notifications AS c JOIN incidents AS ci ON ci.id = c.incident_id
LEFT JOIN services AS cs ON cs.id = ci.service_id
WHERE c.id = :nid AND{_PLAIN}
""").bindparams(*_TIMES)

_MARK_SQLITE = text("""
UPDATE notifications SET status = 'sending', claimed_by = :worker, claimed_at = :now,
    attempt_count = attempt_count + 1
WHERE id = :nid
""").bindparams(bindparam("now", type_=UTCDateTime()))


@dataclass(frozen=True)
class Claim:
    """A claimed row, with what sending and recording it need."""

    kind: str
    channel: str
    address: str
    attempt: int
    provider_data: dict[str, str]
    incident_id: int | None
    user_id: int | None
    notice: Notice
    breakers: dict[str, Breaker] = field(default_factory=dict)
    """The circuits of the channel's providers, as read with the claim."""


def claim_plain(engine: Engine, notification_id: int, now: datetime, worker: str,
                lease: timedelta, config: ConfigSet, public_url: str,
                read_breakers: Callable[[Connection, str], dict[str, Breaker]]) -> Claim | None:
    """Claim the row if it is a plain one that is due (or its claim's lease has run out);
    `read_breakers(conn, channel)` reads the circuits on the same connection."""
    params = {"nid": notification_id, "now": now, "stale": now - lease, "worker": worker}
    if is_postgresql(engine):
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            row = conn.execute(_CLAIM_POSTGRES, params).first()
            if row is None:
                return None
            breakers = read_breakers(conn, row[1])
        return _claim_of(tuple(row), breakers, config, public_url)
    with write_session(engine) as session:
        conn = session.connection()
        row = conn.execute(_READ_SQLITE, params).first()
        if row is None:
            return None
        conn.execute(_MARK_SQLITE, {"nid": notification_id, "now": now, "worker": worker})
        breakers = read_breakers(conn, row[1])
    fields = list(row)
    fields[3] += 1  # the attempt the update counted
    return _claim_of(tuple(fields), breakers, config, public_url)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value  # SQLite: JSON as text


def _claim_of(row: tuple[Any, ...], breakers: dict[str, Breaker], config: ConfigSet,
              public_url: str) -> Claim:
    (kind, channel, address, attempt, data, incident_id, user_id, title, description, status,
     priority, urgency, labels, service_name) = row
    facts = IncidentFacts(incident_id, title, description, status, priority, urgency,
                          _json(labels))
    notice = notice_of(NoticeKind.PAGE, facts, service_name, config, public_url)
    return Claim(kind, channel, address, attempt,
                 {k: str(v) for k, v in (_json(data) or {}).items()},
                 incident_id, user_id, notice, breakers)
