"""One-time links for a platform to register this tool itself (LTI Dynamic Registration)

An admin makes a link and pastes it into the platform; the platform opens it with its
OpenID configuration, and the tool registers there and records the platform. Only a
link's SHA-256 is kept, with who made it, until when it holds, and when it was used.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from masterypath.store.types import UTCDateTime

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lti_registration_links",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(1000), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.Column("platform_id", sa.String(1000), nullable=True),
        sa.PrimaryKeyConstraint("token_hash"),
    )


def downgrade() -> None:
    op.drop_table("lti_registration_links")
