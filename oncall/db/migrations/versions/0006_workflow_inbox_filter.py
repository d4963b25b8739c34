"""Only the events some applied workflow listens to enter the workflow inbox.

Migration 0005's trigger put every incident event into `workflow_inbox`, whether or not any
workflow listened, and each row paid two foreign-key checks: on PostgreSQL that was some 10% of
the database's CPU per paged incident in an organisation with no workflows. Now the trigger
inserts only events whose type is in `workflow_event_types`, which the reconciler keeps equal to
what the applied Workflows' `on` lists name; the inbox has no foreign keys (a row lives until
the next sweep, and the planner skips an event whose incident is gone).

Until the next apply every incident event type is listened to, as before this revision.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here: a migration describes the schema of its revision, whatever the code says later.
WORKFLOW_AUDIT_TYPES = ("incident.triggered", "incident.acknowledged", "incident.escalated",
                        "incident.resolved", "incident.note", "incident.priority_changed")
_TYPES = ", ".join(f"'{t}'" for t in WORKFLOW_AUDIT_TYPES)
_FILL = ("INSERT INTO workflow_inbox (event_id, incident_id, type, created_at) "
         "VALUES (NEW.id, NEW.incident_id, NEW.type, NEW.at)")
_DROP_SQLITE = "DROP TRIGGER IF EXISTS trg_audit_events_workflow_inbox"

SQLITE_TRIGGER = f"""
CREATE TRIGGER trg_audit_events_workflow_inbox AFTER INSERT ON audit_events
FOR EACH ROW WHEN NEW.incident_id IS NOT NULL
    AND NEW.type IN (SELECT type FROM workflow_event_types)
BEGIN
    {_FILL};
END
"""
# A trigger's WHEN cannot hold a subquery on PostgreSQL: the function looks the type up.
POSTGRES_FUNCTION = f"""
CREATE OR REPLACE FUNCTION workflow_inbox_fill() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM workflow_event_types WHERE type = NEW.type) THEN
        {_FILL};
    END IF;
    RETURN NULL;
END
$$
"""
# 0005's function, restored on the way down.
POSTGRES_FUNCTION_0005 = f"""
CREATE OR REPLACE FUNCTION workflow_inbox_fill() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_FILL};
    RETURN NULL;
END
$$
"""
SQLITE_TRIGGER_0005 = f"""
CREATE TRIGGER trg_audit_events_workflow_inbox AFTER INSERT ON audit_events
FOR EACH ROW WHEN NEW.incident_id IS NOT NULL AND NEW.type IN ({_TYPES})
BEGIN
    {_FILL};
END
"""


def upgrade() -> None:
    table = op.create_table(
        "workflow_event_types",
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("type", name=op.f("pk_workflow_event_types")),
    )
    op.bulk_insert(table, [{"type": t} for t in WORKFLOW_AUDIT_TYPES])
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:  # SQLite rebuilds the table, which the trigger must not name meanwhile
        op.execute(_DROP_SQLITE)
    with op.batch_alter_table("workflow_inbox") as batch:
        batch.drop_constraint("fk_workflow_inbox_event_id_audit_events", type_="foreignkey")
        batch.drop_constraint("fk_workflow_inbox_incident_id_incidents", type_="foreignkey")
    op.execute(SQLITE_TRIGGER if sqlite else POSTGRES_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION_0005)
    else:
        op.execute(_DROP_SQLITE)
    op.execute("DELETE FROM workflow_inbox WHERE event_id NOT IN (SELECT id FROM audit_events) "
               "OR incident_id NOT IN (SELECT id FROM incidents)")
    with op.batch_alter_table("workflow_inbox") as batch:
        batch.create_foreign_key("fk_workflow_inbox_event_id_audit_events", "audit_events",
                                 ["event_id"], ["id"], ondelete="CASCADE")
        batch.create_foreign_key("fk_workflow_inbox_incident_id_incidents", "incidents",
                                 ["incident_id"], ["id"], ondelete="CASCADE")
    if op.get_bind().dialect.name != "postgresql":
        op.execute(SQLITE_TRIGGER_0005)
    op.drop_table("workflow_event_types")
