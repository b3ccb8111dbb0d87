"""How far a student information system's roster has been read

``roster_reads``: per rostering service (its URL), the latest ``dateLastModified`` among
the records stored, so that the next sync reads only what changed since, and when
everything was last read.

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-07 23:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from masterypath.store.types import UTCDateTime

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "roster_reads",
        sa.Column("url", sa.String(1000), nullable=False),
        sa.Column("modified_through", sa.String(64), nullable=False),
        sa.Column("read_at", UTCDateTime(), nullable=False),
        sa.Column("everything_read_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("url", name="pk_roster_reads"),
    )


def downgrade() -> None:
    op.drop_table("roster_reads")
