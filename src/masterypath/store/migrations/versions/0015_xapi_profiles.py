"""xAPI Agent Profile and Activity Profile documents

``/xapi/agents/profile`` keeps documents about a learner (keyed by learner and a SHA-256
of the profile id); ``/xapi/activities/profile`` about an activity (a SHA-256 of activity
and profile id).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 22:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import masterypath.store.types

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def _document() -> list[sa.Column[object]]:
    return [
        sa.Column("content_type", sa.String(length=255), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("etag", sa.String(length=42), nullable=False),
        sa.Column("updated_at", masterypath.store.types.UTCDateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "xapi_agent_profiles",
        sa.Column("learner_id", sa.String(length=1000), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("profile_id", sa.Text(), nullable=False),
        *_document(),
        sa.PrimaryKeyConstraint("learner_id", "scope"),
    )
    op.create_table(
        "xapi_activity_profiles",
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("activity_id", sa.Text(), nullable=False),
        sa.Column("profile_id", sa.Text(), nullable=False),
        *_document(),
        sa.PrimaryKeyConstraint("scope"),
    )


def downgrade() -> None:
    op.drop_table("xapi_activity_profiles")
    op.drop_table("xapi_agent_profiles")
