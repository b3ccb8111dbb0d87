"""Per-competency trackers: the streaming side of a mastery model, one learner at a time.

A tracker turns one observed score into a new estimate and says how many correct answers
in a row would reach a target (for explanations). Its state is a small JSON-able dict.

>>> t = BKTTracker(DEFAULT_BKT)
>>> est, st = t.observe(t.initial_estimate(), t.initial_state(), score=1.0, item_id=None)
>>> round(est, 4)
0.4667
>>> t.correct_needed(est, st, 0.95)  # 0.4667 -> 0.8380 -> 0.9670
2
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np

from masterypath.domain.models.bkt import BKT, SkillParams, update_known
from masterypath.domain.models.logistic import LearnerCounts, Logistic
from masterypath.domain.models.rollup import RollupMethod, RollupState

MAX_LOOKAHEAD = 50
"""``correct_needed`` gives up (None) beyond this many answers."""

DEFAULT_BKT = SkillParams(
    prior=0.1,
    learn=np.array([0.2]),
    forget=np.array([0.0]),
    guess=np.array([0.2]),
    slip=np.array([0.1]),
)
"""Parameters for a competency that no fitted model covers yet (textbook BKT values)."""


class Tracker(Protocol):
    name: str

    def initial_estimate(self) -> float | None: ...

    def initial_state(self) -> dict[str, Any]: ...

    def observe(
        self, estimate: float | None, state: dict[str, Any], *, score: float, item_id: str | None
    ) -> tuple[float | None, dict[str, Any]]: ...

    def uncertainty(self, estimate: float | None, state: dict[str, Any]) -> float | None: ...

    def p_correct(
        self, estimate: float | None, state: dict[str, Any], item_id: str | None
    ) -> float:
        """Predicted probability of success on ``item_id`` (or a typical item)."""
        ...

    def correct_needed(
        self, estimate: float | None, state: dict[str, Any], target: float
    ) -> int | None: ...


def _count_until(
    step: Any, estimate: float | None, state: dict[str, Any], target: float
) -> int | None:
    for n in range(MAX_LOOKAHEAD + 1):
        if estimate is not None and estimate >= target:
            return n
        estimate, state = step(estimate, state)
    return None


class BKTTracker:
    """P(mastered) from a skill's BKT parameters; uncertainty is the standard deviation
    of the mastered/not-mastered indicator, sqrt(p(1-p))."""

    name = "bkt"

    def __init__(self, params: SkillParams, item_codes: dict[str, int] | None = None) -> None:
        self.params = params
        self.item_codes = item_codes or {}

    def initial_estimate(self) -> float:
        return self.params.prior

    def initial_state(self) -> dict[str, Any]:
        return {}

    def observe(
        self, estimate: float | None, state: dict[str, Any], *, score: float, item_id: str | None
    ) -> tuple[float, dict[str, Any]]:
        code = self.item_codes.get(item_id, -1) if item_id is not None else -1
        p = self.params.prior if estimate is None else estimate
        after, _ = update_known(
            p,
            correct=score,
            params=self.params,
            guess_group=self.params.guess_items.get(code, 0),
            learn_group=self.params.learn_items.get(code, 0),
        )
        return after, state

    def uncertainty(self, estimate: float | None, state: dict[str, Any]) -> float:
        p = self.params.prior if estimate is None else estimate
        return math.sqrt(max(p * (1.0 - p), 0.0))

    def p_correct(
        self, estimate: float | None, state: dict[str, Any], item_id: str | None
    ) -> float:
        code = self.item_codes.get(item_id, -1) if item_id is not None else -1
        group = self.params.guess_items.get(code, 0)
        _, _, guesses, slips = self.params.rates
        p = self.params.prior if estimate is None else estimate
        return p * (1.0 - slips[group]) + (1.0 - p) * guesses[group]

    def correct_needed(
        self, estimate: float | None, state: dict[str, Any], target: float
    ) -> int | None:
        return _count_until(
            lambda e, s: self.observe(e, s, score=1.0, item_id=None), estimate, state, target
        )


class RollupTracker:
    """A Canvas rollup rule over the scores; uncertainty is the standard error of their mean."""

    def __init__(
        self, method: RollupMethod, *, weight: float, n: int, mastery_points: float
    ) -> None:
        self.method = method
        self.weight = weight
        self.n = n
        self.mastery_points = mastery_points
        self.name = f"rollup:{method.value}"

    def initial_estimate(self) -> None:
        return None

    def initial_state(self) -> dict[str, Any]:
        return {"rollup": _rollup_to_dict(RollupState()), "sq": 0.0}

    def observe(
        self, estimate: float | None, state: dict[str, Any], *, score: float, item_id: str | None
    ) -> tuple[float | None, dict[str, Any]]:
        rollup = RollupState(**state["rollup"]).add(
            score, weight=self.weight, mastery_points=self.mastery_points
        )
        value = rollup.value(self.method, weight=self.weight, n=self.n)
        return value, {"rollup": _rollup_to_dict(rollup), "sq": state["sq"] + score * score}

    def uncertainty(self, estimate: float | None, state: dict[str, Any]) -> float | None:
        count = state["rollup"]["count"]
        if count < 2:
            return None
        mean = state["rollup"]["total"] / count
        variance = max(state["sq"] / count - mean * mean, 0.0) * count / (count - 1)
        return math.sqrt(variance / count)

    def p_correct(
        self, estimate: float | None, state: dict[str, Any], item_id: str | None
    ) -> float:
        count = state["rollup"]["count"]
        return state["rollup"]["total"] / count if count else 0.5

    def correct_needed(
        self, estimate: float | None, state: dict[str, Any], target: float
    ) -> int | None:
        return _count_until(
            lambda e, s: self.observe(e, s, score=1.0, item_id=None), estimate, state, target
        )


def _rollup_to_dict(state: RollupState) -> dict[str, Any]:
    return {name: getattr(state, name) for name in RollupState.__slots__}


class LogisticTracker:
    """P(correct) on the competency's average item from its own success/failure counts.
    The learner-wide count features are read from this competency alone (a per-competency
    view: states stay independent, so replay and concurrent writers stay simple)."""

    name = "logistic"

    def __init__(self, model: Logistic, competency_id: str) -> None:
        self.model = model
        self.competency_id = competency_id

    def _predict(self, state: dict[str, Any]) -> float:
        w, f = state["wins"], state["fails"]
        counts = LearnerCounts(((self.competency_id, w),), ((self.competency_id, f),), w, f)
        return self.model.predict_one(counts, skill=self.competency_id)

    def initial_estimate(self) -> float:
        return self._predict(self.initial_state())

    def initial_state(self) -> dict[str, Any]:
        return {"wins": 0.0, "fails": 0.0}

    def observe(
        self, estimate: float | None, state: dict[str, Any], *, score: float, item_id: str | None
    ) -> tuple[float, dict[str, Any]]:
        new = {"wins": state["wins"] + score, "fails": state["fails"] + 1.0 - score}
        return self._predict(new), new

    def uncertainty(self, estimate: float | None, state: dict[str, Any]) -> float | None:
        if estimate is None:
            return None
        return math.sqrt(max(estimate * (1.0 - estimate), 0.0))

    def p_correct(
        self, estimate: float | None, state: dict[str, Any], item_id: str | None
    ) -> float:
        w, f = state.get("wins", 0.0), state.get("fails", 0.0)
        counts = LearnerCounts(((self.competency_id, w),), ((self.competency_id, f),), w, f)
        return self.model.predict_one(counts, skill=self.competency_id, item=item_id)

    def correct_needed(
        self, estimate: float | None, state: dict[str, Any], target: float
    ) -> int | None:
        return _count_until(
            lambda e, s: self.observe(e, s, score=1.0, item_id=None), estimate, state, target
        )


def bkt_tracker(model: BKT | None, competency_id: str) -> BKTTracker:
    """The fitted parameters of ``competency_id`` when ``model`` has them, else defaults."""
    if model is None or competency_id not in model.params_:
        return BKTTracker(DEFAULT_BKT)
    codes = getattr(model, "_item_codes_map", None)
    if codes is None:
        codes = {name: n for n, name in enumerate(model.items_)}
        model._item_codes_map = codes  # type: ignore[attr-defined]
    return BKTTracker(model.params_[competency_id], codes)
