"""Benchmark: placement / test-out on simulated learners with known truth.

Learners' true knowledge comes from a simulated study history on the graph
(``SimulatedLearner.from_history``: topics roughly in course order, some skipped, practice
until a streak of correct answers, slower learning without the prerequisites, forgetting),
so some know a topic without its prerequisite; the bench prints how often. The placement
prior is fitted on ``--population`` *other* simulated learners (as a deployment fits it on
its stored learners). Compared in the same run, on the same learners:

- **masterypath**: the adaptive diagnostic (`domain/placement.py`), up to ``--budget``
  questions, each answer noisy (guess/slip);
- **test everything once**: one question per competency, classified by that answer;
- **no questions**: classify every competency by the fitted prior (known if P > 0.5).

Prints accuracy and balanced accuracy against the truth and the questions asked.
``--skip``, ``--forget`` and ``--window`` set how noisy the simulated histories are.

Usage::

    .venv/bin/python -m bench.placement_sim ../shared/data/graphs/DBE-KT22.graphml.gz \\
        --learners 200 --budget 20 --json bench/placement_sim_dbe.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import track
from rich.table import Table

from masterypath.domain.placement import PlacementConfig, PlacementPrior, PlacementSession
from masterypath.domain.simulator import Gap, SimulatedLearner, SimulationParams, StudyHistory
from masterypath.interop.graph_files import GraphRepairs, parse_edge
from masterypath.interop.loader import LoadOptions, load_framework_file


def scores(truth: list[dict[str, bool]], guess: list[dict[str, bool]]) -> dict[str, float]:
    tp = fp = tn = fn = 0
    for t, g in zip(truth, guess, strict=True):
        for c, known in t.items():
            said = g[c]
            tp += known and said
            tn += (not known) and (not said)
            fp += (not known) and said
            fn += known and (not said)
    total = tp + tn + fp + fn
    sens = tp / (tp + fn) if tp + fn else 1.0
    spec = tn / (tn + fp) if tn + fp else 1.0
    return {
        "accuracy": (tp + tn) / total,
        "balanced_accuracy": (sens + spec) / 2,
        "sensitivity": sens,
        "specificity": spec,
    }


KNOWN = "known"
UNAVOIDABLE = (Gap.UNEXPLAINED, Gap.SKIPPED)
"""Gaps whose only evidence is their own probe: no prerequisite explains them."""


def tally_errors(
    breakdown: dict[str, dict[str, int]],
    learner: SimulatedLearner,
    answers: tuple[tuple[str, bool], ...],
    said: dict[str, bool],
) -> None:
    """Add one learner's competencies and the diagnostic's errors to ``breakdown``, by why
    the competency is (not) known and whether it was asked; a known competency whose probe
    was answered wrongly is counted apart (it is never concluded known).

    >>> from masterypath.domain.framework import Competency, Framework, Prerequisite
    >>> fw = Framework(id="m", title="M", competencies=(
    ...     Competency(id="a", title="A"),
    ...     Competency(id="b", title="B", prerequisites=(Prerequisite("a"),))))
    >>> learner = SimulatedLearner(fw, SimulationParams(), {"a"}, studied=("a", "b"))
    >>> out = {}
    >>> tally_errors(out, learner, (("a", False),), {"a": False, "b": True})
    >>> out[KNOWN + ", probe answered wrongly"], out[Gap.UNEXPLAINED]
    ({'competencies': 1, 'asked': 1, 'errors': 1}, {'competencies': 1, 'asked': 0, 'errors': 1})
    >>> accuracy_ceiling(out)  # both errors were unavoidable with these answers
    0.0
    """
    failed = {c for c, ok in answers if not ok}
    probed = {c for c, _ in answers}
    unavoidable = breakdown.setdefault("unavoidable", {"competencies": 0, "asked": 0, "errors": 0})
    for cid, said_known in said.items():
        gap = learner.gap(cid)
        slipped = gap is None and cid in failed
        cause = KNOWN + ", probe answered wrongly" if slipped else (gap or KNOWN)
        row = breakdown.setdefault(cause, {"competencies": 0, "asked": 0, "errors": 0})
        row["competencies"] += 1
        row["asked"] += cid in probed
        row["errors"] += said_known != (gap is None)
        unavoidable["competencies"] += slipped or (gap in UNAVOIDABLE and cid not in probed)


def accuracy_ceiling(breakdown: dict[str, dict[str, int]]) -> float:
    """1 - the share of competencies no diagnostic could classify right from the same
    answers (an estimate): unexplained gaps left unasked (nothing but their own probe
    reveals them; a dependent's failed probe hints at them only weakly) and known
    competencies whose probe was answered wrongly (never concluded known)."""
    total = sum(r["competencies"] for k, r in breakdown.items() if k != "unavoidable")
    return 1.0 - breakdown.get("unavoidable", {}).get("competencies", 0) / max(total, 1)


def breakdown_table(breakdown: dict[str, dict[str, int]], ceiling: float) -> Table:
    total = sum(r["competencies"] for k, r in breakdown.items() if k != "unavoidable")
    table = Table(
        "competency",
        "share",
        "asked",
        "errors",
        "errors, share of all",
        title=f"masterypath adaptive: where the errors are (accuracy ceiling ~{ceiling:.1%})",
    )
    for cause, row in sorted(breakdown.items(), key=lambda kv: -kv[1]["errors"]):
        if cause == "unavoidable":
            continue
        n = max(row["competencies"], 1)
        table.add_row(
            cause,
            f"{row['competencies'] / total:.1%}",
            f"{row['asked'] / n:.0%}",
            f"{row['errors'] / n:.1%}",
            f"{row['errors'] / total:.2%}",
        )
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("graph", type=Path)
    parser.add_argument("--learners", type=int, default=200)
    parser.add_argument("--budget", type=int, default=20)
    parser.add_argument("--confidence", type=float, default=0.9)
    parser.add_argument("--chains", type=int, default=256)
    parser.add_argument("--sweeps", type=int, default=4)
    parser.add_argument("--classes", type=int, default=32)
    parser.add_argument(
        "--population",
        type=int,
        default=1000,
        help="other simulated learners whose states the placement prior is fitted on",
    )
    parser.add_argument("--candidates", type=int, default=64)
    parser.add_argument("--objective", choices=("entropy", "error"), default="entropy")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split-joined-ids", action="store_true")
    parser.add_argument("--drop-edge", action="append", default=[])
    defaults = StudyHistory()
    parser.add_argument(
        "--skip",
        type=float,
        default=defaults.skip,
        help="simulated history: chance a topic is skipped",
    )
    parser.add_argument(
        "--forget",
        type=float,
        default=defaults.forget,
        help="simulated history: forgetting per known competency and opportunity",
    )
    parser.add_argument(
        "--window",
        type=int,
        default=defaults.window,
        help="simulated history: next topic among this many in course order",
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    repairs = GraphRepairs(
        split_joined_ids=args.split_joined_ids,
        drop_edges=frozenset(parse_edge(e) for e in args.drop_edge),
    )
    framework = load_framework_file(args.graph, LoadOptions(repairs=repairs)).framework
    params = SimulationParams()
    history = StudyHistory(window=args.window, skip=args.skip, forget=args.forget)
    config = PlacementConfig(
        confidence=args.confidence,
        budget=args.budget,
        candidates=args.candidates,
        guess=params.guess,
        slip=params.slip,
        chains=args.chains,
        sweeps=args.sweeps,
        objective=args.objective,
    )
    pop_seed, learner_seed = np.random.SeedSequence(args.seed).spawn(2)
    population = [
        SimulatedLearner.from_history(
            framework, params, np.random.default_rng(s), history=history
        ).known
        for s in track(pop_seed.spawn(args.population), description="population")
    ]
    prior = PlacementPrior.fit(framework, population, classes=args.classes)
    seeds = learner_seed.spawn(args.learners)
    truth, ours, once, guess_prior = [], [], [], []
    asked = []
    odd = 0
    odd_share = []
    breakdown: dict[str, dict[str, int]] = {}
    start = time.perf_counter()
    for n_learner, s in enumerate(track(seeds, description="placement")):
        a, c = (np.random.default_rng(x) for x in s.spawn(2))
        learner = SimulatedLearner.from_history(framework, params, a, history=history)
        odd += learner.knew_without_prerequisite
        odd_share.append(
            sum(not learner.ready(k) for k in learner.known) / max(len(learner.known), 1)
        )
        known = {cid: cid in learner.known for cid in framework.ids}
        truth.append(known)
        session = PlacementSession.start(framework, prior=prior, config=config, seed=n_learner)
        guess_prior.append({cid: p > 0.5 for cid, p in session.marginals().items()})
        while (probe := session.next_probe()) is not None:
            correct = bool(c.random() < (1 - params.slip if known[probe] else params.guess))
            session = session.answer(probe, correct)
        asked.append(len(session.asked))
        ours.append(session.conclusions())
        tally_errors(breakdown, learner, session.asked, ours[-1])
        once.append(
            {
                cid: bool(c.random() < (1 - params.slip if known[cid] else params.guess))
                for cid in framework.ids
            }
        )
    seconds = time.perf_counter() - start
    n = len(framework.ids)
    results: dict[str, Any] = {
        "graph": str(args.graph),
        "competencies": n,
        "learners": args.learners,
        "budget": args.budget,
        "confidence": args.confidence,
        "chains": args.chains,
        "sweeps": args.sweeps,
        "population": args.population,
        "classes": args.classes,
        "history": dict(history.__dict__),
        "knew_without_prerequisite": odd / args.learners,
        "known_share_without_prerequisite": float(np.mean(odd_share)),
        "known_share": float(np.mean([np.mean(list(t.values())) for t in truth])),
        "masterypath": {**scores(truth, ours), "questions": float(np.mean(asked))},
        "test_everything_once": {**scores(truth, once), "questions": float(n)},
        "no_questions_prior": {**scores(truth, guess_prior), "questions": 0.0},
        "seconds": seconds,
        "errors_by_cause": breakdown,
        "accuracy_ceiling": accuracy_ceiling(breakdown),
    }
    console = Console(width=150)
    table = Table(
        "method",
        "questions",
        "share of test-everything",
        "accuracy",
        "balanced accuracy",
        title=f"placement on {args.graph.name}: {n} competencies, {args.learners} learners",
    )
    for name, key in (
        ("masterypath adaptive", "masterypath"),
        ("test everything once", "test_everything_once"),
        ("no questions (prior)", "no_questions_prior"),
    ):
        r = results[key]
        table.add_row(
            name,
            f"{r['questions']:.1f}",
            f"{r['questions'] / n:.1%}",
            f"{r['accuracy']:.1%}",
            f"{r['balanced_accuracy']:.1%}",
        )
    console.print(table)
    console.print(
        f"{results['knew_without_prerequisite']:.1%} of learners knew a competency without "
        f"its prerequisite; on average {results['known_share_without_prerequisite']:.1%} of "
        f"a learner's known competencies lack a prerequisite; learners know "
        f"{results['known_share']:.1%} of the competencies; {seconds:.0f} s"
    )
    console.print(breakdown_table(breakdown, results["accuracy_ceiling"]))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
