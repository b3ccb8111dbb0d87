"""xAPI State documents

What a piece of content keeps for a learner in an activity (``/xapi/activities/state``),
keyed by learner and a SHA-256 of activity, registration and state id.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import masterypath.store.types

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "xapi_states",
        sa.Column("learner_id", sa.String(length=1000), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("activity_id", sa.Text(), nullable=False),
        sa.Column("registration", sa.String(length=36), nullable=True),
        sa.Column("state_id", sa.Text(), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("etag", sa.String(length=42), nullable=False),
        sa.Column("updated_at", masterypath.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("learner_id", "scope"),
    )


def downgrade() -> None:
    op.drop_table("xapi_states")
