"""xAPI statements indexed by their stored time

``GET /xapi/statements`` selects statements by ``stored`` (``since``, ``until``) and pages
in its order (then by id); without an index each page sorted the whole table.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 15:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_xapi_statements_stored", "xapi_statements", ["stored_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_xapi_statements_stored", table_name="xapi_statements")
