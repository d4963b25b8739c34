"""Open incidents in tests and benchmarks the way ingest opens them.

There is one definition of open-or-join per database: the ingest store's
(`oncall.store.ingest.IngestStore.open_or_join`). Tests and benchmarks that need an incident
call it through `open_incident`, with a synthetic alert routed to the service, so the rows they
start from (incident, alert, first escalation timer, audit events) are the rows ingest writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from oncall.config.models import Integration
from oncall.config.types import Priority
from oncall.core.alerts import Alert, Severity
from oncall.core.routing import SEVERITY_PRIORITY, Destination
from oncall.db.models import AlertRow, ServiceRow
from oncall.ingest.pipeline import alert_fingerprint
from oncall.store import stores_for
from oncall.store.ingest import Opening

_SEVERITY: dict[Priority, Severity] = {p: s for s, p in SEVERITY_PRIORITY.items()}


def open_incident(
    session: Session,
    *,
    service: str,
    title: str,
    now: datetime,
    group_key: str | None = None,
    priority: Priority = "P2",
    labels: Mapping[str, str] | None = None,
    integration: str = "tests",
    page: bool = True,
    dedup_key: str | None = None,
) -> int:
    """The id of the open incident of (`service`, `group_key`), opened by a new alert from
    `integration` if there is none (joined otherwise), in the caller's transaction.

    `group_key` defaults to the title. `page`: start escalating with the service's policy (its
    first timer due `now`), as ingest does; False opens the incident without a policy, so no
    one is paged. `dedup_key` defaults to one no alert of `integration` has used yet.
    """
    row = session.scalar(select(ServiceRow).where(ServiceRow.name == service))
    if row is None:
        raise LookupError(f"service {service!r} is not applied")
    if dedup_key is None:
        used = session.scalar(select(func.count(AlertRow.id))
                              .where(AlertRow.integration_name == integration)) or 0
        dedup_key = f"{integration}-{used + 1}"
    labels = dict(labels or {})
    alert = Alert(provider="generic", action="trigger", summary=title,
                  severity=_SEVERITY.get(priority, "error"), dedup_key=dedup_key,
                  occurred_at=now, labels=labels, integration=integration)
    destination = Destination(service=service, rule=None, priority=priority,
                              priority_from="rule", group_key=group_key or title, group_by=(),
                              maintenance=())
    source = Integration(kind="Integration", name=integration, type="generic", service=service,
                         secret="${env:ONCALL_TESTS_SECRET}")  # never read: nothing is received
    opening = Opening(source, alert, alert_fingerprint(dedup_key), destination, row.id,
                      row.urgency, row.escalation_policy_name if page else None, now)
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    return stores_for(engine).ingest.open_or_join(session, opening).incident_id


__all__ = ["open_incident"]
