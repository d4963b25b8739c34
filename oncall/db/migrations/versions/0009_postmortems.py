"""Postmortems over several incidents, their saved timeline choices, action items that remind
their owners, and change events from integrations.

The postmortem tables of 0001 were never written (nothing used them), so they are replaced
rather than altered: a postmortem now reviews any number of incidents (`postmortem_incidents`)
instead of exactly one, has an owner, a severity, a template and a version for concurrent
editing, and its action items remember the day their owner was last reminded.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import oncall.db.models

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _time(name: str, *, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, oncall.db.models.UTCDateTime(timezone=True), nullable=nullable)


def _id() -> sa.Column[object]:
    return sa.Column("id", _ID, autoincrement=True, nullable=False)


def _fk(column: str, table: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"],
                                   name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete)


def upgrade() -> None:
    op.drop_index(op.f("ix_postmortem_action_items_postmortem_id"),
                  table_name="postmortem_action_items")
    op.drop_index(op.f("ix_postmortem_action_items_owner_id"),
                  table_name="postmortem_action_items")
    op.drop_table("postmortem_action_items")
    op.drop_index(op.f("ix_postmortems_author_id"), table_name="postmortems")
    op.drop_table("postmortems")

    op.create_table(
        "postmortems",
        _id(),
        sa.Column("title", sa.String(length=1024), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=True),
        sa.Column("owner_id", _ID, nullable=True),
        sa.Column("template", sa.String(length=255), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        _time("created_at", nullable=False),
        sa.Column("updated_by", sa.String(length=255), nullable=False),
        _time("updated_at", nullable=False),
        _time("published_at", nullable=True),
        sa.CheckConstraint("status IN ('draft', 'in_review', 'published')",
                           name=op.f("ck_postmortems_status")),
        _fk("owner_id", "postmortems", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postmortems")),
    )
    op.create_index(op.f("ix_postmortems_owner_id"), "postmortems", ["owner_id"])
    op.create_index("ix_postmortems_status_updated_at", "postmortems", ["status", "updated_at"])

    op.create_table(
        "postmortem_incidents",
        sa.Column("postmortem_id", _ID, nullable=False),
        sa.Column("incident_id", _ID, nullable=False),
        _time("added_at", nullable=False),
        _fk("postmortem_id", "postmortem_incidents", "postmortems", "CASCADE"),
        _fk("incident_id", "postmortem_incidents", "incidents", "CASCADE"),
        sa.PrimaryKeyConstraint("postmortem_id", "incident_id",
                                name=op.f("pk_postmortem_incidents")),
    )
    op.create_index(op.f("ix_postmortem_incidents_incident_id"), "postmortem_incidents",
                    ["incident_id"])

    op.create_table(
        "postmortem_timeline",
        sa.Column("postmortem_id", _ID, nullable=False),
        sa.Column("entry_key", sa.String(length=64), nullable=False),
        sa.Column("kept", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("updated_by", sa.String(length=255), nullable=False),
        _time("updated_at", nullable=False),
        _fk("postmortem_id", "postmortem_timeline", "postmortems", "CASCADE"),
        sa.PrimaryKeyConstraint("postmortem_id", "entry_key", name=op.f("pk_postmortem_timeline")),
    )

    op.create_table(
        "postmortem_action_items",
        _id(),
        sa.Column("postmortem_id", _ID, nullable=False),
        sa.Column("title", sa.String(length=1024), nullable=False),
        sa.Column("owner_id", _ID, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("url", sa.String(length=2048), nullable=True),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        _time("created_at", nullable=False),
        _time("updated_at", nullable=False),
        _time("completed_at", nullable=True),
        sa.Column("reminded_on", sa.Date(), nullable=True),
        sa.CheckConstraint("status IN ('open', 'done', 'wontfix')",
                           name=op.f("ck_postmortem_action_items_status")),
        _fk("owner_id", "postmortem_action_items", "users", "SET NULL"),
        _fk("postmortem_id", "postmortem_action_items", "postmortems", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postmortem_action_items")),
    )
    op.create_index(op.f("ix_postmortem_action_items_owner_id"), "postmortem_action_items",
                    ["owner_id"])
    op.create_index(op.f("ix_postmortem_action_items_postmortem_id"),
                    "postmortem_action_items", ["postmortem_id"])
    op.create_index("ix_postmortem_action_items_status_due_on", "postmortem_action_items",
                    ["status", "due_on"])

    op.create_table(
        "change_events",
        _id(),
        sa.Column("integration_name", sa.String(length=255), nullable=False),
        sa.Column("service_id", _ID, nullable=True),
        sa.Column("summary", sa.String(length=1024), nullable=False),
        sa.Column("source", sa.String(length=1024), nullable=True),
        sa.Column("links", _JSON, nullable=False),
        sa.Column("details", _JSON, nullable=True),
        _time("occurred_at", nullable=False),
        _time("received_at", nullable=False),
        _fk("service_id", "change_events", "services", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_events")),
    )
    op.create_index(op.f("ix_change_events_occurred_at"), "change_events", ["occurred_at"])
    op.create_index("ix_change_events_service_id_occurred_at", "change_events",
                    ["service_id", "occurred_at"])


def downgrade() -> None:
    op.drop_table("change_events")
    op.drop_table("postmortem_action_items")
    op.drop_table("postmortem_timeline")
    op.drop_table("postmortem_incidents")
    op.drop_table("postmortems")

    op.create_table(
        "postmortems",
        _id(),
        sa.Column("incident_id", _ID, nullable=False),
        sa.Column("title", sa.String(length=1024), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author_id", _ID, nullable=True),
        _time("created_at", nullable=False),
        _time("updated_at", nullable=False),
        _time("published_at", nullable=True),
        _fk("author_id", "postmortems", "users", "SET NULL"),
        _fk("incident_id", "postmortems", "incidents", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postmortems")),
        sa.UniqueConstraint("incident_id", name=op.f("uq_postmortems_incident_id")),
    )
    op.create_index(op.f("ix_postmortems_author_id"), "postmortems", ["author_id"])
    op.create_table(
        "postmortem_action_items",
        _id(),
        sa.Column("postmortem_id", _ID, nullable=False),
        sa.Column("title", sa.String(length=1024), nullable=False),
        sa.Column("owner_id", _ID, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("url", sa.String(length=2048), nullable=True),
        _time("created_at", nullable=False),
        _time("completed_at", nullable=True),
        _fk("owner_id", "postmortem_action_items", "users", "SET NULL"),
        _fk("postmortem_id", "postmortem_action_items", "postmortems", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postmortem_action_items")),
    )
    op.create_index(op.f("ix_postmortem_action_items_owner_id"), "postmortem_action_items",
                    ["owner_id"])
    op.create_index(op.f("ix_postmortem_action_items_postmortem_id"),
                    "postmortem_action_items", ["postmortem_id"])
