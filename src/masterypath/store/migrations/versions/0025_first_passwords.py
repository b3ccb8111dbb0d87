"""An account's password may be a first one, to be changed at the next login

Accounts made from a roster (and passwords an admin sets with ``--temporary``) carry a
password someone else chose or handed out on paper; ``must_change_password`` says so, the
login answer passes it on, and the pages ask for a new password before anything else.
Accounts made before keep the passwords they have.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 12:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


# plain ALTER TABLE on both databases (SQLite has DROP COLUMN since 3.35): a batch
# operation would copy "users" to a new table and drop the old one, and with foreign keys
# on, that drop deletes every token and cohort educator row that names an account


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("users", "must_change_password")
