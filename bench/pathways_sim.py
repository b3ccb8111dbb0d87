"""Benchmark: masterypath's planner versus a fixed curriculum, on simulated learners with
known ground truth on a real prerequisite graph.

Each learner (drawn once, then copied so both policies meet the same learner) is taught
until the goal competencies are mastered:

- **masterypath**: BKT states, the default mastery policy (P >= 0.95, >= 3 answers), the
  gate and the planner's first step after every answer; it stops when the policy says
  every goal is mastered;
- **fixed curriculum**: every competency on the way to the goals in topological order,
  K practice items each, where K is the smallest number that reaches at least the same
  share of learners who truly master the goals as the planner (a fair baseline).

Reports practice opportunities, over-practice (items on a competency already truly known),
practice while a prerequisite was truly unknown, and gate violations (must be 0).

Usage::

    .venv/bin/python -m bench.pathways_sim ../shared/data/graphs/DBE-KT22.graphml.gz \\
        --goals deepest:3 --learners 1000 --json bench/pathways_sim.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from masterypath.domain.simulator import SimulationParams, compare_policies
from masterypath.interop.graph_files import GraphRepairs, parse_edge
from masterypath.interop.loader import LoadOptions, load_framework_file


def choose_goals(framework: Any, spec: str) -> tuple[str, ...]:
    if spec.startswith("deepest:"):
        n = int(spec.split(":", 1)[1])
        ranked = sorted(framework.ids, key=lambda c: (-len(framework.prerequisite_closure([c])), c))
        return tuple(ranked[:n])
    if spec.startswith("closure:"):  # one goal whose prerequisite closure is largest <= N
        limit = int(spec.split(":", 1)[1])
        fits = [c for c in framework.ids if len(framework.prerequisite_closure([c])) <= limit]
        best = max(fits, key=lambda c: (len(framework.prerequisite_closure([c])), c))
        return (best,)
    return tuple(s for s in spec.split(",") if s)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("graph", type=Path)
    parser.add_argument(
        "--goals", default="deepest:3", help="ids (comma-separated), deepest:N or closure:N"
    )
    parser.add_argument("--learners", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split-joined-ids", action="store_true")
    parser.add_argument("--drop-edge", action="append", default=[])
    parser.add_argument("--max-per-competency", type=int, default=40)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    repairs = GraphRepairs(
        split_joined_ids=args.split_joined_ids,
        drop_edges=frozenset(parse_edge(e) for e in args.drop_edge),
    )
    framework = load_framework_file(args.graph, LoadOptions(repairs=repairs)).framework
    goals = choose_goals(framework, args.goals)
    scope = framework.prerequisite_closure(goals)
    params = SimulationParams()
    console = Console(width=150)
    console.print(
        f"{args.graph.name}: {len(framework.competencies)} competencies; goals "
        f"{', '.join(goals)} need {len(scope)}"
    )
    t0 = time.perf_counter()
    result = compare_policies(
        framework,
        goals,
        learners=args.learners,
        seed=args.seed,
        params=params,
        max_per_competency=args.max_per_competency,
    )
    seconds = time.perf_counter() - t0
    ours, fixed, chosen = result["planner"], result["fixed"], result["fixed_per_competency"]
    saving, odd = result["saving"], result["knew_without_prerequisite"]
    table = Table(
        "policy",
        "opportunities",
        "goals truly mastered",
        "over-practice",
        "practice with an unknown prerequisite",
        "learners affected",
        "gate violations",
        title=f"{args.learners} simulated learners on {args.graph.name}",
    )
    for name, r in (
        ("masterypath planner", ours),
        (f"fixed curriculum, {chosen} per competency", fixed),
    ):
        table.add_row(
            name,
            f"{r['opportunities']:.1f}",
            f"{r['goals_truly_mastered']:.1%}",
            f"{r['overpractice']:.1f}",
            f"{r['unready_practice']:.1f}",
            f"{r['learners_with_unready_practice']:.1%}",
            f"{r['gate_violations']:.0f}",
        )
    console.print(table)
    console.print(
        f"planner uses {saving:.1%} fewer opportunities at "
        f"{ours['goals_truly_mastered']:.1%} vs {fixed['goals_truly_mastered']:.1%} true "
        f"mastery; {odd:.1%} of learners started knowing a competency without its "
        f"prerequisite; {seconds:.0f} s"
    )
    if args.json:
        args.json.write_text(json.dumps({"graph": str(args.graph), **result}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
