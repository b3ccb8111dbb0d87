"""Benchmark: item-bias (DIF) detection and the calibration audit on simulated cohorts
with known truth.

Each replication draws a 2PL test of ``--items`` items; a reference and a focal group of
the given size (the focal group's ability is ``--impact`` lower on average, so that
matching on ability matters); some items carry DIF against the focal group: moderate
uniform (difficulty +0.5 logits), large uniform (+1.0) and non-uniform (discrimination
x0.4 for the focal group). masterypath's detector (MH with ETS classes + logistic
regression, Benjamini-Hochberg across items) is compared in the same run with the naive
rule a reviewer would otherwise apply: MH chi-square p < 0.05 per item, no ETS effect-size
rule and no false-discovery control.

Then a calibration check: predictions that are right for one group and shifted by
``--miscalibration`` logits for the other; the audit must flag the gap.

Usage (from the repository root)::

    .venv/bin/python -m bench.dif_sim --sizes 100,250,500,1000,2000 --replications 20 \\
        --json bench/dif_sim.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from masterypath.domain.audit import detect_dif, prediction_quality

KINDS = ("none", "uniform_moderate", "uniform_large", "nonuniform")


def simulate(
    n: int, items: int, impact: float, rng: np.random.Generator
) -> tuple[pd.DataFrame, dict[str, str], set[str], set[str]]:
    a = rng.uniform(0.8, 1.6, items)
    b = rng.normal(0.0, 1.0, items)
    kinds = ["none"] * items
    per_kind = max(1, items // 10)
    order = rng.permutation(items)
    for k, kind in enumerate(KINDS[1:]):
        for i in order[k * per_kind : (k + 1) * per_kind]:
            kinds[i] = kind
    theta = np.concatenate([rng.normal(0.0, 1.0, n), rng.normal(-impact, 1.0, n)])
    focal = np.r_[np.zeros(n, bool), np.ones(n, bool)]
    a_f, b_f = a.copy(), b.copy()
    for i, kind in enumerate(kinds):
        if kind == "uniform_moderate":
            b_f[i] += 0.5
        elif kind == "uniform_large":
            b_f[i] += 1.0
        elif kind == "nonuniform":
            a_f[i] *= 0.4
    aa = np.where(focal[:, None], a_f[None, :], a[None, :])
    bb = np.where(focal[:, None], b_f[None, :], b[None, :])
    p = 1.0 / (1.0 + np.exp(-aa * (theta[:, None] - bb)))
    y = (rng.random(p.shape) < p).astype(int)
    learners = np.array([f"l{j}" for j in range(2 * n)])
    frame = pd.DataFrame(
        {
            "learner": np.repeat(learners, items),
            "item": np.tile([f"i{i:02d}" for i in range(items)], 2 * n),
            "correct": y.ravel(),
        }
    )
    truth = {f"i{i:02d}": kinds[i] for i in range(items)}
    return frame, truth, set(learners[focal]), set(learners[~focal])


def naive_mh_flags(results: list[Any]) -> set[str]:
    return {r.item for r in results if r.mh_p < 0.05}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,250,500,1000,2000", help="learners per group")
    parser.add_argument("--replications", type=int, default=20)
    parser.add_argument("--items", type=int, default=40)
    parser.add_argument("--impact", type=float, default=0.5)
    parser.add_argument("--miscalibration", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    console = Console(width=150)
    results: dict[str, Any] = {
        "items": args.items,
        "impact": args.impact,
        "replications": args.replications,
        "sizes": {},
    }
    for n in (int(x) for x in args.sizes.split(",")):
        hits = {k: [0, 0] for k in KINDS}
        naive = {k: [0, 0] for k in KINDS}
        for _ in range(args.replications):
            frame, truth, focal, ref = simulate(n, args.items, args.impact, rng)
            found = detect_dif(frame, focal, ref, min_per_group=min(30, n))
            flagged = {r.item for r in found if r.flagged}
            naive_flagged = naive_mh_flags(found)
            for item, kind in truth.items():
                hits[kind][0] += item in flagged
                hits[kind][1] += 1
                naive[kind][0] += item in naive_flagged
                naive[kind][1] += 1
        results["sizes"][n] = {
            "masterypath": {k: h / t for k, (h, t) in hits.items()},
            "naive_mh": {k: h / t for k, (h, t) in naive.items()},
        }
        console.print(f"{n} per group done")
    table = Table(
        "learners per group",
        "system",
        "false-positive rate (no-DIF items)",
        "moderate uniform",
        "large uniform",
        "non-uniform",
        title=f"DIF detection, {args.items} items, {args.replications} replications",
    )
    for n, r in results["sizes"].items():
        for system in ("masterypath", "naive_mh"):
            x = r[system]
            label = "masterypath (MH+ETS, LR, BH)" if system == "masterypath" else "naive MH p<0.05"
            table.add_row(
                str(n),
                label,
                f"{x['none']:.1%}",
                f"{x['uniform_moderate']:.1%}",
                f"{x['uniform_large']:.1%}",
                f"{x['nonuniform']:.1%}",
            )
    console.print(table)
    # calibration: right for group A, shifted for group B
    m = 1000
    learners = np.repeat(np.arange(2 * m), 20)
    groups = np.where(learners < m, "A", "B")
    true_logit = rng.normal(0.5, 1.2, len(learners))
    y = (rng.random(len(learners)) < 1 / (1 + np.exp(-true_logit))).astype(int)
    shift = np.where(groups == "B", args.miscalibration, 0.0)
    p = 1 / (1 + np.exp(-(true_logit + shift)))
    quality = prediction_quality(y, p, groups, learners.astype(str), rng=rng, n_boot=100)
    gap = quality["B"]["ece"].value - quality["A"]["ece"].value
    detected = quality["B"]["ece"].low > quality["A"]["ece"].high
    results["calibration"] = {g: {k: list(v) for k, v in q.items()} for g, q in quality.items()} | {
        "ece_gap": gap,
        "detected": detected,
    }
    console.print(
        f"calibration audit: ECE A {quality['A']['ece'].value:.3f} "
        f"[{quality['A']['ece'].low:.3f}, {quality['A']['ece'].high:.3f}], B "
        f"{quality['B']['ece'].value:.3f} [{quality['B']['ece'].low:.3f}, "
        f"{quality['B']['ece'].high:.3f}] -> gap {gap:.3f}, detected: {detected}"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
