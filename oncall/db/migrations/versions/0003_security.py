"""Platform admins, SSO identity binding, sign-in throttling and signed-delivery replay guard.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import oncall.db.models

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("platform_admin", sa.Boolean(), nullable=False,
                      server_default=sa.text("false"))
        )
        batch.add_column(sa.Column("oidc_issuer", sa.String(length=512), nullable=True))
        batch.add_column(sa.Column("oidc_subject", sa.String(length=255), nullable=True))
        batch.create_unique_constraint(
            batch.f("uq_users_oidc_issuer_oidc_subject"), ["oidc_issuer", "oidc_subject"]
        )
    op.create_table(
        "sign_in_throttle",
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", oncall.db.models.UTCDateTime(timezone=True),
                  nullable=False),
        sa.Column("locked_until", oncall.db.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_sign_in_throttle")),
    )
    op.create_index(op.f("ix_sign_in_throttle_locked_until"), "sign_in_throttle",
                    ["locked_until"])
    op.create_table(
        "ingest_replays",
        sa.Column("integration", sa.String(length=255), nullable=False),
        sa.Column("digest", sa.String(length=128), nullable=False),
        sa.Column("expires_at", oncall.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("integration", "digest", name=op.f("pk_ingest_replays")),
    )
    op.create_index(op.f("ix_ingest_replays_expires_at"), "ingest_replays", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_ingest_replays_expires_at"), table_name="ingest_replays")
    op.drop_table("ingest_replays")
    op.drop_index(op.f("ix_sign_in_throttle_locked_until"), table_name="sign_in_throttle")
    op.drop_table("sign_in_throttle")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(batch.f("uq_users_oidc_issuer_oidc_subject"), type_="unique")
        batch.drop_column("oidc_subject")
        batch.drop_column("oidc_issuer")
        batch.drop_column("platform_admin")
