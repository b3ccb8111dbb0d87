"""Alerts are cleared by the evidence that took their reason away

``alerts.cleared_at`` (the evidence's time), ``cleared_by_evidence`` (its key) and
``cleared_reason``: set when a wheel-spinning learner masters the competency or a falling
estimate recovers; a cleared alert leaves the open queue as an acknowledged one does.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 20:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from masterypath.store.types import UTCDateTime

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


# plain ALTER TABLE (SQLite has DROP COLUMN since 3.35): no copy of a table of many rows


def upgrade() -> None:
    op.add_column("alerts", sa.Column("cleared_at", UTCDateTime(timezone=True), nullable=True))
    op.add_column("alerts", sa.Column("cleared_by_evidence", sa.String(length=2000), nullable=True))
    op.add_column("alerts", sa.Column("cleared_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    for column in ("cleared_reason", "cleared_by_evidence", "cleared_at"):
        op.drop_column("alerts", column)
