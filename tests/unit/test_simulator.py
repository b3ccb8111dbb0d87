"""The learner simulator and the policy runs it drives."""

from __future__ import annotations

import numpy as np
import pytest

from masterypath.domain.framework import Competency, Framework, Prerequisite
from masterypath.domain.simulator import (
    SimulatedLearner,
    SimulationParams,
    run_fixed,
    run_planner,
)
from masterypath.errors import ValidationError

CHAIN = Framework(
    id="c",
    title="Chain",
    competencies=(
        Competency(id="a", title="A"),
        Competency(id="b", title="B", prerequisites=(Prerequisite("a"),)),
        Competency(id="c", title="C", prerequisites=(Prerequisite("b"),)),
    ),
)


def test_answers_follow_the_true_state() -> None:
    certain = SimulationParams(guess=0.0, slip=0.0, learn=0.0, forget=0.0)
    learner = SimulatedLearner(CHAIN, certain, {"a"})
    rng = np.random.default_rng(0)
    assert learner.practise("a", rng) is True and learner.practise("b", rng) is False
    assert learner.known == {"a"}  # learn rate 0: nothing learned
    eager = SimulatedLearner(CHAIN, SimulationParams(learn=1.0, unready_factor=0.0, forget=0.0))
    eager.practise("b", rng)
    assert "b" not in eager.known  # not ready: a is unknown and the unready factor is 0
    eager.practise("a", rng)
    eager.practise("b", rng)
    assert eager.known == {"a", "b"}


def test_runs_are_seeded_and_the_planner_never_passes_a_gate() -> None:
    params = SimulationParams()
    learner = SimulatedLearner.draw(CHAIN, params, np.random.default_rng(1))
    first = run_planner(CHAIN, learner.copy(), ("c",), np.random.default_rng(2))
    again = run_planner(CHAIN, learner.copy(), ("c",), np.random.default_rng(2))
    assert first == again and first.gate_violations == 0 and first.opportunities > 0
    fixed = run_fixed(CHAIN, learner.copy(), ("c",), 4, np.random.default_rng(2))
    assert fixed.opportunities == 12  # 3 competencies x 4 items


def test_bad_parameters_name_the_field() -> None:
    with pytest.raises(ValidationError) as err:
        SimulationParams(slip=1.5)
    assert err.value.field == "slip"
