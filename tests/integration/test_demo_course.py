"""The demo course, stored: a class in which every status shows, as on a real course."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import numpy as np

from masterypath.demo import load_demo_framework, simulate_learners
from masterypath.services.context import ServiceContext
from masterypath.services.evidence import EvidenceService
from masterypath.services.frameworks import FrameworkService
from masterypath.services.mastery import MasteryService


def test_five_weeks_in_the_class_shows_mastery_reviews_due_and_work_in_progress(
    database: ServiceContext,
) -> None:
    framework = load_demo_framework()
    FrameworkService(database).save(framework)
    start, now = datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 10, 6, 12, tzinfo=UTC)
    evidence = simulate_learners(
        framework, n_learners=12, rng=np.random.default_rng(7), start=start, end=now
    )
    results = EvidenceService(database).record_many(evidence)
    assert all(r.stored for r in results)
    mastery = MasteryService(database)
    statuses = Counter(
        str(p.decision.status)
        for learner in sorted({e.learner_id for e in evidence})
        for p in mastery.progress(learner, framework.id, now=now)
    )
    # reviews kept up hold mastery; learners who stopped owe reviews; the active are midway
    assert statuses["mastered"] >= 12 and statuses["needs_review"] >= 12
    assert statuses["in_progress"] + statuses["insufficient_evidence"] + statuses["proficient"]
    assert statuses["not_started"]
