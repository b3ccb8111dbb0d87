"""Voided evidence

Evidence recorded in error is voided, not deleted: the ledger keeps it, a row here says
who voided it, when and why, and every state is rebuilt without it.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 19:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import masterypath.store.types

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evidence_voids",
        sa.Column(
            "evidence_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("evidence_key", sa.String(length=2000), nullable=False),
        sa.Column("learner_id", sa.String(length=1000), nullable=False),
        sa.Column("voided_at", masterypath.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("voided_by", sa.String(length=1000), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["evidence_id"], ["evidence.id"]),
        sa.PrimaryKeyConstraint("evidence_id"),
    )
    op.create_index("ix_evidence_voids_learner_id", "evidence_voids", ["learner_id"])


def downgrade() -> None:
    op.drop_index("ix_evidence_voids_learner_id", table_name="evidence_voids")
    op.drop_table("evidence_voids")
