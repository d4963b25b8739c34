"""The outbox's statuses checked by the database.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The statuses as they were at this revision: a migration never reads the live model.
STATUS_CHECK = ("status IN ('pending', 'sending', 'sent', 'delivered', 'failed', "
                "'cancelled')")


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.create_check_constraint("status", STATUS_CHECK)


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.drop_constraint("status", type_="check")
