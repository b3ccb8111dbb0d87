"""A logistic item-response model with learning features (IRT + PFA, "Best-LR" style).

For each answer, from the learner's history *before* it: the item (difficulty), the
skill (difficulty), per-skill log(1 + prior successes) and log(1 + prior failures)
with a slope per skill (PFA), and the same counts over all skills. Fitted with
scikit-learn's ``LogisticRegression`` on a sparse design matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from masterypath.domain.models.responses import Responses
from masterypath.errors import NotFittedError, ValidationError

SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class LearnerCounts:
    """Streaming state of one learner: successes and failures per skill and in total."""

    wins: tuple[tuple[str, float], ...] = ()
    fails: tuple[tuple[str, float], ...] = ()
    total_wins: float = 0.0
    total_fails: float = 0.0

    def get(self, skill: str) -> tuple[float, float]:
        return dict(self.wins).get(skill, 0.0), dict(self.fails).get(skill, 0.0)


class Logistic:
    """P(correct) from item and skill difficulty plus prior success/failure counts."""

    def __init__(self, *, C: float = 1.0, max_iter: int = 300, use_items: bool = True) -> None:  # noqa: N803
        self.C = C
        self.max_iter = max_iter
        self.use_items = use_items

    def get_params(self) -> dict[str, Any]:
        return {"C": self.C, "max_iter": self.max_iter, "use_items": self.use_items}

    def _counts(
        self, responses: Responses
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Prior wins/fails per (learner, skill) and per learner, before each step's response."""
        n = responses.n_steps
        order = np.lexsort((np.arange(n), responses.skill, responses.learner))
        key = (
            responses.learner[order].astype(np.int64) * (len(responses.skills) + 1)
            + responses.skill[order]
        )
        correct = responses.correct[order].astype(float)
        new_group = np.ones(n, dtype=bool)
        new_group[1:] = key[1:] != key[:-1]
        group_id = np.cumsum(new_group) - 1
        cum_w = np.cumsum(correct)
        cum_f = np.cumsum(1 - correct)
        first = np.flatnonzero(new_group)
        base_w = (cum_w - correct)[first][group_id]
        base_f = (cum_f - (1 - correct))[first][group_id]
        skill_w = np.empty(n)
        skill_f = np.empty(n)
        skill_w[order] = cum_w - correct - base_w
        skill_f[order] = cum_f - (1 - correct) - base_f
        # totals over previous *responses* of the learner (steps of one response share them)
        resp_correct = responses.response_labels().astype(float)
        resp_learner = np.zeros(responses.n_responses, dtype=np.int64)
        resp_learner[responses.response] = responses.learner
        new_l = np.ones(responses.n_responses, dtype=bool)
        new_l[1:] = resp_learner[1:] != resp_learner[:-1]
        lid = np.cumsum(new_l) - 1
        cw = np.cumsum(resp_correct)
        cf = np.cumsum(1 - resp_correct)
        fl = np.flatnonzero(new_l)
        tw = (cw - resp_correct) - (cw - resp_correct)[fl][lid]
        tf = (cf - (1 - resp_correct)) - (cf - (1 - resp_correct))[fl][lid]
        return skill_w, skill_f, tw[responses.response], tf[responses.response]

    def _design(
        self,
        responses: Responses,
        skill_codes: np.ndarray,
        item_codes: np.ndarray,
        counts: tuple[np.ndarray, ...],
    ) -> sparse.csr_matrix:
        skill_w, skill_f, total_w, total_f = counts
        n = responses.n_steps
        n_skills = len(self.skills_)
        n_items = len(self.items_) if self.use_items else 0
        rows, cols, vals = [], [], []
        idx = np.arange(n)
        known_skill = skill_codes >= 0
        # skill intercept, skill x log wins, skill x log fails
        for offset, value in (
            (0, np.ones(n)),
            (n_skills, np.log1p(skill_w)),
            (2 * n_skills, np.log1p(skill_f)),
        ):
            rows.append(idx[known_skill])
            cols.append(offset + skill_codes[known_skill])
            vals.append(value[known_skill])
        base = 3 * n_skills
        for j, value in enumerate((np.log1p(total_w), np.log1p(total_f))):
            rows.append(idx)
            cols.append(np.full(n, base + j))
            vals.append(value)
        if n_items:
            known_item = item_codes >= 0
            rows.append(idx[known_item])
            cols.append(base + 2 + item_codes[known_item])
            vals.append(np.ones(int(known_item.sum())))
        return sparse.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(n, base + 2 + n_items),
        )

    def fit(self, responses: Responses) -> Logistic:
        if self.C <= 0:
            raise ValidationError("C", f"must be > 0, got {self.C}")
        if responses.n_steps == 0:
            raise ValidationError("data", "the log has no rows")
        if len(np.unique(responses.correct)) < 2:
            raise ValidationError(
                "correct",
                "all answers have the same outcome; a logistic "
                "model needs both correct and incorrect answers",
            )
        self.skills_ = responses.skills
        self.items_ = responses.items if self.use_items else ()
        X = self._design(responses, responses.skill, responses.item, self._counts(responses))  # noqa: N806
        model = LogisticRegression(C=self.C, max_iter=self.max_iter, solver="liblinear")
        model.fit(X, responses.correct)
        self.coef_ = model.coef_[0].copy()
        self.intercept_ = float(model.intercept_[0])
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError(type(self).__name__)

    def _codes(self, responses: Responses) -> tuple[np.ndarray, np.ndarray]:
        skill_map = {s: i for i, s in enumerate(self.skills_)}
        item_map = {s: i for i, s in enumerate(self.items_)}
        skills = np.array([skill_map.get(s, -1) for s in responses.skills], dtype=np.int64)
        items = np.array([item_map.get(s, -1) for s in responses.items], dtype=np.int64)
        item_codes = items[responses.item] if len(items) else np.full(responses.n_steps, -1)
        item_codes = np.where(responses.item >= 0, item_codes, -1)
        return skills[responses.skill], item_codes

    def predict_steps(self, responses: Responses) -> tuple[np.ndarray, np.ndarray]:
        """P(correct) of each step, and the skill-level estimate (average item) beside it."""
        self._check_fitted()
        skill_codes, item_codes = self._codes(responses)
        X = self._design(responses, skill_codes, item_codes, self._counts(responses))  # noqa: N806
        logit = X @ self.coef_ + self.intercept_
        p = 1.0 / (1.0 + np.exp(-logit))
        return p, p

    def predict_proba(self, responses: Responses) -> np.ndarray:
        return responses.combine(self.predict_steps(responses)[0])

    def _logit(self, skill: str, item: str | None, counts: LearnerCounts) -> float:
        n_skills = len(self.skills_)
        k = self.skills_.index(skill) if skill in self.skills_ else -1
        w, f = counts.get(skill)
        z = self.intercept_
        if k >= 0:
            z += self.coef_[k] + self.coef_[n_skills + k] * np.log1p(w)
            z += self.coef_[2 * n_skills + k] * np.log1p(f)
        base = 3 * n_skills
        z += self.coef_[base] * np.log1p(counts.total_wins)
        z += self.coef_[base + 1] * np.log1p(counts.total_fails)
        if item is not None and self.use_items and item in self._item_index():
            z += self.coef_[base + 2 + self._item_index()[item]]
        return float(z)

    def _item_index(self) -> dict[str, int]:
        cached = getattr(self, "_items_cache", None)
        if cached is None:
            cached = {s: i for i, s in enumerate(self.items_)}
            self._items_cache = cached
        return cached

    def predict_one(self, counts: LearnerCounts, *, skill: str, item: str | None = None) -> float:
        """P(correct) of the next answer on ``item`` (or the skill's average item)."""
        self._check_fitted()
        return float(1.0 / (1.0 + np.exp(-self._logit(skill, item, counts))))

    def update(
        self,
        state: LearnerCounts,
        *,
        skills: tuple[str, ...],
        correct: float,
        item: str | None = None,
    ) -> tuple[LearnerCounts, list[float]]:
        """Pure streaming update for one answer; returns the new counts and the P(correct)
        that was predicted for each skill before the answer."""
        self._check_fitted()
        predicted = [self.predict_one(state, skill=s, item=item) for s in skills]
        wins, fails = dict(state.wins), dict(state.fails)
        for s in skills:
            wins[s] = wins.get(s, 0.0) + correct
            fails[s] = fails.get(s, 0.0) + (1.0 - correct)
        return LearnerCounts(
            tuple(wins.items()),
            tuple(fails.items()),
            state.total_wins + correct,
            state.total_fails + 1.0 - correct,
        ), predicted

    def to_dict(self) -> dict[str, Any]:
        self._check_fitted()
        return {
            "schema_version": SCHEMA_VERSION,
            "model": "logistic",
            "hyperparameters": self.get_params(),
            "skills": list(self.skills_),
            "items": list(self.items_),
            "coef": self.coef_.tolist(),
            "intercept": self.intercept_,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Logistic:
        if data.get("schema_version") != SCHEMA_VERSION or data.get("model") != "logistic":
            raise ValidationError("schema_version", "not a masterypath logistic model file")
        model = cls(**data["hyperparameters"])
        model.skills_ = tuple(data["skills"])
        model.items_ = tuple(data["items"])
        model.coef_ = np.asarray(data["coef"], float)
        model.intercept_ = float(data["intercept"])
        return model
