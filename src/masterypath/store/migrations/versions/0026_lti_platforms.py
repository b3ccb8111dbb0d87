"""Learning platforms that launch this tool (LTI 1.3)

A platform an admin registers (its issuer, client id, login, key-set and token URLs and
deployments), the launches it has begun and not completed (state and nonce, used once),
which account each of its users launches as, each course launched from (its cohort, and
where its members can be read), and where each learner's grade for a link goes back to
(a line item of the platform's gradebook).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from masterypath.store.types import UTCDateTime

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lti_platforms",
        sa.Column("id", sa.String(1000), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("issuer", sa.String(1000), nullable=False),
        sa.Column("client_id", sa.String(1000), nullable=False),
        sa.Column("auth_login_url", sa.Text(), nullable=False),
        sa.Column("key_set_url", sa.Text(), nullable=False),
        sa.Column("deployment_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("token_url", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_lti_platforms"),
    )
    op.create_index(
        "ix_lti_platforms_issuer", "lti_platforms", ["issuer", "client_id"], unique=True
    )
    op.create_table(
        "lti_logins",
        sa.Column("state", sa.String(64), nullable=False),
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("platform_id", sa.String(1000), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["platform_id"],
            ["lti_platforms.id"],
            name="fk_lti_logins_platform_id_lti_platforms",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("state", name="pk_lti_logins"),
    )
    op.create_table(
        "lti_accounts",
        sa.Column("platform_id", sa.String(1000), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("user_id", sa.String(1000), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["platform_id"],
            ["lti_platforms.id"],
            name="fk_lti_accounts_platform_id_lti_platforms",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_lti_accounts_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("platform_id", "subject", name="pk_lti_accounts"),
    )
    op.create_index("ix_lti_accounts_user", "lti_accounts", ["user_id"])
    op.create_table(
        "lti_contexts",
        sa.Column("platform_id", sa.String(1000), nullable=False),
        sa.Column("context_id", sa.String(1000), nullable=False),
        sa.Column("cohort_id", sa.String(1000), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("deployment_id", sa.String(1000), nullable=False),
        sa.Column("memberships_url", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("synced_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["platform_id"],
            ["lti_platforms.id"],
            name="fk_lti_contexts_platform_id_lti_platforms",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("platform_id", "context_id", name="pk_lti_contexts"),
    )
    op.create_table(
        "lti_grade_links",
        sa.Column("platform_id", sa.String(1000), nullable=False),
        sa.Column("resource_link_id", sa.String(1000), nullable=False),
        sa.Column("learner_id", sa.String(1000), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("lineitem", sa.Text(), nullable=False),
        sa.Column("framework_id", sa.String(1000), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_score", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["platform_id"],
            ["lti_platforms.id"],
            name="fk_lti_grade_links_platform_id_lti_platforms",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "platform_id", "resource_link_id", "learner_id", name="pk_lti_grade_links"
        ),
    )
    op.create_index("ix_lti_grade_links_learner", "lti_grade_links", ["learner_id"])


def downgrade() -> None:
    op.drop_index("ix_lti_grade_links_learner", table_name="lti_grade_links")
    op.drop_table("lti_grade_links")
    op.drop_table("lti_contexts")
    op.drop_index("ix_lti_accounts_user", table_name="lti_accounts")
    op.drop_table("lti_accounts")
    op.drop_table("lti_logins")
    op.drop_index("ix_lti_platforms_issuer", table_name="lti_platforms")
    op.drop_table("lti_platforms")
