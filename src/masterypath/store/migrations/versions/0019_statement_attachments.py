"""The raw bytes of xAPI attachments

``xapi_attachments`` holds each attachment's bytes once, by SHA-2;
``xapi_statement_attachments`` links each stored statement to the bytes it came with.
Statements stored before this revision came without any (this LRS refused them).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from masterypath.store.types import UTCDateTime

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "xapi_attachments",
        sa.Column("sha2", sa.String(length=128), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=False),
        sa.Column("length", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("stored_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha2"),
    )
    op.create_table(
        "xapi_statement_attachments",
        sa.Column("statement_id", sa.String(length=36), nullable=False),
        sa.Column("sha2", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["statement_id"],
            ["xapi_statements.id"],
            name=op.f("fk_xapi_statement_attachments_statement_id_xapi_statements"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sha2"],
            ["xapi_attachments.sha2"],
            name=op.f("fk_xapi_statement_attachments_sha2_xapi_attachments"),
        ),
        sa.PrimaryKeyConstraint("statement_id", "sha2"),
    )
    op.create_index(
        op.f("ix_xapi_statement_attachments_sha2"), "xapi_statement_attachments", ["sha2"]
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_xapi_statement_attachments_sha2"), table_name="xapi_statement_attachments"
    )
    op.drop_table("xapi_statement_attachments")
    op.drop_table("xapi_attachments")
