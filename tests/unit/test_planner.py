"""The planner: golden plans on small hand-made graphs, and properties (Hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from masterypath.domain.framework import Competency, Framework, Item, Prerequisite, UnlockStatus
from masterypath.domain.gate import unlocked
from masterypath.domain.planner import CompetencyView, Preferences, StepKind, plan
from masterypath.domain.policy import Status

# add -> mul -> div, add -> sub; frac is unrelated
FW = Framework(
    id="m",
    title="M",
    competencies=(
        Competency(id="add", title="Add"),
        Competency(id="mul", title="Mul", prerequisites=(Prerequisite("add"),)),
        Competency(id="div", title="Div", prerequisites=(Prerequisite("mul"),)),
        Competency(
            id="sub", title="Sub", prerequisites=(Prerequisite("add", UnlockStatus.PROFICIENT),)
        ),
        Competency(id="frac", title="Frac"),
    ),
    items=(
        Item(id="m-easy", competency_ids=("mul",)),
        Item(id="m-mid", competency_ids=("mul",)),
        Item(id="m-hard", competency_ids=("mul",)),
    ),
)
SUCCESS = {"m-easy": 0.95, "m-mid": 0.72, "m-hard": 0.4}


def predict(cid: str, item: str | None) -> float:
    return SUCCESS.get(item or "", 0.5)


def test_reviews_first_then_goal_path_ranked_by_what_it_unlocks() -> None:
    view = {
        "add": CompetencyView(Status.MASTERED, 0.97),
        "frac": CompetencyView(
            Status.NEEDS_REVIEW, 0.9, review_due=datetime(2026, 3, 1, tzinfo=UTC)
        ),
    }
    p = plan(FW, view, predict=predict, goals=("div",))
    assert [(s.kind, s.competency_id, s.item_id) for s in p.steps] == [
        (StepKind.REVIEW, "frac", None),
        (StepKind.LEARN, "mul", "m-mid"),  # on the way to div; 0.72 is closest to 0.7
    ]
    assert (
        p.steps[0].reason == "Review (due 2026-03-01): keep what you mastered before you forget it."
    )
    assert p.steps[1].leads_to == ("div",)
    assert p.notes == ("goals still locked: Div",)
    # without goals: everything unlocked and not mastered, the one unlocking most first
    p = plan(FW, view, predict=predict)
    assert [s.competency_id for s in p.steps] == ["frac", "mul", "sub"]


def test_recent_items_are_avoided_while_another_fits() -> None:
    view = {"add": CompetencyView(Status.MASTERED, 0.97)}
    p = plan(FW, view, predict=predict, goals=("mul",), recent_items=("m-mid",))
    assert p.steps[0].item_id == "m-easy"  # |0.95 - 0.7| = 0.25 < |0.4 - 0.7| = 0.3
    p = plan(FW, view, predict=predict, goals=("mul",), recent_items=("m-mid", "m-hard", "m-easy"))
    assert p.steps[0].item_id == "m-mid"  # all recent: the best one anyway
    p = plan(
        FW, view, predict=predict, goals=("mul",), preferences=Preferences(target_success=0.45)
    )
    assert p.steps[0].item_id == "m-hard"


def test_wheel_spinning_switches_to_a_prerequisite_review_and_says_so() -> None:
    view = {
        "add": CompetencyView(Status.PROFICIENT, 0.85),  # meets sub's edge, not mastered
        "sub": CompetencyView(Status.IN_PROGRESS, 0.3, wheel_spinning=True),
    }
    p = plan(FW, view, predict=predict, goals=("sub",))
    # add is itself ready to learn (not mastered) and comes first; sub waits for it
    assert [(s.kind, s.competency_id) for s in p.steps] == [(StepKind.LEARN, "add")]
    assert p.notes == ("wheel-spinning on Sub: practise its prerequisite Add first",)
    view["add"] = CompetencyView(Status.NEEDS_REVIEW, 0.85)  # reviewed first, then not again
    p = plan(FW, view, predict=predict, goals=("sub",))
    assert [(s.kind, s.competency_id) for s in p.steps] == [(StepKind.REVIEW, "add")]
    # a mastered prerequisite needs no review: the competency gets another kind of activity
    view = {
        "add": CompetencyView(Status.MASTERED, 0.96),
        "mul": CompetencyView(Status.IN_PROGRESS, 0.3, wheel_spinning=True),
    }
    p = plan(FW, view, predict=predict, goals=("mul",))
    assert [(s.kind, s.competency_id) for s in p.steps] == [(StepKind.REMEDIATE, "mul")]
    assert "another kind of activity" in p.steps[0].reason
    assert p.notes == ("wheel-spinning on Mul: the plan switched the kind of activity",)


def test_steps_name_competencies_and_items_as_the_learner_knows_them() -> None:
    titled = Framework(
        id="m",
        title="M",
        competencies=FW.competencies,
        items=(
            Item(id="m-mid", competency_ids=("mul",), title="Times tables, set 2"),
            Item(id="m-hard", competency_ids=("mul",)),
        ),
    )
    view = {"add": CompetencyView(Status.MASTERED, 0.97)}
    step = plan(titled, view, predict=predict, goals=("div",)).steps[0]
    assert (step.competency_id, step.item_id, step.item_title) == (
        "mul",
        "m-mid",
        "Times tables, set 2",
    )
    assert step.reason == (
        "Ready to learn: leads to 1 goal competency (Div); Times tables, set 2 is at the right "
        "difficulty (72% predicted success)."
    )
    # an item without a title is named by its id
    hard = plan(titled, view, predict=predict, goals=("div",), recent_items=("m-mid",)).steps[0]
    assert (hard.item_title, hard.reason.split("; ")[1]) == (
        "",
        "m-hard is at the right difficulty (40% predicted success).",
    )
    view["mul"] = CompetencyView(Status.IN_PROGRESS, 0.3, wheel_spinning=True)
    stuck = plan(titled, view, predict=predict, goals=("div",)).steps[0]
    assert stuck.reason.startswith("Many tries on Mul without mastery")
    steps = plan(titled, view, predict=predict).to_dict()["steps"]
    assert isinstance(steps, list) and steps[0]["item_title"] == "Times tables, set 2"


def test_practice_stops_once_mastered() -> None:
    view = {c: CompetencyView(Status.MASTERED, 0.99) for c in FW.ids}
    p = plan(FW, view, predict=predict, goals=("div",))
    assert p.steps == () and p.notes == ("every goal is mastered",)


@st.composite
def graphs_and_views(draw: st.DrawFn) -> tuple[Framework, dict[str, CompetencyView]]:
    n = draw(st.integers(1, 8))
    comps = []
    for j in range(n):
        pres = tuple(
            Prerequisite(f"c{i}", draw(st.sampled_from(list(UnlockStatus))))
            for i in range(j)
            if draw(st.booleans())
        )
        comps.append(Competency(id=f"c{j}", title=f"C{j}", prerequisites=pres))
    fw = Framework(
        id="f",
        title="F",
        competencies=tuple(comps),
        items=tuple(Item(id=f"i{j}", competency_ids=(f"c{j}",)) for j in range(n)),
    )
    view = {
        f"c{j}": CompetencyView(
            draw(st.sampled_from(list(Status))), draw(st.floats(0, 1)), draw(st.booleans())
        )
        for j in range(n)
        if draw(st.booleans())
    }
    return fw, view


@settings(max_examples=100, deadline=None)
@given(data=graphs_and_views(), goal_count=st.integers(0, 2))
def test_plans_never_contain_a_locked_or_mastered_competency_and_are_deterministic(
    data: tuple[Framework, dict[str, CompetencyView]], goal_count: int
) -> None:
    fw, view = data
    goals = fw.ids[-goal_count:] if goal_count else ()
    p = plan(fw, view, predict=lambda c, i: 0.6, goals=goals)
    statuses = {c: view[c].status if c in view else Status.NOT_STARTED for c in fw.ids}
    open_ = unlocked(fw, statuses)
    for step in p.steps:
        assert step.competency_id in open_
        if step.kind is StepKind.LEARN:
            assert statuses[step.competency_id] not in (Status.MASTERED, Status.NEEDS_REVIEW)
        if step.kind is StepKind.REVIEW:
            assert statuses[step.competency_id] is Status.NEEDS_REVIEW
        assert step.reason
    assert plan(fw, view, predict=lambda c, i: 0.6, goals=goals) == p
