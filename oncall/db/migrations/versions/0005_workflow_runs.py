"""Workflow runs: the `waiting` outbox status and the inbox of workflow events.

A workflow step queued behind the step before it waits (`waiting`) until that one finishes.
The events a workflow may fire on are found through `workflow_inbox`, which a trigger on
`audit_events` fills in the transaction that writes the event, whichever code path wrote it
(ingest's one-statement fast path included): the worker plans from the inbox and deletes the
row in one transaction, so each event is planned exactly once.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import oncall.db.models

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here: a migration describes the schema of its revision, whatever the code says later.
_STATUSES = ("pending", "sending", "sent", "delivered", "failed", "cancelled")
OLD_CHECK = "status IN ({})".format(", ".join(f"'{s}'" for s in _STATUSES))
NEW_CHECK = "status IN ({})".format(", ".join(f"'{s}'" for s in ("waiting", *_STATUSES)))
WORKFLOW_AUDIT_TYPES = ("incident.triggered", "incident.acknowledged", "incident.escalated",
                        "incident.resolved", "incident.note", "incident.priority_changed")
_TYPES = ", ".join(f"'{t}'" for t in WORKFLOW_AUDIT_TYPES)
_FILL = ("INSERT INTO workflow_inbox (event_id, incident_id, type, created_at) "
         "VALUES (NEW.id, NEW.incident_id, NEW.type, NEW.at)")

SQLITE_TRIGGER = f"""
CREATE TRIGGER trg_audit_events_workflow_inbox AFTER INSERT ON audit_events
FOR EACH ROW WHEN NEW.incident_id IS NOT NULL AND NEW.type IN ({_TYPES})
BEGIN
    {_FILL};
END
"""
POSTGRES_FUNCTION = f"""
CREATE FUNCTION workflow_inbox_fill() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_FILL};
    RETURN NULL;
END
$$
"""
POSTGRES_TRIGGER = f"""
CREATE TRIGGER trg_audit_events_workflow_inbox AFTER INSERT ON audit_events
FOR EACH ROW WHEN (NEW.incident_id IS NOT NULL AND NEW.type IN ({_TYPES}))
EXECUTE FUNCTION workflow_inbox_fill()
"""


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.drop_constraint("status", type_="check")
        batch.create_check_constraint("status", NEW_CHECK)
    op.create_table(
        "workflow_inbox",
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  nullable=False),
        sa.Column("incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("created_at", oncall.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["audit_events.id"],
                                name=op.f("fk_workflow_inbox_event_id_audit_events"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"],
                                name=op.f("fk_workflow_inbox_incident_id_incidents"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_workflow_inbox")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        op.execute(POSTGRES_TRIGGER)
    else:
        op.execute(SQLITE_TRIGGER)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS trg_audit_events_workflow_inbox"
               + (" ON audit_events" if op.get_bind().dialect.name == "postgresql" else ""))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS workflow_inbox_fill()")
    op.drop_table("workflow_inbox")
    # A step still waiting cannot be represented before this revision: it will not run.
    op.execute("UPDATE notifications SET status = 'cancelled', "
               "last_error = 'workflow engine downgraded' WHERE status = 'waiting'")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_constraint("status", type_="check")
        batch.create_check_constraint("status", OLD_CHECK)
