"""Benchmark: the educator's cohort grid for a large cohort (server time and first render).

Builds a framework from the first ``--competencies`` competencies of a real prerequisite
graph (in topological order, so every prerequisite is kept), simulates ``--learners``
learners working through it (the demo's BKT-style simulation: guesses, slips, different
study time), records their evidence through the real pipeline, then measures, on the same
database and server:

- **masterypath grid**: ``GET /api/v1/frameworks/{id}/grid`` (one request for the whole
  cohort) - the server time of the first (cold) call and the median of the next ones;
- **per-learner progress** (the peer: what a dashboard needs without a grid endpoint, and
  how most LMS APIs expose mastery): ``GET /api/v1/learners/{id}/progress`` for every
  learner, one after the other;
- **first render** in headless Chromium (when ``/usr/bin/chromium`` is installed): from
  opening ``/app/educator`` to the grid drawn, including the browser's own work.

Usage::

    .venv/bin/python -m bench.dashboard_load ../shared/data/graphs/Junyi-Prerequisites.graphml.gz \\
        --split-joined-ids --drop-edge 'proportions_1->proportions_1' \\
        --drop-edge 'number_sense_length_l1->number_sense_length_l1' \\
        --drop-edge 'simplifying_radicals->adding_and_subtracting_radicals' \\
        --learners 500 --competencies 110 --json bench/dashboard_load.json
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import tempfile
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2 as httpx
import numpy as np
import uvicorn
from argon2 import PasswordHasher, profiles
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from masterypath.api.app import create_app
from masterypath.demo import simulate_learners
from masterypath.domain.access import Role
from masterypath.domain.framework import Competency, Framework, Prerequisite
from masterypath.interop.graph_files import GraphRepairs, parse_edge
from masterypath.interop.loader import LoadOptions, load_framework_file
from masterypath.services.accounts import AccountService
from masterypath.services.context import ServiceContext
from masterypath.services.evidence import EvidenceService
from masterypath.services.frameworks import FrameworkService
from masterypath.settings import Settings
from masterypath.store.database import upgrade

CHROMIUM = Path("/usr/bin/chromium")


def prefix_framework(graph: Framework, n: int) -> Framework:
    """The first ``n`` competencies in topological order (a prefix keeps every prerequisite)."""
    keep = graph.topological_order()[:n]
    kept = set(keep)
    return Framework(
        id="dashboard-bench",
        title=f"{graph.title} (first {len(keep)})",
        competencies=tuple(
            Competency(
                id=cid,
                title=graph.competency(cid).title,
                prerequisites=tuple(
                    Prerequisite(p.competency_id, p.requires)
                    for p in graph.competency(cid).prerequisites
                    if p.competency_id in kept
                ),
            )
            for cid in keep
        ),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("graph", type=Path)
    parser.add_argument("--learners", type=int, default=500)
    parser.add_argument("--competencies", type=int, default=110)
    parser.add_argument("--database-url", default="", help="default: a temporary SQLite file")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split-joined-ids", action="store_true")
    parser.add_argument("--drop-edge", action="append", default=[])
    parser.add_argument("--json", type=Path, dest="json_path")
    args = parser.parse_args(argv)
    console = Console(width=120)

    repairs = GraphRepairs(
        split_joined_ids=args.split_joined_ids,
        drop_edges=frozenset(parse_edge(e) for e in args.drop_edge),
    )
    graph = load_framework_file(args.graph, LoadOptions(repairs=repairs)).framework
    framework = prefix_framework(graph, args.competencies)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/dashboard.db"
        context = ServiceContext.from_settings(Settings(database_url=url))
        upgrade(context.engine)
        FrameworkService(context).save(framework, replace=True)
        evidence = simulate_learners(
            framework,
            n_learners=args.learners,
            rng=np.random.default_rng(args.seed),
            start=datetime(2026, 9, 1, tzinfo=UTC),
        )
        evidence = [replace(e, key=f"bench:{i}") for i, e in enumerate(evidence)]
        service = EvidenceService(context)
        with Progress(console=console) as bar:
            task = bar.add_task(f"recording {len(evidence):,} events", total=len(evidence))
            for first in range(0, len(evidence), 5000):
                service.record_many(evidence[first : first + 5000])
                bar.update(task, advance=min(5000, len(evidence) - first))
        learners = sorted({e.learner_id for e in evidence})
        accounts = AccountService(context, hasher=PasswordHasher.from_parameters(profiles.CHEAPEST))
        accounts.create_user("teacher", "teacher-password", Role.EDUCATOR)
        accounts.create_cohort("all", "Everyone", by="bench")
        for learner in learners:
            accounts.enrol("all", learner, by="bench")
        teacher = accounts.user_id("teacher")
        assert teacher is not None
        accounts.assign_educator("all", teacher, by="bench")

        app = create_app(Settings(embeddings=False), context=context, accounts=accounts)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        token = accounts.login("teacher", "teacher-password").token
        headers = {"Authorization": f"Bearer {token}"}
        results: dict[str, Any] = {}
        with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
            path = f"/api/v1/frameworks/{framework.id}/grid"

            def timed(url: str) -> tuple[float, int]:
                start = time.perf_counter()
                response = client.get(url)
                response.raise_for_status()
                return time.perf_counter() - start, len(response.content)

            cold, size = timed(path)
            warm = [timed(path)[0] for _ in range(args.repeat)]
            grid = client.get(path).json()
            cells = sum(1 for r in grid["learners"] for c in r["cells"] if c is not None)
            start = time.perf_counter()
            for learner in learners:
                client.get(
                    f"/api/v1/learners/{learner}/progress", params={"framework_id": framework.id}
                ).raise_for_status()
            per_learner = time.perf_counter() - start
        results = {
            "learners": len(learners),
            "competencies": len(framework),
            "events": len(evidence),
            "cells_with_state": cells,
            "grid_cold_s": round(cold, 3),
            "grid_median_s": round(statistics.median(warm), 3),
            "grid_bytes": size,
            "per_learner_progress_s": round(per_learner, 2),
        }
        render = None
        if CHROMIUM.exists():
            from playwright.sync_api import sync_playwright

            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(base + "/login")
                page.evaluate(f"sessionStorage.setItem('mp-token', {token!r})")
                times = []
                for _ in range(3):
                    start = time.perf_counter()
                    page.goto(f"{base}/app/educator?framework={framework.id}")
                    page.wait_for_function(
                        "() => document.body.dataset.updated !== undefined", timeout=60000
                    )
                    times.append(time.perf_counter() - start)
                    assert page.locator("table.grid tbody tr").count() == len(learners)
                browser.close()
            render = round(statistics.median(times), 3)
        results["browser_first_render_s"] = render
        server.should_exit = True
        thread.join(timeout=10)
        context.engine.dispose()

    table = Table(
        title=f"Educator grid: {results['learners']} learners x {results['competencies']} "
        f"competencies ({results['events']:,} events, {cells:,} cells with a state)"
    )
    for column in ("what", "seconds", "vs grid", "target"):
        table.add_column(column, justify="left" if column in ("what", "target") else "right")
    median = results["grid_median_s"]
    table.add_row(
        "masterypath grid endpoint, server time (median of warm calls)",
        f"{median:.3f}",
        "1.0x",
        "< 1 s",
    )
    table.add_row(
        "masterypath grid endpoint, first (cold) call",
        f"{results['grid_cold_s']:.3f}",
        f"{results['grid_cold_s'] / median:.1f}x",
        "",
    )
    table.add_row(
        "peer: one progress request per learner",
        f"{results['per_learner_progress_s']:.2f}",
        f"{results['per_learner_progress_s'] / median:.0f}x",
        "",
    )
    if render is not None:
        table.add_row(
            "first render in Chromium (page, grid request, 55k cells drawn)",
            f"{render:.3f}",
            f"{render / median:.1f}x",
            "",
        )
    console.print(table)
    if args.json_path:
        args.json_path.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
