"""Stored xAPI statements no longer name a learner erased after they were stored

Before this revision, erasing a learner deleted their own statements and left those of
others that named them (a teacher's statement about them, a Group with them as a member)
as they were; 0017 then indexed those names again. This takes each learner the audit log
says was erased (``erase_learner``) out of every statement stored before that erasure,
as an erasure does now (an Agent named ``(erased)`` in their place, the digest renewed),
and drops their index rows of those statements. A learner id used again after its
erasure keeps what was stored after.

Going down keeps the statements as they are: the names are gone for good.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 01:30:00
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from alembic import op

from masterypath.interop.xapi_pseudonyms import (
    learners_in,
    statement_digest,
    without_learner,
)
from masterypath.store.types import UTCDateTime

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

BATCH = 500
"""Statements read at a time (memory stays flat on a large LRS)."""

statements = sa.table(
    "xapi_statements",
    sa.column("id", sa.String),
    sa.column("learner_id", sa.String),
    sa.column("content_hash", sa.String),
    sa.column("statement", sa.JSON),
    sa.column("stored_at", UTCDateTime),
)
agents = sa.table(
    "xapi_statement_agents", sa.column("learner_id", sa.String), sa.column("statement_id")
)
audit = sa.table(
    "audit_log",
    sa.column("action", sa.String),
    sa.column("target", sa.String),
    sa.column("at", UTCDateTime),
)


def upgrade() -> None:
    connection = op.get_bind()
    erased: dict[str, datetime] = {
        str(target): cast(datetime, at)
        for target, at in connection.execute(
            sa.select(audit.c.target, sa.func.max(audit.c.at))
            .where(audit.c.action == "erase_learner")
            .group_by(audit.c.target)
        ).all()
    }
    if not erased:
        return
    page = sa.select(
        statements.c.id, statements.c.learner_id, statements.c.statement, statements.c.stored_at
    ).order_by(statements.c.id)
    last = ""
    while True:  # every statement, a page at a time, by id
        rows = connection.execute(page.where(statements.c.id > last).limit(BATCH)).all()
        if not rows:
            break
        last = rows[-1][0]
        for statement_id, actor, stored, stored_at in rows:
            statement = cast(dict[str, Any], stored)
            gone = [
                learner
                for learner in learners_in(statement)
                if learner != actor
                and learner in erased
                and cast(datetime, stored_at) <= erased[learner]
            ]
            if not gone:
                continue
            for learner in gone:
                statement = without_learner(statement, learner)
            connection.execute(
                statements.update()
                .where(statements.c.id == statement_id)
                .values(statement=statement, content_hash=statement_digest(statement))
            )
            connection.execute(
                agents.delete().where(
                    agents.c.statement_id == statement_id, agents.c.learner_id.in_(gone)
                )
            )


def downgrade() -> None:
    pass
