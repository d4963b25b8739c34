"""The product's state as tables: config as applied, people, and operational data.

Ownership decides who writes a table. The reconciler owns `config_objects`, `services`,
`team_memberships` and the config-derived columns of `users`; everything else is operational data
written by ingest, escalation, notification and the web app, and the reconciler never touches it.

Status columns are plain strings (the vocabulary lives in the code that writes them) so adding a
state needs no migration. Times are stored in UTC and always read back timezone-aware.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from oncall.store.outbox_status import STATUS_CHECK, NotificationStatus

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (which has no zones) too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware datetime (UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


Json = JSON().with_variant(JSONB(), "postgresql")
Id = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER PKs only


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        datetime: UTCDateTime(),
        date: Date(),
        dict[str, Any]: Json,
        list[Any]: Json,
        Any: Json,
        str: String(255),
        int: Integer(),
        bool: Boolean(),
    }


def _id() -> Mapped[int]:
    return mapped_column(Id, primary_key=True, autoincrement=True)


def _fk(target: str, *, ondelete: str | None = None, index: bool = True) -> Any:
    return mapped_column(Id, ForeignKey(target, ondelete=ondelete), index=index)


# --- config as applied -----------------------------------------------------------------------


class ConfigObjectRow(Base):
    """One applied config document: its spec and where and when it came from."""

    __tablename__ = "config_objects"
    __table_args__ = (UniqueConstraint("kind", "name"),)

    id: Mapped[int] = _id()
    kind: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    spec: Mapped[dict[str, Any]]
    spec_hash: Mapped[str] = mapped_column(String(64))
    """Hash of `spec` as the reconciler wrote it: a mismatch means someone edited the row."""
    source_path: Mapped[str] = mapped_column(String(1024))
    source_line: Mapped[int]
    revision: Mapped[str | None] = mapped_column(String(64))
    """Git revision of the apply that last created or changed the object."""
    applied_at: Mapped[datetime]
    applied_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]


class ServiceRow(Base):
    """Services, queried relationally by ingest and the app. Rows are retired, never deleted,
    so incidents keep their service and a routing key is never reused or changed."""

    __tablename__ = "services"

    id: Mapped[int] = _id()
    name: Mapped[str] = mapped_column(String(255), unique=True)
    routing_key: Mapped[str] = mapped_column(String(64), unique=True)
    team_name: Mapped[str]
    escalation_policy_name: Mapped[str | None]
    urgency: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]


# --- people ----------------------------------------------------------------------------------


class UserRow(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("oidc_issuer", "oidc_subject"),)

    id: Mapped[int] = _id()
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str | None]
    time_zone: Mapped[str | None] = mapped_column(String(64))
    in_config: Mapped[bool] = mapped_column(default=True)
    """Listed by at least one Team in the applied config (the row stays when that ends)."""
    platform_admin: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    """Named in the applied config's `Organization.admins`: may act on every team's incidents."""
    oidc_issuer: Mapped[str | None] = mapped_column(String(512))
    oidc_subject: Mapped[str | None] = mapped_column(String(255))
    """The SSO identity (iss, sub) bound at the first OIDC sign-in; later sign-ins must match."""
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]

    memberships: Mapped[list[TeamMembershipRow]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )


class TeamMembershipRow(Base):
    __tablename__ = "team_memberships"
    __table_args__ = (UniqueConstraint("team_name", "user_id"),)

    id: Mapped[int] = _id()
    team_name: Mapped[str] = mapped_column(String(255), index=True)
    user_id: Mapped[int] = _fk("users.id", ondelete="CASCADE")
    role: Mapped[str] = mapped_column(String(16))

    user: Mapped[UserRow] = relationship(back_populates="memberships")


class ContactMethodRow(Base):
    """Personal data: set by the user, never by the reconciler."""

    __tablename__ = "contact_methods"
    __table_args__ = (UniqueConstraint("user_id", "type", "address"),)

    id: Mapped[int] = _id()
    user_id: Mapped[int] = _fk("users.id", ondelete="CASCADE")
    type: Mapped[str] = mapped_column(String(16))  # email, sms, voice, slack, push, teams
    address: Mapped[str] = mapped_column(String(2048))
    label: Mapped[str | None]
    details: Mapped[dict[str, Any] | None]  # push subscription keys, Slack user id, ...
    verified_at: Mapped[datetime | None]
    verification_code_hash: Mapped[str | None] = mapped_column(String(128))
    verification_expires_at: Mapped[datetime | None]
    verification_attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]


class NotificationRuleRow(Base):
    __tablename__ = "notification_rules"

    id: Mapped[int] = _id()
    user_id: Mapped[int] = _fk("users.id", ondelete="CASCADE")
    contact_method_id: Mapped[int] = _fk("contact_methods.id", ondelete="CASCADE")
    urgency: Mapped[str] = mapped_column(String(16))  # high, low
    delay_seconds: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]


class LocalAccountRow(Base):
    """Break-glass sign-in for when SSO is down."""

    __tablename__ = "local_accounts"

    id: Mapped[int] = _id()
    user_id: Mapped[int] = mapped_column(
        Id, ForeignKey("users.id", ondelete="CASCADE"), unique=True
    )
    password_hash: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    failed_attempts: Mapped[int] = mapped_column(default=0)
    disabled_at: Mapped[datetime | None]


class SignInThrottleRow(Base):
    """Failed sign-ins per key (an account, or an account from one client address), shared by
    every web process: a key over its limit is refused before any password hash is computed."""

    __tablename__ = "sign_in_throttle"

    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_started_at: Mapped[datetime]
    locked_until: Mapped[datetime | None] = mapped_column(index=True)


class SessionRow(Base):
    __tablename__ = "sessions"

    id: Mapped[int] = _id()
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    user_id: Mapped[int] = _fk("users.id", ondelete="CASCADE")
    auth_method: Mapped[str] = mapped_column(String(16))  # oidc, local
    csrf_token_hash: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    revoked_at: Mapped[datetime | None]


class ApiKeyRow(Base):
    """Only a hash of the key is kept; `prefix` finds the row without scanning hashes."""

    __tablename__ = "api_keys"

    id: Mapped[int] = _id()
    name: Mapped[str]
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(128))
    scopes: Mapped[list[Any]]
    created_by_id: Mapped[int | None] = _fk("users.id", ondelete="SET NULL")
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class SecretTokenRow(Base):
    """Hashed single-purpose tokens: iCal feed URLs, one-click acknowledge links."""

    __tablename__ = "secret_tokens"

    id: Mapped[int] = _id()
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    purpose: Mapped[str] = mapped_column(String(32))  # ical, ack-link, ...
    user_id: Mapped[int | None] = _fk("users.id", ondelete="CASCADE")
    incident_id: Mapped[int | None] = _fk("incidents.id", ondelete="CASCADE")
    subject: Mapped[str | None]  # e.g. a schedule name
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class IngestReplayRow(Base):
    """Signatures of signed alert deliveries already accepted, kept while their timestamp is
    inside the accepted window, so a captured request cannot be sent again."""

    __tablename__ = "ingest_replays"

    integration: Mapped[str] = mapped_column(String(255), primary_key=True)
    digest: Mapped[str] = mapped_column(String(128), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


# --- alerts and incidents --------------------------------------------------------------------

OPEN_INCIDENT = "status != 'resolved'"


class IncidentRow(Base):
    """An incident. At most one *open* incident per (service, group key), enforced by a partial
    unique index so concurrent ingest cannot create two; `version` supports compare-and-set."""

    __tablename__ = "incidents"
    __table_args__ = (
        Index(
            "uq_incidents_open_group",
            "service_id",
            "group_key",
            unique=True,
            postgresql_where=text(OPEN_INCIDENT),
            sqlite_where=text(OPEN_INCIDENT),
        ),
        Index("ix_incidents_status_triggered_at", "status", "triggered_at"),
    )

    id: Mapped[int] = _id()
    title: Mapped[str] = mapped_column(String(1024))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # triggered, acknowledged, resolved
    priority: Mapped[str | None] = mapped_column(String(8))
    urgency: Mapped[str] = mapped_column(String(16), default="high")
    service_id: Mapped[int] = _fk("services.id")
    group_key: Mapped[str] = mapped_column(String(512))
    labels: Mapped[dict[str, Any]]
    assignee_id: Mapped[int | None] = _fk("users.id", ondelete="SET NULL")
    escalation_policy_name: Mapped[str | None]
    escalation_generation: Mapped[int] = mapped_column(default=0)
    escalation_cycle: Mapped[int] = mapped_column(default=0)
    escalation_step: Mapped[int] = mapped_column(default=0)
    version: Mapped[int] = mapped_column(default=0)
    alert_count: Mapped[int] = mapped_column(default=0)
    triggered_at: Mapped[datetime]
    last_alert_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by_id: Mapped[int | None] = _fk("users.id", ondelete="SET NULL", index=False)
    resolved_at: Mapped[datetime | None]
    resolved_by_id: Mapped[int | None] = _fk("users.id", ondelete="SET NULL", index=False)
    updated_at: Mapped[datetime]


class AlertRow(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_integration_fingerprint", "integration_name", "fingerprint"),
    )

    id: Mapped[int] = _id()
    integration_name: Mapped[str]
    fingerprint: Mapped[str] = mapped_column(String(128))
    dedup_key: Mapped[str | None] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16))  # firing, resolved
    severity: Mapped[str | None] = mapped_column(String(32))
    summary: Mapped[str] = mapped_column(String(1024))
    source: Mapped[str | None] = mapped_column(String(1024))
    labels: Mapped[dict[str, Any]]
    annotations: Mapped[dict[str, Any] | None]
    service_id: Mapped[int | None] = _fk("services.id")
    incident_id: Mapped[int | None] = _fk("incidents.id")
    routing_rule_name: Mapped[str | None]
    suppressed_reason: Mapped[str | None]  # maintenance window, drop rule
    occurred_at: Mapped[datetime | None]
    received_at: Mapped[datetime]
    last_event_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]


class AlertDeliveryRow(Base):
    """Every accepted HTTP delivery, committed before the 2xx; repeats are found by delivery id."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        Index(
            "uq_alert_deliveries_delivery",
            "integration_name",
            "delivery_id",
            unique=True,
            postgresql_where=text("delivery_id IS NOT NULL"),
            sqlite_where=text("delivery_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = _id()
    integration_name: Mapped[str]
    delivery_id: Mapped[str | None] = mapped_column(String(255))
    alert_id: Mapped[int | None] = _fk("alerts.id")
    event_action: Mapped[str] = mapped_column(String(16))  # trigger, acknowledge, resolve
    outcome: Mapped[str] = mapped_column(String(32))  # new, deduplicated, duplicate, dropped
    payload: Mapped[dict[str, Any] | None]
    received_at: Mapped[datetime]


class AuditEventRow(Base):
    """The append-only audit log; an incident's timeline is its events in order."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_incident_id_at", "incident_id", "at"),
        Index("ix_audit_events_subject", "subject_kind", "subject_name", "at"),
    )

    id: Mapped[int] = _id()
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str]
    type: Mapped[str] = mapped_column(String(64))
    incident_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("incidents.id", ondelete="CASCADE")
    )
    subject_kind: Mapped[str | None] = mapped_column(String(64))
    subject_name: Mapped[str | None]
    before: Mapped[Any | None]
    after: Mapped[Any | None]
    data: Mapped[dict[str, Any] | None]


class WorkflowInboxRow(Base):
    """An audit event a workflow may fire on, not yet planned. Written only by the trigger of
    migrations 0005 and 0006 on `audit_events` inserts, for the types in
    `workflow_event_types`; the worker plans it and deletes it in one transaction
    (`oncall.store.workflow_inbox`). No foreign keys: a row lives until the next sweep, and
    checking two on every incident event cost more than the planner skipping a lost one."""

    __tablename__ = "workflow_inbox"

    event_id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=False)
    incident_id: Mapped[int] = mapped_column(Id)
    type: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class WorkflowEventTypeRow(Base):
    """An audit-event type some applied Workflow listens to: the inbox trigger lets only these
    in. Written only by the reconciler, from the applied config (`reconcile.apply`)."""

    __tablename__ = "workflow_event_types"

    type: Mapped[str] = mapped_column(String(64), primary_key=True)


class EscalationTimerRow(Base):
    """A promise to run an escalation step at `due_at`; the sweeper claims overdue rows."""

    __tablename__ = "escalation_timers"
    __table_args__ = (
        UniqueConstraint("incident_id", "generation", "cycle", "step"),
        Index("ix_escalation_timers_status_due_at", "status", "due_at"),
    )

    id: Mapped[int] = _id()
    incident_id: Mapped[int] = _fk("incidents.id", ondelete="CASCADE", index=False)
    generation: Mapped[int] = mapped_column(default=0)
    cycle: Mapped[int] = mapped_column(default=0)
    step: Mapped[int]
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="pending")  # claimed, done, cancelled
    claimed_by: Mapped[str | None]
    claimed_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    done_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


PENDING_ROW = "status = 'pending'"
SENDING_ROW = "status = 'sending'"


class NotificationRow(Base):
    """The outbox: one notification owed to one person on one channel."""

    __tablename__ = "notifications"
    __table_args__ = (
        # One partial index per way of being due (`oncall.store.outbox._due_arms`): each claim
        # moves a row out of them, and an ordered scan of a partial index marks the entries
        # it leaves behind dead, so the claim stays cheap between vacuums.
        Index("ix_notifications_pending_due", "next_attempt_at", "id",
              postgresql_where=text(PENDING_ROW), sqlite_where=text(PENDING_ROW)),
        Index("ix_notifications_sending_claimed", "claimed_at",
              postgresql_where=text(SENDING_ROW), sqlite_where=text(SENDING_ROW)),
        CheckConstraint(STATUS_CHECK, name="status"),
    )

    id: Mapped[int] = _id()
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    incident_id: Mapped[int | None] = _fk("incidents.id", ondelete="CASCADE")
    user_id: Mapped[int | None] = _fk("users.id", ondelete="SET NULL")
    contact_method_id: Mapped[int | None] = _fk("contact_methods.id", ondelete="SET NULL")
    timer_id: Mapped[int | None] = _fk("escalation_timers.id", ondelete="SET NULL", index=False)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(2048))
    kind: Mapped[str] = mapped_column(String(32), default="page")  # page, update, verification
    status: Mapped[str] = mapped_column(String(16), default=NotificationStatus.PENDING.value)
    attempt_count: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    claimed_by: Mapped[str | None]
    claimed_at: Mapped[datetime | None]
    provider: Mapped[str | None] = mapped_column(String(32))
    provider_message_id: Mapped[str | None]
    provider_data: Mapped[dict[str, Any] | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]


class ProviderCircuitRow(Base):
    """A notification provider's circuit breaker, shared by every worker process."""

    __tablename__ = "provider_circuits"

    provider: Mapped[str] = mapped_column(String(32), primary_key=True)
    circuit: Mapped[str] = mapped_column(String(16))  # closed, open, half_open
    failures: Mapped[int] = mapped_column(default=0)
    opened_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class DeliveryAttemptRow(Base):
    __tablename__ = "delivery_attempts"
    __table_args__ = (UniqueConstraint("notification_id", "attempt"),)

    id: Mapped[int] = _id()
    notification_id: Mapped[int] = _fk("notifications.id", ondelete="CASCADE", index=False)
    attempt: Mapped[int]
    provider: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))  # sent, failed, timeout, rejected
    provider_message_id: Mapped[str | None]
    response_status: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


# --- made in the app -------------------------------------------------------------------------


class ScheduleOverrideRow(Base):
    """An override or swap made in the app (config overrides live in the Schedule spec)."""

    __tablename__ = "schedule_overrides"
    __table_args__ = (Index("ix_schedule_overrides_schedule_ends_at", "schedule_name", "ends_at"),)

    id: Mapped[int] = _id()
    schedule_name: Mapped[str]
    user_id: Mapped[int] = _fk("users.id", ondelete="CASCADE")
    replaces_user_id: Mapped[int | None] = _fk("users.id", ondelete="SET NULL", index=False)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = _fk("users.id", ondelete="SET NULL", index=False)
    created_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]


class StatusPageComponentRow(Base):
    """A status page component's shown state. `status` is what the page shows now (the
    computed status, or the manual one while in force); `computed_status` is what its services
    earn. Written only by `oncall/store/status.py`."""

    __tablename__ = "status_page_components"
    __table_args__ = (UniqueConstraint("page_name", "component_name"),)

    id: Mapped[int] = _id()
    page_name: Mapped[str]
    component_name: Mapped[str]
    status: Mapped[str] = mapped_column(String(32))  # core.status.ComponentStatus
    computed_status: Mapped[str] = mapped_column(String(32), default="operational")
    manual_status: Mapped[str | None] = mapped_column(String(32))
    manual_set_at: Mapped[datetime | None]
    manual_expires_at: Mapped[datetime | None]
    message: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str | None]
    """Who set the manual status (an email), or None for the computed one."""


class StatusPageNoticeRow(Base):
    """A public notice on a status page (Statuspage's "incident"): investigating → identified
    → monitoring → resolved. An automatic notice belongs to one component's episode away from
    operational (`auto_component`); at most one such notice is open per component."""

    __tablename__ = "status_page_notices"
    __table_args__ = (
        Index("uq_status_notice_open_auto", "page_name", "auto_component", unique=True,
              postgresql_where=text("resolved_at IS NULL AND auto_component IS NOT NULL"),
              sqlite_where=text("resolved_at IS NULL AND auto_component IS NOT NULL")),
    )

    id: Mapped[int] = _id()
    page_name: Mapped[str] = mapped_column(String(255), index=True)
    incident_id: Mapped[int | None] = _fk("incidents.id", ondelete="SET NULL")
    title: Mapped[str] = mapped_column(String(1024))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32))  # core.status.NoticeStatus
    impact: Mapped[str] = mapped_column(String(16), default="none")
    components: Mapped[list[str]] = mapped_column(Json, default=list)
    auto_component: Mapped[str | None] = mapped_column(String(255))
    created_by: Mapped[str | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]


class StatusPageNoticeUpdateRow(Base):
    """One message of a notice, in order: the opening text and every update after it."""

    __tablename__ = "status_page_notice_updates"

    id: Mapped[int] = _id()
    notice_id: Mapped[int] = _fk("status_page_notices.id", ondelete="CASCADE")
    status: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str | None]
    created_at: Mapped[datetime]


class StatusPageSubscriberRow(Base):
    """Someone told of a status page's notices and maintenance: an email address (after double
    opt-in) or a webhook URL. `token` is random and grants only confirming and ending this one
    subscription, so every message can carry a one-click unsubscribe link. Written only by
    `oncall/store/status.py`."""

    __tablename__ = "status_page_subscribers"
    __table_args__ = (UniqueConstraint("page_name", "kind", "address"),)

    id: Mapped[int] = _id()
    page_name: Mapped[str] = mapped_column(String(255), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # email | webhook
    address: Mapped[str] = mapped_column(String(2048))
    components: Mapped[list[str]] = mapped_column(Json, default=list)
    """The components this subscriber follows; empty: the whole page."""
    token: Mapped[str] = mapped_column(String(64), unique=True)
    secret: Mapped[str | None] = mapped_column(String(128))
    """A webhook subscriber's signing key (HMAC-SHA256 over each body)."""
    created_by: Mapped[str | None]
    """Who subscribed it when signed in (an email); None for a reader of a public page."""
    created_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]


class StatusPagePartnerTokenRow(Base):
    """A partner's way into a `partners` page: a single-use sign-in link sent by email
    (`purpose` "link"), and the read-only session it opens ("session"). Only hashes are kept.
    Written only by `oncall/store/partners.py`."""

    __tablename__ = "status_page_partner_tokens"

    id: Mapped[int] = _id()
    page_name: Mapped[str] = mapped_column(String(255), index=True)
    email: Mapped[str] = mapped_column(String(320))
    purpose: Mapped[str] = mapped_column(String(16))  # link | session
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    link_id: Mapped[int | None] = mapped_column(BigInteger)
    """For a session: the link that opened it."""
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


POSTMORTEM_STATES = ("draft", "in_review", "published")
ACTION_ITEM_STATES = ("open", "done", "wontfix")


def _states_check(column: str, states: tuple[str, ...]) -> str:
    return "{} IN ({})".format(column, ", ".join(f"'{s}'" for s in states))


class PostmortemRow(Base):
    """A written review of one or more incidents. `version` grows with every saved edit, so
    two people editing at once learn of each other (compare-and-set, never last write wins).
    Written only by `oncall/store/postmortems.py`."""

    __tablename__ = "postmortems"
    __table_args__ = (
        CheckConstraint(_states_check("status", POSTMORTEM_STATES), name="status"),
        Index("ix_postmortems_status_updated_at", "status", "updated_at"),
    )

    id: Mapped[int] = _id()
    title: Mapped[str] = mapped_column(String(1024))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    severity: Mapped[str | None] = mapped_column(String(8))
    owner_id: Mapped[int | None] = _fk("users.id", ondelete="SET NULL")
    template: Mapped[str | None] = mapped_column(String(255))
    """The PostmortemTemplate its body was started from."""
    body: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(default=1)
    created_by: Mapped[str]
    created_at: Mapped[datetime]
    updated_by: Mapped[str]
    updated_at: Mapped[datetime]
    published_at: Mapped[datetime | None]


class PostmortemIncidentRow(Base):
    """An incident a postmortem reviews; an incident may be reviewed by more than one."""

    __tablename__ = "postmortem_incidents"

    postmortem_id: Mapped[int] = mapped_column(
        Id, ForeignKey("postmortems.id", ondelete="CASCADE"), primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        Id, ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True, index=True)
    added_at: Mapped[datetime]


class PostmortemEntryRow(Base):
    """The author's choice about one event of the generated timeline: keep it in the
    postmortem or not, and a note on it. Events without a row follow the default
    (`oncall.core.postmortem.kept_by_default`). `entry_key` names the event across sources
    (`oncall.core.postmortem.Entry.key`)."""

    __tablename__ = "postmortem_timeline"

    postmortem_id: Mapped[int] = mapped_column(
        Id, ForeignKey("postmortems.id", ondelete="CASCADE"), primary_key=True)
    entry_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    kept: Mapped[bool]
    note: Mapped[str | None] = mapped_column(Text)
    updated_by: Mapped[str]
    updated_at: Mapped[datetime]


class ActionItemRow(Base):
    """Work a postmortem asks for. `reminded_on` is the owner's last reminder day: an overdue
    item reminds its owner once a day, however many workers look."""

    __tablename__ = "postmortem_action_items"
    __table_args__ = (
        CheckConstraint(_states_check("status", ACTION_ITEM_STATES), name="status"),
        Index("ix_postmortem_action_items_status_due_on", "status", "due_on"),
    )

    id: Mapped[int] = _id()
    postmortem_id: Mapped[int] = _fk("postmortems.id", ondelete="CASCADE")
    title: Mapped[str] = mapped_column(String(1024))
    owner_id: Mapped[int | None] = _fk("users.id", ondelete="SET NULL")
    status: Mapped[str] = mapped_column(String(16), default="open")
    due_on: Mapped[date | None]
    url: Mapped[str | None] = mapped_column(String(2048))
    """A ticket in the team's tracker."""
    created_by: Mapped[str]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    reminded_on: Mapped[date | None]


class ChangeEventRow(Base):
    """Something changed in production (a deploy, a flag, a migration), as an integration
    reported it: shown before the incidents that follow it. Written only by
    `oncall/store/changes.py`."""

    __tablename__ = "change_events"
    __table_args__ = (Index("ix_change_events_service_id_occurred_at", "service_id",
                            "occurred_at"),)

    id: Mapped[int] = _id()
    integration_name: Mapped[str]
    service_id: Mapped[int | None] = _fk("services.id", ondelete="SET NULL", index=False)
    summary: Mapped[str] = mapped_column(String(1024))
    source: Mapped[str | None] = mapped_column(String(1024))
    links: Mapped[list[Any]] = mapped_column(Json, default=list)
    details: Mapped[dict[str, Any] | None]
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    received_at: Mapped[datetime]


# --- the reconciler's own record -------------------------------------------------------------


class ReconcileRunRow(Base):
    __tablename__ = "reconcile_runs"

    id: Mapped[int] = _id()
    started_at: Mapped[datetime] = mapped_column(index=True)
    finished_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(2048))
    revision: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str]
    result: Mapped[str] = mapped_column(String(16))  # applied, invalid, refused, failed
    created: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    deleted: Mapped[int] = mapped_column(default=0)
    errors: Mapped[list[Any]]


# --- column limits ---------------------------------------------------------------------------


def width(column: Any) -> int:
    """The declared length of a String column (a mapped attribute or a Core column)."""
    length = getattr(getattr(column, "type", None), "length", None)
    if not isinstance(length, int):
        raise TypeError(f"{column} has no declared length")
    return length


def fit(column: Any, value: str) -> str:
    """`value` cut to what `column` holds: the limit is the model's, never a literal."""
    return value[:width(column)]


def fit_optional(column: Any, value: str | None) -> str | None:
    return None if value is None else fit(column, value)


# --- heartbeats ------------------------------------------------------------------------------


class HeartbeatRow(Base):
    """A Heartbeat's operational state (the config is in `config_objects`): its last ping and
    whether a missed-ping incident was opened. Written only by `oncall/store/heartbeats.py`;
    `down_since` is the compare-and-set claim that lets one of many workers open the incident."""

    __tablename__ = "heartbeats"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    last_ping_at: Mapped[datetime | None]
    down_since: Mapped[datetime | None]
    updated_at: Mapped[datetime]


# --- rate limits ---------------------------------------------------------------------------


class RateLimitRow(Base):
    """One rate limit's bucket as its theoretical arrival time (seconds since the epoch), and
    how many requests it refused. Used only where no Redis is configured; written only by
    `oncall/store/ratelimit.py`."""

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    tat: Mapped[float] = mapped_column(Float(precision=53))
    refused: Mapped[int] = mapped_column(BigInteger, default=0)


# --- incident roles --------------------------------------------------------------------------

INCIDENT_ROLES = ("commander", "scribe", "communications")


class IncidentRoleRow(Base):
    """Who holds an incident role now; a cleared role has no row, and every change is on the
    incident's timeline. Written only by `oncall/incidents/roles.py`."""

    __tablename__ = "incident_roles"
    __table_args__ = (CheckConstraint(_states_check("role", INCIDENT_ROLES), name="role"),)

    incident_id: Mapped[int] = mapped_column(
        Id, ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = _fk("users.id", ondelete="CASCADE")
    assigned_by: Mapped[str]
    assigned_at: Mapped[datetime]
