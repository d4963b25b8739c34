"""Reads what `oncall.core.delivery_health` computes from: the provider calls of the longest
window and the circuit breakers. The web page and `GET /api/v1/delivery-health` both use it.

`delivery_attempts` has no index on its time, so the read walks the primary key backwards in
pages and stops at the first page that lies wholly before the window (ids grow with time, give
or take the calls in flight together), reading at most `MAX_ATTEMPTS` rows however busy the day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.core import delivery_health
from oncall.core.delivery_health import Attempt, Window
from oncall.db.models import DeliveryAttemptRow, NotificationRow, ProviderCircuitRow

PAGE = 2000
MAX_ATTEMPTS = 50_000
"""Calls read at most: past this the figures are of the latest calls only (`truncated`)."""


@dataclass(frozen=True)
class Report:
    windows: dict[str, Window]
    truncated: bool
    """More calls were made in the longest window than were read."""


def attempts_since(session: Session, since: datetime, limit: int = MAX_ATTEMPTS
                   ) -> tuple[list[Attempt], bool]:
    """The calls started at or after `since`, newest first, and whether `limit` cut them."""
    found: list[Attempt] = []
    below: int | None = None
    while len(found) < limit:
        stmt = (select(DeliveryAttemptRow.id, NotificationRow.channel,
                       DeliveryAttemptRow.provider, DeliveryAttemptRow.outcome,
                       DeliveryAttemptRow.attempt, DeliveryAttemptRow.started_at,
                       DeliveryAttemptRow.finished_at)
                .join(NotificationRow, NotificationRow.id == DeliveryAttemptRow.notification_id)
                .order_by(DeliveryAttemptRow.id.desc())
                .limit(PAGE))
        if below is not None:
            stmt = stmt.where(DeliveryAttemptRow.id < below)
        rows = session.execute(stmt).all()
        if not rows:
            return found, False
        below = rows[-1].id
        for r in rows:
            if r.started_at >= since:
                found.append(Attempt(r.channel, r.provider, r.outcome, r.attempt,
                                     r.started_at, r.finished_at))
        if len(rows) < PAGE or max(r.started_at for r in rows) < since:
            return found[:limit], False
    return found[:limit], True


def circuits(session: Session) -> dict[str, str]:
    return {provider: circuit for provider, circuit in session.execute(
        select(ProviderCircuitRow.provider, ProviderCircuitRow.circuit))}


def read(session: Session, now: datetime) -> Report:
    """Every window's figures at `now`."""
    found, truncated = attempts_since(session, now - delivery_health.LONGEST)
    return Report(delivery_health.windows(found, circuits(session), now), truncated)
