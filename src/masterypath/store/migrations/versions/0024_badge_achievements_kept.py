"""A badge's status bit names its achievement

``GET /achievements/{id}`` resolved an achievement only while some learner's badge row
for it was there: once every holder was erased (their badge rows with them), the id the
badges in their hands name stopped resolving. Each status bit (which outlives an
erasure, and names no learner) now keeps the framework and competency of its badge; the
bits of badges issued before are filled from their badge rows, where those are left.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("badge_statuses") as batch:
        batch.add_column(sa.Column("framework_id", sa.String(1000), nullable=True))
        batch.add_column(sa.Column("competency_id", sa.String(1000), nullable=True))
    for column in ("framework_id", "competency_id"):
        op.execute(
            f"UPDATE badge_statuses SET {column} = (SELECT badges.{column} FROM badges "
            "WHERE badges.status_index = badge_statuses.status_index)"
        )


def downgrade() -> None:
    with op.batch_alter_table("badge_statuses") as batch:
        batch.drop_column("competency_id")
        batch.drop_column("framework_id")
