"""Who disabled an account

``users.disabled_by``: the admin (``user:ID``, ``cli``) or ``roster`` (a student
information system that marked the user disabled or gone) who set ``disabled_at``. A
roster enables again only the accounts it disabled itself.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07 20:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("disabled_by", sa.String(length=1000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("disabled_by")
