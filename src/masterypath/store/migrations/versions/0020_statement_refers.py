"""The statement a stored xAPI statement refers to

``refers`` holds the id in a statement's object when that object is a StatementRef (a
voiding statement's target, a comment on an answer), indexed: xAPI's ``agent`` filter
also finds the statements that refer to a statement it finds, however long the chain
(xAPI 2.0 part three, 2.1.3), by this index. The statements stored before are filled in.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

statements = sa.table(
    "xapi_statements",
    sa.column("refers", sa.String),
    sa.column("statement", sa.JSON),
)


def upgrade() -> None:
    with op.batch_alter_table("xapi_statements") as batch:
        batch.add_column(sa.Column("refers", sa.String(length=36), nullable=True))
        batch.create_index("ix_xapi_statements_refers", ["refers"])
    document = statements.c.statement
    op.execute(
        statements.update()
        .where(document[("object", "objectType")].as_string() == "StatementRef")
        .values(refers=sa.func.substr(document[("object", "id")].as_string(), 1, 36))
    )


def downgrade() -> None:
    with op.batch_alter_table("xapi_statements") as batch:
        batch.drop_index("ix_xapi_statements_refers")
        batch.drop_column("refers")
