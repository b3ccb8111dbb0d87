from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from masterypath.domain.models.logistic import LearnerCounts, Logistic
from masterypath.domain.models.metrics import all_metrics, expected_calibration_error
from masterypath.domain.models.registry import make_model
from masterypath.domain.models.responses import Responses
from masterypath.domain.models.rollup import Rollup, RollupMethod, RollupState, value
from masterypath.errors import ValidationError

SCORES = [0.4, 1.0, 0.6, 0.8]


@pytest.mark.parametrize(
    ("method", "kwargs", "expected"),
    [
        ("highest", {}, 1.0),
        ("latest", {}, 0.8),
        ("average", {}, 0.7),
        # keep scores >= .6: [1.0, .6, .8] -> 3 >= n=3 -> mean .8
        ("n_mastery", {"n": 3, "mastery_points": 0.6}, 0.8),
        ("n_mastery", {"n": 4, "mastery_points": 0.6}, None),
        # .8*.65 + mean(.4, 1.0, .6)*.35 = .52 + .233333 = .753333
        ("weighted_average", {"weight": 0.65}, 0.753333),
        # d2 = .4*.35 + 1*.65 = .79; d3 = .79*.35 + .6*.65 = .6665;
        # d4 = .6665*.35 + .8*.65 = .753275
        ("decaying_average", {"weight": 0.65}, 0.753275),
    ],
)
def test_canvas_rollups_hand_computed(
    method: str, kwargs: dict[str, float], expected: float | None
) -> None:
    got = value(SCORES, method, **kwargs)  # type: ignore[arg-type]
    assert got == (None if expected is None else pytest.approx(expected, abs=1e-6))


def test_one_score_and_no_score() -> None:
    for method in RollupMethod:
        assert value([], method) is None
    assert value([0.3], "decaying_average") == 0.3
    assert value([0.3], "weighted_average") == 0.3


@given(
    st.lists(st.floats(0, 1), max_size=20),
    st.sampled_from(list(RollupMethod)),
    st.floats(0.01, 0.99),
)
def test_rollups_stay_within_the_scores(
    scores: list[float], method: RollupMethod, weight: float
) -> None:
    got = value(scores, method, weight=weight, n=1, mastery_points=0.0)
    if scores:
        assert got is not None and min(scores) - 1e-9 <= got <= max(scores) + 1e-9


def log(seed: int = 0, learners: int = 60) -> Responses:
    rng = np.random.default_rng(seed)
    rows = []
    for n in range(learners):
        skill_p = rng.uniform(0.3, 0.9)
        for t in range(15):
            skill = ("add", "mul")[t % 2]
            rows.append((f"u{n}", skill, int(rng.random() < skill_p + 0.01 * t), t, f"q{t % 5}"))
    return Responses.from_frame(
        pd.DataFrame(rows, columns=["user", "skill", "correct", "order", "item"]), item="item"
    )


def test_rollup_model_streaming_equals_batch() -> None:
    r = log()
    model = Rollup(method="average").fit(r)
    batch, _ = model.predict_steps(r)
    states: dict[int, dict[str, RollupState]] = {}
    for step in range(r.n_steps):
        state = states.get(int(r.learner[step]), {})
        skill = r.skills[r.skill[step]]
        before = state.get(skill)
        rolled = (
            None
            if before is None
            else before.value(RollupMethod.AVERAGE, weight=model.weight, n=model.n)
        )
        expected = model.fallback_ if rolled is None else rolled
        assert batch[step] == pytest.approx(expected)
        states[int(r.learner[step])], _ = model.update(
            state,
            skills=(skill,),
            correct=float(r.correct[step]),
        )
    with pytest.raises(ValidationError, match="unknown rollup"):
        Rollup(method="median").fit(r)


def test_logistic_streaming_equals_batch_and_learns() -> None:
    r = log()
    model = Logistic().fit(r)
    batch, _ = model.predict_steps(r)
    states: dict[int, LearnerCounts] = {}
    for step in range(r.n_steps):
        state = states.get(int(r.learner[step]), LearnerCounts())
        new, predicted = model.update(
            state,
            skills=(r.skills[r.skill[step]],),
            correct=float(r.correct[step]),
            item=r.items[r.item[step]],
        )
        assert predicted[0] == pytest.approx(batch[step], abs=1e-9)
        states[int(r.learner[step])] = new
    # more successes on a skill raise the predicted success on it
    assert model.predict_one(
        LearnerCounts(wins=(("add", 5.0),), total_wins=5.0), skill="add"
    ) > model.predict_one(LearnerCounts(fails=(("add", 5.0),), total_fails=5.0), skill="add")


def test_logistic_rejects_a_single_class() -> None:
    df = pd.DataFrame({"user": ["a", "a"], "skill": ["s", "s"], "correct": [1, 1], "order": [1, 2]})
    with pytest.raises(ValidationError, match="same outcome"):
        Logistic().fit(Responses.from_frame(df))


def test_metrics_golden() -> None:
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.4, 0.35, 0.8])
    m = all_metrics(y, p)
    assert m["auc"] == pytest.approx(0.75)
    assert m["rmse"] == pytest.approx(np.sqrt((0.01 + 0.16 + 0.4225 + 0.04) / 4))
    # bins: .1 -> [0.1, y 0]; .35, .4 -> bin 3 and 4; .8 -> bin 8
    assert expected_calibration_error(y, p) == pytest.approx((0.1 + 0.4 + 0.65 + 0.2) / 4)


def test_registry_rejects_unknown_names() -> None:
    with pytest.raises(ValidationError, match="unknown model 'dkt'"):
        make_model("dkt")
