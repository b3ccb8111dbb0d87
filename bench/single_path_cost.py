"""Benchmark: what a single post costs the server per event, in process, on PostgreSQL.

Creates a fresh database (dropped afterwards), saves a framework, creates an API key,
and sends ``--events`` generated events to the application as single posts (half of
them as xAPI statements, as ``bench/ingest_load.py`` does), ``--concurrency`` at a time,
straight through the ASGI interface: no sockets, no HTTP parser, no second process. The
concurrent posts share a transaction (group commit), as under load. After ``--warm``
untimed events it prints the CPU time per event of this process and of the PostgreSQL
server: FastAPI's routing, the credentials, validation, xAPI mapping, the group commit
and the projection, everything the server does for a single post except uvicorn's part.

On a shared virtual machine those times move with the neighbours; instruction counts do
not. To compare two commits, run it under valgrind with two event counts in each checkout
and take the slope (the imports and set-up cancel out)::

    valgrind --tool=callgrind --callgrind-out-file=/tmp/a.out \\
        .venv/bin/python -m bench.single_path_cost --events 1000   # "I refs" at the end
    valgrind --tool=callgrind --callgrind-out-file=/tmp/b.out \\
        .venv/bin/python -m bench.single_path_cost --events 3000
    # instructions per event = (I refs of b - I refs of a) / 2000

Usage::

    .venv/bin/python -m bench.single_path_cost --events 8000 --json /tmp/single.json
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import random
import resource
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event

from bench.ingest_load import (
    add_database_arguments,
    as_xapi,
    cost_figures,
    interleaved,
    is_xapi,
    make_events,
    postgres_cpu_seconds,
    require_at_least,
    scratch_database,
)
from masterypath.api.app import create_app
from masterypath.domain.access import Scope
from masterypath.interop.loader import load_framework_file
from masterypath.services.accounts import AccountService
from masterypath.services.context import ServiceContext
from masterypath.services.frameworks import FrameworkService
from masterypath.settings import Settings
from masterypath.store.database import upgrade

Asgi = Any


async def post(app: Asgi, path: str, body: bytes, headers: list[tuple[bytes, bytes]]) -> int:
    """One POST through the ASGI interface; the response status."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [*headers, (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # a client that stays connected
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


def requests_for(events: list[dict[str, Any]], share: float) -> list[tuple[str, bytes]]:
    out = []
    for e in events:
        if is_xapi(e["key"], share):
            out.append(("/xapi/statements", json.dumps(as_xapi(e)).encode()))
        else:
            out.append(("/api/v1/evidence", json.dumps(e).encode()))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_database_arguments(parser)
    parser.add_argument("--events", type=int, default=8000, help="events timed")
    parser.add_argument("--warm", type=int, default=1000, help="events sent first, untimed")
    parser.add_argument("--concurrency", type=int, default=8, help="posts in flight at once")
    parser.add_argument("--xapi-share", type=float, default=0.5)
    parser.add_argument("--learners", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--profile",
        type=Path,
        help="write cProfile statistics of the event loop's thread (the timed part) here",
    )
    parser.add_argument("--json", type=Path, dest="json_path")
    args = parser.parse_args(argv)
    require_at_least(parser, args, 1, "events", "concurrency", "learners")
    require_at_least(parser, args, 0, "warm")
    if not 0 <= args.xapi_share <= 1:
        parser.error("--xapi-share: must be between 0 and 1")

    with scratch_database(args.postgres, "masterypath_single") as url:
        context = None
        try:
            settings = Settings(database_url=url, embeddings=False)
            context = ServiceContext.from_settings(settings)
            upgrade(context.engine)
            framework = load_framework_file(args.framework).framework
            FrameworkService(context).save(framework)
            key = (
                AccountService(context)
                .create_api_key("cost", [Scope.EVIDENCE_WRITE, Scope.XAPI_WRITE], by="bench")
                .key
            )
            app = create_app(settings, context=context)
            commits: list[object] = []  # the app's transactions (not PostgreSQL's counter,
            event.listen(context.engine, "commit", commits.append)  # which lags a second)
            headers = [
                (b"host", b"127.0.0.1:8000"),
                (b"authorization", f"Bearer {key}".encode()),
                (b"content-type", b"application/json"),
                (b"x-experience-api-version", b"1.0.3"),
            ]
            per = make_events(
                framework,
                args.warm + args.events,
                args.learners,
                random.Random(args.seed),
                "s",
                datetime(2026, 9, 1, tzinfo=UTC),
            )
            # one learner's events in time order, learners interleaved; the posts in flight
            # together are of different learners, as concurrent clients send them
            events = interleaved(per)
            requests = requests_for(events, args.xapi_share)
            size = args.concurrency

            async def send_all(chunk: list[tuple[str, bytes]]) -> None:
                for start in range(0, len(chunk), size):
                    flight = chunk[start : start + size]
                    statuses = await asyncio.gather(
                        *(post(app, path, body, headers) for path, body in flight)
                    )
                    if any(s >= 300 for s in statuses):
                        raise RuntimeError(f"a post failed: {statuses}")

            async def run() -> tuple[int, int, float, float, float, float]:
                await send_all(requests[: args.warm])
                committed = len(commits)
                cpu, wall, server = time.process_time(), time.perf_counter(), postgres_cpu_seconds()
                loop = time.thread_time()
                usage = resource.getrusage(resource.RUSAGE_SELF)
                profile = cProfile.Profile() if args.profile else None
                if profile is not None:
                    profile.enable()
                await send_all(requests[args.warm :])
                if profile is not None:
                    profile.disable()
                    profile.dump_stats(args.profile)
                transactions = len(commits) - committed
                after = resource.getrusage(resource.RUSAGE_SELF)
                switches = after.ru_nvcsw + after.ru_nivcsw - usage.ru_nvcsw - usage.ru_nivcsw
                return (
                    switches,
                    transactions,
                    time.process_time() - cpu,
                    time.thread_time() - loop,
                    time.perf_counter() - wall,
                    postgres_cpu_seconds() - server,
                )

            switches, transactions, cpu, loop, wall, server = asyncio.run(run())
            n = len(requests) - args.warm
            figures = {
                "events": n,
                "concurrency": size,
                "xapi_share": args.xapi_share,
                "events_per_transaction": round(n / max(transactions, 1), 2),
                "context_switches_per_event": round(switches / n, 2),
                "event_loop_cpu_us_per_event": round(loop / n * 1e6, 1),
                **cost_figures(n, cpu=cpu, postgres=server, wall=wall),
            }
            print(
                f"{n} single posts, {size} at a time: this process {figures['cpu_us_per_event']} "
                f"µs CPU per event ({figures['event_loop_cpu_us_per_event']} µs of it on the event "
                f"loop), PostgreSQL {figures['postgres_cpu_us_per_event']} µs, wall "
                f"{figures['wall_us_per_event']} µs ({figures['events_per_s']:,.0f} events/s); "
                f"{figures['events_per_transaction']} events per transaction, "
                f"{figures['context_switches_per_event']} context switches per event"
            )
            if args.json_path:
                args.json_path.write_text(json.dumps(figures, indent=2) + "\n")
            return 0
        finally:
            if context is not None:
                context.engine.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
