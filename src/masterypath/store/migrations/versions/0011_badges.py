"""Issued badges and their revocation list

A badge's ``credentialStatus`` points at one bit of a W3C Bitstring Status List; the
bits live in ``badge_statuses`` (no learner data, kept through an erasure) and which
learner's badge holds which bit in ``badges``.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 19:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import masterypath.store.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "badge_statuses",
        sa.Column("status_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("revoked_at", masterypath.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("status_index"),
    )
    op.create_table(
        "badges",
        sa.Column("status_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("credential_id", sa.String(length=100), nullable=False),
        sa.Column("learner_id", sa.String(length=1000), nullable=False),
        sa.Column("framework_id", sa.String(length=1000), nullable=False),
        sa.Column("competency_id", sa.String(length=1000), nullable=False),
        sa.Column("issued_at", masterypath.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("issued_by", sa.String(length=1000), nullable=False),
        sa.Column("revoked_at", masterypath.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=1000), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("status_index"),
    )
    op.create_index("ix_badges_learner", "badges", ["learner_id", "framework_id", "competency_id"])


def downgrade() -> None:
    op.drop_index("ix_badges_learner", table_name="badges")
    op.drop_table("badges")
    op.drop_table("badge_statuses")
