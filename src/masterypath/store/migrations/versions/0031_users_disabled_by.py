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


# plain ALTER TABLE, as 0025 (SQLite has DROP COLUMN since 3.35): a batch operation would
# copy "users" to a new table and drop the old one, and with foreign keys on, that drop
# deletes every token and cohort educator row that names an account


def upgrade() -> None:
    op.add_column("users", sa.Column("disabled_by", sa.String(length=1000), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "disabled_by")
