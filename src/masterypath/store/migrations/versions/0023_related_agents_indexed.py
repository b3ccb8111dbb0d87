"""Every agent a stored xAPI statement names is indexed

``GET /xapi/statements?agent=...&related_agents=true``, a learner's export and an erasure
found the statements that name an agent outside the ``agent`` filter's places (the
authority, the instructor, the team, a SubStatement) by reading every statement. Now a
statement's authority is a column (``authority_id``, indexed) and the other learners it
names are rows of ``xapi_statement_agents`` marked ``related_only``; the actor of a
voiding statement (kept under the voided statement's learner) gets a row the ``agent``
filter reads. The statements stored before are read once to fill them.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 09:00:00
"""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa
from alembic import op

from masterypath.interop.xapi_pseudonyms import (
    agents_named,
    agents_related,
    authority_of,
    learner_of,
)

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

BATCH = 1000
"""Statements read at a time (memory stays flat on a large LRS)."""

statements = sa.table(
    "xapi_statements",
    sa.column("id", sa.String),
    sa.column("learner_id", sa.String),
    sa.column("statement", sa.JSON),
    sa.column("authority_id", sa.String),
)
agents = sa.table(
    "xapi_statement_agents",
    sa.column("learner_id", sa.String),
    sa.column("statement_id", sa.String),
    sa.column("related_only", sa.Boolean),
)


def upgrade() -> None:
    op.add_column("xapi_statements", sa.Column("authority_id", sa.String(1000), nullable=True))
    op.create_index("ix_xapi_statements_authority", "xapi_statements", ["authority_id"])
    op.add_column(
        "xapi_statement_agents",
        sa.Column("related_only", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    connection = op.get_bind()
    after = ""
    while True:
        rows = connection.execute(
            sa.select(statements.c.id, statements.c.learner_id, statements.c.statement)
            .where(statements.c.id > after)
            .order_by(statements.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        after = rows[-1][0]
        authorities: list[dict[str, Any]] = []
        related: list[dict[str, Any]] = []
        for statement_id, actor, document in rows:
            statement = cast(dict[str, Any], document)
            authority = authority_of(statement)
            if authority is not None:
                authorities.append({"key": statement_id, "authority": authority})
            named = agents_named(statement)
            # a voiding statement is kept under the voided one's learner: its own actor
            # (a teacher, say) is where the agent filter looks
            by = (
                learner_of(statement["actor"]) if isinstance(statement.get("actor"), dict) else None
            )
            if by is not None and by != actor and by not in named:
                related.append(
                    {"learner_id": by, "statement_id": statement_id, "related_only": False}
                )
                named += (by,)
            besides: list[str] = [str(actor), *named]
            besides += [] if authority is None else [authority]
            related += [
                {"learner_id": learner, "statement_id": statement_id, "related_only": True}
                for learner in agents_related(statement, besides=besides)
            ]
        if authorities:
            connection.execute(
                statements.update()
                .where(statements.c.id == sa.bindparam("key"))
                .values(authority_id=sa.bindparam("authority")),
                authorities,
            )
        # rows a later release wrote, where this runs again after a downgrade
        held = {
            (learner, statement_id)
            for learner, statement_id in connection.execute(
                sa.select(agents.c.learner_id, agents.c.statement_id).where(
                    agents.c.statement_id.in_([r[0] for r in rows])
                )
            )
        }
        related = [r for r in related if (r["learner_id"], r["statement_id"]) not in held]
        if related:
            connection.execute(agents.insert(), related)


def downgrade() -> None:
    op.execute(agents.delete().where(agents.c.related_only))
    with op.batch_alter_table("xapi_statement_agents") as batch:
        batch.drop_column("related_only")
    with op.batch_alter_table("xapi_statements") as batch:
        batch.drop_index("ix_xapi_statements_authority")
        batch.drop_column("authority_id")
