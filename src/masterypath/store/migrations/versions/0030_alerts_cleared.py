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


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("cleared_at", UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("cleared_by_evidence", sa.String(length=2000), nullable=True))
        batch.add_column(sa.Column("cleared_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("cleared_reason")
        batch.drop_column("cleared_by_evidence")
        batch.drop_column("cleared_at")
