"""Benchmark: evidence ingestion under load, over HTTP, persisting to PostgreSQL.

Starts ``masterypath serve --workers W`` on a fresh PostgreSQL database (created and
dropped here), loads a framework, creates an integration API key, then runs concurrent
clients in two phases:

1. **single posts**: each event in its own request, half as plain evidence
   (``POST /api/v1/evidence``) and half as xAPI statements (``POST /xapi/statements``);
2. **batches**: ``POST /api/v1/evidence/batch`` with ``--batch-size`` events each;
3. **the HTTP floor**: ``GET /health`` (no database, no validation) by the same clients
   on the same server, the most requests/s any single-post pipeline could reach here.

Each learner's events go through one client in time order (one learner's device sends
in order). A share of requests (``--duplicates``) is sent a second time, as a client that
lost the response would; requests that fail with a connection error or a 503 are retried.
Afterwards it checks that the ledger holds exactly the distinct events sent (none lost,
none duplicated), and that a replay from the ledger rebuilds exactly the live states.

The peer, in the same run on the same statements: the ralph LRS (ralph-malph 5.1.0, file
backend, the same number of uvicorn workers, HTTP basic auth), from its own virtual
environment (``bash bench/setup_ralph.sh``: its LRS extra pins an old FastAPI); it runs
after masterypath's server has stopped, so the two never share the CPUs. Ralph only
stores statements; masterypath also updates every learner's mastery on every event.

Each phase also reports the CPU time it took per event, for the server, PostgreSQL and
the clients (:class:`CpuMeter`), and how busy the machine was: on a shared virtual
machine the events/s of identical runs move by +-15-30%, the CPU per event much less.

Runs of the same command vary (by +-10-15% on a busy two-core machine: among other
things the kernel spreads a few keep-alive connections unevenly over the workers);
``--repeat N`` runs masterypath's phases N times on the same server, each time with new
learners and new connections, and reports the median run of each phase and the range.

Usage::

    .venv/bin/python -m bench.ingest_load \\
        --framework src/masterypath/demo_data/dbe_kt22_excerpt.yaml \\
        --single 4000 --batched 40000 --clients 16 --workers 2 --json bench/ingest_load.json
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import httpx2 as httpx
import numpy as np
import psutil
import psycopg
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, make_url, select

from masterypath.domain.access import Scope
from masterypath.interop.loader import load_framework_file
from masterypath.services.accounts import AccountService
from masterypath.services.context import ServiceContext
from masterypath.services.frameworks import FrameworkService
from masterypath.services.mastery import MasteryService
from masterypath.settings import Settings
from masterypath.store.database import upgrade
from masterypath.store.tables import EvidenceRow, MasteryStateRow

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = {
    "ralph file single": "26-44",
    "ralph file batched": "1,400-2,800",
    "ralph memory single": "600-950",
    "ralph memory batched": "6,000-12,500",
}


@dataclass
class Phase:
    name: str
    restart_at: int = 0
    """Restart the database after this many requests (0: never)."""
    restart_command: str = ""
    events: int = 0
    requests: int = 0
    retries: int = 0
    duplicates_sent: int = 0
    server_errors: int = 0
    faults: int = 0
    """500 answers, retried (only the peer's are: its file backend fails under concurrent
    appends now and then; masterypath's would stop the run)."""
    restarts: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    spread: tuple[float, float] | None = None
    """With ``--repeat``: the lowest and highest events/s of the phase's runs."""
    cpu: dict[str, float] = field(default_factory=dict)
    """CPU seconds during the phase by process group, and the machine's busy/steal shares
    (:class:`CpuMeter`)."""

    def cpu_row(self) -> dict[str, Any]:
        if not self.cpu or not self.events:
            return {}
        per_event = {
            group: round(self.cpu[group] / self.events * 1e6, 1)
            for group in ("server", "postgres", "client")
        }
        return {
            "cpu_us_per_event": per_event,
            "machine_busy_share": round(self.cpu["busy_share"], 3),
            "steal_share": round(self.cpu["steal_share"], 3),
        }

    def row(self) -> dict[str, Any]:
        lat = np.array(self.latencies) * 1000 if self.latencies else np.array([0.0])
        spread = {} if self.spread is None else {"events_per_s_range": list(self.spread)}
        return {
            **spread,
            **self.cpu_row(),
            "events": self.events,
            "requests": self.requests,
            "retries": self.retries,
            "duplicate_requests": self.duplicates_sent,
            "answers_503": self.server_errors,
            "answers_500_retried": self.faults,
            "database_restarts": self.restarts,
            "seconds": round(self.seconds, 2),
            "events_per_s": round(self.events / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(float(np.percentile(lat, 50)), 1),
            "p99_ms": round(float(np.percentile(lat, 99)), 1),
        }


def postgres_cpu() -> dict[int, float]:
    """CPU seconds so far of every ``postgres`` process on this machine, by process id."""
    out: dict[int, float] = {}
    for proc in psutil.process_iter(["name", "cpu_times"]):
        times = proc.info["cpu_times"]
        if proc.info["name"] == "postgres" and times is not None:
            out[proc.pid] = times.user + times.system
    return out


def postgres_cpu_seconds() -> float:
    """CPU seconds so far of every ``postgres`` process on this machine."""
    return sum(postgres_cpu().values())


class CpuMeter:
    """CPU time spent by the server (its supervisor and workers), PostgreSQL (every
    ``postgres`` process: backends and background writers) and this process (the
    clients), and how busy the machine was, between :meth:`start` and :meth:`stop`.

    Throughput on a shared virtual machine moves by +-15-30% between identical runs (its
    neighbours take cycles: the ``steal`` share); CPU microseconds per event move much
    less, so code changes are judged by them as well.
    """

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self._before: dict[str, Any] = {}

    def _groups(self) -> tuple[dict[int, float], dict[int, float], float]:
        server: dict[int, float] = {}
        try:
            parent = psutil.Process(self.server_pid)
            for proc in [parent, *parent.children(recursive=True)]:
                times = proc.cpu_times()
                server[proc.pid] = times.user + times.system
        except psutil.Error:
            pass
        own = psutil.Process().cpu_times()
        return server, postgres_cpu(), own.user + own.system

    def start(self) -> None:
        server, postgres, client = self._groups()
        self._before = {
            "server": server,
            "postgres": postgres,
            "client": client,
            "machine": psutil.cpu_times(),
        }

    def stop(self) -> dict[str, float]:
        """CPU seconds per group since :meth:`start` (a process that started since counts
        in full; one that ended is lost: a database restart loses its backends' share)."""
        server, postgres, client = self._groups()
        before = self._before
        machine = psutil.cpu_times()
        spent = {
            name: getattr(machine, name) - getattr(before["machine"], name)
            for name in machine._fields
        }
        total = sum(spent.values()) or 1.0
        idle = spent.get("idle", 0.0) + spent.get("iowait", 0.0)
        steal = spent.get("steal", 0.0)
        return {
            "server": sum(t - before["server"].get(pid, 0.0) for pid, t in server.items()),
            "postgres": sum(t - before["postgres"].get(pid, 0.0) for pid, t in postgres.items()),
            "client": client - before["client"],
            "busy_share": (total - idle - steal) / total,
            "steal_share": steal / total,
        }


def is_xapi(key: str, share: float) -> bool:
    """Whether single-post event ``key`` goes as an xAPI statement (deterministic)."""
    return (int(key.split(":")[1]) % 100) < share * 100


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_events(
    framework: Any, n: int, learners: int, rng: random.Random, prefix: str, start: datetime
) -> dict[str, list[dict[str, Any]]]:
    """``n`` events spread over ``learners``, in time order per learner."""
    items = [i for i in framework.items]
    per: dict[str, list[dict[str, Any]]] = {}
    for k in range(n):
        learner = f"{prefix}-{k % learners:05d}"
        item = rng.choice(items)
        seq = len(per.get(learner, []))
        per.setdefault(learner, []).append(
            {
                "key": f"{prefix}:{k}",
                "learner_id": learner,
                "competency_ids": list(item.competency_ids),
                "item_id": item.id,
                "outcome": {"type": "binary", "correct": rng.random() < 0.7},
                "timestamp": (start + timedelta(minutes=seq)).isoformat(),
            }
        )
    return per


def as_xapi(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, event["key"])),
        "actor": {
            "objectType": "Agent",
            "account": {"homePage": "https://lms.example", "name": event["learner_id"]},
        },
        "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"},
        "object": {"objectType": "Activity", "id": f"https://lms.example/items/{event['item_id']}"},
        "result": {"success": event["outcome"]["correct"]},
        "timestamp": event["timestamp"],
    }


async def send(
    client: aiohttp.ClientSession,
    phase: Phase,
    method: str,
    url: str,
    body: Any,
    headers: dict[str, str],
    accept: frozenset[int] = frozenset(),
    retry_faults: bool = False,
) -> None:
    for attempt in range(8):
        start = time.perf_counter()
        try:
            async with client.request(method, url, json=body, headers=headers) as response:
                status = response.status
                text = await response.text()
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError):
            phase.retries += 1
            await asyncio.sleep(0.05 * 2**attempt)
            continue
        phase.latencies.append(time.perf_counter() - start)
        phase.requests += 1
        if phase.restart_at and phase.requests == phase.restart_at:
            phase.restarts += 1  # in a thread: the clients keep sending meanwhile
            threading.Thread(
                target=subprocess.run,
                args=(phase.restart_command.split(),),
                kwargs={"check": True, "capture_output": True},
                daemon=True,
            ).start()
        if status == 503 or (retry_faults and status == 500):
            if status == 503:
                phase.server_errors += 1
            else:
                phase.faults += 1
            phase.retries += 1
            await asyncio.sleep(0.05 * 2**attempt)
            continue
        if status >= 400 and status not in accept:
            raise RuntimeError(f"{url}: {status} {text[:300]}")
        return
    raise RuntimeError(f"{url}: gave up after retries")


async def run_clients(
    base: str,
    authorization: str,
    work: list[list[tuple[str, str, Any]]],
    phase: Phase,
    duplicates: float,
    seed: int,
    accept: frozenset[int] = frozenset(),
    retry_faults: bool = False,
) -> None:
    """One asyncio task per client, each with its own keep-alive connection. The clients
    are aiohttp's: on these two cores the load generator competes with the server for
    the CPUs, and an aiohttp request costs the client about a fifth of an httpx one
    (0.12 vs 0.58 ms measured here), which left httpx clients measuring themselves."""
    headers = {"Authorization": authorization, "X-Experience-API-Version": "1.0.3"}
    rng = random.Random(seed)
    connector = aiohttp.TCPConnector(limit=len(work))
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(base, connector=connector, timeout=timeout) as client:

        async def worker(jobs: list[tuple[str, str, Any]]) -> None:
            for method, url, body in jobs:
                await send(client, phase, method, url, body, headers, accept, retry_faults)
                if rng.random() < duplicates:  # the response was "lost": send it again
                    phase.duplicates_sent += 1
                    await send(client, phase, method, url, body, headers, accept, retry_faults)

        start = time.perf_counter()
        await asyncio.gather(*(worker(jobs) for jobs in work))
        phase.seconds = time.perf_counter() - start


def stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=15)


def wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("server did not start")


def run_ralph(
    venv: Path,
    single: dict[str, list[dict[str, Any]]],
    batched: dict[str, list[dict[str, Any]]],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """The peer: ralph's LRS (file backend, ``--workers`` uvicorn workers), fed the same
    events as xAPI statements, single posts then batches; duplicates answered 409 are fine."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        env = {
            **os.environ,
            "RALPH_APP_DIR": str(Path(tmp) / "app"),
            "RALPH_RUNSERVER_BACKEND": "fs",
            "RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH": str(data),
        }
        subprocess.run(
            [
                str(venv / "bin" / "ralph"),
                "auth",
                "-u",
                "bench",
                "-p",
                "bench-password",
                "-s",
                "all",
                "-A",
                "bench",
                "https://lms.example",
                "-w",
            ],
            env=env,
            check=True,
            capture_output=True,
        )
        port = free_port()
        server = subprocess.Popen(
            [
                str(venv / "bin" / "uvicorn"),
                "ralph.api:app",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            wait_for_port(port, server)
            auth = "Basic " + base64.b64encode(b"bench:bench-password").decode()
            base = f"http://127.0.0.1:{port}"
            accept = frozenset({409})
            one = Phase("ralph single posts (xAPI)")
            one.events = sum(map(len, single.values()))
            work: list[list[tuple[str, str, Any]]] = [
                [("POST", "/xAPI/statements", as_xapi(e)) for lr in group for e in single[lr]]
                for group in split(single, args.clients)
            ]
            asyncio.run(
                run_clients(base, auth, work, one, args.duplicates, args.seed, accept, True)
            )
            many = Phase(f"ralph batches of {args.batch_size} (xAPI)")
            many.events = sum(map(len, batched.values()))
            work = []
            for group in split(batched, args.clients):
                events = sorted(
                    (e for lr in group for e in batched[lr]),
                    key=lambda e: (e["timestamp"], e["learner_id"]),
                )
                work.append(
                    [
                        (
                            "POST",
                            "/xAPI/statements",
                            [as_xapi(e) for e in events[i : i + args.batch_size]],
                        )
                        for i in range(0, len(events), args.batch_size)
                    ]
                )
            asyncio.run(
                run_clients(base, auth, work, many, args.duplicates, args.seed + 1, accept, True)
            )
        finally:
            stop(server)
        ids = [json.loads(line)["id"] for f in data.glob("*.jsonl") for line in f.open()]
    return {
        "single": one.row(),
        "batched": many.row(),
        "stored": len(ids),
        "stored_distinct": len(set(ids)),
        "sent": sum(map(len, single.values())) + sum(map(len, batched.values())),
    }


def interleaved(per_learner: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Every learner's first event, then every learner's second, and so on: each
    learner's events in time order, learners interleaved, as concurrent clients send them.

    >>> interleaved({"a": [1, 2, 3], "b": [4]})
    [1, 4, 2, 3]
    """
    longest = max((len(v) for v in per_learner.values()), default=0)
    return [v[k] for k in range(longest) for v in per_learner.values() if k < len(v)]


def first_events(
    per_learner: dict[str, list[dict[str, Any]]], n: int | None
) -> dict[str, list[dict[str, Any]]]:
    """The first ``n`` events (all if None), taking each learner's earliest first.

    >>> per = {"a": [1, 2, 3], "b": [4]}
    >>> first_events(per, 3), first_events(per, None) == per
    ({'a': [1, 2], 'b': [4]}, True)
    """
    if n is None:
        return per_learner
    counts = dict.fromkeys(per_learner, 0)
    for k in range(max((len(v) for v in per_learner.values()), default=0)):
        for learner, events in per_learner.items():
            if n > 0 and k < len(events):
                counts[learner] += 1
                n -= 1
    return {learner: per_learner[learner][:c] for learner, c in counts.items() if c}


@contextmanager
def scratch_database(postgres: str, prefix: str) -> Iterator[str]:
    """The URL of a new, empty database on the PostgreSQL server at ``postgres``, dropped
    afterwards (with any connections still open to it)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(postgres).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(postgres, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def add_database_arguments(parser: argparse.ArgumentParser) -> None:
    """``--framework`` and ``--postgres``, which every ingestion benchmark takes."""
    parser.add_argument(
        "--framework", type=Path, default=ROOT / "src/masterypath/demo_data/dbe_kt22_excerpt.yaml"
    )
    parser.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="server to create the benchmark database on",
    )


def require_at_least(
    parser: argparse.ArgumentParser, args: argparse.Namespace, minimum: int, *names: str
) -> None:
    """Stop with argparse's usage error naming the first of ``names`` under ``minimum``."""
    for name in names:
        if getattr(args, name) < minimum:
            parser.error(f"--{name.replace('_', '-')}: must be at least {minimum}")


def cost_figures(events: int, *, cpu: float, postgres: float, wall: float) -> dict[str, float]:
    """This process's CPU, PostgreSQL's CPU and the wall time (seconds, over ``events``)
    as µs per event, and the rate: the figures every in-process cost probe prints.

    >>> cost_figures(4, cpu=0.002, postgres=0.001, wall=0.004)["events_per_s"]
    1000.0
    """
    return {
        "cpu_us_per_event": round(cpu / events * 1e6, 1),
        "postgres_cpu_us_per_event": round(postgres / events * 1e6, 1),
        "wall_us_per_event": round(wall / events * 1e6, 1),
        "events_per_s": round(events / wall, 1),
    }


def split(per_learner: dict[str, list[dict[str, Any]]], clients: int) -> list[list[str]]:
    learners = sorted(per_learner)
    return [learners[i::clients] for i in range(clients)]


def run_phases(
    args: argparse.Namespace,
    console: Console,
    base: str,
    key: str,
    single: dict[str, list[dict[str, Any]]],
    batched: dict[str, list[dict[str, Any]]],
    server_pid: int,
) -> tuple[Phase, Phase]:
    """masterypath's two phases on the running server (process ``server_pid``): single
    posts, then batches."""
    phase1 = Phase(f"single posts ({args.xapi_share:.0%} as xAPI)")
    work1 = []
    for group in split(single, args.clients):
        jobs = []
        for learner in group:
            for event in single[learner]:
                if is_xapi(event["key"], args.xapi_share):
                    jobs.append(("POST", "/xapi/statements", as_xapi(event)))
                else:
                    jobs.append(("POST", "/api/v1/evidence", event))
        work1.append(jobs)
    phase1.events = args.single
    if args.restart_database:
        phase1.restart_at = sum(len(j) for j in work1) // 2
        phase1.restart_command = args.restart_command
    meter = CpuMeter(server_pid)
    with console.status(f"phase 1: {args.single} single posts"):
        meter.start()
        asyncio.run(run_clients(base, f"Bearer {key}", work1, phase1, args.duplicates, args.seed))
        phase1.cpu = meter.stop()

    phase2 = Phase(f"batches of {args.batch_size}")
    work2 = []
    for group in split(batched, args.clients):
        events = [e for learner in group for e in batched[learner]]
        # each batch keeps every learner's events in order
        events.sort(key=lambda e: (e["timestamp"], e["learner_id"]))
        work2.append(
            [
                ("POST", "/api/v1/evidence/batch", events[i : i + args.batch_size])
                for i in range(0, len(events), args.batch_size)
            ]
        )
    phase2.events = args.batched
    if args.restart_database:
        phase2.restart_at = sum(len(j) for j in work2) // 2
        phase2.restart_command = args.restart_command
    with console.status(f"phase 2: {args.batched} events in batches"):
        meter.start()
        asyncio.run(
            run_clients(base, f"Bearer {key}", work2, phase2, args.duplicates, args.seed + 1)
        )
        phase2.cpu = meter.stop()
    return phase1, phase2


def median_run(phases: list[Phase]) -> Phase:
    """The run of a phase with the median rate (the lower of the two middle ones for an even
    count), its ``spread`` set to the lowest and highest rate of all runs."""
    ranked = sorted(phases, key=lambda p: p.events / p.seconds if p.seconds else 0.0)
    median = ranked[(len(ranked) - 1) // 2]
    rates = [p.row()["events_per_s"] for p in ranked]
    median.spread = (rates[0], rates[-1]) if len(ranked) > 1 else None
    return median


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_database_arguments(parser)
    parser.add_argument("--single", type=int, default=4000, help="events posted one by one")
    parser.add_argument("--batched", type=int, default=40000, help="events posted in batches")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument(
        "--floor",
        type=int,
        default=3200,
        help="requests to GET /health by the same clients: the HTTP floor (0: skip)",
    )
    parser.add_argument("--learners", type=int, default=500)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duplicates", type=float, default=0.05)
    parser.add_argument(
        "--xapi-share",
        type=float,
        default=0.5,
        help="share of single posts sent as xAPI statements",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run masterypath's two phases this many times on the same server (new learners "
        "each time, new connections, so a new spread of them over the workers); the table "
        "shows the median run of each phase and the range (the peer runs once)",
    )
    parser.add_argument(
        "--restart-database",
        action="store_true",
        help="restart PostgreSQL halfway through each phase",
    )
    parser.add_argument("--restart-command", default="pg_ctlcluster 15 main restart")
    parser.add_argument(
        "--ralph",
        type=Path,
        default=ROOT / "bench/.venvs/ralph",
        help="venv of the peer (bash bench/setup_ralph.sh); skipped if absent",
    )
    parser.add_argument(
        "--peer-single",
        type=int,
        help="single posts sent to the peer: the first N of the first run's (default: all; "
        "ralph's file backend takes ~8 minutes for 8,000, and a rate needs fewer)",
    )
    parser.add_argument("--json", type=Path, dest="json_path")
    args = parser.parse_args(argv)
    require_at_least(parser, args, 1, "repeat")
    if args.peer_single is not None and args.peer_single < 1:
        parser.error("--peer-single: must be at least 1")
    # killed with SIGTERM (a timeout, ^C in a wrapper), still drop the benchmark database
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    console = Console(width=130)

    name = f"masterypath_load_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(args.postgres, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(args.postgres).set(database=name).render_as_string(hide_password=False)
    server = None
    try:
        context = ServiceContext.from_settings(Settings(database_url=url))
        upgrade(context.engine)
        framework = load_framework_file(args.framework).framework
        FrameworkService(context).save(framework)
        key = (
            AccountService(context)
            .create_api_key("load", [Scope.EVIDENCE_WRITE, Scope.XAPI_WRITE], by="bench")
            .key
        )
        port = free_port()
        env = {**os.environ, "MASTERYPATH_DATABASE_URL": url, "MASTERYPATH_EMBEDDINGS": "0"}
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "masterypath"),
                "serve",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError("server did not start")

        rng = random.Random(args.seed)
        start = datetime(2026, 9, 1, tzinfo=UTC)
        runs: list[tuple[Phase, Phase]] = []
        sent: set[str] = set()
        for run in range(args.repeat):
            tag = str(run) if run else ""
            single = make_events(framework, args.single, args.learners, rng, f"s{tag}", start)
            batched = make_events(framework, args.batched, args.learners, rng, f"b{tag}", start)
            if not run:
                first_single, first_batched = single, batched  # what the peer is sent
            runs.append(run_phases(args, console, base, key, single, batched, server.pid))
            sent |= {
                "xapi:" + str(uuid.uuid5(uuid.NAMESPACE_URL, e["key"]))
                if is_xapi(e["key"], args.xapi_share)
                else e["key"]
                for events in single.values()
                for e in events
            }
            sent |= {e["key"] for events in batched.values() for e in events}
        phase1 = median_run([r[0] for r in runs])
        phase2 = median_run([r[1] for r in runs])

        # the floor: the same clients and server on an endpoint that does nothing (no
        # database, no validation); no pipeline can answer single posts faster than this
        floor = Phase("GET /health (does nothing)")
        work3 = [[("GET", "/health", None)] * (args.floor // args.clients)] * args.clients
        floor.events = sum(len(w) for w in work3)
        if floor.events:
            with console.status(f"the HTTP floor: {floor.events} requests to /health"):
                asyncio.run(run_clients(base, f"Bearer {key}", work3, floor, 0.0, args.seed))

        # -- verification ----------------------------------------------------------------
        context.engine.dispose()  # its pooled connections may predate a restart
        with context.sessions() as session:
            stored = list(session.scalars(select(EvidenceRow.key)))
            live = {
                (r.learner_id, r.competency_id): (r.status, r.state)
                for r in session.scalars(select(MasteryStateRow))
            }
        lost = len(sent - set(stored))
        duplicated = len(stored) - len(set(stored))
        extra = len(set(stored) - sent)
        summary = MasteryService(context).replay(framework.id)
        with context.sessions() as session:
            replayed = {
                (r.learner_id, r.competency_id): (r.status, r.state)
                for r in session.scalars(select(MasteryStateRow))
            }
            states = session.scalar(select(func.count()).select_from(MasteryStateRow))
        same = live == replayed
        mismatched = sum(1 for k in live.keys() | replayed.keys() if live.get(k) != replayed.get(k))

        server.terminate()  # stop it before the peer runs, so they never share the CPUs
        server.wait(timeout=30)
        server = None
        peer = None
        if (args.ralph / "bin" / "ralph").exists():
            with console.status("the peer: ralph LRS, same statements"):
                peer_single = first_events(first_single, args.peer_single)
                peer = run_ralph(args.ralph, peer_single, first_batched, args)

        table = Table(
            title=f"Ingestion over HTTP ({args.workers} workers each, {args.clients} clients, "
            f"{args.duplicates:.0%} duplicate requests"
            + (f"; masterypath: median of {args.repeat} runs (range)" if args.repeat > 1 else "")
            + ")"
        )
        for column in (
            "system / phase",
            "events",
            "requests",
            "503s",
            "retries",
            "events/s",
            "p50 ms",
            "p99 ms",
            "CPU µs/event: server, PG",
            "vs ralph",
            "target",
        ):
            left = column in ("system / phase", "target")
            table.add_column(column, justify="left" if left else "right")
        rows = {"single": phase1.row(), "batched": phase2.row()}
        targets = {"single": ">= 1,000/s, p99 <= 100 ms", "batched": ">= 10,000/s"}
        for key_, phase in (("single", phase1), ("batched", phase2)):
            r = rows[key_]
            ratio = ""
            if peer is not None and peer[key_]["events_per_s"]:
                ratio = f"{r['events_per_s'] / peer[key_]['events_per_s']:.1f}x"
            table.add_row(
                f"masterypath (PostgreSQL, mastery updated): {phase.name}",
                str(r["events"]),
                str(r["requests"]),
                str(r["answers_503"]) + (" (DB restart)" if r["database_restarts"] else ""),
                str(r["retries"]),
                f"{r['events_per_s']:,.0f}"
                + (
                    " ({:,.0f}-{:,.0f})".format(*r["events_per_s_range"])
                    if "events_per_s_range" in r
                    else ""
                ),
                f"{r['p50_ms']}",
                f"{r['p99_ms']}",
                "{server:,.0f}, {postgres:,.0f}".format(**r["cpu_us_per_event"])
                if "cpu_us_per_event" in r
                else "",
                ratio,
                targets[key_],
            )
        if floor.events:
            r = floor.row()
            table.add_row(
                f"HTTP floor, same server and clients: {floor.name}",
                str(r["events"]),
                str(r["requests"]),
                "",
                "",
                f"{r['events_per_s']:,.0f} req/s",
                f"{r['p50_ms']}",
                f"{r['p99_ms']}",
                "",
                "",
                "",
            )
        if peer is not None:
            for key_, label in (("single", "single posts"), ("batched", "batches")):
                r = peer[key_]
                table.add_row(
                    f"ralph 5.1.0 LRS (file backend): {label}",
                    str(r["events"]),
                    str(r["requests"]),
                    str(r["answers_503"])
                    + (f" (+{r['answers_500_retried']} x 500)" if r["answers_500_retried"] else ""),
                    str(r["retries"]),
                    f"{r['events_per_s']:,.0f}",
                    f"{r['p50_ms']}",
                    f"{r['p99_ms']}",
                    "",
                    "1.0x",
                    "",
                )
        console.print(table)
        for key_, phase in (("single", phase1), ("batched", phase2)):
            r = rows[key_]
            if "cpu_us_per_event" in r:
                cpu = r["cpu_us_per_event"]
                console.print(
                    f"masterypath {phase.name}: CPU per event: server {cpu['server']:,.0f} µs, "
                    f"PostgreSQL {cpu['postgres']:,.0f} µs, clients {cpu['client']:,.0f} µs; "
                    f"machine busy {r['machine_busy_share']:.0%}, taken by other guests "
                    f"(steal) {r['steal_share']:.1%}"
                )
        console.print(
            f"masterypath ledger: {len(set(stored))} distinct events stored of {len(sent)} sent; "
            f"lost {lost}, duplicated {duplicated}, unexpected {extra}. Replay of "
            f"{summary.events} events: {states} states, "
            + (
                "identical to the live ones."
                if same
                else f"{mismatched} differ from the live ones."
            )
        )
        if peer is not None:
            console.print(
                f"ralph: {peer['stored']} statements stored ({peer['stored_distinct']} distinct) "
                f"of {peer['sent']} sent."
            )
        else:
            console.print(
                "ralph not run (bash bench/setup_ralph.sh); figures quoted by the issue: "
                + "; ".join(f"{k} {v}/s" for k, v in REFERENCE.items())
            )
        if args.json_path:
            figures = {
                "workers": args.workers,
                "clients": args.clients,
                "duplicates": args.duplicates,
                "xapi_share": args.xapi_share,
                "restart_database": args.restart_database,
                "repeat": args.repeat,
                "peer_single": args.peer_single,
                "phases": rows,
                "runs": [{"single": a.row(), "batched": b.row()} for a, b in runs],
                "http_floor": floor.row() if floor.events else None,
                "sent": len(sent),
                "stored_distinct": len(set(stored)),
                "lost": lost,
                "duplicated": duplicated,
                "unexpected": extra,
                "replay_identical": same,
                "states": states,
                "ralph": peer,
                "reference_quoted": REFERENCE,
            }
            args.json_path.write_text(json.dumps(figures, indent=2) + "\n")
        context.engine.dispose()
        return 0 if lost == duplicated == extra == 0 and same else 1
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        with psycopg.connect(args.postgres, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    raise SystemExit(main())
