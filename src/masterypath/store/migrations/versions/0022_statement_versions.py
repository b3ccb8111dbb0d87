"""Every stored xAPI statement has a version

xAPI (1.0.3 part two, 2.4.10): a statement returned by the LRS keeps the version it came
with, and one that came without is answered with ``1.0.0``. Statements are now stored
with the version of their request when they have none; this gives the statements stored
before without one ``1.0.0`` (which request version they came in was not kept). Their
digests are unchanged: the version the LRS sets is no part of the sender's content, so
a re-post of one is still recognised.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 07:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "UPDATE xapi_statements SET statement = "
            """(statement::jsonb || '{"version": "1.0.0"}'::jsonb)::json """
            "WHERE statement->>'version' IS NULL"
        )
    else:
        op.execute(
            "UPDATE xapi_statements SET statement = json_set(statement, '$.version', '1.0.0') "
            "WHERE json_extract(statement, '$.version') IS NULL"
        )


def downgrade() -> None:
    """The versions stay: a statement with ``1.0.0`` is what xAPI answers for one without."""
