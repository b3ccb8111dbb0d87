"""The learners a stored xAPI statement names besides its actor

``xapi_statement_agents`` holds, for each statement, the learners xAPI's ``agent`` filter
matches other than its actor (an Agent or identified Group object, the members of a Group
actor or object), so that the filter finds them by index. The statements stored before
it are read once to fill it (only those whose object is an Agent or Group, or whose actor
is a Group: no other statement names anyone else there).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 01:00:00
"""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa
from alembic import op

from masterypath.interop.xapi_pseudonyms import agents_named

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

BATCH = 500
"""Statements read at a time (memory stays flat on a large LRS)."""

statements = sa.table(
    "xapi_statements",
    sa.column("id", sa.String),
    sa.column("learner_id", sa.String),
    sa.column("statement", sa.JSON),
)


def upgrade() -> None:
    op.create_table(
        "xapi_statement_agents",
        sa.Column("learner_id", sa.String(length=1000), nullable=False),
        sa.Column("statement_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["statement_id"],
            ["xapi_statements.id"],
            name=op.f("fk_xapi_statement_agents_statement_id_xapi_statements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("learner_id", "statement_id"),
    )
    op.create_index(
        op.f("ix_xapi_statement_agents_statement_id"),
        "xapi_statement_agents",
        ["statement_id"],
    )
    agents = sa.table(
        "xapi_statement_agents", sa.column("learner_id", sa.String), sa.column("statement_id")
    )
    connection = op.get_bind()
    document = statements.c.statement
    kinds = ("Agent", "Group")
    naming = sa.or_(
        document[("object", "objectType")].as_string().in_(kinds),
        document[("actor", "objectType")].as_string() == "Group",
    )
    ids: list[str] = list(connection.scalars(sa.select(statements.c.id).where(naming)))
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        rows = connection.execute(
            sa.select(statements.c.id, statements.c.learner_id, document).where(
                statements.c.id.in_(chunk)
            )
        ).all()
        named = [
            {"learner_id": learner, "statement_id": statement_id}
            for statement_id, actor, statement in rows
            for learner in agents_named(cast(dict[str, Any], statement))
            if learner != actor
        ]
        if named:
            connection.execute(agents.insert(), named)


def downgrade() -> None:
    op.drop_index(op.f("ix_xapi_statement_agents_statement_id"), "xapi_statement_agents")
    op.drop_table("xapi_statement_agents")
