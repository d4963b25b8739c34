"""The outbox's due rows through one partial index per way of being due.

A claim moves a row from pending to sending to sent. The index on (status, next_attempt_at)
kept an entry for every version a claim left behind, and PostgreSQL's bitmap scan of it read
them all until the next vacuum; an ordered scan of a partial index marks them dead as it goes.
On PostgreSQL the two queue tables (notifications, escalation timers) are also vacuumed and
analysed after 2% of their rows changed rather than autovacuum's default 20%: a table that
only grows reaches 20% ever more rarely, while its dead versions pile up as fast as ever.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUEUES = ("notifications", "escalation_timers")
PENDING = sa.text("status = 'pending'")
SENDING = sa.text("status = 'sending'")


def upgrade() -> None:
    op.create_index("ix_notifications_pending_due", "notifications", ["next_attempt_at", "id"],
                    postgresql_where=PENDING, sqlite_where=PENDING)
    op.create_index("ix_notifications_sending_claimed", "notifications", ["claimed_at"],
                    postgresql_where=SENDING, sqlite_where=SENDING)
    op.drop_index("ix_notifications_status_next_attempt_at", table_name="notifications")
    if op.get_bind().dialect.name == "postgresql":
        for table in QUEUES:
            op.execute(f"ALTER TABLE {table} SET (autovacuum_vacuum_scale_factor = 0.02, "
                       "autovacuum_analyze_scale_factor = 0.02)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in QUEUES:
            op.execute(f"ALTER TABLE {table} RESET (autovacuum_vacuum_scale_factor, "
                       "autovacuum_analyze_scale_factor)")
    op.create_index("ix_notifications_status_next_attempt_at", "notifications",
                    ["status", "next_attempt_at"])
    op.drop_index("ix_notifications_sending_claimed", table_name="notifications")
    op.drop_index("ix_notifications_pending_due", table_name="notifications")
