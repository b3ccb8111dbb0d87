"""Accuracy metrics for P(correct) predictions.

>>> import numpy as np
>>> y, p = np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])
>>> round(auc(y, p), 4), round(rmse(y, p), 4)
(0.75, 0.3976)
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

_CLIP = 1e-7


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve; NaN when only one class is present."""
    if len(np.unique(y)) < 2:
        return float("nan")
    return float(roc_auc_score(y, p))


def rmse(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.sqrt(np.mean((p - y) ** 2)))


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    q = np.clip(p, _CLIP, 1 - _CLIP)
    return float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Weighted mean |mean(p) - mean(y)| over equal-width probability bins."""
    which = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(p[mask].mean() - y[mask].mean())
    return float(total / len(y))


def all_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    return {
        "auc": auc(y, p),
        "rmse": rmse(y, p),
        "log_loss": log_loss(y, p),
        "ece": expected_calibration_error(y, p),
    }
