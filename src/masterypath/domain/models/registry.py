"""Model names used by the CLI and model files.

>>> make_model("bkt-idem").multigs, make_model("rollup:highest").method
(True, 'highest')
"""

from __future__ import annotations

from typing import Any, Protocol, cast

import numpy as np

from masterypath.domain.models.responses import Responses
from masterypath.domain.models.rollup import RollupMethod
from masterypath.errors import ValidationError

# Models are imported where they are made: scikit-learn (the logistic model) and numba
# (BKT) are heavy, and a process fitting one should not pay for the other.

MODEL_NAMES = (
    "bkt",
    "bkt-forgets",
    "bkt-idem",
    "bkt-multilearn",
    "logistic",
    *(f"rollup:{m.value}" for m in RollupMethod),
)


class MasteryModel(Protocol):
    def fit(self, responses: Responses) -> Any: ...
    def predict_steps(self, responses: Responses) -> tuple[np.ndarray, np.ndarray]: ...
    def predict_proba(self, responses: Responses) -> np.ndarray: ...
    def to_dict(self) -> dict[str, Any]: ...


def make_model(name: str, *, seed: int = 0, n_jobs: int = 1) -> MasteryModel:
    """A fresh, unfitted model for a name in :data:`MODEL_NAMES`."""
    bkt_variants = {
        "bkt": {},
        "bkt-forgets": {"forgets": True},
        "bkt-idem": {"multigs": True},
        "bkt-multilearn": {"multilearn": True},
    }
    if name in bkt_variants:
        from masterypath.domain.models.bkt import BKT

        return BKT(**bkt_variants[name], seed=seed, n_jobs=n_jobs)
    if name == "logistic":
        from masterypath.domain.models.logistic import Logistic

        return Logistic()
    method = name.removeprefix("rollup:")
    if name.startswith("rollup:") and method in {m.value for m in RollupMethod}:
        from masterypath.domain.models.rollup import Rollup

        return Rollup(method=method)
    raise ValidationError("--model", f"unknown model {name!r} (one of: {', '.join(MODEL_NAMES)})")


def model_from_dict(data: dict[str, Any]) -> MasteryModel:
    """Load a model file written by ``to_dict``."""
    from masterypath.domain.models.bkt import BKT
    from masterypath.domain.models.logistic import Logistic
    from masterypath.domain.models.rollup import Rollup

    kind = data.get("model") if isinstance(data, dict) else None
    loaders = {"bkt": BKT.from_dict, "logistic": Logistic.from_dict, "rollup": Rollup.from_dict}
    if kind not in loaders:
        raise ValidationError("model", f"not a masterypath model file (model={kind!r})")
    return cast(MasteryModel, loaders[kind](data))
