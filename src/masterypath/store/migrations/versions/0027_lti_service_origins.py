"""A learning platform's service sites

The sites, beyond those of a platform's registered URLs, that its launches may name for
its services (line items, member lists): this tool calls no other. Platforms registered
before have none (their services must be on their registered sites, as Moodle's are).

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "lti_platforms",
        sa.Column("service_origins", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
    )


def downgrade() -> None:
    op.drop_column("lti_platforms", "service_origins")
