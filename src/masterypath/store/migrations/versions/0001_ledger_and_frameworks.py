"""ledger and frameworks

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import masterypath.store.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evidence",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("batch_id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=2000), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("learner_id", sa.String(length=1000), nullable=False),
        sa.Column("item_id", sa.String(length=1000), nullable=True),
        sa.Column("outcome_type", sa.String(length=8), nullable=False),
        sa.Column("correct", sa.Boolean(), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("rubric_levels", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("timestamp", masterypath.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=1000), nullable=True),
        sa.Column("asserted_by", sa.String(length=1000), nullable=True),
        sa.Column(
            "recorded_at", masterypath.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence")),
        sa.UniqueConstraint("key", name=op.f("uq_evidence_key")),
    )
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.create_index(
            "ix_evidence_learner_time", ["learner_id", "timestamp", "sequence"], unique=False
        )

    op.create_table(
        "frameworks",
        sa.Column("id", sa.String(length=1000), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "imported_at", masterypath.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_frameworks")),
    )
    op.create_table(
        "competencies",
        sa.Column("framework_id", sa.String(length=1000), nullable=False),
        sa.Column("id", sa.String(length=1000), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("parent_id", sa.String(length=1000), nullable=True),
        sa.Column("code", sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(
            ["framework_id"],
            ["frameworks.id"],
            name=op.f("fk_competencies_framework_id_frameworks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("framework_id", "id", name=op.f("pk_competencies")),
    )
    op.create_table(
        "evidence_competencies",
        sa.Column(
            "evidence_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("competency_id", sa.String(length=1000), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["evidence_id"],
            ["evidence.id"],
            name=op.f("fk_evidence_competencies_evidence_id_evidence"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint(
            "evidence_id", "competency_id", name=op.f("pk_evidence_competencies")
        ),
    )
    with op.batch_alter_table("evidence_competencies", schema=None) as batch_op:
        batch_op.create_index(
            "ix_evidence_competencies_competency", ["competency_id"], unique=False
        )

    op.create_table(
        "items",
        sa.Column("framework_id", sa.String(length=1000), nullable=False),
        sa.Column("id", sa.String(length=1000), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("difficulty", sa.Float(), nullable=True),
        sa.Column("competency_ids", sa.JSON(none_as_null=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["framework_id"],
            ["frameworks.id"],
            name=op.f("fk_items_framework_id_frameworks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("framework_id", "id", name=op.f("pk_items")),
    )
    op.create_table(
        "prerequisites",
        sa.Column("framework_id", sa.String(length=1000), nullable=False),
        sa.Column("competency_id", sa.String(length=1000), nullable=False),
        sa.Column("prerequisite_id", sa.String(length=1000), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("requires", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["framework_id", "competency_id"],
            ["competencies.framework_id", "competencies.id"],
            name="fk_prerequisites_dependent",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["framework_id", "prerequisite_id"],
            ["competencies.framework_id", "competencies.id"],
            name="fk_prerequisites_prerequisite",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "framework_id", "competency_id", "prerequisite_id", name=op.f("pk_prerequisites")
        ),
    )


def downgrade() -> None:
    op.drop_table("prerequisites")
    op.drop_table("items")
    with op.batch_alter_table("evidence_competencies", schema=None) as batch_op:
        batch_op.drop_index("ix_evidence_competencies_competency")

    op.drop_table("evidence_competencies")
    op.drop_table("competencies")
    op.drop_table("frameworks")
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_index("ix_evidence_learner_time")

    op.drop_table("evidence")
