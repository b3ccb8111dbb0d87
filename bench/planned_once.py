"""Benchmark: what PostgreSQL spends on the two reads of every evidence transaction, as
the functions of migration 0008 (planned once per connection) and as the statements
they replaced (planned on every run).

Creates a fresh database (dropped afterwards), saves a framework, records ``--events``
generated events, then runs each read ``--calls`` times on one connection, both forms
alternately, ``--rounds`` times: the framework heads of two competencies, and the
states of ``--keys`` random (learner, competency) pairs. Prints, per call, the CPU time
of that connection's PostgreSQL backend process (read from ``/proc``, so other
processes and the server's background work do not count), of this process, and the
wall time.

Usage::

    .venv/bin/python -m bench.planned_once --json /tmp/planned_once.json
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import psycopg
from rich.console import Console
from rich.table import Table
from sqlalchemy import make_url

from bench.ingest_load import (
    add_database_arguments,
    interleaved,
    make_events,
    require_at_least,
    scratch_database,
)
from masterypath.api.app import _to_domain
from masterypath.api.schemas import EvidenceIn
from masterypath.interop.loader import load_framework_file
from masterypath.services.context import ServiceContext
from masterypath.services.evidence import EvidenceService
from masterypath.services.frameworks import FrameworkService
from masterypath.settings import Settings
from masterypath.store.database import upgrade

HEADS_INLINE = (
    "SELECT f.id, f.imported_at, "
    "(SELECT CAST(json_agg(json_build_array(m.name, m.version)) AS text) FROM "
    "(SELECT name, max(id) AS version FROM model_versions WHERE framework_id = f.id "
    "AND active GROUP BY name) AS m), "
    "(SELECT CAST(json_agg(json_build_array(p.competency_id, p.policy)) AS text) "
    "FROM mastery_policies AS p WHERE p.framework_id = f.id), "
    "EXISTS (SELECT 1 FROM overrides AS o WHERE o.framework_id = f.id "
    "AND o.lifted_at IS NULL) "
    "FROM frameworks AS f WHERE f.id IN "
    "(SELECT framework_id FROM competencies WHERE id = ANY(%b::text[])) ORDER BY f.id"
)
"""The heads read before migration 0008 (a prepared statement, custom-planned)."""
HEADS_FUNCTION = (
    "SELECT framework_id, stamp, models, policies, overridden "
    "FROM masterypath_framework_heads(%b::text[])"
)
STATES_INLINE = (
    "SELECT k.learner_id, k.competency_id, CAST(s.state AS text), s.status, "
    "s.model_version_id FROM unnest(%b::text[], %b::text[]) "
    "AS k(learner_id, competency_id) CROSS JOIN LATERAL "
    "(SELECT state, status, model_version_id FROM mastery_states "
    "WHERE learner_id = k.learner_id AND framework_id = (%b::text[])[1] "
    "AND competency_id = k.competency_id LIMIT 1) AS s"
)
"""The states read before migration 0008 (sent unprepared, so planned every time)."""
STATES_FUNCTION = (
    "SELECT learner_id, competency_id, state, status, model_version_id "
    "FROM masterypath_states_of(%b::text[], %b::text[], %b::text)"
)


def per_call(
    conn: psycopg.Connection[Any], call: Callable[[psycopg.Cursor[Any]], None], calls: int
) -> dict[str, float]:
    """CPU of ``conn``'s backend, of this process and wall time, in µs per ``call``
    (after 50 untimed calls, which let psycopg prepare what it prepares)."""
    backend = psutil.Process(conn.execute("SELECT pg_backend_pid()").fetchone()[0])  # type: ignore[index]
    cursor = conn.cursor()
    for _ in range(50):
        call(cursor)
    before = backend.cpu_times()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(calls):
        call(cursor)
    after = backend.cpu_times()
    return {
        "postgres_cpu_us": round(
            1e6 * (after.user + after.system - before.user - before.system) / calls, 1
        ),
        "client_cpu_us": round(1e6 * (time.process_time() - cpu) / calls, 1),
        "wall_us": round(1e6 * (time.perf_counter() - wall) / calls, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_database_arguments(parser)
    parser.add_argument("--events", type=int, default=20000, help="events recorded first")
    parser.add_argument("--learners", type=int, default=400)
    parser.add_argument("--calls", type=int, default=2000, help="calls of each form, a round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--keys", type=int, default=8, help="states read by a call")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, dest="json_path")
    args = parser.parse_args(argv)
    require_at_least(parser, args, 1, "events", "learners", "calls", "rounds", "keys")

    console = Console()
    with scratch_database(args.postgres, "masterypath_planned") as url:
        context = ServiceContext.from_settings(Settings(database_url=url))
        try:
            upgrade(context.engine)
            framework = load_framework_file(args.framework).framework
            FrameworkService(context).save(framework)
            events = interleaved(
                make_events(
                    framework,
                    args.events,
                    args.learners,
                    random.Random(args.seed),
                    "p",
                    datetime(2026, 9, 1, tzinfo=UTC),
                )
            )
            recorder = EvidenceService(context)
            with console.status(f"recording {len(events)} events"):
                for start in range(0, len(events), 500):
                    recorder.record_many(
                        [_to_domain(EvidenceIn(**e)) for e in events[start : start + 500]]
                    )
        finally:
            context.engine.dispose()
        plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(plain, autocommit=True) as conn:
            keys = conn.execute("SELECT learner_id, competency_id FROM mastery_states").fetchall()
            competencies = sorted({c for _, c in keys})[:2]
            rng = random.Random(args.seed)
            if len(keys) < args.keys:
                parser.error(f"--keys: only {len(keys)} states were recorded")

            def heads(sql: str) -> Callable[[psycopg.Cursor[Any]], None]:
                def call(cursor: psycopg.Cursor[Any]) -> None:
                    cursor.execute(sql, [competencies], binary=True)
                    if len(cursor.fetchall()) != 1:
                        raise RuntimeError("expected one framework head")

                return call

            def states(sql: str, framework_id: Any, prepare: bool | None) -> Any:
                def call(cursor: psycopg.Cursor[Any]) -> None:
                    pairs = rng.sample(keys, args.keys)
                    params = [[p[0] for p in pairs], [p[1] for p in pairs], framework_id]
                    cursor.execute(sql, params, binary=True, prepare=prepare)
                    if len(cursor.fetchall()) != args.keys:
                        raise RuntimeError("expected one state per key")

                return call

            forms = {
                ("framework heads", "statement (before)"): heads(HEADS_INLINE),
                ("framework heads", "function (0008)"): heads(HEADS_FUNCTION),
                ("states", "statement (before)"): states(STATES_INLINE, [framework.id], False),
                ("states", "function (0008)"): states(STATES_FUNCTION, framework.id, None),
            }
            runs: dict[tuple[str, str], list[dict[str, float]]] = {k: [] for k in forms}
            with console.status("timing"):
                for _ in range(args.rounds):
                    for key, call in forms.items():
                        runs[key].append(per_call(conn, call, args.calls))

    table = Table(title=f"Reads of an evidence transaction, {args.calls} calls x {args.rounds}")
    for column in ("read", "form", "PostgreSQL CPU µs/call", "client CPU µs/call", "wall µs"):
        table.add_column(column, justify="left" if column in ("read", "form") else "right")
    figures: list[dict[str, Any]] = []
    for (read, form), measured in runs.items():
        row: dict[str, Any] = {
            "read": read,
            "form": form,
            **{
                name: round(sum(m[name] for m in measured) / len(measured), 1)
                for name in ("postgres_cpu_us", "client_cpu_us", "wall_us")
            },
            "rounds": measured,
        }
        figures.append(row)
        table.add_row(
            read,
            form,
            *(
                " / ".join(f"{m[name]:,.0f}" for m in measured)
                for name in ("postgres_cpu_us", "client_cpu_us", "wall_us")
            ),
        )
    console.print(table)
    for read in ("framework heads", "states"):
        before, after = (r for r in figures if r["read"] == read)
        console.print(
            f"{read}: PostgreSQL CPU per call {before['postgres_cpu_us']:,.0f} -> "
            f"{after['postgres_cpu_us']:,.0f} µs "
            f"({after['postgres_cpu_us'] / before['postgres_cpu_us']:.2f}x)"
        )
    if args.json_path:
        args.json_path.write_text(
            json.dumps({"events": args.events, "keys": args.keys, "reads": figures}, indent=2)
            + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
