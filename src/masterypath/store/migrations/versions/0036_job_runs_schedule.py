"""The schedule a job's due time was worked out by

``job_runs.schedule``: the job's period or time of day (``every 86400 s``,
``daily 02:30 Europe/Berlin``) when its due time was set, so that a server started with
another schedule works the due time out again instead of keeping the old one.

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-08 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("job_runs", sa.Column("schedule", sa.String(96), nullable=True))


def downgrade() -> None:
    op.drop_column("job_runs", "schedule")
