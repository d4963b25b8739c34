"""Incident roles: who is commander, scribe and communications lead of an incident now.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import oncall.db.models

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "incident_roles",
        sa.Column("incident_id", _ID, nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("assigned_by", sa.String(length=255), nullable=False),
        sa.Column("assigned_at", oncall.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('commander', 'scribe', 'communications')",
                           name=op.f("ck_incident_roles_role")),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"],
                                name=op.f("fk_incident_roles_incident_id_incidents"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_incident_roles_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("incident_id", "role", name=op.f("pk_incident_roles")),
    )
    op.create_index(op.f("ix_incident_roles_user_id"), "incident_roles", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_incident_roles_user_id"), table_name="incident_roles")
    op.drop_table("incident_roles")
