"""Placement: posterior updates along the graph, probe choice, and the rule that a failed
probe is never concluded known."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from masterypath.domain.framework import Competency, Framework, Prerequisite
from masterypath.domain.placement import PlacementConfig, PlacementSession
from masterypath.errors import ValidationError

PAIR = Framework(
    id="m",
    title="M",
    competencies=(
        Competency(id="a", title="A"),
        Competency(id="b", title="B", prerequisites=(Prerequisite("a"),)),
    ),
)


def test_answers_move_beliefs_along_the_graph() -> None:
    s = PlacementSession.start(PAIR, np.random.default_rng(0), particles=40_000)
    # prior: P(a) = 0.3; P(b) = 0.3 * 0.3 + 0.7 * 0.03 = 0.111
    assert s.marginals()["a"] == pytest.approx(0.3, abs=0.01)
    assert s.marginals()["b"] == pytest.approx(0.111, abs=0.01)
    # a correct answer on b: P(a | correct) = (0.09 * 0.9 + 0.21 * 0.2) / 0.2777 = 0.443
    up = s.answer("b", True)
    assert up.marginals()["a"] == pytest.approx(0.443, abs=0.015)
    # a wrong answer on a: P(b | wrong) = (0.09 * 0.1 + 0.021 * 0.8) / (0.3 * 0.1 + 0.7 * 0.8)
    down = s.answer("a", False)
    assert down.marginals()["b"] == pytest.approx(0.0437, abs=0.01)
    assert s.asked == () and up.asked == (("b", True),)  # sessions are immutable


def test_probes_are_not_repeated_and_the_budget_stops_the_session() -> None:
    s = PlacementSession.start(PAIR, np.random.default_rng(1), config=PlacementConfig(budget=2))
    first = s.next_probe()
    assert first in ("a", "b")
    s = s.answer(first, True)
    second = s.next_probe()
    assert second is not None and second != first
    s = s.answer(second, False)
    assert s.done and s.next_probe() is None
    with pytest.raises(ValidationError):
        s.answer("zzz", True)


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
    s = PlacementSession.start(framework, np.random.default_rng(2), particles=500)
    for j, correct in answers:
        s = s.answer(f"c{j}", correct)
    failed = {c for c, ok in s.asked if not ok}
    cls = s.classification()
    assert all(cls[c] is not True for c in failed)
    assert all(0.0 <= p <= 1.0 for p in s.marginals().values())
