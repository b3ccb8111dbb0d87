"""Benchmark: how ``GET /xapi/statements`` finds its page on a large store, by the plans
the database chooses and the time it takes (EXPLAIN ANALYZE on PostgreSQL, EXPLAIN QUERY
PLAN on SQLite; ``call ms``: the whole call from Python, run once, on either).

Creates a fresh database (PostgreSQL: dropped afterwards), stores ``--statements``
synthetic statements of ``--learners`` learners, one in ``--refer-every`` a StatementRef
to an earlier statement (comments, voids), one in ``--instructor-every`` naming one of 50
teachers as its ``context.instructor``, every one sent by the same authority (an LMS),
and plans the page queries of :meth:`~masterypath.services.xapi.XapiService.query`: one
learner's ``agent`` filter (which follows StatementRef chains), a ``verb`` that every
statement has (the recursive part need not run), a ``verb`` that none has (it must), one
teacher with ``related_agents=true``, and the search of an export or an erasure for the
statements of others that name one teacher (``PeopleRepository.statements_naming``). A
plan that reads the statements table through (``Seq Scan`` / ``SCAN xapi_statements``)
where an index would do is the thing to look for; the times are of this machine.

Usage::

    .venv/bin/python -m bench.xapi_query_plans --statements 100000 --json /tmp/plans.json
    .venv/bin/python -m bench.xapi_query_plans --database sqlite:////tmp/plans.db
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, insert, text
from sqlalchemy.engine import make_url

from masterypath.services.context import ServiceContext
from masterypath.services.xapi import StatementQuery, XapiService
from masterypath.settings import Settings
from masterypath.store.database import upgrade
from masterypath.store.people import PeopleRepository
from masterypath.store.tables import XapiStatementAgentRow, XapiStatementRow

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/masterypath_bench_plans"
# the columns of the checkout it runs against (the bench also measures earlier ones)
REFERS = "refers" in XapiStatementRow.__table__.c
INDEXED = "authority_id" in XapiStatementRow.__table__.c
AUTHORITY = {"objectType": "Agent", "account": {"homePage": "https://lms.example", "name": "lms"}}


def _related(learner_id: str) -> StatementQuery:
    if INDEXED:
        return StatementQuery(learner_id=learner_id, related_agents=True, limit=100)
    from masterypath.interop.xapi_pseudonyms import AgentIdentifier  # before migration 0023

    return StatementQuery(related_agents=AgentIdentifier("account", learner_id), limit=100)  # type: ignore[arg-type]


def _page(query: StatementQuery) -> Any:
    return lambda context, _session: len(XapiService(context).query(query).statements)


QUERIES = {
    "agent (one learner)": _page(StatementQuery(learner_id="l7", limit=100)),
    "verb every statement has": _page(
        StatementQuery(verb="https://verbs.example/answered", limit=100)
    ),
    "verb no statement has": _page(StatementQuery(verb="https://verbs.example/none", limit=100)),
    "related_agents (one teacher)": _page(_related("t7")),
    "naming one teacher (erasure)": lambda _context, session: len(
        PeopleRepository(session).statements_naming("t7")
    ),
}


def fill(
    context: ServiceContext, statements: int, learners: int, refer_every: int, instructor_every: int
) -> None:
    """Store the synthetic statements, 5,000 an INSERT."""
    rng = random.Random(1)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    ids: list[str] = []
    rows: list[dict[str, Any]] = []
    named: list[dict[str, Any]] = []
    for n in range(statements):
        statement_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        learner = f"l{n % learners}"
        refers = ids[rng.randrange(len(ids))] if ids and n % refer_every == 0 else None
        target = (
            {"objectType": "StatementRef", "id": refers}
            if refers
            else {"id": f"https://lms.example/q{n % 300}"}
        )
        statement = {
            "id": statement_id,
            "actor": {"account": {"homePage": "https://lms.example", "name": learner}},
            "verb": {"id": "https://verbs.example/answered"},
            "object": target,
            "authority": AUTHORITY,
        }
        if n % instructor_every == 0:
            teacher = f"t{n // instructor_every % 50}"
            statement["context"] = {
                "instructor": {"account": {"homePage": "https://lms.example", "name": teacher}}
            }
            if INDEXED:
                named.append(
                    {"learner_id": teacher, "statement_id": statement_id, "related_only": True}
                )
        rows.append(
            {
                "id": statement_id,
                "content_hash": "-",
                "statement": statement,
                "learner_id": learner,
                "evidence_key": None,
                "stored_at": start + timedelta(seconds=n),
            }
            | ({"refers": refers} if REFERS else {})  # a checkout before migration 0020
            | ({"authority_id": "lms"} if INDEXED else {})  # and before 0023
        )
        ids.append(statement_id)
    with context.sessions.begin() as session:
        for at in range(0, len(rows), 5000):
            session.execute(insert(XapiStatementRow), rows[at : at + 5000])
        for at in range(0, len(named), 5000):
            session.execute(insert(XapiStatementAgentRow), named[at : at + 5000])


def plans(context: ServiceContext) -> dict[str, dict[str, Any]]:
    """Each query's plan (lines), statements found and, on PostgreSQL, execution time."""
    postgresql = context.engine.dialect.name == "postgresql"
    seen: list[tuple[str, Any]] = []
    event.listen(
        context.engine,
        "before_cursor_execute",
        lambda _c, _cur, sql, params, *_: seen.append((sql, params)),
    )
    out: dict[str, dict[str, Any]] = {}
    for name, query in QUERIES.items():
        seen.clear()
        with context.sessions() as session:
            began = time.perf_counter()
            found = query(context, session)
            call_ms = (time.perf_counter() - began) * 1000
        sql, params = next(s for s in reversed(seen) if "ORDER BY" in s[0])
        explain = "EXPLAIN ANALYZE " if postgresql else "EXPLAIN QUERY PLAN "
        with context.engine.connect() as conn:
            lines = [" ".join(map(str, r)) for r in conn.exec_driver_sql(explain + sql, params)]
        timed = next((ln for ln in lines if ln.startswith("Execution Time")), "")
        millis = re.findall(r"[\d.]+", timed)
        out[name] = {
            "found": found,
            "execution_ms": float(millis[0]) if millis else None,
            "call_ms": call_ms,
            "reads_statements_through": any(
                re.search(r"Seq Scan on xapi_statements\b|SCAN xapi_statements\b", ln)
                and "never executed" not in ln
                for ln in lines
            ),
            "plan": lines,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=POSTGRES, help="a database URL (made anew)")
    parser.add_argument("--statements", type=int, default=100_000)
    parser.add_argument("--learners", type=int, default=2000)
    parser.add_argument("--refer-every", type=int, default=50)
    parser.add_argument("--instructor-every", type=int, default=100)
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    url = make_url(args.database)
    admin = None
    if url.get_backend_name() == "postgresql":
        admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}"'))
            conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    elif url.database:
        Path(url.database).unlink(missing_ok=True)
    context = ServiceContext.from_settings(Settings(database_url=args.database))
    try:
        upgrade(context.engine)
        fill(context, args.statements, args.learners, args.refer_every, args.instructor_every)
        if admin is not None:
            with context.engine.begin() as conn:
                conn.execute(text("ANALYZE"))
        figures = plans(context)
    finally:
        context.engine.dispose()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}"'))
    print(f"{args.statements:,} statements, {url.get_backend_name()}")
    print(f"{'query':<30} {'found':>6} {'ms':>8} {'call ms':>8}  reads the table through")
    for name, f in figures.items():
        ms = "" if f["execution_ms"] is None else f"{f['execution_ms']:.2f}"
        call = f"{f['call_ms']:.2f}"
        print(f"{name:<30} {f['found']:>6} {ms:>8} {call:>8}  {f['reads_statements_through']}")
    if args.json:
        args.json.write_text(json.dumps({"statements": args.statements, "queries": figures}))


if __name__ == "__main__":
    main()
