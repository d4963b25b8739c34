"""Heartbeats as an alert source: a ping, and the sweep that notices a missed one.

A missed ping and the ping after it go through the same ingest pipeline as any alert (dedup,
open-or-join, escalation, timeline, workflows), as the source `heartbeat:<name>`. Routing rules
are not consulted: a heartbeat names its service, and its incident lands there (a maintenance
window on the service still holds the page). The state change and the alert are written in one
transaction, so a claim is never left without its incident nor an incident without its claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.config.models import Heartbeat, Integration, RoutingRule
from oncall.core import heartbeats as core
from oncall.core.alerts import Alert
from oncall.db.engine import read_connection, write_session
from oncall.ingest import pipeline
from oncall.store import heartbeats as store
from oncall.store import stores_for


@dataclass(frozen=True)
class Pinged:
    recovered: bool
    """The ping ended a missed-ping episode: its incident's alert was resolved."""
    incident_ids: list[int]


def source(config: ConfigSet, beat: Heartbeat) -> tuple[ConfigSet, Integration]:
    """The config as the pipeline sees a heartbeat's alert: the heartbeat as an integration
    falling back to its service, and no routing rules to send it elsewhere."""
    integration = Integration.model_construct(
        name=core.integration_name(beat), kind="Integration", type="generic",
        service=beat.service, description=beat.description, secret=None, auth=None,
        topic_arns=[])
    objects = {kind: by_name for kind, by_name in config.objects.items()
               if kind != RoutingRule.KIND}
    objects[Integration.KIND] = {**config.integrations, integration.name: integration}
    return ConfigSet(objects=objects, sources=config.sources), integration


def _send(session: Session, engine: Engine, config: ConfigSet, beat: Heartbeat, alert: Alert,
          now: datetime) -> list[int]:
    view, integration = source(config, beat)
    result = pipeline.ingest(session, view, integration, [alert], now=now,
                             store=stores_for(engine).ingest)
    return list(result.incident_ids)


def ping(engine: Engine, config: ConfigSet, beat: Heartbeat, now: datetime) -> Pinged:
    """Record a ping; if the heartbeat was down, resolve its alert in the same transaction."""
    with write_session(engine) as session:
        recovered = store.record_ping(session.connection(), beat.name, now)
        incidents: list[int] = []
        if recovered:
            incidents = _send(session, engine, config, beat, core.recovered(beat, now), now)
    return Pinged(recovered, incidents)


def sweep(engine: Engine, config: ConfigSet, now: datetime) -> list[int]:
    """Open the incident of every heartbeat whose ping is overdue and not yet claimed; the
    incidents opened or joined. Safe in any number of workers at once: each heartbeat's miss
    is claimed by one transaction only."""
    beats = config.heartbeats
    if not beats:
        return []
    cutoffs = {name: core.cutoff(beat, now) for name, beat in beats.items()}
    with read_connection(engine) as conn:
        candidates = store.overdue(conn, cutoffs)
    opened: list[int] = []
    for name in candidates:
        beat = beats[name]
        with write_session(engine) as session:
            last = store.claim_missed(session.connection(), name, cutoffs[name], now)
            if last is not None:
                opened += _send(session, engine, config, beat,
                                core.missed(beat, last, now), now)
    return opened
