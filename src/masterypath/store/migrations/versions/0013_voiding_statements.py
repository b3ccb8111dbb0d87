"""xAPI voiding statements

A voiding statement names the statement it voids in ``voids`` (indexed: every read of
statements leaves out those that some stored statement voids).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("xapi_statements") as batch:
        batch.add_column(sa.Column("voids", sa.String(length=36), nullable=True))
        batch.create_index("ix_xapi_statements_voids", ["voids"])


def downgrade() -> None:
    with op.batch_alter_table("xapi_statements") as batch:
        batch.drop_index("ix_xapi_statements_voids")
        batch.drop_column("voids")
