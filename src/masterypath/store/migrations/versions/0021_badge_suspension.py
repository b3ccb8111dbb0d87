"""Badges can be suspended

``badge_statuses.suspended_at``: set while a badge is suspended (its bit in the
suspension list), cleared when it is reinstated.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from masterypath.store.types import UTCDateTime

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("badge_statuses") as batch:
        batch.add_column(sa.Column("suspended_at", UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("badge_statuses") as batch:
        batch.drop_column("suspended_at")
