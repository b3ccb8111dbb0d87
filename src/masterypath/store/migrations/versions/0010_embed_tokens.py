"""Embed tokens: read-only, short-lived access to one learner's progress

An LMS shows a learner's progress map inside its own page with an embed link; the link
carries a token that may read frameworks and that learner's records only.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 17:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import masterypath.store.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "embed_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("learner_id", sa.String(length=1000), nullable=False),
        sa.Column("created_by", sa.String(length=1000), nullable=False),
        sa.Column("created_at", masterypath.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", masterypath.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_embed_tokens_learner", "embed_tokens", ["learner_id"])


def downgrade() -> None:
    op.drop_index("ix_embed_tokens_learner", table_name="embed_tokens")
    op.drop_table("embed_tokens")
