"""Stored xAPI statements keep no e-mail address

A statement stored before this revision kept the e-mail addresses of everyone but its actor (an
instructor's, a team's and its members', an Agent object's, a SubStatement's). This
rewrites each such statement as one stored now would be (every ``mbox`` replaced by its
SHA-1, ``mbox_sha1sum``) with its digest, so that a re-post of it is still recognised
instead of a conflict. Statements without an address are not touched.

Going down keeps the statements as they are: the addresses are gone for good.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 00:30:00
"""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa
from alembic import op

from masterypath.interop.xapi_pseudonyms import statement_digest, without_addresses

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

BATCH = 500
"""Statements read and rewritten at a time (memory stays flat on a large LRS)."""

statements = sa.table(
    "xapi_statements",
    sa.column("id", sa.String),
    sa.column("content_hash", sa.String),
    sa.column("statement", sa.JSON),
)


def upgrade() -> None:
    connection = op.get_bind()
    # every statement with an address, found by its text (an mbox_sha1sum never matches)
    named = sa.cast(statements.c.statement, sa.Text).like('%"mbox"%')
    ids: list[str] = list(connection.scalars(sa.select(statements.c.id).where(named)))
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        rows = connection.execute(
            sa.select(statements.c.id, statements.c.statement).where(statements.c.id.in_(chunk))
        )
        for statement_id, statement in rows.all():
            kept = without_addresses(cast(dict[str, Any], statement))
            if kept != statement:
                connection.execute(
                    statements.update()
                    .where(statements.c.id == statement_id)
                    .values(statement=kept, content_hash=statement_digest(kept))
                )


def downgrade() -> None:
    pass
