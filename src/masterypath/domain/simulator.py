"""Synthetic learners with known ground truth on a prerequisite graph, to compare pathway
policies before real learners meet them. Pure: every random draw comes from the
generator passed in.

A learner truly knows or does not know each competency. Answering: correct with
probability ``1 - slip`` if known, ``guess`` if not. Practising an unknown competency
teaches it with probability ``learn``, or ``learn * unready_factor`` while any of its
prerequisites is unknown. After every opportunity each known competency may be forgotten
with probability ``forget``. Learners start knowing some competencies, drawn along the
graph (roots first) with noise, so some know a topic without its prerequisite.

>>> import numpy as np
>>> from masterypath.domain.framework import Competency, Framework, Prerequisite
>>> fw = Framework(id="m", title="M", competencies=(
...     Competency(id="a", title="A"),
...     Competency(id="b", title="B", prerequisites=(Prerequisite("a"),))))
>>> learner = SimulatedLearner.draw(fw, SimulationParams(), np.random.default_rng(0))
>>> sorted(learner.known) == sorted(learner.copy().known)
True
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict

import numpy as np

from masterypath.domain.framework import Framework
from masterypath.domain.gate import unlocked
from masterypath.domain.models.bkt import SkillParams
from masterypath.domain.planner import CompetencyView, Preferences, plan
from masterypath.domain.policy import MasteryPolicy
from masterypath.domain.progress import (
    CompetencyState,
    Observation,
    apply_observation,
    model_status,
)
from masterypath.domain.trackers import BKTTracker
from masterypath.errors import ValidationError


@dataclass(frozen=True)
class SimulationParams:
    learn: float = 0.25
    unready_factor: float = 0.2
    guess: float = 0.2
    slip: float = 0.1
    forget: float = 0.0005
    prior_known: float = 0.3
    """Chance of knowing a root competency at the start."""
    prior_known_ready: float = 0.3
    """Chance of knowing a competency whose prerequisites are all known at the start."""
    prior_known_unready: float = 0.03
    """Chance of knowing one without its prerequisites (noise the graph does not explain)."""

    def __post_init__(self) -> None:
        for name, value in self.__dict__.items():
            if not 0.0 <= value <= 1.0:
                raise ValidationError(name, f"must be in [0, 1], got {value!r}")


@dataclass(frozen=True)
class StudyHistory:
    """How simulated learners studied before a placement test (see
    :meth:`SimulatedLearner.from_history`)."""

    window: int = 3
    """The next topic is drawn among this many not-yet-taken topics in course order."""
    skip: float = 0.05
    """Chance that a topic is skipped altogether."""
    streak: int = 3
    """A topic is left after this many correct answers in a row (or ``max_practice``)."""
    max_practice: int = 12
    forget: float = 0.00005
    """Chance, per opportunity, that each known competency is forgotten."""

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ValidationError("window", "must be >= 1")
        for name in ("max_practice", "streak"):
            if getattr(self, name) < 1:
                raise ValidationError(name, "must be >= 1")
        for name in ("skip", "forget"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValidationError(name, "must be in [0, 1]")


class Gap:
    """Why a simulated learner does not know a competency (:meth:`SimulatedLearner.gap`).

    An *unexplained* gap (studied or skipped, every prerequisite known) is one that no
    prerequisite graph or population can predict: only its own probe reveals it. A gap
    *after a missing prerequisite* is what the graph predicts (learning is slower there).
    """

    NOT_REACHED = "not reached"
    SKIPPED = "skipped"
    UNEXPLAINED = "studied, not retained, prerequisites known"
    AFTER_MISSING_PREREQUISITE = "studied, not retained, a prerequisite missing"


@dataclass
class SimulatedLearner:
    """One learner's true knowledge; mutated by :meth:`practise` (it is the simulation's
    world, not domain state). A learner from :meth:`from_history` also carries the topics
    it studied and skipped, in course order of taking them."""

    framework: Framework
    params: SimulationParams
    known: set[str] = field(default_factory=set)
    knew_without_prerequisite: bool = False
    studied: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()

    @classmethod
    def draw(
        cls, framework: Framework, params: SimulationParams, rng: np.random.Generator
    ) -> SimulatedLearner:
        known: set[str] = set()
        odd = False
        for cid in framework.topological_order():
            pres = [p.competency_id for p in framework.competency(cid).prerequisites]
            if not pres:
                chance = params.prior_known
            elif all(p in known for p in pres):
                chance = params.prior_known_ready
            else:
                chance = params.prior_known_unready
            if rng.random() < chance:
                known.add(cid)
                odd = odd or any(p not in known for p in pres)
        return cls(framework, params, known, odd)

    @classmethod
    def from_history(
        cls,
        framework: Framework,
        params: SimulationParams,
        rng: np.random.Generator,
        *,
        history: StudyHistory | None = None,
        topics: int | None = None,
    ) -> SimulatedLearner:
        """A learner whose knowledge comes from having studied the course: starting from
        nothing, they take topics roughly in course order (the next one among the first
        ``history.window`` not yet taken, some skipped), practise each until
        ``history.streak`` correct answers in a row or ``history.max_practice``
        opportunities, learning as :meth:`practise` does (slowly without the
        prerequisites) and forgetting at ``history.forget`` per opportunity. ``topics``
        (default: uniform over 0..all) is how far they got. Knowing a topic without its
        prerequisite arises the ways it does in class: a prerequisite skipped or
        forgotten, or learned out of order.
        """
        history = history or StudyHistory()
        order = list(framework.topological_order())
        if topics is None:
            topics = int(rng.integers(0, len(order) + 1))
        learner = cls(framework, replace(params, forget=history.forget))
        remaining = order
        studied: list[str] = []
        skipped: list[str] = []
        for _ in range(min(topics, len(order))):
            pick = int(rng.integers(0, min(history.window, len(remaining))))
            cid = remaining[pick]
            remaining = remaining[:pick] + remaining[pick + 1 :]
            if rng.random() < history.skip:
                skipped.append(cid)
                continue
            studied.append(cid)
            streak = 0
            for _ in range(history.max_practice):
                streak = streak + 1 if learner.practise(cid, rng) else 0
                if streak >= history.streak:
                    break
        learner.params = params
        learner.knew_without_prerequisite = any(not learner.ready(c) for c in learner.known)
        learner.studied, learner.skipped = tuple(studied), tuple(skipped)
        return learner

    def copy(self) -> SimulatedLearner:
        return replace(self, known=set(self.known))

    def gap(self, cid: str) -> str | None:
        """``None`` when ``cid`` is known, else why not (a :class:`Gap` value).

        >>> from masterypath.domain.framework import Competency, Framework, Prerequisite
        >>> fw = Framework(id="m", title="M", competencies=(
        ...     Competency(id="a", title="A"),
        ...     Competency(id="b", title="B", prerequisites=(Prerequisite("a"),)),
        ...     Competency(id="c", title="C", prerequisites=(Prerequisite("b"),))))
        >>> learner = SimulatedLearner(fw, SimulationParams(), {"a"}, studied=("a", "b", "c"))
        >>> learner.gap("a") is None
        True
        >>> learner.gap("b")  # its prerequisite a is known: nothing explains the gap
        'studied, not retained, prerequisites known'
        >>> learner.gap("c")  # b is not known
        'studied, not retained, a prerequisite missing'
        """
        if cid in self.known:
            return None
        if cid in self.skipped:
            return Gap.SKIPPED
        if cid not in self.studied:
            return Gap.NOT_REACHED
        return Gap.UNEXPLAINED if self.ready(cid) else Gap.AFTER_MISSING_PREREQUISITE

    def ready(self, cid: str) -> bool:
        return all(
            p.competency_id in self.known for p in self.framework.competency(cid).prerequisites
        )

    def practise(self, cid: str, rng: np.random.Generator) -> bool:
        """One opportunity: the answer (True = correct), then learning and forgetting."""
        p = self.params
        correct = bool(rng.random() < (1.0 - p.slip if cid in self.known else p.guess))
        if cid not in self.known:
            rate = p.learn if self.ready(cid) else p.learn * p.unready_factor
            if rng.random() < rate:
                self.known.add(cid)
        if p.forget and len(self.known) > 1:
            # each other known competency is forgotten with probability `forget`: draw how
            # many (binomial), then which, instead of one draw per competency
            others = len(self.known) - (cid in self.known)
            lost = int(rng.binomial(others, p.forget))
            if lost:
                pool = sorted(self.known - {cid})
                picked = rng.choice(len(pool), size=lost, replace=False)
                self.known.difference_update(pool[i] for i in picked)
        return correct


@dataclass(frozen=True)
class RunResult:
    opportunities: int
    goals_truly_mastered: bool
    overpractice: int
    """Opportunities spent on a competency the learner already truly knew."""
    unready_practice: int
    """Opportunities on a competency while one of its prerequisites was truly unknown."""
    gate_violations: int
    """Opportunities on a competency the policy itself considered locked (must be 0)."""


def _goal_scope(framework: Framework, goals: tuple[str, ...]) -> list[str]:
    scope = set(framework.prerequisite_closure(goals))
    return [c for c in framework.topological_order() if c in scope]


def run_fixed(
    framework: Framework,
    learner: SimulatedLearner,
    goals: tuple[str, ...],
    per_competency: int,
    rng: np.random.Generator,
) -> RunResult:
    """The fixed curriculum: every competency on the way to the goals, in topological
    order, ``per_competency`` practice items each, whatever the learner shows."""
    over = unready = 0
    n = 0
    for cid in _goal_scope(framework, goals):
        for _ in range(per_competency):
            over += cid in learner.known
            unready += not learner.ready(cid)
            learner.practise(cid, rng)
            n += 1
    return RunResult(n, all(g in learner.known for g in goals), over, unready, 0)


def run_planner(
    framework: Framework,
    learner: SimulatedLearner,
    goals: tuple[str, ...],
    rng: np.random.Generator,
    *,
    budget: int = 2000,
) -> RunResult:
    """masterypath's policy: BKT states (with the simulation's guess/slip/learn as fitted
    parameters), the default mastery policy, the gate, and the planner's first step."""
    p = learner.params
    tracker = BKTTracker(
        SkillParams(
            prior=p.prior_known_ready,
            learn=np.array([p.learn]),
            forget=np.array([0.0]),
            guess=np.array([p.guess]),
            slip=np.array([p.slip]),
        )
    )
    policy = MasteryPolicy()
    scope = _goal_scope(framework, goals)
    sub = framework if len(scope) == len(framework.competencies) else _restrict(framework, scope)
    states = {c: CompetencyState.new("sim", c, tracker) for c in scope}
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    over = unready = violations = n = 0
    prefs = Preferences(max_steps=1)
    while n < budget:
        now = t0 + timedelta(minutes=n)
        statuses = {c: model_status(states[c], policy, now)[0] for c in scope}
        if all(statuses[g].value == "mastered" for g in goals):
            break
        view = {
            c: CompetencyView(
                statuses[c],
                states[c].estimate,
                "wheel_spinning" in states[c].alerts_raised and states[c].mastered_at is None,
                states[c].review_due,
            )
            for c in scope
        }
        steps = plan(
            sub,
            view,
            predict=lambda c, i: tracker.p_correct(states[c].estimate, {}, i),
            goals=goals,
            preferences=prefs,
        ).steps
        if not steps:
            break
        cid = steps[0].competency_id
        violations += cid not in unlocked(sub, statuses)
        over += cid in learner.known
        unready += not learner.ready(cid)
        correct = learner.practise(cid, rng)
        states[cid], _ = apply_observation(
            states[cid],
            Observation(f"e{n}", float(correct), "practice", now, None),
            tracker,
            policy,
        )
        n += 1
    return RunResult(n, all(g in learner.known for g in goals), over, unready, violations)


def _restrict(framework: Framework, keep: list[str]) -> Framework:
    kept = set(keep)
    comps = tuple(
        replace(
            framework.competency(c),
            parent_id=None,
            prerequisites=tuple(
                p for p in framework.competency(c).prerequisites if p.competency_id in kept
            ),
        )
        for c in keep
    )
    return Framework(id=framework.id, title=framework.title, competencies=comps)


def _summary(results: list[RunResult]) -> dict[str, float]:
    return {
        "opportunities": float(np.mean([r.opportunities for r in results])),
        "goals_truly_mastered": float(np.mean([r.goals_truly_mastered for r in results])),
        "overpractice": float(np.mean([r.overpractice for r in results])),
        "unready_practice": float(np.mean([r.unready_practice for r in results])),
        "learners_with_unready_practice": float(np.mean([r.unready_practice > 0 for r in results])),
        "gate_violations": float(sum(r.gate_violations for r in results)),
    }


class PolicyComparison(TypedDict):
    """What :func:`compare_policies` finds (JSON as it is)."""

    goals: list[str]
    scope: int
    """Competencies the goals need, themselves included."""
    learners: int
    seed: int
    params: dict[str, Any]
    planner: dict[str, float]
    """The planner's averages per learner (see :func:`_summary`)."""
    fixed: dict[str, float]
    """The same for the fixed curriculum of ``fixed_per_competency`` items."""
    fixed_per_competency: int
    saving: float
    """The share of opportunities the planner saves against the fixed curriculum."""
    knew_without_prerequisite: float


def compare_policies(
    framework: Framework,
    goals: tuple[str, ...],
    *,
    learners: int,
    seed: int,
    params: SimulationParams | None = None,
    max_per_competency: int = 40,
) -> PolicyComparison:
    """The planner against the fairest fixed curriculum (the smallest number of items per
    competency that reaches at least the planner's share of learners who truly master the
    goals), on the same seeded learners."""
    if learners < 1:
        raise ValidationError("learners", "must be >= 1")
    for g in goals:
        if g not in framework:
            raise ValidationError("goals", f"unknown competency {g!r}")
    params = params or SimulationParams()
    seeds = np.random.SeedSequence(seed).spawn(learners)
    streams = [s.spawn(3) for s in seeds]
    cohort = [
        SimulatedLearner.draw(framework, params, np.random.default_rng(s[0])) for s in streams
    ]
    ours = _summary(
        [
            run_planner(framework, x.copy(), goals, np.random.default_rng(s[1]))
            for x, s in zip(cohort, streams, strict=True)
        ]
    )
    fixed: dict[str, float] = {}
    chosen = 0
    for k in range(1, max_per_competency + 1):
        fixed = _summary(
            [
                run_fixed(framework, x.copy(), goals, k, np.random.default_rng(s[2]))
                for x, s in zip(cohort, streams, strict=True)
            ]
        )
        chosen = k
        if fixed["goals_truly_mastered"] >= ours["goals_truly_mastered"]:
            break
    return {
        "goals": list(goals),
        "scope": len(framework.prerequisite_closure(goals)),
        "learners": learners,
        "seed": seed,
        "params": dict(params.__dict__),
        "planner": ours,
        "fixed": fixed,
        "fixed_per_competency": chosen,
        "saving": 1 - ours["opportunities"] / fixed["opportunities"]
        if fixed["opportunities"]
        else 0.0,
        "knew_without_prerequisite": float(np.mean([x.knew_without_prerequisite for x in cohort])),
    }
