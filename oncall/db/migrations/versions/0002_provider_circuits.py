"""Circuit breaker state per notification provider.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import oncall.db.models

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "provider_circuits",
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("circuit", sa.String(length=16), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("opened_at", oncall.db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", oncall.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("provider", name=op.f("pk_provider_circuits")),
    )


def downgrade() -> None:
    op.drop_table("provider_circuits")
