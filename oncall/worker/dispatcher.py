"""Sending one outbox row: claim it, pick a provider the circuit breaker allows, call it outside
any transaction, then have the outbox record the attempt and decide: sent, retry later, or
fail over. Claims and outcomes are the outbox's (`oncall.store.outbox`); this module only
chooses providers and calls them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.core.delivery import Breaker, BreakerPolicy, Circuit
from oncall.core.notification_rules import Channel
from oncall.notify.message import Notice
from oncall.notify.providers.base import DeliveryResult, Provider
from oncall.store import stores_for
from oncall.store.outbox import LEASE, Call, Dispatched, DispatchPolicy, Outbox
from oncall.worker.providers import ProviderChains

__all__ = ["LEASE", "DispatchPolicy", "Dispatched", "dispatch", "due_notification_ids"]


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
    provider: Provider, row_kind: str, address: str, notice: Notice, data: dict[str, str]
) -> DeliveryResult:
    update = getattr(provider, "update", None)
    if row_kind == "update" and callable(update) and data.get("ts") and data.get("channel"):
        result: DeliveryResult = update(data["channel"], data["ts"], notice)
        return result
    return provider.send(address, notice)


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
    outbox = stores_for(engine).outbox
    claim = outbox.claim(notification_id, now, worker, policy.lease, config, public_url,
                         lambda name: [p.name for p in chains.chain(Channel(name))])
    if claim is None:
        return Dispatched("skipped")
    channel = Channel(claim.channel)
    chain = list(chains.chain(channel))
    notice, address, kind = claim.notice, claim.address, claim.kind
    data = claim.provider_data
    known: dict[str, Breaker] | None = claim.breakers if chain else None
    calls: list[Call] = []
    if not chain:
        failure = DeliveryResult.failed(channel.value, "no provider configured", retryable=False)
        calls.append(Call(None, failure, now, now))
    tried: set[str] = set()
    while chain:
        chosen = _choose(
            outbox, [p for p in chain if p.name not in tried], policy.breaker, clock(), known
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
    if not calls:
        failure = DeliveryResult.failed(
            chain[0].name, "every provider's circuit is open", retryable=True
        )
        calls.append(Call(None, failure, now, now))
    return outbox.record(notification_id, claim, calls, policy, draw, clock())
