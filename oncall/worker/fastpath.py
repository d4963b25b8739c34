"""Claiming a plain page or channel post on PostgreSQL in one statement.

Nearly every outbox row a worker sends is a page or a service-channel post for a triggered
incident, on a channel that needs no acknowledge link (Slack, Teams, SMS, voice). Through the
ORM its claim is a transaction of its own: lock the row, read the incident and the service,
update the row, then read the provider circuits on another connection. Here it is one
autocommitted `UPDATE … RETURNING` that locks, checks, claims and reads what the notice needs,
and one read of the circuits on the same connection: two round trips instead of ten.

It claims exactly what `dispatcher._claim` claims and builds the notice `notices.build_notice`
builds (tests/worker/test_fastpath.py compares both); anything else (updates, verifications,
email and push with their acknowledge links, a page whose incident is no longer triggered,
which the general path cancels) returns None and takes the general path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine

from oncall.config.configset import ConfigSet
from oncall.core.delivery import Breaker
from oncall.notify.message import Notice, NoticeKind
from oncall.worker.notices import ACK_CHANNELS, IncidentFacts, notice_of

_CLAIM_SQL = f"""
UPDATE notifications AS n
SET status = 'sending', claimed_by = %(worker)s, claimed_at = %(now)s,
    attempt_count = n.attempt_count + 1
FROM incidents AS i LEFT JOIN services AS s ON s.id = i.service_id
WHERE i.id = n.incident_id AND n.id = (
    SELECT c.id FROM notifications AS c JOIN incidents AS ci ON ci.id = c.incident_id
    WHERE c.id = %(nid)s
      AND c.kind IN ('page', 'channel')
      AND c.channel NOT IN ({", ".join(f"'{c}'" for c in ACK_CHANNELS)})
      AND ((c.status = 'pending' AND c.next_attempt_at <= %(now)s)
           OR (c.status = 'sending' AND c.claimed_at < %(stale)s))
      AND (c.kind <> 'page' OR ci.status = 'triggered')
    FOR UPDATE OF c SKIP LOCKED
)
RETURNING n.kind, n.channel, n.address, n.attempt_count, n.provider_data, n.incident_id,
    n.user_id, i.title, i.description, i.status, i.priority, i.urgency, i.labels, s.name
"""


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
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        row = conn.exec_driver_sql(_CLAIM_SQL, params).first()
        if row is None:
            return None
        breakers = read_breakers(conn, row[1])
    (kind, channel, address, attempt, data, incident_id, user_id, title, description, status,
     priority, urgency, labels, service_name) = row
    facts = IncidentFacts(incident_id, title, description, status, priority, urgency, labels)
    notice = notice_of(NoticeKind.PAGE, facts, service_name, config, public_url)
    return Claim(kind, channel, address, attempt, {k: str(v) for k, v in (data or {}).items()},
                 incident_id, user_id, notice, breakers)
