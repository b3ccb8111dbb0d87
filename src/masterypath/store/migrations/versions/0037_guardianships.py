"""Guardian accounts and the learners they may read

``guardianships``: a guardian account (a parent's, a carer's) and a learner whose records
it may read, with who linked them and when.

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-08 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from masterypath.store.types import UTCDateTime

revision = "0037"
down_revision = "0036"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "guardianships",
        sa.Column("user_id", sa.String(1000), nullable=False),
        sa.Column("learner_id", sa.String(1000), nullable=False),
        sa.Column("linked_by", sa.String(1000), nullable=False),
        sa.Column("linked_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_guardianships_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "learner_id", name="pk_guardianships"),
    )
    op.create_index("ix_guardianships_learner", "guardianships", ["learner_id"])


def downgrade() -> None:
    op.drop_index("ix_guardianships_learner", table_name="guardianships")
    op.drop_table("guardianships")
