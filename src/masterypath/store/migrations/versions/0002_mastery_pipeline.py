"""mastery pipeline

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 15:27:22.123557
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import masterypath.store.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "learners",
        sa.Column("id", sa.String(length=1000), nullable=False),
        sa.Column("created_at", masterypath.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_learners")),
    )
    op.create_table(
        "mastery_events",
        sa.Column(
            "evidence_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("framework_id", sa.String(length=1000), nullable=False),
        sa.Column("competency_id", sa.String(length=1000), nullable=False),
        sa.Column("learner_id", sa.String(length=1000), nullable=False),
        sa.Column("estimate_before", sa.Float(), nullable=True),
        sa.Column("estimate_after", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint(
            "evidence_id", "framework_id", "competency_id", name=op.f("pk_mastery_events")
        ),
    )
    with op.batch_alter_table("mastery_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_mastery_events_learner", ["learner_id", "framework_id"], unique=False
        )

    op.create_table(
        "mastery_states",
        sa.Column("learner_id", sa.String(length=1000), nullable=False),
        sa.Column("framework_id", sa.String(length=1000), nullable=False),
        sa.Column("competency_id", sa.String(length=1000), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=True),
        sa.Column("estimate", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("n_evidence", sa.Integer(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("updated_at", masterypath.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "learner_id", "framework_id", "competency_id", name=op.f("pk_mastery_states")
        ),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("learner_id", sa.String(length=1000), nullable=False),
        sa.Column("framework_id", sa.String(length=1000), nullable=False),
        sa.Column("competency_id", sa.String(length=1000), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("evidence_key", sa.String(length=2000), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("suggested_action", sa.Text(), nullable=False),
        sa.Column("created_at", masterypath.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "acknowledged_at", masterypath.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("acknowledged_by", sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(
            ["framework_id"],
            ["frameworks.id"],
            name=op.f("fk_alerts_framework_id_frameworks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(
            "uq_alerts_origin",
            ["learner_id", "framework_id", "competency_id", "kind", "evidence_key"],
            unique=True,
        )

    op.create_table(
        "mastery_policies",
        sa.Column("framework_id", sa.String(length=1000), nullable=False),
        sa.Column("competency_id", sa.String(length=1000), nullable=False),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("updated_at", masterypath.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["framework_id"],
            ["frameworks.id"],
            name=op.f("fk_mastery_policies_framework_id_frameworks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("framework_id", "competency_id", name=op.f("pk_mastery_policies")),
    )
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("framework_id", sa.String(length=1000), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("n_rows", sa.BigInteger(), nullable=False),
        sa.Column("created_at", masterypath.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["framework_id"],
            ["frameworks.id"],
            name=op.f("fk_model_versions_framework_id_frameworks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_versions")),
    )
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_model_versions_framework_id"), ["framework_id"], unique=False
        )

    op.create_table(
        "overrides",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("learner_id", sa.String(length=1000), nullable=False),
        sa.Column("framework_id", sa.String(length=1000), nullable=False),
        sa.Column("competency_id", sa.String(length=1000), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("educator", sa.String(length=1000), nullable=False),
        sa.Column("created_at", masterypath.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("model_status", sa.String(length=32), nullable=False),
        sa.Column("model_estimate", sa.Float(), nullable=True),
        sa.Column("lifted_at", masterypath.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.String(length=1000), nullable=True),
        sa.Column("lift_note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["framework_id"],
            ["frameworks.id"],
            name=op.f("fk_overrides_framework_id_frameworks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_overrides")),
    )
    with op.batch_alter_table("overrides", schema=None) as batch_op:
        batch_op.create_index("ix_overrides_learner", ["learner_id", "framework_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("overrides", schema=None) as batch_op:
        batch_op.drop_index("ix_overrides_learner")

    op.drop_table("overrides")
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_model_versions_framework_id"))

    op.drop_table("model_versions")
    op.drop_table("mastery_policies")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("uq_alerts_origin")

    op.drop_table("alerts")
    op.drop_table("mastery_states")
    with op.batch_alter_table("mastery_events", schema=None) as batch_op:
        batch_op.drop_index("ix_mastery_events_learner")

    op.drop_table("mastery_events")
    op.drop_table("learners")
