"""Status pages: components remember what their services earn, notices keep their updates.

A component's `status` is what its page shows; `computed_status` is what its services' open
incidents and maintenance windows earn, kept beside it so that clearing (or the expiry of) a
responder's manual status puts the earned one back without waiting for the next sync. A notice
carries its Statuspage impact, the components it names and, for one opened automatically, the
component whose episode away from operational it tells: a partial unique index keeps that to
one open notice per component however many workers sync at once. Every message of a notice is
a row of `status_page_notice_updates`.

A subscriber (`status_page_subscribers`) is an email address or a webhook URL told of a page's
notices and maintenance; its random token confirms or ends that one subscription.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import oncall.db.models

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_OPEN_AUTO = "resolved_at IS NULL AND auto_component IS NOT NULL"


def _time(name: str, *, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, oncall.db.models.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    # Existing rows get the defaults through a server default, dropped once they are filled:
    # the models set these values in the code that writes the rows.
    with op.batch_alter_table("status_page_components") as batch:
        batch.add_column(sa.Column("computed_status", sa.String(length=32), nullable=False,
                                   server_default="operational"))
        batch.add_column(_time("manual_set_at", nullable=True))
        batch.add_column(_time("manual_expires_at", nullable=True))
    with op.batch_alter_table("status_page_components") as batch:
        batch.alter_column("computed_status", server_default=None)
    with op.batch_alter_table("status_page_notices") as batch:
        batch.add_column(sa.Column("impact", sa.String(length=16), nullable=False,
                                   server_default="none"))
        batch.add_column(sa.Column("components", _JSON, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("auto_component", sa.String(length=255), nullable=True))
    with op.batch_alter_table("status_page_notices") as batch:
        batch.alter_column("impact", server_default=None)
        batch.alter_column("components", server_default=None)
    op.create_index("uq_status_notice_open_auto", "status_page_notices",
                    ["page_name", "auto_component"], unique=True,
                    postgresql_where=sa.text(_OPEN_AUTO), sqlite_where=sa.text(_OPEN_AUTO))
    op.create_table(
        "status_page_notice_updates",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("notice_id", _ID, nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=True),
        _time("created_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["status_page_notices.id"],
            name=op.f("fk_status_page_notice_updates_notice_id_status_page_notices"),
            ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_page_notice_updates")),
    )
    op.create_index(op.f("ix_status_page_notice_updates_notice_id"),
                    "status_page_notice_updates", ["notice_id"], unique=False)
    op.create_table(
        "status_page_subscribers",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("page_name", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=2048), nullable=False),
        sa.Column("components", _JSON, nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=True),
        sa.Column("created_by", sa.String(length=255), nullable=True),
        _time("created_at", nullable=False),
        _time("confirmed_at", nullable=True),
        _time("unsubscribed_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_page_subscribers")),
        sa.UniqueConstraint("page_name", "kind", "address",
                            name=op.f("uq_status_page_subscribers_page_name_kind_address")),
        sa.UniqueConstraint("token", name=op.f("uq_status_page_subscribers_token")),
    )
    op.create_index(op.f("ix_status_page_subscribers_page_name"), "status_page_subscribers",
                    ["page_name"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_status_page_subscribers_page_name"),
                  table_name="status_page_subscribers")
    op.drop_table("status_page_subscribers")
    op.drop_index(op.f("ix_status_page_notice_updates_notice_id"),
                  table_name="status_page_notice_updates")
    op.drop_table("status_page_notice_updates")
    op.drop_index("uq_status_notice_open_auto", table_name="status_page_notices")
    with op.batch_alter_table("status_page_notices") as batch:
        batch.drop_column("auto_component")
        batch.drop_column("components")
        batch.drop_column("impact")
    with op.batch_alter_table("status_page_components") as batch:
        batch.drop_column("manual_expires_at")
        batch.drop_column("manual_set_at")
        batch.drop_column("computed_status")
