"""What a notification row says: a `Notice` built from the incident as it is at send time."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.config.models import LinkRunbook
from oncall.core.escalation import Status
from oncall.core.tokens import hash_token
from oncall.db.models import AuditEventRow, IncidentRow, NotificationRow, SecretTokenRow, ServiceRow
from oncall.notify.message import Link, Notice, NoticeKind

ACK_LINK_LIFETIME = timedelta(hours=24)
ACK_PURPOSE = "ack"
ACK_CHANNELS = ("email", "push")


def new_ack_link(
    session: Session, notification: NotificationRow, public_url: str, now: datetime
) -> str:
    """A single-use, expiring acknowledge link; only its hash is stored."""
    token = secrets.token_urlsafe(32)
    session.add(
        SecretTokenRow(
            token_hash=hash_token(token),
            purpose=ACK_PURPOSE,
            user_id=notification.user_id,
            incident_id=notification.incident_id,
            created_at=now,
            expires_at=now + ACK_LINK_LIFETIME,
        )
    )
    return f"{public_url}/ack/{token}"


def incident_url(public_url: str, incident_id: int) -> str:
    return f"{public_url}/incidents/{incident_id}"


def build_notice(
    session: Session,
    notification: NotificationRow,
    config: ConfigSet,
    public_url: str,
    now: datetime,
) -> Notice:
    if notification.kind == "verification":
        return Notice.verification(str((notification.provider_data or {}).get("code", "")))
    incident = (
        session.get(IncidentRow, notification.incident_id) if notification.incident_id else None
    )
    if incident is None:
        return Notice.test(public_url)
    service = session.get(ServiceRow, incident.service_id)
    ack_url = None
    kind = NoticeKind.UPDATE if notification.kind == "update" else NoticeKind.PAGE
    if kind is NoticeKind.PAGE and notification.channel in ACK_CHANNELS and notification.user_id:
        ack_url = new_ack_link(session, notification, public_url, now)
    actor = None
    if kind is NoticeKind.UPDATE:
        actor = session.scalar(
            select(AuditEventRow.actor)
            .where(
                AuditEventRow.incident_id == incident.id,
                AuditEventRow.type.in_(("incident.acknowledged", "incident.resolved")),
            )
            .order_by(AuditEventRow.id.desc())
            .limit(1)
        )
        if actor and ":" in actor:
            actor = actor.split(":", 1)[1]
    return notice_of(kind, IncidentFacts.of(incident), service.name if service else None,
                     config, public_url, ack_url=ack_url, actor=actor)


class IncidentFacts(NamedTuple):
    """What a notice says of its incident, from an `IncidentRow` or read by a fast path."""

    id: int
    title: str
    description: str | None
    status: str
    priority: str | None
    urgency: str
    labels: dict[str, Any] | None

    @classmethod
    def of(cls, row: IncidentRow) -> IncidentFacts:
        return cls(row.id, row.title, row.description, row.status, row.priority, row.urgency,
                   row.labels)


def notice_of(
    kind: NoticeKind,
    incident: IncidentFacts,
    service_name: str | None,
    config: ConfigSet,
    public_url: str,
    *,
    ack_url: str | None = None,
    actor: str | None = None,
) -> Notice:
    spec = config.services.get(service_name) if service_name else None
    runbooks = tuple(
        Link(r.title, r.url) for r in (spec.runbooks if spec else []) if isinstance(r, LinkRunbook)
    )
    summary = str(incident.labels.get("summary", "")) if incident.labels else ""
    return Notice(
        kind=kind,
        incident_id=str(incident.id),
        number=incident.id,
        title=incident.title,
        url=incident_url(public_url, incident.id),
        summary=summary or (incident.description or ""),
        service=service_name or "",
        priority=incident.priority,
        urgency="low" if incident.urgency == "low" else "high",
        status=Status(incident.status),
        labels=tuple(sorted((str(k), str(v)) for k, v in (incident.labels or {}).items())),
        ack_url=ack_url,
        runbooks=runbooks,
        actor=actor,
    )
