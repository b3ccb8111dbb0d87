"""Benchmark: the mastery pipeline end to end on a real log (ledger -> BKT -> decisions).

For each backend, in a fresh database:

1. a flat framework is built from the log's skills (one competency per skill);
2. **bulk ingest**: the whole log goes through ``EvidenceService.import_log`` — validate,
   append to the ledger, update every learner-competency state with the default BKT
   parameters, decide, store states + decision trail, all in one transaction;
3. **refit + replay**: BKT is fitted on the ledger (a new model version) and every state
   is rebuilt from the ledger with it (``MasteryService.refit``); the replay's events/s is
   the figure the issue asks for;
4. **peer: one transaction per event**, the path of an integration posting each answer
   as it happens (``EvidenceService.record``), on the first ``--peer-events`` rows.

It then reports the status distribution and the share of wheel-spinning
learner-competency pairs (Beck & Gong: no mastery within 10 practice opportunities).
``--json PATH`` writes the figures. Usage (from the repository root)::

    .venv/bin/python -m bench.mastery_pipeline ../shared/data/kt/assist2009/assist2009_log.csv.gz \\
        --columns user=user_id,skill=skill_name,correct=correct,order=seq_idx,item=problem_id \\
        --backend sqlite --backend postgresql --json bench/mastery_pipeline.json
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from rich.console import Console
from rich.table import Table

from bench.import_log import fresh_database
from masterypath.domain.evidence import BinaryOutcome, Evidence, ScoreOutcome
from masterypath.domain.framework import Competency, Framework
from masterypath.interop.evidence_log import ColumnMapping, read_evidence_log, read_text
from masterypath.services.context import ServiceContext
from masterypath.services.evidence import EvidenceService
from masterypath.services.frameworks import FrameworkService
from masterypath.services.mastery import MasteryService
from masterypath.settings import Settings
from masterypath.store.database import upgrade
from masterypath.store.mastery import MasteryRepository

WHEEL_SPINNING = 10


def wheel_spinning(
    context: ServiceContext, framework_id: str, learners: list[str]
) -> dict[str, Any]:
    with context.sessions() as session:
        states = MasteryRepository(session).load_states(framework_id, learners)
    pairs = len(states)
    spinning = mastered_in_time = 0
    for stored in states.values():
        s = stored.state
        reached = s.opportunities_to_mastery
        if reached is not None and reached <= WHEEL_SPINNING:
            mastered_in_time += 1
        elif s.n_evidence >= WHEEL_SPINNING:
            spinning += 1
    decided = spinning + mastered_in_time
    return {
        "pairs": pairs,
        "wheel_spinning_pairs": spinning,
        "mastered_within_10": mastered_in_time,
        "share_of_all_pairs": spinning / pairs if pairs else None,
        "share_of_decided_pairs": spinning / decided if decided else None,
    }


def run_backend(text: str, mapping: ColumnMapping, url: str, peer_events: int) -> dict[str, Any]:
    context = ServiceContext.from_settings(Settings(database_url=url))
    upgrade(context.engine)
    log = read_evidence_log(text, mapping, source="bench", imported_at=datetime.now(UTC))
    skills = sorted({s for joined in log.rows["skill"].unique() for s in joined.split("\x1e")})
    framework = Framework(
        id="bench",
        title="Skills of the benchmark log",
        competencies=tuple(Competency(id=s, title=s) for s in skills),
    )
    FrameworkService(context).save(framework)
    t0 = time.perf_counter()
    counts = EvidenceService(context).import_log(log)
    ingest_s = time.perf_counter() - t0
    mastery = MasteryService(context)
    t0 = time.perf_counter()
    refit = mastery.refit("bench", model="bkt")
    refit_s = time.perf_counter() - t0
    replay = refit["replay"]
    learners = sorted(set(log.rows["learner_id"]))
    spin = wheel_spinning(context, "bench", learners)
    # peer: the same pipeline, one transaction per event, into a second framework's learners
    peer_rows = log.rows.head(peer_events)
    batch = [
        Evidence.create(
            key=f"peer:{r.key}",
            learner_id=f"peer:{r.learner_id}",
            competency_ids=tuple(r.skill.split("\x1e")),
            outcome=BinaryOutcome(r.outcome == "b1")
            if r.outcome.startswith("b")
            else ScoreOutcome(float(r.score)),
            timestamp=datetime.fromisoformat(r.timestamp),
            item_id=r.item_id if isinstance(r.item_id, str) else None,
        )
        for r in cast(Iterable[Any], peer_rows.itertuples())  # rows of known columns
    ]
    service = EvidenceService(context)
    t0 = time.perf_counter()
    for evidence in batch:
        service.record(evidence)
    peer_s = time.perf_counter() - t0
    context.engine.dispose()
    return {
        "rows": log.total_rows,
        "events": counts.stored,
        "competencies": len(skills),
        "ingest_s": ingest_s,
        "ingest_events_per_s": counts.stored / ingest_s,
        "refit_s": refit_s,
        "replay_s": replay.seconds,
        "replay_events": replay.events,
        "replay_events_per_s": replay.events / replay.seconds,
        "states": replay.states,
        "statuses": replay.statuses,
        "alerts": replay.alerts,
        "wheel_spinning": spin,
        "peer_events": len(batch),
        "peer_s": peer_s,
        "peer_events_per_s": len(batch) / peer_s,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("log", type=Path)
    parser.add_argument("--columns", required=True, help="role=column mapping or a preset")
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgresql"])
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--peer-events", type=int, default=2000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    mapping = ColumnMapping.parse(args.columns)
    text = read_text(args.log)
    console = Console(width=160)
    results: dict[str, Any] = {
        "log": str(args.log),
        "python": platform.python_version(),
        "backends": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backend or ["sqlite"]:
            with fresh_database(backend, args.postgres_url, Path(tmp)) as url:
                console.print(f"[bold]{backend}[/] ...")
                results["backends"][backend] = run_backend(text, mapping, url, args.peer_events)
    table = Table(
        "backend",
        "events",
        "bulk ingest s",
        "ingest ev/s",
        "replay s",
        "replay ev/s",
        "peer: 1 txn/event ev/s",
        "replay / peer",
        title=f"mastery pipeline on {args.log.name}",
    )
    for backend, r in results["backends"].items():
        table.add_row(
            backend,
            f"{r['events']:,}",
            f"{r['ingest_s']:.1f}",
            f"{r['ingest_events_per_s']:,.0f}",
            f"{r['replay_s']:.1f}",
            f"{r['replay_events_per_s']:,.0f}",
            f"{r['peer_events_per_s']:,.0f}",
            f"{r['replay_events_per_s'] / r['peer_events_per_s']:.0f}x",
        )
    console.print(table)
    for backend, r in results["backends"].items():
        total = sum(r["statuses"].values())
        dist = ", ".join(f"{k} {v:,} ({v / total:.1%})" for k, v in sorted(r["statuses"].items()))
        w = r["wheel_spinning"]
        console.print(f"{backend}: {r['states']:,} learner-competency states: {dist}")
        console.print(
            f"{backend}: wheel-spinning pairs {w['wheel_spinning_pairs']:,} = "
            f"{w['share_of_all_pairs']:.1%} of all pairs, {w['share_of_decided_pairs']:.1%} of "
            f"pairs that either mastered within 10 opportunities or had 10+ "
            f"({w['mastered_within_10']:,} mastered in time); alerts raised {r['alerts']:,}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
