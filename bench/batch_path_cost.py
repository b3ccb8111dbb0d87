"""Benchmark: what the batch write path costs per event, in process, on PostgreSQL.

Creates a fresh database (dropped afterwards), saves a framework, and records
``--events`` generated events through the API's request model and
``EvidenceService.record_many`` in batches of ``--batch-size`` (one learner's events in
time order, learners interleaved as concurrent clients send them), after ``--warm``
events that are not timed. Prints the CPU time per event of this process and of the
PostgreSQL server, and the wall time per event. No HTTP, no group commit, no second
process: the part of ingestion that the projection and the store cost.

On a shared virtual machine those times move with the neighbours; instruction counts do
not. To compare two commits, run it under valgrind with two event counts in each checkout
and take the slope (the imports and set-up cancel out)::

    valgrind --tool=callgrind --callgrind-out-file=/tmp/a.out \\
        .venv/bin/python -m bench.batch_path_cost --events 3000   # "I refs" at the end
    valgrind --tool=callgrind --callgrind-out-file=/tmp/b.out \\
        .venv/bin/python -m bench.batch_path_cost --events 8000
    # instructions per event = (I refs of b - I refs of a) / 5000

Usage::

    .venv/bin/python -m bench.batch_path_cost --events 18000 --json /tmp/cost.json
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.ingest_load import (
    add_database_arguments,
    cost_figures,
    interleaved,
    make_events,
    postgres_cpu_seconds,
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_database_arguments(parser)
    parser.add_argument("--events", type=int, default=18000, help="events timed")
    parser.add_argument("--warm", type=int, default=2000, help="events recorded first, untimed")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--learners", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, dest="json_path")
    args = parser.parse_args(argv)
    require_at_least(parser, args, 1, "events", "batch_size", "learners")
    require_at_least(parser, args, 0, "warm")

    with scratch_database(args.postgres, "masterypath_cost") as url:
        context = None
        try:
            context = ServiceContext.from_settings(Settings(database_url=url))
            upgrade(context.engine)
            framework = load_framework_file(args.framework).framework
            FrameworkService(context).save(framework)
            evidence = EvidenceService(context)
            per = make_events(
                framework,
                args.warm + args.events,
                args.learners,
                random.Random(args.seed),
                "b",
                datetime(2026, 9, 1, tzinfo=UTC),
            )
            events = interleaved(per)
            size = args.batch_size

            def record(chunk: list[dict[str, Any]]) -> None:
                evidence.record_many([_to_domain(EvidenceIn(**e)) for e in chunk])

            for start in range(0, args.warm, size):
                record(events[start : start + size])
            timed = events[args.warm :]
            cpu, wall, server = time.process_time(), time.perf_counter(), postgres_cpu_seconds()
            for start in range(0, len(timed), size):
                record(timed[start : start + size])
            cpu = time.process_time() - cpu
            wall = time.perf_counter() - wall
            server = postgres_cpu_seconds() - server
            n = len(timed)
            figures = {
                "events": n,
                "batch_size": size,
                **cost_figures(n, cpu=cpu, postgres=server, wall=wall),
            }
            print(
                f"{n} events in batches of {size}: this process {figures['cpu_us_per_event']} µs "
                f"CPU per event, PostgreSQL {figures['postgres_cpu_us_per_event']} µs, wall "
                f"{figures['wall_us_per_event']} µs ({figures['events_per_s']:,.0f} events/s)"
            )
            if args.json_path:
                args.json_path.write_text(json.dumps(figures, indent=2) + "\n")
            return 0
        finally:
            if context is not None:
                context.engine.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
