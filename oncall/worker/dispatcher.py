"""Sending one outbox row: claim it, pick a provider the circuit breaker allows, call it outside
any transaction, then record the attempt and decide: sent, retry later, or fail over.

The claim is committed before the provider call and carries a lease: a worker killed during the
call leaves a `sending` row that the sweeper reclaims after the lease, so a page is retried
rather than lost (at-least-once; providers may see a duplicate after a crash, never a gap).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.core.delivery import Backoff, Breaker, BreakerPolicy, Circuit
from oncall.core.notification_rules import Channel
from oncall.db.engine import is_postgresql, write_session
from oncall.db.models import (
    AuditEventRow,
    ContactMethodRow,
    DeliveryAttemptRow,
    IncidentRow,
    NotificationRow,
    ProviderCircuitRow,
)
from oncall.incidents import events
from oncall.notify.message import Notice
from oncall.notify.providers.base import DeliveryResult, Provider
from oncall.paging.notices import build_notice
from oncall.worker.fastpath import Claim, claim_plain
from oncall.worker.providers import ProviderChains

LEASE = timedelta(seconds=30)
"""A `sending` claim older than this belongs to a dead worker and is taken over: longer than
any provider call may take (two providers at their timeout), short enough that a crash delays
a page by seconds, not minutes."""
SYSTEM = "system:dispatcher"


@dataclass(frozen=True)
class DispatchPolicy:
    backoff: Backoff = field(default_factory=Backoff)
    breaker: BreakerPolicy = field(default_factory=BreakerPolicy)
    lease: timedelta = LEASE


@dataclass(frozen=True)
class Dispatched:
    outcome: str  # sent, retry, failed, cancelled, skipped
    retry_at: datetime | None = None
    pulled_forward: tuple[int, ...] = ()
    """Other outbox rows made due now because this channel failed for good."""


def due_notification_ids(
    session: Session, now: datetime, limit: int = 200, lease: timedelta = LEASE
) -> list[int]:
    return list(
        session.scalars(
            select(NotificationRow.id)
            .where(
                or_(
                    (NotificationRow.status == "pending")
                    & (NotificationRow.next_attempt_at <= now),
                    (NotificationRow.status == "sending")
                    & (NotificationRow.claimed_at < now - lease),
                )
            )
            .order_by(NotificationRow.next_attempt_at)
            .limit(limit)
        )
    )


def _claim(
    session: Session, notification_id: int, now: datetime, worker: str, lease: timedelta
) -> NotificationRow | None:
    row = session.scalar(
        select(NotificationRow)
        .where(
            NotificationRow.id == notification_id,
            or_(
                (NotificationRow.status == "pending") & (NotificationRow.next_attempt_at <= now),
                (NotificationRow.status == "sending") & (NotificationRow.claimed_at < now - lease),
            ),
        )
        .with_for_update(skip_locked=True)
    )
    if row is None:
        return None
    if row.kind == "page" and row.incident_id is not None:
        incident = session.get(IncidentRow, row.incident_id)
        if incident is None or incident.status != "triggered":
            row.status, row.failed_at = "cancelled", now
            row.last_error = "incident no longer triggered"
            return None
    row.status, row.claimed_by, row.claimed_at = "sending", worker, now
    row.attempt_count += 1
    return row


def _breaker(session: Session, provider: str) -> Breaker:
    row = session.get(ProviderCircuitRow, provider)
    if row is None:
        return Breaker()
    return Breaker(Circuit(row.circuit), row.failures, row.opened_at)


def _store_breaker(session: Session, provider: str, breaker: Breaker, now: datetime) -> None:
    row = session.get(ProviderCircuitRow, provider, with_for_update=True)
    before = row.circuit if row else Circuit.CLOSED.value
    if row is None:
        row = ProviderCircuitRow(provider=provider, circuit="closed", failures=0, updated_at=now)
        session.add(row)
    row.circuit, row.failures, row.opened_at = (
        breaker.circuit.value,
        breaker.failures,
        breaker.opened_at,
    )
    row.updated_at = now
    if before != row.circuit and row.circuit in ("open", "closed"):
        events.record(
            session,
            at=now,
            actor=SYSTEM,
            type=f"provider.circuit_{row.circuit}",
            data={"provider": provider, "failures": breaker.failures},
        )


def _read_breakers(conn: Connection, chain: list[Provider]) -> dict[str, Breaker]:
    found = {
        provider: Breaker(Circuit(circuit), failures, opened_at)
        for provider, circuit, failures, opened_at in conn.execute(
            _READ_CIRCUITS, {"names": [p.name for p in chain]})
    }
    return {p.name: found.get(p.name, Breaker()) for p in chain}


def _choose(
    engine: Engine, chain: list[Provider], policy: BreakerPolicy, now: datetime,
    known: dict[str, Breaker] | None = None,
) -> tuple[Provider, Breaker] | None:
    """The first provider of the chain whose circuit lets a call through.

    Reading the breakers needs no write (`known`: as just read by the caller); only an open
    circuit whose cool-down has passed is written (to half-open), so that one trial call goes
    out across all workers.
    """
    if known is None:
        with engine.connect() as conn:
            breakers = _read_breakers(conn, chain)
    else:
        breakers = {p.name: known.get(p.name, Breaker()) for p in chain}
    for provider in chain:
        breaker = breakers[provider.name]
        if not policy.allows(breaker, now):
            continue
        if breaker.circuit is not Circuit.OPEN:
            return provider, breaker
        with write_session(engine) as session:
            current = _breaker(session, provider.name)
            if current.circuit is Circuit.OPEN and policy.allows(current, now):
                trial = policy.trial(current, now)
                _store_breaker(session, provider.name, trial, now)
                return provider, trial
    return None


def _call(
    provider: Provider, row_kind: str, address: str, notice: Notice, data: dict[str, str]
) -> DeliveryResult:
    update = getattr(provider, "update", None)
    if row_kind == "update" and callable(update) and data.get("ts") and data.get("channel"):
        result: DeliveryResult = update(data["channel"], data["ts"], notice)
        return result
    return provider.send(address, notice)


@dataclass(frozen=True)
class _Call:
    provider: Provider | None
    result: DeliveryResult
    started: datetime
    finished: datetime
    failover: bool = False
    breaker: Breaker | None = None
    """The provider's circuit as read just before the call."""


def _claim_general(engine: Engine, notification_id: int, now: datetime, worker: str,
                   lease: timedelta, config: ConfigSet, chains: ProviderChains,
                   public_url: str) -> Claim | None:
    """The claim of any row, in a transaction of its own, with the circuits read in it."""
    with write_session(engine) as session:
        row = _claim(session, notification_id, now, worker, lease)
        if row is None:
            return None
        chain = list(chains.chain(Channel(row.channel)))
        notice = build_notice(session, row, config, public_url, now)
        return Claim(
            kind=row.kind, channel=row.channel, address=row.address,
            attempt=row.attempt_count,
            provider_data={k: str(v) for k, v in (row.provider_data or {}).items()},
            incident_id=row.incident_id, user_id=row.user_id, notice=notice,
            breakers=_read_breakers(session.connection(), chain) if chain else {},
        )


def dispatch(
    engine: Engine,
    notification_id: int,
    *,
    config: ConfigSet,
    chains: ProviderChains,
    public_url: str,
    worker: str,
    clock: Callable[[], datetime],
    policy: DispatchPolicy | None = None,
    draw: Callable[[], float] = random.random,
) -> Dispatched:
    """Send one outbox row, failing over along the channel's provider chain.

    Two writes: the claim, and the outcome with every provider call it took.
    """
    policy = policy or DispatchPolicy()
    now = clock()
    claim = claim_plain(engine, notification_id, now, worker, policy.lease, config,
                        public_url, lambda conn, name: _read_breakers(
                            conn, list(chains.chain(Channel(name)))))
    if claim is None:
        claim = _claim_general(engine, notification_id, now, worker, policy.lease, config,
                               chains, public_url)
        if claim is None:
            return Dispatched("skipped")
    channel = Channel(claim.channel)
    chain = list(chains.chain(channel))
    notice, address, kind, first_attempt = claim.notice, claim.address, claim.kind, claim.attempt
    data = claim.provider_data
    known: dict[str, Breaker] | None = claim.breakers if chain else None
    calls: list[_Call] = []
    if not chain:
        failure = DeliveryResult.failed(channel.value, "no provider configured", retryable=False)
        calls.append(_Call(None, failure, now, now))
    tried: set[str] = set()
    while chain:
        chosen = _choose(
            engine, [p for p in chain if p.name not in tried], policy.breaker, clock(), known
        )
        known = None  # a failover reads the circuits afresh: the first call may have taken long
        if chosen is None:
            break
        provider, breaker = chosen
        tried.add(provider.name)
        started = clock()
        result = _call(provider, kind, address, notice, data)
        calls.append(_Call(provider, result, started, clock(), provider is not chain[0],
                           breaker))
        if result.ok:
            break
    if not calls:
        failure = DeliveryResult.failed(
            chain[0].name, "every provider's circuit is open", retryable=True
        )
        calls.append(_Call(None, failure, now, now))
    finished = clock()
    if _plainly_sent(calls, claim):
        return _sent(engine, notification_id, first_attempt, calls[0], claim, finished)
    return _finish(engine, notification_id, claim, calls, policy, draw, finished)


# Built once: a statement made per call costs more CPU (construction and cache key) than the
# database spends running it.
_NOTIFICATIONS = cast(Table, NotificationRow.__table__)
_MARK_SENT = (
    update(_NOTIFICATIONS).where(_NOTIFICATIONS.c.id == bindparam("nid"))
    .values(status="sent", sent_at=bindparam("now"), provider=bindparam("provider"),
            provider_message_id=bindparam("message_id"), last_error=None,
            attempt_count=bindparam("attempt"))
)
_MARK_SENT_AT = _MARK_SENT.values(
    provider_data=bindparam("data", type_=_NOTIFICATIONS.c.provider_data.type))
_CIRCUITS = cast(Table, ProviderCircuitRow.__table__)
_READ_CIRCUITS = select(
    _CIRCUITS.c.provider, _CIRCUITS.c.circuit, _CIRCUITS.c.failures, _CIRCUITS.c.opened_at
).where(_CIRCUITS.c.provider.in_(bindparam("names", expanding=True)))
_ATTEMPTS = cast(Table, DeliveryAttemptRow.__table__)
_EVENTS = cast(Table, AuditEventRow.__table__)
_ADD_ATTEMPT = insert(_ATTEMPTS)
_ADD_EVENT = insert(_EVENTS)


def _bound(table: Table, prefix: str, names: list[str]) -> dict[str, Any]:
    return {name: bindparam(prefix + name, type_=table.c[name].type) for name in names}


def _columns(table: Table) -> list[str]:
    """Every column but the generated id: a value the caller leaves out is an error, not a
    NULL the general path would not have written."""
    return [c.name for c in table.columns if not c.primary_key]


_ATTEMPT_COLUMNS = _columns(_ATTEMPTS)
_EVENT_COLUMNS = _columns(_EVENTS)


def _one_statement(mark: Any) -> Any:
    """PostgreSQL: the three writes of a plain send as one statement (data-modifying CTEs),
    run in autocommit: one round trip instead of five with BEGIN and COMMIT."""
    return (
        insert(_EVENTS).values(_bound(_EVENTS, "e_", _EVENT_COLUMNS))
        .add_cte(mark.cte("marked"))
        .add_cte(insert(_ATTEMPTS).values(_bound(_ATTEMPTS, "a_", _ATTEMPT_COLUMNS))
                 .cte("attempted"))
    )


_SENT_IN_ONE = _one_statement(_MARK_SENT)
_SENT_AT_IN_ONE = _one_statement(_MARK_SENT_AT)


def _plainly_sent(calls: list[_Call], claimed: Claim) -> bool:
    """Nearly every send: one call that worked, through a provider whose circuit was closed
    and clean, so no breaker, retry or failover needs recording."""
    if len(calls) != 1 or claimed.kind == "verification":
        return False
    call = calls[0]
    return (call.provider is not None and call.result.ok and call.breaker is not None
            and call.breaker.circuit is Circuit.CLOSED and call.breaker.failures == 0)


def _sent(engine: Engine, notification_id: int, attempt: int, call: _Call, claimed: Claim,
          now: datetime) -> Dispatched:
    """What `_finish` records for a plain send, in three statements instead of the ORM's
    load-lock-flush (a third of a worker's CPU per page went there)."""
    result = call.result
    data = _event_data(notification_id, claimed, result, attempt)
    params = {"nid": notification_id, "now": now, "provider": result.provider,
              "message_id": result.provider_message_id, "attempt": attempt}
    mark = _MARK_SENT
    if result.channel and result.ts:
        mark = _MARK_SENT_AT
        params["data"] = {"channel": result.channel, "ts": result.ts}
    attempt_row = {
        "notification_id": notification_id, "attempt": attempt, "provider": result.provider,
        "outcome": "sent", "provider_message_id": result.provider_message_id,
        "response_status": result.status_code, "error": None, "started_at": call.started,
        "finished_at": call.finished,
    }
    event_row = events.row_values(at=now, actor=SYSTEM, type="notification.sent",
                                  incident_id=claimed.incident_id, data=data)
    if is_postgresql(engine):
        params.update({f"a_{k}": v for k, v in attempt_row.items()})
        params.update({f"e_{k}": v for k, v in event_row.items()})
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(_SENT_AT_IN_ONE if mark is _MARK_SENT_AT else _SENT_IN_ONE, params)
        return Dispatched("sent")
    with write_session(engine) as session:
        conn = session.connection()
        conn.execute(mark, params)
        conn.execute(_ADD_ATTEMPT, attempt_row)
        conn.execute(_ADD_EVENT, event_row)
    return Dispatched("sent")


def _event_data(notification_id: int, claimed: Claim, result: DeliveryResult,
                attempt: int) -> dict[str, object]:
    data: dict[str, object] = {
        "notification_id": notification_id,
        "kind": claimed.kind,
        "channel": claimed.channel,
        "provider": result.provider,
        "attempt": attempt,
    }
    if claimed.user_id is not None:
        data["user_id"] = claimed.user_id
    if result.error:
        data["error"] = result.error
    return data


def _finish(
    engine: Engine,
    notification_id: int,
    claimed: Claim,
    calls: list[_Call],
    policy: DispatchPolicy,
    draw: Callable[[], float],
    now: datetime,
) -> Dispatched:
    """Record every call (attempts, breakers, events) and decide: sent, retry or failed."""
    with write_session(engine) as session:
        row = session.get(NotificationRow, notification_id, with_for_update=True)
        assert row is not None
        attempt = claimed.attempt
        for index, call in enumerate(calls):
            attempt = claimed.attempt + index
            result = call.result
            timed_out = "timed out" in (result.error or "").lower()
            session.add(
                DeliveryAttemptRow(
                    notification_id=notification_id,
                    attempt=attempt,
                    provider=result.provider,
                    outcome="sent" if result.ok else ("timeout" if timed_out else "failed"),
                    provider_message_id=result.provider_message_id,
                    response_status=result.status_code,
                    error=result.error,
                    started_at=call.started,
                    finished_at=call.finished,
                )
            )
            if call.provider is not None:
                breaker = _breaker(session, call.provider.name)
                if result.ok:
                    new = policy.breaker.succeeded(breaker)
                elif result.retryable:
                    new = policy.breaker.failed(breaker, now)
                else:
                    new = breaker  # the provider answered: the request was at fault, not it
                if new != breaker:
                    _store_breaker(session, call.provider.name, new, now)
            if not result.ok:
                failed = _event_data(row.id, claimed, result, attempt)
                if call.failover:
                    failed["failover"] = True
                events.record(
                    session,
                    at=call.finished,
                    actor=SYSTEM,
                    type="notification.attempt_failed",
                    incident_id=row.incident_id,
                    data=failed,
                )
        row.attempt_count = attempt
        result = calls[-1].result
        data = _event_data(row.id, claimed, result, attempt)
        if calls[-1].failover:
            data["failover"] = True
        if row.kind == "verification" and result.ok:
            row.provider_data = None  # the code is kept only until it is sent
        if result.ok:
            row.status, row.sent_at, row.provider = "sent", now, result.provider
            row.provider_message_id = result.provider_message_id
            if result.channel and result.ts:
                row.provider_data = {"channel": result.channel, "ts": result.ts}
            row.last_error = None
            events.record(
                session,
                at=now,
                actor=SYSTEM,
                type="notification.sent",
                incident_id=row.incident_id,
                data=data,
            )
            return Dispatched("sent")
        row.last_error = result.error
        if result.gone and row.contact_method_id is not None:
            method = session.get(ContactMethodRow, row.contact_method_id)
            if method is not None:
                method.disabled_at = now
        if result.retryable and not result.gone and not policy.backoff.gives_up(attempt):
            retry_at = now + policy.backoff.delay(attempt, draw())
            row.status, row.next_attempt_at = "pending", retry_at
            events.record(
                session,
                at=now,
                actor=SYSTEM,
                type="notification.retry",
                incident_id=row.incident_id,
                data={**data, "retry_at": retry_at.isoformat()},
            )
            return Dispatched("retry", retry_at=retry_at)
        row.status, row.failed_at = "failed", now
        if row.kind == "verification":
            row.provider_data = None
        events.record(
            session,
            at=now,
            actor=SYSTEM,
            type="notification.failed",
            incident_id=row.incident_id,
            data=data,
        )
        pulled = next_channel(session, row, now) if row.kind == "page" else ()
        return Dispatched("failed", pulled_forward=pulled)


def next_channel(session: Session, failed: NotificationRow, now: datetime) -> tuple[int, ...]:
    """A channel failed for good: the person's next planned notification for this page is sent
    now instead of waiting for its delay."""
    later = session.scalars(
        select(NotificationRow)
        .where(
            NotificationRow.incident_id == failed.incident_id,
            NotificationRow.user_id == failed.user_id,
            NotificationRow.timer_id == failed.timer_id,
            NotificationRow.kind == "page",
            NotificationRow.status == "pending",
            NotificationRow.id != failed.id,
        )
        .order_by(NotificationRow.next_attempt_at, NotificationRow.id)
    ).all()
    if not later:
        return ()
    nxt = min(later, key=lambda r: (r.next_attempt_at, r.id))
    if nxt.next_attempt_at > now:
        nxt.next_attempt_at = now
    return (nxt.id,)
