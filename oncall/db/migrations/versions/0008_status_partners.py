"""Partner access to `partners` status pages: mailed single-use sign-in links and the
read-only sessions they open, one table, only the tokens' hashes kept.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import oncall.db.models

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TABLE = "status_page_partner_tokens"


def _time(name: str, *, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, oncall.db.models.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        _TABLE,
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("page_name", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=128), nullable=False),
        sa.Column("link_id", sa.BigInteger(), nullable=True),
        _time("created_at", nullable=False),
        _time("expires_at", nullable=False),
        _time("used_at", nullable=True),
        _time("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_page_partner_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_status_page_partner_tokens_token_hash")),
    )
    op.create_index(op.f("ix_status_page_partner_tokens_page_name"), _TABLE, ["page_name"],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_status_page_partner_tokens_page_name"), table_name=_TABLE)
    op.drop_table(_TABLE)
