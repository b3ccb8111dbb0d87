"""group attributes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 16:09:01.499094
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import masterypath.store.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "group_attributes",
        sa.Column("learner_id", sa.String(length=1000), nullable=False),
        sa.Column("attribute", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.Column(
            "consent_recorded_at",
            masterypath.store.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column("consent_by", sa.String(length=1000), nullable=False),
        sa.PrimaryKeyConstraint("learner_id", "attribute", name=op.f("pk_group_attributes")),
    )


def downgrade() -> None:
    op.drop_table("group_attributes")
