"""The learner simulator and the policy runs it drives."""

from __future__ import annotations

import numpy as np
import pytest

from masterypath.domain.framework import Competency, Framework, Prerequisite
from masterypath.domain.simulator import (
    Gap,
    SimulatedLearner,
    SimulationParams,
    StudyHistory,
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


def test_a_study_history_in_course_order_teaches_exactly_the_topics_taken() -> None:
    # learning is certain and answers are exact: each topic taken is learned, in order
    sure = SimulationParams(learn=1.0, guess=0.0, slip=0.0, forget=0.0)
    strict = StudyHistory(window=1, skip=0.0, forget=0.0)
    for topics, known in ((0, set()), (2, {"a", "b"}), (3, {"a", "b", "c"}), (9, {"a", "b", "c"})):
        learner = SimulatedLearner.from_history(
            CHAIN, sure, np.random.default_rng(0), history=strict, topics=topics
        )
        assert learner.known == known
        assert not learner.knew_without_prerequisite
        assert learner.params == sure


def test_a_skipped_prerequisite_leaves_a_learner_knowing_a_topic_without_it() -> None:
    # nothing is learnable: studying teaches nothing
    nothing = SimulationParams(learn=0.0, guess=0.0, slip=0.0, forget=0.0)
    learner = SimulatedLearner.from_history(
        CHAIN, nothing, np.random.default_rng(0), history=StudyHistory(window=1), topics=3
    )
    assert learner.known == set()
    # learning does not need the prerequisites, half the topics are skipped: some learner
    # knows b or c alone, and is flagged as knowing a topic without its prerequisite
    eager = SimulationParams(learn=1.0, unready_factor=1.0, guess=0.0, slip=0.0, forget=0.0)
    odd = [
        learner
        for seed in range(50)
        if (
            learner := SimulatedLearner.from_history(
                CHAIN, eager, np.random.default_rng(seed), history=StudyHistory(skip=0.5), topics=3
            )
        ).known
        in ({"b"}, {"c"})
    ]
    assert odd and all(x.knew_without_prerequisite for x in odd)
    with pytest.raises(ValidationError):
        StudyHistory(window=0)


def test_a_study_history_records_what_was_studied_and_why_each_gap_is_there() -> None:
    nothing = SimulationParams(learn=0.0, guess=0.0, slip=0.0, forget=0.0)
    rng = np.random.default_rng(0)
    learner = SimulatedLearner.from_history(
        CHAIN, nothing, rng, history=StudyHistory(window=1, skip=0.0, forget=0.0), topics=2
    )
    assert learner.studied == ("a", "b") and learner.skipped == ()
    # a: studied, nothing missing before it; b: studied after a failed; c: never reached
    assert [learner.gap(c) for c in "abc"] == [
        Gap.UNEXPLAINED,
        Gap.AFTER_MISSING_PREREQUISITE,
        Gap.NOT_REACHED,
    ]
    skipper = SimulatedLearner.from_history(
        CHAIN, nothing, rng, history=StudyHistory(window=1, skip=1.0), topics=3
    )
    assert skipper.studied == () and skipper.skipped == ("a", "b", "c")
    assert {skipper.gap(c) for c in "abc"} == {Gap.SKIPPED}
    sure = SimulationParams(learn=1.0, guess=0.0, slip=0.0, forget=0.0)
    taught = SimulatedLearner.from_history(
        CHAIN, sure, rng, history=StudyHistory(window=1, skip=0.0, forget=0.0), topics=3
    )
    assert [taught.gap(c) for c in "abc"] == [None, None, None]
    assert taught.copy().studied == taught.studied and taught.copy().known is not taught.known
