from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from masterypath.domain.models.bkt import BKT, SkillParams, update_known
from masterypath.domain.models.responses import Responses
from masterypath.errors import NotFittedError, ValidationError

P = SkillParams(
    prior=0.2,
    learn=np.array([0.3]),
    forget=np.array([0.0]),
    guess=np.array([0.2]),
    slip=np.array([0.1]),
)


def frame(rows: list[tuple[str, str, int, int]], items: list[str] | None = None) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["user", "skill", "correct", "order"])
    if items is not None:
        df["item"] = items
    return df


def fixed_model(params: dict[str, SkillParams], items: tuple[str, ...] = ()) -> BKT:
    model = BKT()
    model.skills_ = tuple(params)
    model.items_ = items
    model.params_ = params
    return model


def test_hand_computed_posterior_trace() -> None:
    """prior .2, learn .3, guess .2, slip .1; answers wrong, right, right.

    t0: P(c) = .2*.9 + .8*.2 = .34; wrong -> post = .02/.66 = .030303;
        next = .030303 + .969697*.3 = .321212
    t1: P(c) = .321212*.9 + .678788*.2 = .424848; right -> post = .289091/.424848 = .680456;
        next = .680456 + .319544*.3 = .776320
    t2: P(c) = .776320*.9 + .223680*.2 = .743424
    """
    p, logs = 0.2, []
    for correct in (0, 1, 1):
        p, log = update_known(p, correct=correct, params=P, guess_group=0, learn_group=0)
        logs.append(log)
    assert [round(log.p_correct, 6) for log in logs] == [0.34, 0.424848, 0.743424]
    assert [round(log.posterior, 6) for log in logs[:2]] == [0.030303, 0.680456]
    assert [round(log.p_known_after, 6) for log in logs[:2]] == [0.321212, 0.77632]
    model = fixed_model({"s": P})
    pc, pk = model.predict_steps(
        Responses.from_frame(frame([("a", "s", 0, 1), ("a", "s", 1, 2), ("a", "s", 1, 3)]))
    )
    np.testing.assert_allclose(pc, [0.34, 0.424848, 0.743424], atol=1e-6)
    np.testing.assert_allclose(pk, [0.2, 0.321212, 0.77632], atol=1e-6)


def simulate(
    rng: np.random.Generator,
    *,
    learners: int,
    steps: int,
    prior: float,
    learn: float,
    guess: list[float],
    slip: list[float],
) -> pd.DataFrame:
    rows, items = [], []
    for n in range(learners):
        known = rng.random() < prior
        for t in range(steps):
            g = int(rng.integers(len(guess)))
            p = (1 - slip[g]) if known else guess[g]
            rows.append((f"u{n}", "s", int(rng.random() < p), t))
            items.append(f"i{g}")
            known = known or rng.random() < learn
    return frame(rows, items)


def test_em_recovers_known_parameters() -> None:
    data = simulate(
        np.random.default_rng(1),
        learners=600,
        steps=25,
        prior=0.3,
        learn=0.15,
        guess=[0.2],
        slip=[0.1],
    )
    model = BKT(seed=3).fit(Responses.from_frame(data))
    p = model.params_["s"]
    assert p.prior == pytest.approx(0.3, abs=0.05)
    assert p.learn[0] == pytest.approx(0.15, abs=0.03)
    assert p.guess[0] == pytest.approx(0.2, abs=0.03)
    assert p.slip[0] == pytest.approx(0.1, abs=0.03)


def test_kt_idem_recovers_item_guess_rates() -> None:
    data = simulate(
        np.random.default_rng(2),
        learners=800,
        steps=20,
        prior=0.2,
        learn=0.1,
        guess=[0.05, 0.4],
        slip=[0.1, 0.1],
    )
    r = Responses.from_frame(data, item="item")
    p = BKT(multigs=True, seed=0).fit(r).params_["s"]
    fitted = {r.items[code]: p.guess[group] for code, group in p.guess_items.items()}
    assert fitted["i0"] == pytest.approx(0.05, abs=0.04)
    assert fitted["i1"] == pytest.approx(0.4, abs=0.05)


def test_fit_is_reproducible_and_keeps_hyperparameters() -> None:
    data = Responses.from_frame(
        simulate(
            np.random.default_rng(3),
            learners=50,
            steps=10,
            prior=0.4,
            learn=0.2,
            guess=[0.2],
            slip=[0.1],
        )
    )
    a, b = BKT(seed=5, forgets=True), BKT(seed=5, forgets=True)
    before = a.get_params()
    assert a.fit(data).to_dict() == b.fit(data).to_dict()
    assert a.get_params() == before


@settings(max_examples=60, deadline=None)
@given(
    prior=st.floats(0.001, 0.999),
    learn=st.floats(0.0, 1.0),
    forget=st.floats(0.0, 1.0),
    guess=st.floats(0.0, 0.999),
    slip=st.floats(0.0, 0.999),
    answers=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=30),
)
def test_probabilities_stay_in_unit_interval(
    prior: float, learn: float, forget: float, guess: float, slip: float, answers: list[float]
) -> None:
    params = SkillParams(
        prior, np.array([learn]), np.array([forget]), np.array([guess]), np.array([slip])
    )
    p = prior
    for correct in answers:
        p, log = update_known(p, correct=correct, params=params, guess_group=0, learn_group=0)
        for value in (p, log.p_correct, log.posterior):
            assert 0.0 <= value <= 1.0


@settings(max_examples=100, deadline=None)
@given(
    p=st.floats(0.0, 1.0),
    learn=st.floats(0.0, 1.0),
    guess=st.floats(0.0, 0.99),
    slip=st.floats(0.0, 0.99),
)
def test_a_correct_answer_never_lowers_p_learned(
    p: float, learn: float, guess: float, slip: float
) -> None:
    if guess + slip >= 1:
        return
    params = SkillParams(p, np.array([learn]), np.array([0.0]), np.array([guess]), np.array([slip]))
    after, log = update_known(p, correct=1.0, params=params, guess_group=0, learn_group=0)
    assert log.posterior >= p - 1e-12
    assert after >= p - 1e-12


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_streaming_equals_batch(data: st.DataObject) -> None:
    skills = ["s1", "s2"]
    n = data.draw(st.integers(1, 40))
    rows = data.draw(
        st.lists(
            st.tuples(
                st.sampled_from(["a", "b"]),
                st.sampled_from(skills),
                st.integers(0, 1),
                st.sampled_from(["i1", "i2", "i3"]),
            ),
            min_size=n,
            max_size=n,
        )
    )
    df = pd.DataFrame(
        [(u, s, c, t, i) for t, (u, s, c, i) in enumerate(rows)],
        columns=["user", "skill", "correct", "order", "item"],
    )
    r = Responses.from_frame(df, item="item")
    params = {
        s: SkillParams(
            data.draw(st.floats(0.05, 0.95)),
            np.array([0.2, 0.1, 0.3]),
            np.array([0.05, 0.0, 0.1]),
            np.array([0.2, 0.1, 0.3]),
            np.array([0.1, 0.2, 0.05]),
            guess_items={0: 1, 2: 2},
            learn_items={1: 2},
        )
        for s in skills
    }
    model = fixed_model(params, r.items)
    batch, _ = model.predict_steps(r)
    states: dict[str, dict[str, float]] = {}
    for step in range(r.n_steps):
        learner = r.learners[r.learner[step]]
        state = states.get(learner, model.initial_state())
        skill = r.skills[r.skill[step]]
        new, logs = model.update(
            state, skills=(skill,), correct=float(r.correct[step]), item=r.items[r.item[step]]
        )
        assert state is not new  # the input state is never mutated
        assert logs[0].p_correct == pytest.approx(batch[step], abs=1e-12)
        states[learner] = new


def test_model_file_round_trip() -> None:
    r = Responses.from_frame(
        simulate(
            np.random.default_rng(4),
            learners=40,
            steps=8,
            prior=0.3,
            learn=0.2,
            guess=[0.2, 0.3],
            slip=[0.1, 0.1],
        ),
        item="item",
    )
    model = BKT(multigs=True, multilearn=True, forgets=True).fit(r)
    again = BKT.from_dict(json.loads(json.dumps(model.to_dict())))
    np.testing.assert_array_equal(again.predict_proba(r), model.predict_proba(r))
    with pytest.raises(ValidationError, match="schema_version"):
        BKT.from_dict({**model.to_dict(), "schema_version": 0})


def test_bad_input_and_edge_cases() -> None:
    with pytest.raises(ValidationError, match="no rows"):
        Responses.from_frame(frame([]))
    with pytest.raises(ValidationError, match=r"correct: must be 0 or 1, got .2. in data row 1"):
        Responses.from_frame(frame([("a", "s", 2, 1)]))
    with pytest.raises(ValidationError, match="disagree on correct"):
        Responses.from_frame(frame([("a", "s", 1, 1), ("a", "t", 0, 1)]))
    # unsorted orders are sorted; an exact repeat counts once
    r = Responses.from_frame(frame([("a", "s", 1, 3), ("a", "s", 0, 1), ("a", "s", 0, 1)]))
    assert r.correct.tolist() == [0, 1]
    # a skill with one response, and an all-correct skill: finite parameters, no crash
    r = Responses.from_frame(frame([("a", "one", 1, 1)] + [("b", "all", 1, t) for t in range(9)]))
    model = BKT().fit(r)
    for p in model.params_.values():
        values = [p.prior, *p.learn, *p.guess, *p.slip]
        assert all(np.isfinite(values)) and all(0 < v < 1 for v in values)
    with pytest.raises(NotFittedError):
        BKT().predict_proba(r)
    with pytest.raises(ValidationError, match="restarts"):
        BKT(restarts=0).fit(r)
    with pytest.raises(ValidationError, match="not in the training data"):
        model.update({}, skills=("unknown",), correct=1.0)


def test_dask_backend_gives_the_same_fit() -> None:
    import joblib
    from dask.distributed import Client, LocalCluster

    def skill_log(k: int) -> pd.DataFrame:
        log = simulate(
            np.random.default_rng(k),
            learners=30,
            steps=8,
            prior=0.3,
            learn=0.2,
            guess=[0.2],
            slip=[0.1],
        )
        return log.assign(skill=f"s{k}", user=f"s{k}-" + log["user"])

    r = Responses.from_frame(pd.concat([skill_log(k) for k in range(4)]))
    serial = BKT(seed=1).fit(r).to_dict()
    with (
        LocalCluster(  # type: ignore[no-untyped-call]
            processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None
        ) as cluster,
        Client(cluster),  # type: ignore[no-untyped-call]
        joblib.parallel_config(backend="dask"),
    ):
        distributed = BKT(seed=1, n_jobs=2).fit(r).to_dict()
    distributed["hyperparameters"]["n_jobs"] = 1
    assert distributed == serial
