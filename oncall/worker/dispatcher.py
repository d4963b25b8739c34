"""Sending one outbox row: claim it, pick a provider the circuit breaker allows, call it outside
any transaction, then have the outbox record the attempt and decide: sent, retry later, or
fail over. Claims and outcomes are the outbox's (`oncall.store.outbox`); this module only
chooses providers and calls them.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from time import monotonic
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.core.delivery import Breaker, BreakerPolicy, Circuit
from oncall.core.notification_rules import Channel
from oncall.core.workflows import step_key
from oncall.notify.mail import Mail
from oncall.notify.message import Notice
from oncall.notify.providers.base import DeliveryResult, Provider
from oncall.store import stores_for
from oncall.store.outbox import (
    HOOK,
    LEASE,
    MAIL,
    STEP_TIMEOUT_CAP,
    WORKFLOW,
    Call,
    Claim,
    Dispatched,
    DispatchPolicy,
    Outbox,
    StepOutcomeLike,
)
from oncall.worker.providers import ProviderChains

if TYPE_CHECKING:
    from oncall.workflows.steps import StepContext

HookSender = Callable[[str, str, dict[str, str]], DeliveryResult]
"""Posts a `HOOK` row's JSON text with its headers to its URL (the worker's guarded client)."""
StepContextFor = Callable[[int, str, str], "StepContext"]
"""The executors' context for a step of incident `id` run by actor "workflow:<name>", with
the step's idempotency key."""

__all__ = ["LEASE", "DispatchPolicy", "Dispatched", "dispatch_many", "due_notification_ids"]

log = logging.getLogger("oncall.worker")


def due_notification_ids(
    session: Session, now: datetime, limit: int = 200, lease: timedelta = LEASE
) -> list[int]:
    return stores_for(session.get_bind().engine).outbox.due_ids(session, now, limit, lease)


def _choose(
    outbox: Outbox, chain: list[Provider], policy: BreakerPolicy, now: datetime,
    known: dict[str, Breaker] | None = None,
) -> tuple[Provider, Breaker] | None:
    """The first provider of the chain whose circuit lets a call through.

    Reading the breakers needs no write (`known`: as just read by the caller); only an open
    circuit whose cool-down has passed is written (to half-open), so that one trial call goes
    out across all workers.
    """
    if known is None:
        breakers = outbox.read_breakers([p.name for p in chain])
    else:
        breakers = {p.name: known.get(p.name, Breaker()) for p in chain}
    for provider in chain:
        breaker = breakers[provider.name]
        if not policy.allows(breaker, now):
            continue
        if breaker.circuit is not Circuit.OPEN:
            return provider, breaker
        trial = outbox.trial(provider.name, policy, now)
        if trial is not None:
            return provider, trial
    return None


def _call(
    provider: Provider, row_kind: str, address: str, notice: Notice | Mail,
    data: dict[str, str]
) -> DeliveryResult:
    if isinstance(notice, Mail):
        send_mail = getattr(provider, "send_mail", None)
        if not callable(send_mail):
            return DeliveryResult.failed(provider.name, "this provider sends no ready-made mail",
                                         retryable=False)
        sent: DeliveryResult = send_mail(address, notice)
        return sent
    update = getattr(provider, "update", None)
    if row_kind == "update" and callable(update) and data.get("ts") and data.get("channel"):
        result: DeliveryResult = update(data["channel"], data["ts"], notice)
        return result
    return provider.send(address, notice)


class Send(NamedTuple):
    """One claimed row's send."""

    channel: str
    turn: tuple[str, int | None]
    """Its address and incident: the sends of one incident to one address go out in the
    order of their rows (a post before its update), the others side by side."""
    call: Callable[[], list[Call]]
    """Makes its provider calls."""


Sends = Callable[[list[Send]], Iterator[list[tuple[int, list[Call]]]]]
"""Runs a batch's sends and yields them as they finish, in groups of (index in the batch, its
calls), each group recorded as soon as it is yielded."""


def one_by_one(sends: list[Send]) -> Iterator[list[tuple[int, list[Call]]]]:
    """Each send in turn, each recorded on its own (a single queued row's path)."""
    for index, send in enumerate(sends):
        yield [(index, send.call())]


RECORD_WITHIN = 0.05
"""Seconds a sent page may wait for the rest of its channel's calls before it is recorded: a
worker killed meanwhile sends it again (at least once), so the wait is kept short."""


def in_turn(sends: list[Send], indexes: list[int]) -> Iterator[list[tuple[int, list[Call]]]]:
    """The sends of `indexes` one after another in this thread, recorded in groups: what was
    sent is recorded before the next call once it has waited `RECORD_WITHIN`, and a send that
    did not go out is recorded at once with those before it, so its circuit is counted before
    the next call to its provider."""
    done: list[tuple[int, list[Call]]] = []
    since = 0.0
    for index in indexes:
        if done and monotonic() - since >= RECORD_WITHIN:
            yield done
            done = []
        if not done:
            since = monotonic()
        calls = sends[index].call()
        done.append((index, calls))
        if not calls[-1].result.ok:
            yield done
            done = []
    if done:
        yield done


def dispatch_many(
    engine: Engine,
    ids: list[int] | None,
    *,
    config: ConfigSet,
    chains: ProviderChains,
    public_url: str,
    worker: str,
    clock: Callable[[], datetime],
    policy: DispatchPolicy | None = None,
    draw: Callable[[], float] = random.random,
    step_context: StepContextFor | None = None,
    hook: HookSender | None = None,
    limit: int = 100,
    sends: Sends = one_by_one,
) -> dict[int, Dispatched]:
    """Send the due rows of `ids` (None: up to `limit` of the oldest due pages and messages),
    each failing over along its channel's provider chain; a workflow step is run by its
    executor instead (`step_context` builds what it needs). The outcome of each row claimed.

    Two writes for the lot: the claim, and the plain sends' outcomes (a failure, a retry or a
    failover is recorded on its own)."""
    policy = policy or DispatchPolicy()
    now = clock()
    outbox = stores_for(engine).outbox
    claims = outbox.claim_many(ids, now, worker, policy.lease, config, public_url,
                               lambda name: _provider_names(chains, name), limit)
    done: dict[int, Dispatched] = {}
    plain: list[tuple[int, Claim]] = []
    for notification_id, claim in claims:
        if claim.kind == WORKFLOW:
            done[notification_id] = run_workflow_step(outbox, notification_id, claim,
                                                      step_context, clock, policy, draw)
        elif claim.kind == HOOK:
            done[notification_id] = _post_hook(outbox, notification_id, claim, hook, clock,
                                               policy, draw)
        else:
            plain.append((notification_id, claim))
    failing: set[str] = set()
    calls: list[Send] = [
        Send(claim.channel, (claim.address, claim.incident_id),
             partial(_send, outbox, claim, chains, policy.breaker, clock, now, failing))
        for _nid, claim in plain]
    for finished in sends(calls) if plain else ():
        group = [(*plain[index], made) for index, made in finished]
        recorded = outbox.record_many(group, policy, draw, clock())
        done.update(zip([nid for nid, _claim, _made in group], recorded, strict=True))
    return done


def _send(outbox: Outbox, claim: Claim, chains: ProviderChains, breakers: BreakerPolicy,
          clock: Callable[[], datetime], now: datetime, failing: set[str]) -> list[Call]:
    """The provider calls of one claimed row: the first provider whose circuit allows, then
    the next on failure, until one sends or none is left. `failing`: the providers that
    failed a call of this batch, whose circuits are read afresh rather than as claimed."""
    channel = Channel(claim.channel)
    chain = list(chains.chain(channel))
    address, kind = claim.address, claim.kind
    notice: Notice | Mail
    if claim.kind == MAIL:
        notice = Mail.from_data(claim.step or {})
    else:
        assert claim.notice is not None
        notice = claim.notice
    data = claim.provider_data
    fresh = any(provider.name in failing for provider in chain)
    known: dict[str, Breaker] | None = claim.breakers if chain and not fresh else None
    calls: list[Call] = []
    if not chain:
        failure = DeliveryResult.failed(channel.value, "no provider configured", retryable=False)
        calls.append(Call(None, failure, now, now))
    tried: set[str] = set()
    while chain:
        chosen = _choose(
            outbox, [p for p in chain if p.name not in tried], breakers, clock(), known
        )
        known = None  # a failover reads the circuits afresh: the first call may have taken long
        if chosen is None:
            break
        provider, breaker = chosen
        tried.add(provider.name)
        started = clock()
        result = _call(provider, kind, address, notice, data)
        calls.append(Call(provider.name, result, started, clock(), provider is not chain[0],
                           breaker))
        if result.ok:
            break
        failing.add(provider.name)
    if not calls:
        failure = DeliveryResult.failed(
            chain[0].name, "every provider's circuit is open", retryable=True
        )
        calls.append(Call(None, failure, now, now))
    return calls


def _post_hook(outbox: Outbox, notification_id: int, claim: Claim, hook: HookSender | None,
               clock: Callable[[], datetime], policy: DispatchPolicy,
               draw: Callable[[], float]) -> Dispatched:
    """POST a `HOOK` row; recorded, retried and given up on like any send."""
    if hook is None:
        raise RuntimeError("a webhook row needs the worker's hook sender")
    data = claim.step or {}
    started = clock()
    result = hook(claim.address, str(data.get("content") or ""),
                  {str(k): str(v) for k, v in (data.get("headers") or {}).items()})
    # No circuit: one subscriber's broken endpoint says nothing about the others'.
    call = Call(None, result, started, clock())
    return outbox.record(notification_id, claim, [call], policy, draw, clock())


def _provider_names(chains: ProviderChains, name: str) -> list[str]:
    try:
        channel = Channel(name)
    except ValueError:  # a workflow step's kind (webhook, runbook, page): no provider chain
        return []
    return [p.name for p in chains.chain(channel)]


@dataclass(frozen=True)
class _Crashed:
    """An executor that raised: a failure not worth retrying (it would raise again)."""

    detail: str
    duration_ms: int
    ok: bool = False
    retryable: bool = False
    status_code: int | None = None


def run_workflow_step(outbox: Outbox, notification_id: int, claim: Claim,
                      step_context: StepContextFor | None, clock: Callable[[], datetime],
                      policy: DispatchPolicy, draw: Callable[[], float]) -> Dispatched:
    """Run a claimed workflow step through its executor, outside any transaction, and have the
    outbox record it (and release or cancel the rest of the run). A step that could not be
    planned is recorded as failed without calling anything."""
    from oncall.workflows.steps import run_step

    step: dict[str, Any] = claim.step or {}
    started = clock()
    outcome: StepOutcomeLike | None = None
    if not step.get("error"):
        if step_context is None or claim.incident_id is None:
            raise RuntimeError("a workflow step needs the worker's step context")
        ctx = step_context(claim.incident_id, f"workflow:{step.get('workflow', '')}",
                           step_key(str(step.get("run")), int(step.get("index", 0))))
        timeout = min(float(step.get("timeout") or STEP_TIMEOUT_CAP.total_seconds()),
                      STEP_TIMEOUT_CAP.total_seconds())
        try:
            outcome = run_step(claim.channel, dict(step.get("action") or {}), timeout, ctx)
        except Exception as exc:  # recorded as the step's failure, not retried forever
            log.exception("workflow step %s raised", notification_id)
            outcome = _Crashed(f"the step's executor failed: {exc.__class__.__name__}",
                               int((clock() - started).total_seconds() * 1000))
    finished = clock()
    recorded = outbox.record_step(notification_id, claim, outcome, started, finished, policy,
                                  draw, finished)
    pages = tuple(getattr(outcome, "notifications", ()))  # a `page` step's rows, due now
    return replace(recorded, pulled_forward=recorded.pulled_forward + pages) if pages \
        else recorded
