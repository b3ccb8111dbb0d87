"""A platform user's account per role

``lti_accounts.role``: a platform's user who launches both as a learner and as an
instructor (a teacher who took a training course as a student first) gets an account for
each, each linked here under its role; before, their first launch's role was theirs for
good. The links already made keep their account's role.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-07 23:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("lti_accounts", sa.Column("role", sa.String(16), nullable=True))
    op.execute(
        "UPDATE lti_accounts SET role = "
        "(SELECT users.role FROM users WHERE users.id = lti_accounts.user_id)"
    )
    with op.batch_alter_table("lti_accounts") as batch:
        batch.alter_column("role", existing_type=sa.String(16), nullable=False)
        batch.drop_constraint("pk_lti_accounts", type_="primary")
        batch.create_primary_key("pk_lti_accounts", ["platform_id", "subject", "role"])


def downgrade() -> None:
    # a user linked under both roles keeps the link made first (the educator's, made in
    # the same instant)
    op.execute(
        "DELETE FROM lti_accounts WHERE EXISTS (SELECT 1 FROM lti_accounts AS first "
        "WHERE first.platform_id = lti_accounts.platform_id "
        "AND first.subject = lti_accounts.subject "
        "AND (first.created_at < lti_accounts.created_at "
        "OR (first.created_at = lti_accounts.created_at AND first.role < lti_accounts.role)))"
    )
    with op.batch_alter_table("lti_accounts") as batch:
        batch.drop_constraint("pk_lti_accounts", type_="primary")
        batch.create_primary_key("pk_lti_accounts", ["platform_id", "subject"])
        batch.drop_column("role")
