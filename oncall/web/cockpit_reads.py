"""The incident page's reads beyond the incident itself: its timeline's inputs (events,
notifications with their attempts, and every name they mention, in one query), related
incidents, and who the service's policy reaches now and next. A fixed number of queries per
load, whatever the timeline's length."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.db.models import (
    AuditEventRow,
    DeliveryAttemptRow,
    IncidentRow,
    NotificationRow,
    ServiceRow,
    UserRow,
)
from oncall.schedules_service import on_call_at
from oncall.web import timeline
from oncall.web.cockpit import OnCall, Related

RELATED_WINDOW = timedelta(days=7)
RELATED_SHOWN = 10


def timeline_inputs(session: Session, incident_id: int, events: Sequence[AuditEventRow]
                    ) -> tuple[list[timeline.Event], list[timeline.Notice], timeline.Names]:
    """The incident's events (already read with it), its notifications and their attempts
    (two queries), and the names of everyone they mention (one query)."""
    found = [timeline.Event(e.id, e.at, e.type, e.actor, dict(e.data or {}), e.before, e.after)
             for e in events]
    rows = list(session.scalars(
        select(NotificationRow).where(NotificationRow.incident_id == incident_id)
        .order_by(NotificationRow.created_at, NotificationRow.id)))
    attempts: dict[int, list[timeline.Attempt]] = {}
    if rows:
        for a in session.scalars(
                select(DeliveryAttemptRow)
                .where(DeliveryAttemptRow.notification_id.in_([r.id for r in rows]))
                .order_by(DeliveryAttemptRow.notification_id, DeliveryAttemptRow.attempt)):
            attempts.setdefault(a.notification_id, []).append(timeline.Attempt(
                a.attempt, a.provider, a.outcome, a.started_at, a.finished_at, a.error))
    notices = [timeline.Notice(
        r.id, r.kind, r.channel, r.address, r.user_id, r.timer_id, r.status, r.created_at,
        r.next_attempt_at, r.sent_at, r.delivered_at, r.failed_at,
        tuple(attempts.get(r.id, ()))) for r in rows]
    return found, notices, names(session, timeline.user_ids_in(found, notices),
                                 timeline.emails_in(found))


def names(session: Session, ids: set[int], emails: set[str]) -> timeline.Names:
    """Display names (the config's, else the email) by user id and by email, in one query."""
    if not ids and not emails:
        return timeline.Names()
    by_id, by_email = {}, {}
    for r in session.execute(select(UserRow.id, UserRow.email, UserRow.name).where(
            or_(UserRow.id.in_(sorted(ids)), UserRow.email.in_(sorted(emails))))):
        by_id[r.id] = by_email[r.email] = r.name or r.email
    return timeline.Names(by_id, by_email)


def related(session: Session, incident_id: int, service: str, triggered_at: datetime,
            now: datetime) -> list[Related]:
    """Other incidents of the same service triggered in the 7 days before this one, or since."""
    since = min(now, triggered_at) - RELATED_WINDOW
    rows = session.execute(
        select(IncidentRow.id, IncidentRow.title, IncidentRow.status, IncidentRow.priority,
               IncidentRow.triggered_at)
        .join(ServiceRow, ServiceRow.id == IncidentRow.service_id)
        .where(ServiceRow.name == service, IncidentRow.id != incident_id,
               IncidentRow.triggered_at >= since)
        .order_by(IncidentRow.triggered_at.desc(), IncidentRow.id.desc())
        .limit(RELATED_SHOWN))
    return [Related(r.id, r.title, r.status, r.priority, r.triggered_at) for r in rows]


def oncall(session: Session, config: ConfigSet, service: str, now: datetime) -> list[OnCall]:
    """Each schedule the service's escalation policy pages, in step order: who holds it now,
    until when, and who takes over then (the app's overrides laid on, as escalation sees
    them)."""
    svc = config.services.get(service)
    policy = config.policies.get(svc.escalation_policy or "") if svc else None
    out: list[OnCall] = []
    seen: set[str] = set()
    for step, s in enumerate(policy.steps if policy else (), start=1):
        for target in s.targets:
            schedule = config.schedules.get(target.ref) if target.kind == "schedule" else None
            if schedule is None or schedule.name in seen:
                continue
            seen.add(schedule.name)
            shift = on_call_at(session, schedule, now)
            nxt = on_call_at(session, schedule, shift.end) if shift.end > now else None
            out.append(OnCall(step, schedule.name, shift.who, shift.end,
                              nxt.who if nxt else None))
    return out
