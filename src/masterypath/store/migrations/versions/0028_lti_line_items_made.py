"""Gradebook columns this tool makes itself

A launch that names no gradebook column of its own but lets the tool make one (LTI
Assignment and Grade Services, the ``lineitem`` scope) keeps the course's column
container; the tool makes (or finds) its column there before it sends the first score.
Links kept before have none.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 18:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("lti_grade_links", sa.Column("lineitems", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("lti_grade_links", "lineitems")
