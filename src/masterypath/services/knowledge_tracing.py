"""Knowledge-tracing use cases: fit, cross-validate (student-level folds), predict."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from masterypath.domain.models.metrics import all_metrics
from masterypath.domain.models.registry import MasteryModel, make_model
from masterypath.domain.models.responses import Responses
from masterypath.errors import ValidationError

Timer = Callable[[], float]


@dataclass
class Evaluation:
    model: str
    folds: int
    seed: int
    n_rows: int
    metrics: dict[str, float]
    """Pooled over every test response of every fold."""
    fit_seconds: float
    """Mean fit time per fold."""
    per_fold: list[dict[str, float]] = field(default_factory=list)
    held_out: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    """(label, prediction, learner id) of every held-out response, for subgroup audits."""

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.metrics,
            "fit_seconds": self.fit_seconds,
            "n_rows": self.n_rows,
            "model": self.model,
            "folds": self.folds,
            "seed": self.seed,
            "per_fold": self.per_fold,
        }


def student_folds(n_learners: int, folds: int, seed: int) -> np.ndarray:
    """Fold number of every learner: a seeded shuffle cut into ``folds`` equal parts."""
    order = np.random.default_rng(seed).permutation(n_learners)
    fold_of = np.empty(n_learners, dtype=np.int64)
    fold_of[order] = np.arange(n_learners) % folds
    return fold_of


def cross_validate(
    name: str,
    responses: Responses,
    *,
    folds: int = 5,
    seed: int = 0,
    n_jobs: int = 1,
    timer: Timer = time.perf_counter,
    on_fold: Callable[[int], None] | None = None,
) -> Evaluation:
    if folds < 2:
        raise ValidationError("--folds", f"must be >= 2, got {folds}")
    fold_of = student_folds(len(responses.learners), folds, seed)
    labels, preds, learners, per_fold, seconds = [], [], [], [], []
    for k in range(folds):
        train = responses.subset_learners(fold_of != k)
        test = responses.subset_learners(fold_of == k)
        model: MasteryModel = make_model(name, seed=seed, n_jobs=n_jobs)
        start = timer()
        model.fit(train)
        seconds.append(timer() - start)
        y, p = test.response_labels(), model.predict_proba(test)
        labels.append(y)
        preds.append(p)
        _, first = np.unique(test.response, return_index=True)
        learners.append(np.asarray(test.learners, dtype=object)[test.learner[first]])
        per_fold.append({**all_metrics(y, p), "fit_seconds": seconds[-1], "n_rows": len(y)})
        if on_fold is not None:
            on_fold(k)
    y_all, p_all = np.concatenate(labels), np.concatenate(preds)
    return Evaluation(
        name,
        folds,
        seed,
        len(y_all),
        all_metrics(y_all, p_all),
        float(np.mean(seconds)),
        per_fold,
        (y_all, p_all, np.concatenate(learners)),
    )
