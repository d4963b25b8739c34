"""The outbox's statuses checked by the database.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from oncall.store.outbox_status import STATUS_CHECK

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.create_check_constraint("status", STATUS_CHECK)


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.drop_constraint("status", type_="check")
