"""Who holds a scheduled job's lease

``job_runs.holder``: a token of the run holding the lease, so that the process running a
job renews its lease while the run lasts and, if another process took the job over
meanwhile, records nothing over that one's run.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-07 22:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("job_runs", sa.Column("holder", sa.String(32), nullable=True))


def downgrade() -> None:
    op.drop_column("job_runs", "holder")
