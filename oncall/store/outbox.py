"""The outbox: the one owner of the notifications table.

Every enqueue, claim and recorded outcome of a notification goes through this module. What
one SQLAlchemy statement does on both databases is written here once (`PICK`, `claim_values`,
`sent_values`); the per-database stores (`outbox_postgres`, `outbox_sqlite`) define only how
the claim runs (`take`) and, on PostgreSQL, a send recorded in one round trip.

The claim is committed before the provider call and carries a lease: a worker killed during
the call leaves a `sending` row that is reclaimed after the lease, so a page is retried rather
than lost (at-least-once; providers may see a duplicate after a crash, never a gap).

Workflow steps are rows too (kind "workflow", channel the step's kind): `queue_runs` writes
planned runs, each run's first step pending and the others `waiting`; the same claim takes
them (no notice is built), and `step_record` and `write_step` record each attempt and move the
run on: the next step (found by its key) released when one succeeds (or fails with
`continue_on_error`), the rest cancelled when one fails for good. A step's lease is
`WORKFLOW_LEASE`, longer than any step's call.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol, cast
from urllib.parse import urlsplit

from sqlalchemy import (
    Connection,
    Engine,
    FromClause,
    Select,
    Subquery,
    Table,
    and_,
    bindparam,
    case,
    insert,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from oncall.config.configset import ConfigSet
from oncall.core.delivery import Backoff, Breaker, BreakerPolicy, Circuit
from oncall.core.incident import Status
from oncall.core.workflows import PlannedRun, step_key
from oncall.db.engine import read_connection, write_connection, write_session
from oncall.db.models import (
    AuditEventRow,
    ContactMethodRow,
    DeliveryAttemptRow,
    IncidentRow,
    NotificationRow,
    ProviderCircuitRow,
    ServiceRow,
    UserRow,
    UTCDateTime,
    fit,
)
from oncall.incidents import events
from oncall.notify.mail import Mail
from oncall.notify.message import Notice, NoticeKind
from oncall.notify.providers.base import DeliveryResult
from oncall.paging.notices import ACK_CHANNELS, IncidentFacts, build_notice, notice_of
from oncall.store.outbox_status import NotificationStatus

LEASE = timedelta(seconds=30)
"""A `sending` claim older than this belongs to a dead worker and is taken over: longer than
any provider call may take (two providers at their timeout), short enough that a crash delays
a page by seconds, not minutes."""
SYSTEM = "system:dispatcher"
WORKFLOW = "workflow"
"""The kind of an outbox row that is a workflow step (its channel is the step's kind)."""
MAIL = "mail"
"""A ready-made email to any address (`oncall.notify.mail.Mail` in `provider_data`): a status
page's message to a subscriber, a partner's sign-in link. Sent through the email chain."""
HOOK = "hook"
"""A JSON POST to a URL nobody configured in git (a status page's webhook subscriber):
`provider_data` holds the body and headers; sent through the workers' guarded HTTP client."""
BACKGROUND_KINDS = frozenset({WORKFLOW, MAIL, HOOK})
"""Rows a sweep hands to the steps lane without waiting for them: however many subscribers a
page has, their mail never holds up a page."""
STEP_TIMEOUT_CAP = timedelta(minutes=2)
"""The longest a workflow step's call may take, whatever its `timeout` says."""
WORKFLOW_LEASE = STEP_TIMEOUT_CAP + timedelta(seconds=30)
"""A claimed workflow step is taken over only after this: longer than any step's call, so a
slow runbook is not run twice by a second worker that thinks the first one died."""

ProviderNames = Callable[[str], list[str]]
"""The provider names of a channel's chain, in failover order."""


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
    released: tuple[int, ...] = ()
    """The next step of a workflow run, made due now because this one finished: the caller
    sends it at once rather than waiting for a sweep."""


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
    notice: Notice | None
    """What the providers are sent; None for a workflow step, which builds no notice."""
    breakers: dict[str, Breaker] = field(default_factory=dict)
    """The circuits of the channel's providers, as read with the claim."""
    step: dict[str, Any] | None = None
    """A workflow step's provider_data as stored (workflow, run, index, path, action, ...)."""


@dataclass(frozen=True)
class Call:
    """One provider call of a send (`provider` None: no call could be made)."""

    provider: str | None
    result: DeliveryResult
    started: datetime
    finished: datetime
    failover: bool = False
    breaker: Breaker | None = None
    """The provider's circuit as read just before the call."""


# Built once: a statement made per call costs more CPU (construction and cache key) than the
# database spends running it.
NOTIFICATIONS = cast(Table, NotificationRow.__table__)
INCIDENTS = cast(Table, IncidentRow.__table__)
SERVICES = cast(Table, ServiceRow.__table__)
CIRCUITS = cast(Table, ProviderCircuitRow.__table__)
ATTEMPTS = cast(Table, DeliveryAttemptRow.__table__)
EVENTS = cast(Table, AuditEventRow.__table__)

_PENDING, _SENDING = NotificationStatus.PENDING.value, NotificationStatus.SENDING.value
_CANCELLED = NotificationStatus.CANCELLED.value
_WAITING = NotificationStatus.WAITING.value
NO_LONGER_TRIGGERED = "incident no longer triggered"
EARLIER_STEP_FAILED = "an earlier step failed"
_IS_PENDING = literal(_PENDING, literal_execute=True)
_IS_SENDING = literal(_SENDING, literal_execute=True)
"""The statuses of a due row, written into the statement rather than bound: the driver
prepares the hot statements, and PostgreSQL's plan for a prepared statement can use the
partial index of `status = 'pending'` only when the status is in its text."""
NOW = bindparam("now", type_=UTCDateTime())
STALE = bindparam("stale", type_=UTCDateTime())
WF_STALE = bindparam("wf_stale", type_=UTCDateTime())


def _due_arms(table: FromClause, now: Any, stale: Any, wf_stale: Any
              ) -> tuple[ColumnElement[bool], ...]:
    """The one rule of a due row: pending and due, or sending with its lease run out (a
    workflow step's lease is `WORKFLOW_LEASE`, a notification's the policy's). One condition
    per way of being due, each an index range on (status, next_attempt_at)."""
    n = table.c
    return ((n.status == _IS_PENDING) & (n.next_attempt_at <= now),
            (n.status == _IS_SENDING) & (n.kind != WORKFLOW) & (n.claimed_at < stale),
            (n.status == _IS_SENDING) & (n.kind == WORKFLOW) & (n.claimed_at < wf_stale))


def _due(table: FromClause, now: Any, stale: Any, wf_stale: Any) -> ColumnElement[bool]:
    return or_(*_due_arms(table, now, stale, wf_stale))


def _due_union(*where: ColumnElement[bool], lock: bool = False) -> Subquery:
    """The ids of the oldest due rows meeting `where`, at most `limit` per way of being due:
    the union of one ordered scan per arm of `_due_arms`.

    Not one scan of `_due`: PostgreSQL answers its OR with a bitmap scan, and a bitmap scan
    never marks the index entries of dead row versions as dead. Every claim moves a row from
    pending to sending to sent, leaving an entry behind each time, so the scan read every
    entry left since the last vacuum: in the soak it read 20,000 entries for 6 live rows and
    PostgreSQL's CPU grew by the minute. An ordered index scan marks what it finds dead and
    skips it from then on. `lock`: each scan skips and locks rows other claims hold, so
    concurrent claims take different rows (PostgreSQL; SQLite has one writer)."""
    n = NOTIFICATIONS
    scans = [select(n.c.id).where(arm, *where).order_by(n.c.next_attempt_at, n.c.id)
             .limit(bindparam("limit")) for arm in _due_arms(n, NOW, STALE, WF_STALE)]
    arms = [(scan.with_for_update(skip_locked=True) if lock else scan).subquery()
            for scan in scans]
    return union_all(*[select(arm.c.id) for arm in arms]).subquery("due")


def lease_params(now: datetime, lease: timedelta) -> dict[str, datetime]:
    """The bound times of `_due`: when a notification's and a workflow step's lease ran out."""
    return {"now": now, "stale": now - lease, "wf_stale": now - WORKFLOW_LEASE}


def _oldest_due(*where: ColumnElement[bool]) -> Select[Any]:
    n, due = NOTIFICATIONS, _due_union(*where)
    return (select(n.c.id, n.c.kind).where(n.c.id.in_(select(due.c.id)))
            .order_by(n.c.next_attempt_at, n.c.id).limit(bindparam("limit")))


_DUE_IDS = _oldest_due()
_DUE_BACKGROUND = _oldest_due(NOTIFICATIONS.c.kind.in_(sorted(BACKGROUND_KINDS)))

CANDIDATE = _c = NOTIFICATIONS.alias("c")
_ci, _cs = INCIDENTS.alias("ci"), SERVICES.alias("cs")
_PICKED = select(
    _c.c.id, _c.c.kind, _c.c.channel, _c.c.address, _c.c.attempt_count, _c.c.provider_data,
    _c.c.incident_id, _c.c.user_id, _ci.c.title, _ci.c.description,
    _ci.c.status.label("incident_status"), _ci.c.priority, _ci.c.urgency, _ci.c.labels,
    _cs.c.name.label("service"),
    and_(_c.c.kind == "page", _c.c.incident_id.is_not(None),
         or_(_ci.c.id.is_(None), _ci.c.status != Status.TRIGGERED.value)).label("cancel"),
).select_from(_c.outerjoin(_ci, _ci.c.id == _c.c.incident_id)
              .outerjoin(_cs, _cs.c.id == _ci.c.service_id))
PICK = _PICKED.where(_c.c.id.in_(bindparam("nids", expanding=True)),
                     _due(_c, NOW, STALE, WF_STALE)).order_by(_c.c.id)
"""The rows `nids` that are due, with what their notices and claims need: the incident's
facts, its service's name, and whether it is a page of an incident no longer triggered
(`cancel`)."""
_DUE_FOREGROUND = _due_union(NOTIFICATIONS.c.kind.not_in(sorted(BACKGROUND_KINDS)), lock=True)
PICK_DUE = (
    _PICKED.where(_c.c.id.in_(select(_DUE_FOREGROUND.c.id)), _due(_c, NOW, STALE, WF_STALE))
    .order_by(_c.c.next_attempt_at, _c.c.id).limit(bindparam("limit"))
)
"""`PICK` of the oldest due pages and messages, whatever their ids (workflow steps, mail and
hooks are the steps lane's, claimed one by one)."""


def claim_values(cancel: ColumnElement[bool]) -> dict[str, Any]:
    """What a claim writes: a page of an incident no longer triggered is cancelled, not sent;
    any other row is taken by `worker` for the lease, one attempt more."""
    n = NOTIFICATIONS.c
    return {
        "status": case((cancel, _CANCELLED), else_=_SENDING),
        "claimed_by": case((cancel, n.claimed_by), else_=bindparam("worker")),
        "claimed_at": case((cancel, n.claimed_at), else_=NOW),
        "attempt_count": n.attempt_count + case((cancel, 0), else_=1),
        "failed_at": case((cancel, NOW), else_=n.failed_at),
        "last_error": case((cancel, NO_LONGER_TRIGGERED), else_=n.last_error),
    }


class Picked(NamedTuple):
    """A claimed row as `PICK` reads it, `attempt_count` counting the claim's attempt."""

    id: int
    kind: str
    channel: str
    address: str
    attempt_count: int
    provider_data: dict[str, Any] | None
    incident_id: int | None
    user_id: int | None
    title: str | None
    description: str | None
    incident_status: str | None
    priority: str | None
    urgency: str | None
    labels: dict[str, Any] | None
    service: str | None
    cancel: bool


MARK_SENT = (
    update(NOTIFICATIONS).where(NOTIFICATIONS.c.id == bindparam("nid"))
    .values(status=NotificationStatus.SENT.value, sent_at=bindparam("now"),
            provider=bindparam("provider"), provider_message_id=bindparam("message_id"),
            last_error=None, attempt_count=bindparam("attempt"))
)
MARK_SENT_AT = MARK_SENT.values(
    provider_data=bindparam("data", type_=NOTIFICATIONS.c.provider_data.type))
_READ_CIRCUITS = select(
    CIRCUITS.c.provider, CIRCUITS.c.circuit, CIRCUITS.c.failures, CIRCUITS.c.opened_at
).where(CIRCUITS.c.provider.in_(bindparam("names", expanding=True)))
ADD_ATTEMPT = insert(ATTEMPTS)
ADD_EVENT = insert(EVENTS)


def read_breakers(conn: Connection, names: list[str]) -> dict[str, Breaker]:
    if not names:
        return {}
    found = {
        provider: Breaker(Circuit(circuit), failures, opened_at)
        for provider, circuit, failures, opened_at in conn.execute(
            _READ_CIRCUITS, {"names": names})
    }
    return {name: found.get(name, Breaker()) for name in names}


def plain_notice(picked: Picked, config: ConfigSet, public_url: str) -> Notice | None:
    """The notice of a page or channel post that needs no acknowledge link, from what the
    claim read; None: `build_notice` makes it (a link to mint, an update's actor, a code)."""
    if (picked.kind not in ("page", "channel") or picked.channel in ACK_CHANNELS
            or picked.incident_id is None or picked.title is None):
        return None
    assert picked.incident_status is not None and picked.urgency is not None
    facts = IncidentFacts(picked.incident_id, picked.title, picked.description,
                          picked.incident_status, picked.priority, picked.urgency,
                          picked.labels)
    return notice_of(NoticeKind.PAGE, facts, picked.service, config, public_url)


def event_data(notification_id: int, claimed: Claim, result: DeliveryResult,
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


def plainly_sent(calls: list[Call], claimed: Claim) -> bool:
    """Nearly every send: one call that worked, through a provider whose circuit was closed
    and clean, so no breaker, retry or failover needs recording."""
    if len(calls) != 1:
        return False
    call = calls[0]
    return (call.provider is not None and call.result.ok and call.breaker is not None
            and call.breaker.circuit is Circuit.CLOSED and call.breaker.failures == 0)


def sent_values(notification_id: int, call: Call, claimed: Claim, attempt: int,
                now: datetime) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """What a send writes, the one definition: the row's update parameters (`MARK_SENT`, or
    `MARK_SENT_AT` when they carry "data"), its attempt row, its event row."""
    result = call.result
    params: dict[str, Any] = {"nid": notification_id, "now": now, "provider": result.provider,
                              "message_id": result.provider_message_id, "attempt": attempt}
    if claimed.kind == "verification":
        params["data"] = None  # the code is kept only until it is sent
    elif result.channel and result.ts:
        params["data"] = {"channel": result.channel, "ts": result.ts}
    attempt_row = {
        "notification_id": notification_id, "attempt": attempt, "provider": result.provider,
        "outcome": "sent", "provider_message_id": result.provider_message_id,
        "response_status": result.status_code, "error": None, "started_at": call.started,
        "finished_at": call.finished,
    }
    data = event_data(notification_id, claimed, result, attempt)
    if call.failover:
        data["failover"] = True
    event_row = events.row_values(at=now, actor=SYSTEM, type="notification.sent",
                                  incident_id=claimed.incident_id, data=data)
    return params, attempt_row, event_row


def write_sent(conn: Connection,
               sends: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]) -> None:
    """`sent_values` of one or more sends written on the caller's transaction: each table
    takes one statement."""
    marks = [params for params, _attempt, _event in sends if "data" not in params]
    marks_at = [params for params, _attempt, _event in sends if "data" in params]
    if marks:
        conn.execute(MARK_SENT, marks)
    if marks_at:
        conn.execute(MARK_SENT_AT, marks_at)
    conn.execute(ADD_ATTEMPT, [attempt for _params, attempt, _event in sends])
    conn.execute(ADD_EVENT, [event for _params, _attempt, event in sends])


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
            NotificationRow.status == _PENDING,
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


__all__ = ["NotificationStatus", "Outbox"]


class Outbox(ABC):
    """Enqueue, claim due, record outcome: the notifications table's one writer."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def due_ids(self, session: Session, now: datetime, limit: int = 200,
                lease: timedelta = LEASE, background: bool = False) -> list[int]:
        """The due rows' ids, oldest due first (`background`: only workflow steps, mail and
        hooks, the rows `PICK_DUE` leaves to the steps lane)."""
        return list(session.scalars(_DUE_BACKGROUND if background else _DUE_IDS,
                                    {**lease_params(now, lease), "limit": limit}))

    @abstractmethod
    def take(self, ids: list[int] | None, now: datetime, worker: str, lease: timedelta,
             providers: ProviderNames, limit: int) -> list[tuple[Picked, dict[str, Breaker]]]:
        """The claim, this database's one definition: of the rows `ids` (None: up to `limit`
        of the oldest due pages and messages, `PICK_DUE`), those due (or whose lease ran out)
        that no other worker holds get `claim_values` written and are returned as `PICK`
        read them, each with the circuits of its channel's providers."""

    def record_sent(self, sends: list[tuple[int, Call, Claim]], now: datetime) -> None:
        """Record plain sends (`plainly_sent`): each row, its attempt and its event, the lot
        in one transaction of three statements."""
        with write_session(self.engine) as session:
            write_sent(session.connection(),
                       [sent_values(nid, call, claimed, claimed.attempt, now)
                        for nid, call, claimed in sends])

    def claim(self, notification_id: int, now: datetime, worker: str, lease: timedelta,
              config: ConfigSet, public_url: str, providers: ProviderNames) -> Claim | None:
        """Claim a due row (or one whose lease ran out), committed before any provider call;
        None: not ours to send now (a page of an incident no longer triggered is cancelled)."""
        claimed = self.claim_many([notification_id], now, worker, lease, config, public_url,
                                  providers)
        return claimed[0][1] if claimed else None

    def claim_many(self, ids: list[int] | None, now: datetime, worker: str, lease: timedelta,
                   config: ConfigSet, public_url: str, providers: ProviderNames,
                   limit: int = 100) -> list[tuple[int, Claim]]:
        """Claim the due rows of `ids` (None: up to `limit` of the oldest due pages and
        messages) in one statement, committed before any provider call; the rows this worker
        now holds, with their claims. Pages of incidents no longer triggered are cancelled,
        not returned. A notice that writes (an acknowledge link) is built in a transaction of
        its own: if the worker dies before it, the lease runs out and the row is claimed
        again."""
        if ids is not None and not ids:
            return []
        claimed: list[tuple[int, Claim]] = []
        for picked, breakers in self.take(ids, now, worker, lease, providers, limit):
            if not picked.cancel:
                claimed.append((picked.id, self._claim_of(picked, breakers, config,
                                                          public_url, now)))
        return claimed

    def _claim_of(self, picked: Picked, breakers: dict[str, Breaker], config: ConfigSet,
                  public_url: str, now: datetime) -> Claim:
        if picked.kind == WORKFLOW:
            return Claim(picked.kind, picked.channel, picked.address, picked.attempt_count,
                         {}, picked.incident_id, picked.user_id, None,
                         step=dict(picked.provider_data or {}))
        if picked.kind in (MAIL, HOOK):
            return Claim(picked.kind, picked.channel, picked.address, picked.attempt_count,
                         {}, picked.incident_id, picked.user_id, None, breakers,
                         step=dict(picked.provider_data or {}))
        notice = plain_notice(picked, config, public_url)
        if notice is None:
            with write_session(self.engine) as session:
                row = session.get(NotificationRow, picked.id)
                assert row is not None
                notice = build_notice(session, row, config, public_url, now)
        return Claim(picked.kind, picked.channel, picked.address, picked.attempt_count,
                     {k: str(v) for k, v in (picked.provider_data or {}).items()},
                     picked.incident_id, picked.user_id, notice, breakers)

    def trial(self, provider: str, policy: BreakerPolicy, now: datetime) -> Breaker | None:
        """Half-open an open circuit whose cool-down has passed, so that one trial call goes
        out across all workers; None: another worker took the trial, or it is not due."""
        with write_session(self.engine) as session:
            current = _breaker(session, provider)
            if current.circuit is Circuit.OPEN and policy.allows(current, now):
                trial = policy.trial(current, now)
                _store_breaker(session, provider, trial, now)
                return trial
        return None

    def read_breakers(self, names: list[str]) -> dict[str, Breaker]:
        with read_connection(self.engine) as conn:
            return read_breakers(conn, names)

    def record_step(self, notification_id: int, claimed: Claim,
                    outcome: StepOutcomeLike | None, started: datetime, finished: datetime,
                    policy: DispatchPolicy, draw: Callable[[], float],
                    now: datetime) -> Dispatched:
        """Record a workflow step's attempt (`step_record`) in a transaction of its own."""
        return self.write_step(step_record(notification_id, claimed, outcome, started,
                                           finished, policy.backoff, draw, now), now)

    def write_step(self, record: StepRecord, now: datetime) -> Dispatched:
        """`write_step` in a write transaction of its own."""
        with write_connection(self.engine) as conn:
            return write_step(conn, record, now)

    def record(self, notification_id: int, claimed: Claim, calls: list[Call],
               policy: DispatchPolicy, draw: Callable[[], float], now: datetime) -> Dispatched:
        """Record every call of a send and decide: sent, retry or failed."""
        return self.record_many([(notification_id, claimed, calls)], policy, draw, now)[0]

    def record_many(self, sends: list[tuple[int, Claim, list[Call]]], policy: DispatchPolicy,
                    draw: Callable[[], float], now: datetime) -> list[Dispatched]:
        """`record` for several sends: the plain ones (nearly all) written together, each
        other one in a transaction of its own. An outcome per send, in order."""
        plain = [(nid, calls[0], claimed) for nid, claimed, calls in sends
                 if plainly_sent(calls, claimed)]
        if plain:
            self.record_sent(plain, now)
        done = {nid for nid, _call, _claimed in plain}
        outcomes = []
        for nid, claimed, calls in sends:
            if nid in done:
                outcomes.append(Dispatched("sent"))
                continue
            with write_session(self.engine) as session:
                outcomes.append(_recorded(session, nid, claimed, calls, policy, draw, now))
        return outcomes


def _recorded(session: Session, notification_id: int, claimed: Claim, calls: list[Call],
              policy: DispatchPolicy, draw: Callable[[], float], now: datetime) -> Dispatched:
    row = session.get(NotificationRow, notification_id, with_for_update=True)
    assert row is not None
    attempt = claimed.attempt
    for index, call in enumerate(calls):
        attempt = claimed.attempt + index
        result = call.result
        timed_out = "timed out" in (result.error or "").lower()
        if not result.ok:  # a send's own attempt is written with it, by `write_sent`
            session.add(DeliveryAttemptRow(
                notification_id=notification_id, attempt=attempt, provider=result.provider,
                outcome="timeout" if timed_out else "failed",
                provider_message_id=result.provider_message_id,
                response_status=result.status_code, error=result.error,
                started_at=call.started, finished_at=call.finished))
        if call.provider is not None:
            breaker = _breaker(session, call.provider)
            if result.ok:
                new = policy.breaker.succeeded(breaker)
            elif result.retryable:
                new = policy.breaker.failed(breaker, now)
            else:
                new = breaker  # the provider answered: the request was at fault, not it
            if new != breaker:
                _store_breaker(session, call.provider, new, now)
        if not result.ok:
            failed = event_data(row.id, claimed, result, attempt)
            if call.failover:
                failed["failover"] = True
            events.record(session, at=call.finished, actor=SYSTEM,
                          type="notification.attempt_failed", incident_id=row.incident_id,
                          data=failed)
    last = calls[-1]
    if last.result.ok:
        session.flush()  # the failed attempts and their events first, in the order they came
        write_sent(session.connection(),
                   [sent_values(notification_id, last, claimed, attempt, now)])
        return Dispatched("sent")
    row.attempt_count = attempt
    result = last.result
    data = event_data(row.id, claimed, result, attempt)
    if last.failover:
        data["failover"] = True
    row.last_error = result.error
    if result.gone and row.contact_method_id is not None:
        _turn_off_gone(session, row.contact_method_id, now)
    if result.retryable and not result.gone and not policy.backoff.gives_up(attempt):
        retry_at = now + policy.backoff.delay(attempt, draw())
        row.status, row.next_attempt_at = _PENDING, retry_at
        events.record(session, at=now, actor=SYSTEM, type="notification.retry",
                      incident_id=row.incident_id,
                      data={**data, "retry_at": retry_at.isoformat()})
        return Dispatched("retry", retry_at=retry_at)
    row.status, row.failed_at = NotificationStatus.FAILED.value, now
    if row.kind == "verification":
        row.provider_data = None
    events.record(session, at=now, actor=SYSTEM, type="notification.failed",
                  incident_id=row.incident_id, data=data)
    pulled = next_channel(session, row, now) if row.kind == "page" else ()
    return Dispatched("failed", pulled_forward=pulled)


def _turn_off_gone(session: Session, method_id: int, now: datetime) -> None:
    """A push service said the subscription is gone for good: the method is turned off in the
    same transaction as the outcome (the one write of `contact_methods` outside
    `oncall.contacts`), audited as the person's `contact.disabled` like turning it off by hand,
    so they can see why push stopped."""
    method = session.get(ContactMethodRow, method_id)
    if method is None or method.disabled_at is not None:
        return
    method.disabled_at = now
    email = session.scalar(select(UserRow.email).where(UserRow.id == method.user_id))
    event = events.record(session, at=now, actor=SYSTEM, type="contact.disabled",
                          data={"id": method.id, "type": method.type,
                                "reason": "the push service says the subscription is gone"})
    if email is not None:
        event.subject_kind, event.subject_name = "user", email


ENQUEUE = insert(NOTIFICATIONS).returning(NOTIFICATIONS.c.id, sort_by_parameter_order=True)


def owed(incident_id: int | None, now: datetime, **row: Any) -> dict[str, Any]:
    """One pending outbox row for `enqueue`. The optional columns are always bound, so every
    row has the same keys and they all share one INSERT."""
    return {"incident_id": incident_id, "user_id": None, "contact_method_id": None,
            "timer_id": None, "status": _PENDING, "attempt_count": 0, "created_at": now,
            **row}


def enqueue(conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
    """Insert `owed` rows in one statement on the caller's connection; their ids in order."""
    return list(conn.scalars(ENQUEUE, rows).all())


def _queue_once(conn: Connection, row: dict[str, Any]) -> int | None:
    """Insert `row` unless its idempotency key is taken (by this call's earlier twin or by
    another process at the same moment); its id, or None."""
    key = row["idempotency_key"]
    if conn.scalar(select(NOTIFICATIONS.c.id).where(NOTIFICATIONS.c.idempotency_key == key)):
        return None
    try:
        with conn.begin_nested():
            return int(conn.scalars(ENQUEUE, [row]).one())
    except IntegrityError:
        return None


def queue_mail(conn: Connection, *, key: str, address: str, mail: Mail, now: datetime,
               due: datetime | None = None, channel: str = "email") -> int | None:
    """Queue `mail` to `address` once per `key`, in the caller's transaction: the message
    goes out only if what caused it commits. Its row id, or None if `key` was queued before.
    On `channel` "slack" the address is a person's Slack address and the mail goes as a
    direct message."""
    return _queue_once(conn, owed(
        None, now, idempotency_key=fit(NOTIFICATIONS.c.idempotency_key, key), channel=channel,
        address=address, kind=MAIL, next_attempt_at=due or now, provider_data=mail.as_data()))


def queue_hook(conn: Connection, *, key: str, url: str, content: str,
               headers: Mapping[str, str], now: datetime) -> int | None:
    """Queue a POST of the JSON text `content` to `url` once per `key`, in the caller's
    transaction. The text is kept as given (a JSON column would reorder its keys), so the
    bytes sent are the bytes a signature in `headers` was made over."""
    return _queue_once(conn, owed(
        None, now, idempotency_key=fit(NOTIFICATIONS.c.idempotency_key, key), channel="webhook",
        address=url, kind=HOOK, next_attempt_at=now,
        provider_data={"content": content, "headers": dict(headers)}))


def _queue_many(conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
    """Insert the rows whose idempotency keys are not taken, in one statement; should another
    process take one of them meanwhile, each is tried on its own instead. Their ids."""
    rows = list({row["idempotency_key"]: row for row in rows}.values())
    if not rows:
        return []
    taken: set[str] = set()
    keys = [row["idempotency_key"] for row in rows]
    for start in range(0, len(keys), 500):
        taken.update(conn.scalars(select(NOTIFICATIONS.c.idempotency_key).where(
            NOTIFICATIONS.c.idempotency_key.in_(keys[start:start + 500]))))
    fresh = [row for row in rows if row["idempotency_key"] not in taken]
    if not fresh:
        return []
    try:
        with conn.begin_nested():
            return enqueue(conn, fresh)
    except IntegrityError:
        return [i for row in fresh if (i := _queue_once(conn, row)) is not None]


def queue_mails(conn: Connection, mails: list[tuple[str, str, Mail]],
                now: datetime) -> list[int]:
    """`queue_mail` for many (key, address, mail) at once, in the caller's transaction: one
    statement for the lot, each still once per key. The ids of the rows queued now."""
    return _queue_many(conn, [owed(
        None, now, idempotency_key=fit(NOTIFICATIONS.c.idempotency_key, key), channel="email",
        address=address, kind=MAIL, next_attempt_at=now, provider_data=mail.as_data())
        for key, address, mail in mails])


def queue_hooks(conn: Connection, hooks: list[tuple[str, str, str, Mapping[str, str]]],
                now: datetime) -> list[int]:
    """`queue_hook` for many (key, url, content, headers) at once, in the caller's
    transaction: one statement for the lot, each still once per key."""
    return _queue_many(conn, [owed(
        None, now, idempotency_key=fit(NOTIFICATIONS.c.idempotency_key, key),
        channel="webhook", address=url, kind=HOOK, next_attempt_at=now,
        provider_data={"content": content, "headers": dict(headers)})
        for key, url, content, headers in hooks])


CANCEL_PAGES = (
    update(NOTIFICATIONS)
    .where(NOTIFICATIONS.c.incident_id == bindparam("iid"), NOTIFICATIONS.c.status == _PENDING,
           NOTIFICATIONS.c.kind == "page")
    .values(status=_CANCELLED, failed_at=bindparam("now"), last_error=NO_LONGER_TRIGGERED)
)
"""An incident's pages not yet sent, cancelled; what is in flight is checked at claim time."""


def cancel_pages(session: Session, incident_id: int, now: datetime) -> None:
    session.execute(CANCEL_PAGES, {"iid": incident_id, "now": now})


POSTED = (
    select(NOTIFICATIONS.c.id, NOTIFICATIONS.c.channel, NOTIFICATIONS.c.kind,
           NOTIFICATIONS.c.user_id, NOTIFICATIONS.c.address, NOTIFICATIONS.c.provider_data)
    .where(NOTIFICATIONS.c.incident_id == bindparam("iid"),
           NOTIFICATIONS.c.status == NotificationStatus.SENT.value,
           # not IN: this runs on asyncio connections too (`oncall.db.aio.Compiled`)
           or_(NOTIFICATIONS.c.channel == "slack", NOTIFICATIONS.c.channel == "teams"),
           or_(NOTIFICATIONS.c.kind == "page", NOTIFICATIONS.c.kind == "channel"))
    .order_by(NOTIFICATIONS.c.id)
)
"""An incident's messages already posted where a message can be updated or followed up."""
QUEUED_UPDATE = ("idempotency_key", "incident_id", "kind", "status", "attempt_count",
                 "next_attempt_at", "created_at", "user_id", "channel", "address",
                 "provider_data")
"""The columns of an update's row (`update_rows`)."""


def update_rows(posted: Sequence[Any], incident_id: int, status: str, now: datetime
                ) -> list[dict[str, Any]]:
    """The update owed for each message `POSTED` read, once (its idempotency key): a Slack
    message is rewritten to show the new state; a Teams channel, whose webhook cannot edit
    a card, gets a new card."""
    queued: list[dict[str, Any]] = []
    for sent in posted:
        base = {"idempotency_key": f"update:{sent.id}:{status}", "incident_id": incident_id,
                "kind": "update", "status": _PENDING, "attempt_count": 0,
                "next_attempt_at": now, "created_at": now}
        if sent.channel == "teams":
            if sent.kind == "channel":
                queued.append(base | {"user_id": None, "channel": "teams",
                                      "address": sent.address, "provider_data": None})
            continue
        data = sent.provider_data or {}
        if not data.get("ts") or not data.get("channel"):
            continue
        queued.append(base | {"user_id": sent.user_id, "channel": "slack",
                              "address": str(data["channel"]),
                              "provider_data": {"channel": data["channel"], "ts": data["ts"]}})
    return queued


def queue_updates(session: Session, incident_id: int, status: str, now: datetime) -> None:
    """`update_rows` of the incident's posted messages, those not queued before. Read and
    written as plain rows, as this runs in every acknowledge and resolve."""
    queued = update_rows(session.execute(POSTED, {"iid": incident_id}).all(), incident_id,
                         status, now)
    if not queued:
        return
    N = NOTIFICATIONS.c
    there = set(session.scalars(select(N.idempotency_key).where(
        N.idempotency_key.in_([row["idempotency_key"] for row in queued]))))
    missing = [row for row in queued if row["idempotency_key"] not in there]
    if missing:
        session.execute(insert(NOTIFICATIONS), missing)


def record_receipt(session: Session, sid: str, provider: str, now: datetime, *,
                   failed: str | None, actor: str) -> tuple[int, ...] | None:
    """Apply a provider's delivery receipt to the row `sid` identifies: delivered is noted;
    failed fails the row and pulls the person's next planned notification for the page
    forward. Returns the rows made due now; None: no row has that sid."""
    row = session.scalar(
        select(NotificationRow)
        .where(NotificationRow.provider_message_id == sid, NotificationRow.provider == provider)
        .with_for_update()
    )
    if row is None:
        return None
    delivered = NotificationStatus.DELIVERED.value
    if row.status not in (NotificationStatus.SENT.value, delivered):
        return ()
    data: dict[str, object] = {"notification_id": row.id, "kind": row.kind,
                               "channel": row.channel, "provider": provider}
    if row.user_id is not None:
        data["user_id"] = row.user_id
    if failed is None:
        if row.status == delivered:
            return ()
        row.status, row.delivered_at = delivered, now
        events.record(session, at=now, actor=actor, type="notification.delivered",
                      incident_id=row.incident_id, data=data)
        return ()
    row.status, row.failed_at = NotificationStatus.FAILED.value, now
    row.last_error = failed
    events.record(session, at=now, actor=actor, type="notification.failed",
                  incident_id=row.incident_id, data={**data, "error": failed})
    if row.kind != "page":
        return ()
    return next_channel(session, row, now)


def queue_verification(session: Session, *, key: str, user_id: int, contact_method_id: int,
                       channel: str, address: str, code: str, now: datetime) -> None:
    """A verification code owed to a contact method; the code is dropped once sent."""
    session.add(NotificationRow(
        idempotency_key=key, incident_id=None, user_id=user_id,
        contact_method_id=contact_method_id, channel=channel, address=address,
        kind="verification", status=_PENDING, attempt_count=0, next_attempt_at=now,
        provider_data={"code": code}, created_at=now))


def queue_test_page(session: Session, *, key: str, user_id: int, contact_method_id: int,
                    channel: str, address: str, now: datetime) -> None:
    session.add(NotificationRow(
        idempotency_key=key, user_id=user_id, contact_method_id=contact_method_id,
        channel=channel, address=address, kind="test", status=_PENDING, attempt_count=0,
        next_attempt_at=now, created_at=now))


def forget_contact_method(session: Session, method_id: int, user_id: int, address: str,
                          now: datetime) -> None:
    """A contact method is deleted: past rows keep their address but lose the link, and a
    code not yet sent to that address is cancelled."""
    session.execute(
        update(NotificationRow)
        .where(NotificationRow.contact_method_id == method_id)
        .values(contact_method_id=None)
    )
    session.execute(
        update(NotificationRow)
        .where(
            NotificationRow.kind == "verification",
            NotificationRow.status == _PENDING,
            NotificationRow.address == address,
            NotificationRow.user_id == user_id,
        )
        .values(status=NotificationStatus.CANCELLED.value, failed_at=now, provider_data=None)
    )


# --- workflow steps --------------------------------------------------------------------------

DETAIL_LIMIT = 1000
"""The longest excerpt of a response or error kept on the timeline."""


class StepOutcomeLike(Protocol):
    """What running a workflow step returned (`oncall.workflows.steps.StepOutcome`), as the
    outbox records it: the store does not import the executors."""

    @property
    def ok(self) -> bool: ...
    @property
    def retryable(self) -> bool: ...
    @property
    def status_code(self) -> int | None: ...
    @property
    def detail(self) -> str: ...
    @property
    def duration_ms(self) -> int: ...


def step_target(kind: str, action: dict[str, Any]) -> str:
    """Where a step goes, to show in the outbox's `address`: never a secret (a URL keeps its
    host and path only, a Teams webhook is not shown)."""
    target: str
    if kind == "slack":
        target = str(action.get("channel", ""))
    elif kind == "teams":
        target = "teams webhook"
    elif kind == "runbook":
        target = str(action.get("runbook", ""))
    elif kind == "webhook":
        url = urlsplit(str(action.get("url", "")))
        target = f"{url.hostname or ''}{f':{url.port}' if url.port else ''}{url.path}"
    elif kind == "email":
        to = action.get("to") or []
        target = ", ".join(str(a) for a in to) if isinstance(to, list) else str(to)
    elif kind == "page":
        found = action.get("target") or {}
        target = ", ".join(f"{k}:{v}" for k, v in found.items()) if isinstance(found, dict) \
            else str(found)
    else:
        target = kind
    return fit(NotificationRow.address, target or kind)


def queue_run(bind: Connection | Session, run: PlannedRun, incident_id: int,
              now: datetime) -> list[int]:
    """`queue_runs` of one run."""
    return queue_runs(bind, [(run, incident_id)], now)


def queue_runs(bind: Connection | Session, runs: list[tuple[PlannedRun, int]],
               now: datetime) -> list[int]:
    """Write planned runs' steps (run, incident id) as outbox rows in the caller's
    transaction, three statements however many runs: each run's first step pending and due
    now, the others waiting for the step before them; a step whose idempotency key exists is
    not written again (nor is its run's `workflow.started` event). Returns the ids of the rows
    due now. A runbook run by hand (`run.by`) has no `workflow.started`: whoever queues it
    records the request."""
    conn = bind.connection() if isinstance(bind, Session) else bind
    keyed = [(run, incident_id, [step_key(run.key, step.index) for step in run.steps])
             for run, incident_id in runs]
    every = [key for _run, _incident, keys in keyed for key in keys]
    existing = set(conn.scalars(
        select(NOTIFICATIONS.c.idempotency_key)
        .where(NOTIFICATIONS.c.idempotency_key.in_(every)))) if every else set()
    rows: list[dict[str, Any]] = []
    started: list[dict[str, Any]] = []
    for run, incident_id, keys in keyed:
        rows += [
            owed(incident_id, now, idempotency_key=key, channel=step.kind,
                 address=step_target(step.kind, step.action), kind=WORKFLOW,
                 status=_PENDING if position == 0 else _WAITING, next_attempt_at=now,
                 provider_data={"workflow": run.workflow, "run": run.key, "index": step.index,
                                "path": step.path, "action": step.action,
                                "continue_on_error": step.continue_on_error,
                                "retries": step.retries, "timeout": step.timeout_seconds,
                                "error": step.error, "steps": len(run.steps), "by": run.by})
            for position, (step, key) in enumerate(zip(run.steps, keys, strict=True))
            if key not in existing
        ]
        if run.by is None and (not keys or keys[0] not in existing):
            started.append(events.row_values(
                at=now, actor=f"workflow:{run.workflow}", type="workflow.started",
                incident_id=incident_id,
                data={"workflow": run.workflow, "event": run.event, "run": run.key,
                      "steps": len(run.steps)}))
    ids = enqueue(conn, rows) if rows else []
    if started:
        conn.execute(ADD_EVENT, started)
    return [row_id for row_id, row in zip(ids, rows, strict=True) if row["status"] == _PENDING]


def _bounded(text: str | None) -> str | None:
    if not text:
        return None
    return text if len(text) <= DETAIL_LIMIT else text[:DETAIL_LIMIT - 1] + "…"


_N = NOTIFICATIONS.c
_STEP_HELD = and_(_N.id == bindparam("nid"), _N.status == _SENDING,
                  _N.attempt_count == bindparam("attempt"))
"""Still this attempt's: not taken over by another worker after the lease ran out."""
MARK_STEP = {
    "sent": update(NOTIFICATIONS).where(_STEP_HELD).values(
        status=NotificationStatus.SENT.value, sent_at=NOW, provider=bindparam("step_provider"),
        last_error=None).returning(_N.id),
    "retry": update(NOTIFICATIONS).where(_STEP_HELD).values(
        status=_PENDING, next_attempt_at=bindparam("retry_at", type_=UTCDateTime()),
        last_error=bindparam("error")).returning(_N.id),
    "failed": update(NOTIFICATIONS).where(_STEP_HELD).values(
        status=NotificationStatus.FAILED.value, failed_at=NOW,
        last_error=bindparam("error")).returning(_N.id),
}
"""A step's row marked for its outcome, if this attempt still holds it; returns its id. No
parameter is named after a column: an UPDATE in a CTE (PostgreSQL's one-statement record)
takes such a parameter as one more SET."""
RELEASE_STEP = (
    update(NOTIFICATIONS)
    .where(_N.idempotency_key == bindparam("key"), _N.status == _WAITING)
    .values(status=_PENDING, next_attempt_at=NOW)
    .returning(_N.id)
)
"""The run's next step (by its idempotency key) made due now, if it still waits."""
_CANCEL_REST = (
    update(NOTIFICATIONS)
    .where(_N.idempotency_key.in_(bindparam("keys", expanding=True)), _N.status == _WAITING)
    .values(status=_CANCELLED, failed_at=NOW, last_error=EARLIER_STEP_FAILED)
    .returning(_N.id, _N.channel, _N.incident_id, _N.provider_data)
)


@dataclass(frozen=True)
class StepRecord:
    """What recording one attempt of a workflow step writes, decided before any write."""

    outcome: str
    """sent, retry or failed: which `MARK_STEP` runs."""
    mark: dict[str, Any]
    attempt_row: dict[str, Any] | None
    """None: the step could not be planned, so nothing was called."""
    event_row: dict[str, Any]
    release: str | None = None
    """The idempotency key of the run's next step, made due now."""
    cancel: tuple[str, ...] = ()
    """The keys of the run's later steps, cancelled because this one failed for good."""
    actor: str = ""
    retry_at: datetime | None = None


def step_record(notification_id: int, claimed: Claim, outcome: StepOutcomeLike | None,
                started: datetime, finished: datetime, backoff: Backoff,
                draw: Callable[[], float], now: datetime) -> StepRecord:
    """Decide a step's attempt: succeeded (the next step released), retry at backoff while
    `retries` allow, or failed (the next step released if the step may fail, the rest of the
    run cancelled otherwise). `outcome` None: the step could not be planned (`error`), so it
    fails at once. The run's steps are found by key (`step_key`), not by a search."""
    step = claimed.step or {}
    name = str(step.get("workflow", ""))
    run = str(step.get("run"))
    index = int(step.get("index", 0))
    later = [step_key(run, i) for i in range(index + 1, int(step.get("steps") or 0))]
    actor = str(step.get("by") or f"workflow:{name}")
    attempt = claimed.attempt
    data: dict[str, Any] = {"workflow": name, "run": step.get("run"), "step": index,
                            "path": step.get("path"), "kind": claimed.channel,
                            "attempt": attempt, "status_code": None, "duration_ms": 0,
                            "notification_id": notification_id}
    if claimed.channel == "runbook":
        action = step.get("action") or {}
        data.update(runbook=action.get("runbook"), params=action.get("params"))
    mark: dict[str, Any] = {"nid": notification_id, "attempt": attempt, "now": now}
    attempt_row = None
    if outcome is None:
        data.update(outcome="failed", detail=_bounded(str(step.get("error") or "not planned")))
    else:
        data.update(status_code=outcome.status_code, duration_ms=outcome.duration_ms,
                    detail=_bounded(outcome.detail))
        attempt_row = {
            "notification_id": notification_id, "attempt": attempt,
            "provider": claimed.channel, "outcome": "sent" if outcome.ok else "failed",
            "provider_message_id": None, "response_status": outcome.status_code,
            "error": None if outcome.ok else _bounded(outcome.detail),
            "started_at": started, "finished_at": finished}

    def event(type_: str, values: dict[str, Any]) -> dict[str, Any]:
        return events.row_values(at=now, actor=actor, type=type_,
                                 incident_id=claimed.incident_id, data=values)

    if outcome is not None and outcome.ok:
        mark["step_provider"] = fit(NotificationRow.provider, claimed.channel)
        return StepRecord("sent", mark, attempt_row,
                          event("workflow.step_succeeded", {**data, "outcome": "succeeded"}),
                          release=later[0] if later else None, actor=actor)
    mark["error"] = data["detail"]
    if outcome is not None and outcome.retryable and attempt <= int(step.get("retries") or 0):
        retry_at = now + backoff.delay(attempt, draw())
        mark["retry_at"] = retry_at
        return StepRecord("retry", mark, attempt_row, event(
            "workflow.step_retry",
            {**data, "outcome": "retry", "retry_at": retry_at.isoformat()}),
            actor=actor, retry_at=retry_at)
    failed = event("workflow.step_failed", {**data, "outcome": "failed"})
    if step.get("continue_on_error"):
        return StepRecord("failed", mark, attempt_row, failed,
                          release=later[0] if later else None, actor=actor)
    return StepRecord("failed", mark, attempt_row, failed, cancel=tuple(later), actor=actor)


def write_step(conn: Connection, record: StepRecord, now: datetime) -> Dispatched:
    """`step_record`'s writes, in the caller's transaction: nothing at all if the step is no
    longer this attempt's (the lease ran out and another worker took it over)."""
    if conn.execute(MARK_STEP[record.outcome], record.mark).first() is None:
        return Dispatched("skipped")
    if record.attempt_row is not None:
        conn.execute(ADD_ATTEMPT, record.attempt_row)
    conn.execute(ADD_EVENT, record.event_row)
    released: tuple[int, ...] = ()
    if record.release is not None:
        released = tuple(conn.scalars(RELEASE_STEP, {"key": record.release, "now": now}))
    if record.cancel:
        cancelled = conn.execute(_CANCEL_REST, {"keys": list(record.cancel), "now": now})
        skipped = []
        for row_id, channel, incident_id, provider_data in cancelled:
            data = provider_data or {}
            skipped.append(events.row_values(
                at=now, actor=record.actor, type="workflow.step_skipped",
                incident_id=incident_id,
                data={"workflow": data.get("workflow"), "run": data.get("run"),
                      "step": int(data.get("index", 0)), "path": data.get("path"),
                      "kind": channel, "outcome": "skipped", "status_code": None,
                      "duration_ms": 0, "attempt": 0, "detail": EARLIER_STEP_FAILED,
                      "notification_id": row_id}))
        if skipped:
            conn.execute(ADD_EVENT, sorted(skipped, key=lambda e: e["data"]["step"]))
    return Dispatched(record.outcome, retry_at=record.retry_at, released=released)
