"""The cohort grid's locked columns follow the gate (:mod:`masterypath.domain.gate`), which
the learner's page follows: a property over random prerequisite graphs and statuses."""

from __future__ import annotations

from hypothesis import given, settings

from masterypath.domain.framework import Competency, Framework, Prerequisite, UnlockStatus
from masterypath.domain.gate import unlocked
from masterypath.domain.planner import CompetencyView
from masterypath.domain.policy import Status
from masterypath.services.mastery import _locked_columns
from tests.unit.test_planner import graphs_and_views


@settings(max_examples=200, deadline=None)
@given(data=graphs_and_views())
def test_grid_locks_what_the_gate_does_not_unlock_unless_mastered(
    data: tuple[Framework, dict[str, CompetencyView]],
) -> None:
    framework, views = data
    order = framework.topological_order()
    statuses = {cid: view.status for cid, view in views.items()}
    row = [[statuses[cid].value, None, None, 1] if cid in statuses else None for cid in order]
    open_ = unlocked(framework, statuses)
    expected = [
        i
        for i, cid in enumerate(order)
        if cid not in open_ and statuses.get(cid) is not Status.MASTERED
    ]
    assert _locked_columns(framework)(row) == expected


def test_a_hand_made_row() -> None:
    # b needs a mastered, c needs b proficient: with a proficient only, b is locked and c
    # (b not started) too; a mastered c is never shown locked
    framework = Framework(
        id="f",
        title="F",
        competencies=(
            Competency(id="a", title="A"),
            Competency(id="b", title="B", prerequisites=(Prerequisite("a"),)),
            Competency(
                id="c", title="C", prerequisites=(Prerequisite("b", UnlockStatus.PROFICIENT),)
            ),
        ),
    )
    assert framework.topological_order() == ("a", "b", "c")
    locked = _locked_columns(framework)
    assert locked([["proficient", 0.7, 0.1, 3], None, None]) == [1, 2]
    assert locked([["proficient", 0.7, 0.1, 3], None, ["mastered", 0.9, 0.1, 4]]) == [1]
    assert locked([["mastered", 0.9, 0.1, 3], ["proficient", 0.7, 0.1, 3], None]) == []
    assert locked([["needs_review", 0.6, 0.1, 3], ["in_progress", 0.4, 0.1, 3], None]) == [2]
