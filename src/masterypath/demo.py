"""The demo course: a real prerequisite graph with clearly labelled simulated learners.

The simulation is pure: the random generator, the course's start and the moment it is
watched (``end``) are passed in. Learners study in sessions a few days apart, so a course
that began a few weeks before ``end`` shows every status: reviews falling due on what was
mastered early, recent mastery, work in progress.

>>> import numpy as np
>>> from datetime import datetime, timezone
>>> fw = load_demo_framework()
>>> start = datetime(2026, 9, 1, tzinfo=timezone.utc)
>>> evidence = simulate_learners(fw, n_learners=3, rng=np.random.default_rng(1), start=start,
...                              end=datetime(2026, 9, 20, tzinfo=timezone.utc))
>>> {e.source for e in evidence}
{'simulated:masterypath-demo'}
>>> evidence[0].key, max(e.timestamp for e in evidence).date().isoformat() <= "2026-09-20"
('demo:2026-09-01:sim-learner-01:0', True)
>>> course_start(evidence)
datetime.date(2026, 9, 1)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources

import numpy as np

from masterypath.domain.evidence import BinaryOutcome, Evidence, EvidenceKind
from masterypath.domain.framework import Framework
from masterypath.errors import ConflictError
from masterypath.interop.framework_files import read_framework_yaml

DEMO_SOURCE = "simulated:masterypath-demo"
GUESS, SLIP, LEARN = 0.2, 0.1, 0.3
COURSE_WEEKS = 5
"""How long before today a new demo course begins."""


def load_demo_framework() -> Framework:
    text = (
        resources.files("masterypath.demo_data")
        .joinpath("dbe_kt22_excerpt.yaml")
        .read_text(encoding="utf-8")
    )
    return read_framework_yaml(text, source="dbe_kt22_excerpt.yaml").framework


def simulate_learners(
    framework: Framework,
    *,
    n_learners: int,
    rng: np.random.Generator,
    start: datetime,
    end: datetime | None = None,
) -> list[Evidence]:
    """Simulated learners working through the course in prerequisite order (BKT-style:
    each answer is right with P = 1 - slip once learned, guess before; each attempt
    teaches with P = learn; three right in a row move on). Each learner gets a different
    amount of study time, starts within the course's first week and studies in sessions of
    5 to 15 answers, one to four days apart, opening each session with the reviews that
    have fallen due (first after 5 to 9 days, then 2.5 times as long after a right answer,
    2 days after a wrong one). Nothing is answered after ``end``, and a later ``end`` gives
    the same evidence and what came after. Keys carry the start's date
    (``demo:DATE:LEARNER:STEP``), so the same course loaded twice is the same evidence."""
    items_of: dict[str, list[str]] = {}
    for item in framework.items:
        for cid in item.competency_ids:
            items_of.setdefault(cid, []).append(item.id)
    study = _Study(framework.topological_order(), items_of, f"demo:{start.date().isoformat()}")
    evidence: list[Evidence] = []
    # one generator per learner: where one learner stops at ``end`` does not shift the
    # others' draws, so a later ``end`` gives the same evidence and more
    for n, draws in enumerate(rng.spawn(n_learners)):
        evidence += study.learner(f"sim-learner-{n + 1:02d}", draws, start, end)
    return evidence


@dataclass(frozen=True)
class _Study:
    order: tuple[str, ...]
    items_of: dict[str, list[str]]
    prefix: str

    def learner(
        self, learner: str, draws: np.random.Generator, start: datetime, end: datetime | None
    ) -> list[Evidence]:
        out: list[Evidence] = []
        budget = int(draws.integers(2 * len(self.order), 10 * len(self.order)))
        learn = float(np.clip(draws.normal(LEARN, 0.1), 0.05, 0.9))
        clock = start + timedelta(days=int(draws.integers(0, 7)), hours=int(draws.integers(8, 18)))
        session_left = int(draws.integers(5, 16))
        reviews: dict[str, tuple[datetime, float]] = {}
        """Competency -> (next review, days since the last one)."""
        knows: dict[str, bool] = {}

        def answer(cid: str, learned: bool) -> bool | None:
            """One answer (None once past ``end``); whether it was right."""
            nonlocal clock, budget, session_left
            clock += timedelta(minutes=int(draws.integers(1, 30)))
            if end is not None and clock > end:
                budget = 0
                return None
            items: list[str | None] = list(self.items_of.get(cid, [])) or [None]
            correct = bool(draws.random() < ((1 - SLIP) if learned else GUESS))
            out.append(
                Evidence(
                    key=f"{self.prefix}:{learner}:{len(out)}",
                    learner_id=learner,
                    competency_ids=(cid,),
                    outcome=BinaryOutcome(correct),
                    timestamp=clock,
                    kind=EvidenceKind.PRACTICE,
                    item_id=items[len(out) % len(items)],
                    source=DEMO_SOURCE,
                    sequence=len(out),
                )
            )
            budget -= 1
            session_left -= 1
            return correct

        for cid in self.order:
            learned = False
            streak = 0
            while budget > 0 and streak < 3:
                if session_left == 0:
                    clock += timedelta(days=int(draws.integers(1, 5)))
                    session_left = int(draws.integers(5, 16))
                    for due_cid in [c for c, (due, _) in reviews.items() if due <= clock]:
                        if budget <= 0 or session_left == 0:
                            break
                        right = answer(due_cid, knows[due_cid])
                        days = reviews[due_cid][1] * 2.5 if right else 2.0
                        reviews[due_cid] = (clock + timedelta(days=days), days)
                    if budget <= 0 or session_left == 0:
                        continue
                correct = answer(cid, learned)
                if correct is None:
                    break
                streak = streak + 1 if correct else 0
                learned = learned or bool(draws.random() < learn)
            if streak >= 3:
                days = float(draws.integers(5, 10))
                reviews[cid] = (clock + timedelta(days=days), days)
                knows[cid] = learned
            if budget <= 0:
                break
        return out


def course_start(evidence: Iterable[Evidence]) -> date | None:
    """The start of the demo course that ``evidence`` comes from (read from the first
    simulated key), or None when none of it is simulated.

    Raises :class:`ConflictError` for a demo loaded by a release before keys carried the
    date: its evidence cannot be told apart from a new load's.
    """
    for item in evidence:
        if item.source != DEMO_SOURCE:
            continue
        parts = item.key.split(":")
        try:
            return date.fromisoformat(parts[1])
        except ValueError:
            raise ConflictError(
                "database",
                item.key,
                "holds a demo course from an earlier release; "
                "load the demo into a new database (delete var/masterypath.db)",
            ) from None
    return None


def default_start(today: date) -> datetime:
    """Midnight UTC, :data:`COURSE_WEEKS` weeks before ``today``.

    >>> default_start(date(2026, 12, 6)).isoformat()
    '2026-11-01T00:00:00+00:00'
    """
    return datetime.combine(today - timedelta(weeks=COURSE_WEEKS), time(), tzinfo=UTC)
