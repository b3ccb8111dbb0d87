"""The fairness audit on a real response log, end to end, writing the report into docs/.

Loads the log into a fresh SQLite database through the pipeline (a flat framework of its
skills), fits BKT (`refit`), stores a grouping, and runs `AuditService.run`. Groups come
from ``--groups CSV`` (learner_id,value) or from a documented proxy when the data has no
group column:

- ``user-id-half``: learners whose (numeric) id is below the median vs above it. Platforms
  such as ASSISTments number accounts as they are created, so this splits earlier from
  later cohorts of accounts (different school years and schools joining): a real,
  if coarse, grouping.
- ``random-half``: a seeded random split, a negative control: no real gap should appear.

Usage::

    .venv/bin/python -m bench.audit_real ../shared/data/kt/assist2009/assist2009_log.csv.gz \\
        --columns user=user_id,skill=skill_name,correct=correct,order=seq_idx,item=problem_id \\
        --proxy user-id-half --proxy random-half --out docs/audit-assist2009
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from rich.console import Console

from masterypath.domain.framework import Competency, Framework
from masterypath.interop.audit_report import render_audit_html
from masterypath.interop.evidence_log import ColumnMapping, read_evidence_log, read_text
from masterypath.services.audit import AuditService
from masterypath.services.context import ServiceContext
from masterypath.services.evidence import EvidenceService
from masterypath.services.frameworks import FrameworkService
from masterypath.services.mastery import MasteryService
from masterypath.settings import Settings
from masterypath.store.database import upgrade


def proxy_groups(kind: str, learners: list[str], seed: int) -> dict[str, str]:
    if kind == "user-id-half":
        ids = np.array([float(x) for x in learners])
        median = float(np.median(ids))
        return {
            x: ("earlier_accounts" if float(x) < median else "later_accounts") for x in learners
        }
    if kind == "random-half":
        rng = np.random.default_rng(seed)
        return {x: ("half_a" if rng.random() < 0.5 else "half_b") for x in learners}
    raise SystemExit(f"unknown proxy {kind!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("log", type=Path)
    parser.add_argument("--columns", required=True)
    parser.add_argument("--groups", type=Path, help="CSV learner_id,value (consented)")
    parser.add_argument(
        "--proxy", action="append", default=[], choices=["user-id-half", "random-half"]
    )
    parser.add_argument("--min-group", type=int, default=20)
    parser.add_argument("--dif-min-per-group", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="path prefix of the reports")
    args = parser.parse_args(argv)
    console = Console(width=150)
    with tempfile.TemporaryDirectory() as tmp:
        context = ServiceContext.from_settings(Settings(database_url=f"sqlite:///{tmp}/audit.db"))
        upgrade(context.engine)
        log = read_evidence_log(
            read_text(args.log),
            ColumnMapping.parse(args.columns),
            source="audit",
            imported_at=datetime.now(UTC),
        )
        skills = sorted({s for j in log.rows["skill"].unique() for s in j.split("\x1e")})
        FrameworkService(context).save(
            Framework(
                id="audit",
                title=f"Skills of {args.log.name}",
                competencies=tuple(Competency(id=s, title=s) for s in skills),
            )
        )
        t0 = time.perf_counter()
        EvidenceService(context).import_log(log)
        MasteryService(context).refit("audit")
        console.print(f"loaded and fitted in {time.perf_counter() - t0:.0f} s")
        learners = sorted(set(log.rows["learner_id"]))
        groupings: list[tuple[str, dict[str, str]]] = []
        if args.groups:
            with args.groups.open() as f:
                groupings.append(
                    ("groups", {r["learner_id"]: r["value"] for r in csv.DictReader(f)})
                )
        groupings += [(p, proxy_groups(p, learners, args.seed)) for p in args.proxy]
        audits = AuditService(context)
        summary = {}
        for name, groups in groupings:
            audits.set_attributes(name, groups, consent_by={k: "dataset terms" for k in groups})
            t0 = time.perf_counter()
            report = audits.run(
                "audit",
                name,
                min_group=args.min_group,
                dif_min_per_group=args.dif_min_per_group,
                seed=args.seed,
            )
            seconds = time.perf_counter() - t0
            target = Path(f"{args.out}-{name}")
            target.with_suffix(".json").write_text(json.dumps(report, indent=2, default=str) + "\n")
            target.with_suffix(".html").write_text(render_audit_html(report), encoding="utf-8")
            flagged = [d for d in report["dif"] if d["flagged"]]
            summary[name] = {
                "groups": {
                    g: {
                        "learners": v["learners"],
                        "mastery_rate": v["mastery_rate"]["value"],
                        "mastery_rate_given_evidence": v["mastery_rate_given_evidence"]["value"],
                        "auc": (v.get("model") or {}).get("auc", {}).get("value"),
                        "ece": (v.get("model") or {}).get("ece", {}).get("value"),
                    }
                    for g, v in report["groups"].items()
                },
                "items_tested": len(report["dif"]),
                "items_flagged": len(flagged),
                "alerts": [a["kind"] for a in report["alerts"]],
                "seconds": seconds,
            }
            console.print(f"[bold]{name}[/]: {json.dumps(summary[name], indent=1)}")
        Path(f"{args.out}-summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        if groupings:
            card = audits.model_card("audit", attribute=groupings[0][0], min_group=args.min_group)
            Path(f"{args.out}-model-card.json").write_text(json.dumps(card, indent=2) + "\n")
            console.print(f"model card: AUC {card['evaluation']['auc']:.4f}")
        context.engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
