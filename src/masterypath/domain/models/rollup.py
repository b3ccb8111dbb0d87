"""Rule-based rollups with Canvas's definitions, as models with the BKT interface.

Scores are in [0, 1]; ``mastery_points`` is on the same scale.

>>> value([0.2, 0.8, 0.6], "highest"), value([0.2, 0.8, 0.6], "latest")
(0.8, 0.6)
>>> # .6*.65 + mean(.2, .8)*.35
>>> round(value([0.2, 0.8, 0.6], "weighted_average", weight=0.65), 4)
0.565
>>> # d2 = .2*.35 + .8*.65 = .59; d3 = .59*.35 + .6*.65
>>> round(value([0.2, 0.8, 0.6], "decaying_average", weight=0.65), 4)
0.5965
>>> value([0.9, 0.5, 0.8], "n_mastery", n=2, mastery_points=0.7)
0.8500000000000001
>>> value([0.9, 0.5], "n_mastery", n=2, mastery_points=0.7) is None
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import numpy as np

from masterypath.domain.models.responses import Responses
from masterypath.errors import NotFittedError, ValidationError

SCHEMA_VERSION = 1


class RollupMethod(StrEnum):
    HIGHEST = "highest"
    LATEST = "latest"
    AVERAGE = "average"
    N_MASTERY = "n_mastery"
    WEIGHTED_AVERAGE = "weighted_average"
    DECAYING_AVERAGE = "decaying_average"


@dataclass(frozen=True, slots=True)
class RollupState:
    """Everything every method needs, updated in O(1) per score."""

    count: int = 0
    total: float = 0.0
    highest: float = 0.0
    latest: float = 0.0
    earlier_total: float = 0.0
    decayed: float = 0.0
    mastered_count: int = 0
    mastered_total: float = 0.0

    def add(self, score: float, *, weight: float, mastery_points: float) -> RollupState:
        mastered = score >= mastery_points
        return replace(
            self,
            count=self.count + 1,
            total=self.total + score,
            highest=max(self.highest, score) if self.count else score,
            latest=score,
            earlier_total=self.earlier_total + (self.latest if self.count else 0.0),
            # Canvas: d1 = s1 (a single score is its own decaying average);
            # d2 = s1(1-w) + s2 w; dk = d(k-1)(1-w) + sk w
            decayed=score if self.count == 0 else self.decayed * (1 - weight) + score * weight,
            mastered_count=self.mastered_count + int(mastered),
            mastered_total=self.mastered_total + (score if mastered else 0.0),
        )

    def value(self, method: RollupMethod, *, weight: float, n: int) -> float | None:
        if self.count == 0:
            return None
        if method is RollupMethod.HIGHEST:
            return self.highest
        if method is RollupMethod.LATEST:
            return self.latest
        if method is RollupMethod.AVERAGE:
            return self.total / self.count
        if method is RollupMethod.N_MASTERY:
            if self.mastered_count < n:
                return None
            return self.mastered_total / self.mastered_count
        if method is RollupMethod.WEIGHTED_AVERAGE:
            if self.count == 1:
                return self.latest
            return self.latest * weight + (self.earlier_total / (self.count - 1)) * (1 - weight)
        return self.decayed


def value(
    scores: Sequence[float],
    method: str,
    *,
    weight: float = 0.65,
    n: int = 5,
    mastery_points: float = 0.7,
) -> float | None:
    """The rollup of ``scores`` (oldest first), or None when the rule gives no score."""
    state = RollupState()
    for score in scores:
        state = state.add(score, weight=weight, mastery_points=mastery_points)
    return state.value(RollupMethod(method), weight=weight, n=n)


class Rollup:
    """A rollup rule as a model. ``fit`` learns only the fallback P(correct) used when the
    rule gives no score yet (the training mean)."""

    def __init__(
        self,
        *,
        method: str = "decaying_average",
        weight: float = 0.65,
        n: int = 5,
        mastery_points: float = 0.7,
    ) -> None:
        self.method = method
        self.weight = weight
        self.n = n
        self.mastery_points = mastery_points

    def get_params(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "weight": self.weight,
            "n": self.n,
            "mastery_points": self.mastery_points,
        }

    def fit(self, responses: Responses) -> Rollup:
        try:
            RollupMethod(self.method)
        except ValueError:
            raise ValidationError(
                "method",
                f"unknown rollup {self.method!r} (one of: "
                f"{', '.join(m.value for m in RollupMethod)})",
            ) from None
        if not 0.0 < self.weight < 1.0:
            raise ValidationError("weight", f"must be in (0, 1), got {self.weight}")
        if self.n < 1:
            raise ValidationError("n", f"must be >= 1, got {self.n}")
        if responses.n_steps == 0:
            raise ValidationError("data", "the log has no rows")
        self.fallback_ = float(responses.correct.mean())
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "fallback_"):
            raise NotFittedError(type(self).__name__)

    def predict_steps(self, responses: Responses) -> tuple[np.ndarray, np.ndarray]:
        """The rollup before each step (P(correct) estimate), twice (no separate P(learned))."""
        self._check_fitted()
        states: dict[tuple[int, int], RollupState] = {}
        method = RollupMethod(self.method)
        out = np.empty(responses.n_steps)
        for i, (learner, skill, correct) in enumerate(
            zip(
                responses.learner.tolist(),
                responses.skill.tolist(),
                responses.correct.tolist(),
                strict=True,
            )
        ):
            state = states.get((learner, skill), RollupState())
            estimate = state.value(method, weight=self.weight, n=self.n)
            out[i] = self.fallback_ if estimate is None else estimate
            states[(learner, skill)] = state.add(
                float(correct), weight=self.weight, mastery_points=self.mastery_points
            )
        return out, out

    def predict_proba(self, responses: Responses) -> np.ndarray:
        return responses.combine(self.predict_steps(responses)[0])

    def update(
        self,
        state: dict[str, RollupState],
        *,
        skills: tuple[str, ...],
        correct: float,
        item: str | None = None,
    ) -> tuple[dict[str, RollupState], list[float | None]]:
        """Pure streaming update: new state and the rollup of each skill after the score."""
        self._check_fitted()
        new = dict(state)
        values = []
        for skill in skills:
            new[skill] = new.get(skill, RollupState()).add(
                correct, weight=self.weight, mastery_points=self.mastery_points
            )
            values.append(new[skill].value(RollupMethod(self.method), weight=self.weight, n=self.n))
        return new, values

    def to_dict(self) -> dict[str, Any]:
        self._check_fitted()
        return {
            "schema_version": SCHEMA_VERSION,
            "model": "rollup",
            "hyperparameters": self.get_params(),
            "fallback": self.fallback_,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Rollup:
        if data.get("schema_version") != SCHEMA_VERSION or data.get("model") != "rollup":
            raise ValidationError("schema_version", "not a masterypath rollup model file")
        model = cls(**data["hyperparameters"])
        model.fallback_ = float(data["fallback"])
        return model
