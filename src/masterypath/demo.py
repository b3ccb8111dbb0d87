"""The demo course: a real prerequisite graph with clearly labelled simulated learners.

The simulation is pure: the random generator and the start time are passed in.

>>> import numpy as np
>>> from datetime import datetime, timezone
>>> fw = load_demo_framework()
>>> evidence = simulate_learners(fw, n_learners=3, rng=np.random.default_rng(1),
...                              start=datetime(2026, 9, 1, tzinfo=timezone.utc))
>>> {e.source for e in evidence}
{'simulated:masterypath-demo'}
"""

from __future__ import annotations

from datetime import datetime, timedelta
from importlib import resources

import numpy as np

from masterypath.domain.evidence import BinaryOutcome, Evidence, EvidenceKind
from masterypath.domain.framework import Framework
from masterypath.interop.framework_files import read_framework_yaml

DEMO_SOURCE = "simulated:masterypath-demo"
GUESS, SLIP, LEARN = 0.2, 0.1, 0.3


def load_demo_framework() -> Framework:
    text = (
        resources.files("masterypath.demo_data")
        .joinpath("dbe_kt22_excerpt.yaml")
        .read_text(encoding="utf-8")
    )
    return read_framework_yaml(text, source="dbe_kt22_excerpt.yaml").framework


def simulate_learners(
    framework: Framework, *, n_learners: int, rng: np.random.Generator, start: datetime
) -> list[Evidence]:
    """Simulated learners working through the course in prerequisite order (BKT-style:
    each answer is right with P = 1 - slip once learned, guess before; each attempt
    teaches with P = learn). Each learner gets a different amount of study time."""
    items_of: dict[str, list[str]] = {}
    for item in framework.items:
        for cid in item.competency_ids:
            items_of.setdefault(cid, []).append(item.id)
    order = framework.topological_order()
    evidence: list[Evidence] = []
    for n in range(n_learners):
        learner = f"sim-learner-{n + 1:02d}"
        budget = int(rng.integers(5, 8 * len(order)))
        learn = float(np.clip(rng.normal(LEARN, 0.1), 0.05, 0.9))
        clock = start + timedelta(days=int(rng.integers(0, 14)))
        step = 0
        for cid in order:
            learned = False
            streak = 0
            while budget > 0 and streak < 3:
                items: list[str | None] = list(items_of.get(cid, [])) or [None]
                item_id = items[step % len(items)]
                correct = bool(rng.random() < ((1 - SLIP) if learned else GUESS))
                streak = streak + 1 if correct else 0
                learned = learned or bool(rng.random() < learn)
                clock += timedelta(minutes=int(rng.integers(1, 30)))
                evidence.append(
                    Evidence(
                        key=f"demo:{learner}:{step}",
                        learner_id=learner,
                        competency_ids=(cid,),
                        outcome=BinaryOutcome(correct),
                        timestamp=clock,
                        kind=EvidenceKind.PRACTICE,
                        item_id=item_id,
                        source=DEMO_SOURCE,
                        sequence=step,
                    )
                )
                step += 1
                budget -= 1
            if budget <= 0:
                break
    return evidence
