"""The placement bench's breakdown of the diagnostic's errors by why a competency is not
known, and the accuracy ceiling it estimates from it."""

from __future__ import annotations

from bench.placement_sim import KNOWN, accuracy_ceiling, tally_errors

from masterypath.domain.framework import Competency, Framework, Prerequisite
from masterypath.domain.simulator import Gap, SimulatedLearner, SimulationParams

CHAIN = Framework(
    id="c",
    title="Chain",
    competencies=(
        Competency(id="a", title="A"),
        Competency(id="b", title="B", prerequisites=(Prerequisite("a"),)),
        Competency(id="c", title="C", prerequisites=(Prerequisite("b"),)),
        Competency(id="d", title="D", prerequisites=(Prerequisite("c"),)),
        Competency(id="e", title="E", prerequisites=(Prerequisite("d"),)),
    ),
)


def test_errors_are_split_by_cause_and_the_ceiling_counts_only_what_answers_cannot_show() -> None:
    # a known; b studied but not retained (a known: unexplained); c studied after b was
    # missed; d skipped; e never reached
    learner = SimulatedLearner(
        CHAIN, SimulationParams(), {"a"}, studied=("a", "b", "c"), skipped=("d",)
    )
    answers = (("a", False), ("c", False))  # a's probe slipped; c's failed rightly
    said = {"a": False, "b": True, "c": False, "d": True, "e": False}
    out: dict[str, dict[str, int]] = {}
    tally_errors(out, learner, answers, said)
    assert out[KNOWN + ", probe answered wrongly"] == {"competencies": 1, "asked": 1, "errors": 1}
    assert out[Gap.UNEXPLAINED] == {"competencies": 1, "asked": 0, "errors": 1}
    assert out[Gap.AFTER_MISSING_PREREQUISITE] == {"competencies": 1, "asked": 1, "errors": 0}
    assert out[Gap.SKIPPED] == {"competencies": 1, "asked": 0, "errors": 1}
    assert out[Gap.NOT_REACHED] == {"competencies": 1, "asked": 0, "errors": 0}
    # unavoidable with these answers: a (slipped probe), b and d (unasked, unexplained);
    # c's gap follows from its missing prerequisite and e was never reached
    assert out["unavoidable"]["competencies"] == 3
    assert accuracy_ceiling(out) == 1 - 3 / 5
    # a second learner adds up; asking b would have made it avoidable
    tally_errors(out, learner, (("b", False),), {c: False for c in "abcde"})
    assert out[Gap.UNEXPLAINED] == {"competencies": 2, "asked": 1, "errors": 1}
    assert out["unavoidable"]["competencies"] == 3 + 1  # only d now
    assert accuracy_ceiling(out) == 1 - 4 / 10
