"""Placement: posterior updates along the graph and across learner classes, probe choice,
exact replay, the fitted prior, and the rule that a failed probe is never concluded
known."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from masterypath.domain.framework import Competency, Framework, Prerequisite
from masterypath.domain.placement import PlacementConfig, PlacementPrior, PlacementSession
from masterypath.errors import ValidationError

PAIR = Framework(
    id="m",
    title="M",
    competencies=(
        Competency(id="a", title="A"),
        Competency(id="b", title="B", prerequisites=(Prerequisite("a"),)),
    ),
)
SEPARATE = Framework(
    id="s",
    title="S",
    competencies=(Competency(id="x", title="X"), Competency(id="y", title="Y")),
)


def test_answers_move_beliefs_along_the_graph() -> None:
    prior = PlacementPrior.uniform(PAIR, ready=0.3, unready=0.03)
    # enough sweeps after each answer for the chains to forget where they started
    config = PlacementConfig(chains=20_000, sweeps=10)
    s = PlacementSession.start(PAIR, prior=prior, config=config)
    # prior: P(a) = 0.3; P(b) = 0.3 * 0.3 + 0.7 * 0.03 = 0.111
    assert s.marginals()["a"] == pytest.approx(0.3, abs=0.01)
    assert s.marginals()["b"] == pytest.approx(0.111, abs=0.01)
    # a correct answer on b: P(a | correct) = (0.09 * 0.9 + 0.21 * 0.2) / 0.2777 = 0.443
    up = s.answer("b", True)
    assert up.marginals()["a"] == pytest.approx(0.443, abs=0.015)
    # ... and P(b | correct) = 0.111 * 0.9 / 0.2777 = 0.360 (0.0999 / (0.0999 + 0.1778))
    assert up.marginals()["b"] == pytest.approx(0.360, abs=0.015)
    # a wrong answer on a: P(b | wrong) = (0.09 * 0.1 + 0.021 * 0.8) / (0.3 * 0.1 + 0.7 * 0.8)
    down = s.answer("a", False)
    assert down.marginals()["b"] == pytest.approx(0.0437, abs=0.01)
    assert s.asked == () and up.asked == (("b", True),)  # sessions are immutable


def test_learner_classes_carry_an_answer_to_unrelated_competencies() -> None:
    # half the population knows both x and y, half neither: no edge joins them, but
    # knowing x says which kind of learner this is
    population = [{"x", "y"}] * 50 + [set()] * 50
    two = PlacementPrior.fit(SEPARATE, population, classes=2, strength=0)
    assert sorted(two.weights) == pytest.approx([0.5, 0.5])
    one = PlacementPrior.fit(SEPARATE, population, classes=1)
    config = PlacementConfig(chains=4000, guess=0.1, slip=0.05)
    with_classes = PlacementSession.start(SEPARATE, prior=two, config=config).answer("x", True)
    without = PlacementSession.start(SEPARATE, prior=one, config=config).answer("x", True)
    # exact with two classes: P(class "both" | x correct) = 0.95 / (0.95 + 0.1) = 0.905,
    # and y's share in it is 51/52 (the fit adds one pseudo-learner each way)
    assert with_classes.marginals()["y"] == pytest.approx(0.905 * 51 / 52 + 0.095 / 52, abs=0.02)
    assert without.marginals()["y"] == pytest.approx(0.5, abs=0.03)


@pytest.mark.parametrize("objective", ["entropy", "error"])
def test_probes_are_not_repeated_and_the_budget_stops_the_session(objective: str) -> None:
    config = PlacementConfig(budget=2, objective=objective)
    s = PlacementSession.start(PAIR, config=config, seed=1)
    first = s.next_probe()
    assert first in ("a", "b")
    s = s.answer(first, True)
    second = s.next_probe()
    assert second is not None and second != first
    s = s.answer(second, False)
    assert s.done and s.next_probe() is None
    with pytest.raises(ValidationError):
        s.answer("zzz", True)


def test_the_prior_round_trips_and_rejects_what_it_cannot_read() -> None:
    prior = PlacementPrior.fit(PAIR, [{"a"}, {"a", "b"}, set()], classes=2)
    assert PlacementPrior.from_dict(prior.to_dict()) == prior
    with pytest.raises(ValidationError) as err:
        PlacementPrior.from_dict({**prior.to_dict(), "schema_version": 99})
    assert err.value.field == "prior.schema_version"
    with pytest.raises(ValidationError):
        PlacementPrior.from_dict({"schema_version": 1, "ids": ["a"]})
    other = Framework(id="o", title="O", competencies=(Competency(id="z", title="Z"),))
    with pytest.raises(ValidationError) as err:
        PlacementSession.start(other, prior=prior)
    assert err.value.field == "prior.ids"
    with pytest.raises(ValidationError):
        PlacementConfig(confidence=0.4)
    with pytest.raises(ValidationError):
        PlacementConfig(objective="luck")
    with pytest.raises(ValidationError):
        PlacementConfig.from_dict({"budget": 3, "colour": "red"})


@st.composite
def sessions(draw: st.DrawFn) -> tuple[Framework, list[tuple[int, bool]]]:
    n = draw(st.integers(2, 6))
    comps = [
        Competency(
            id=f"c{j}",
            title=f"C{j}",
            prerequisites=tuple(Prerequisite(f"c{i}") for i in range(j) if draw(st.booleans())),
        )
        for j in range(n)
    ]
    answers = draw(st.lists(st.tuples(st.integers(0, n - 1), st.booleans()), max_size=8))
    return Framework(id="f", title="F", competencies=tuple(comps)), answers


@settings(max_examples=40, deadline=None)
@given(data=sessions())
def test_a_failed_probe_is_never_concluded_known(
    data: tuple[Framework, list[tuple[int, bool]]],
) -> None:
    framework, answers = data
    s = PlacementSession.start(framework, config=PlacementConfig(chains=64), seed=2)
    for j, correct in answers:
        s = s.answer(f"c{j}", correct)
    failed = {c for c, ok in s.asked if not ok}
    cls = s.classification()
    assert all(cls[c] is not True for c in failed)
    assert all(s.conclusions()[c] is False for c in failed)
    assert all(0.0 <= p <= 1.0 for p in s.marginals().values())


@settings(max_examples=25, deadline=None)
@given(data=sessions(), seed=st.integers(0, 1000))
def test_replaying_the_answers_rebuilds_the_same_session(
    data: tuple[Framework, list[tuple[int, bool]]], seed: int
) -> None:
    framework, answers = data
    config = PlacementConfig(chains=32)
    live = PlacementSession.start(framework, config=config, seed=seed)
    for j, correct in answers:
        live = live.answer(f"c{j}", correct)
    again = PlacementSession.replay(
        framework, [(f"c{j}", ok) for j, ok in answers], config=config, seed=seed
    )
    assert again.marginals() == live.marginals()
    assert again.next_probe() == live.next_probe()
    assert np.array_equal(again.states, live.states)
