"""The planner: a learner's next steps, each with its reason.

Pure: it reads a snapshot of the learner's competencies and a prediction function, and
returns a :class:`Plan`. Order: due reviews first; then competencies that are unlocked
and not yet mastered, on the way to the goals, ranked by how much of the goal they lead
to and by how close they are to mastery. Within a competency it picks the item whose
predicted success is closest to the target (desirable difficulty) and not seen recently.
A competency where the learner is wheel-spinning gets a remediation step instead.

>>> from masterypath.domain.framework import Competency, Framework, Item, Prerequisite
>>> fw = Framework(id="m", title="M", competencies=(
...     Competency(id="add", title="Add"),
...     Competency(id="mul", title="Mul", prerequisites=(Prerequisite("add"),)),
...     Competency(id="sub", title="Sub"),
... ), items=(Item(id="a1", competency_ids=("add",)), Item(id="a2", competency_ids=("add",))))
>>> view = {"add": CompetencyView(Status.IN_PROGRESS, 0.5)}
>>> p = plan(fw, view, goals=("mul",), predict=lambda c, i: 0.75 if i == "a2" else 0.9)
>>> [(s.kind.value, s.competency_id, s.item_id) for s in p.steps]
[('learn', 'add', 'a2')]
>>> print(p.steps[0].reason)
Ready to learn: leads to 1 goal competency (Mul); a2 is at the right difficulty (75% ...
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from masterypath.domain.framework import Framework
from masterypath.domain.gate import unlocked
from masterypath.domain.policy import Status
from masterypath.errors import ValidationError

Predict = Callable[[str, str | None], float]
"""(competency id, item id or None) -> predicted probability of success."""


class StepKind(StrEnum):
    REVIEW = "review"
    LEARN = "learn"
    REMEDIATE = "remediate"


@dataclass(frozen=True)
class CompetencyView:
    """What the planner needs to know about one competency of the learner."""

    status: Status
    estimate: float | None = None
    wheel_spinning: bool = False
    review_due: datetime | None = None


@dataclass(frozen=True)
class Preferences:
    target_success: float = 0.7
    """Desirable difficulty: pick the item whose predicted success is closest to this."""
    max_steps: int = 10
    avoid_recent: bool = True
    """Skip items among the learner's recent ones while another item fits."""

    def __post_init__(self) -> None:
        if not 0.0 < self.target_success < 1.0:
            raise ValidationError("target_success", "must be in (0, 1)")
        if self.max_steps < 1:
            raise ValidationError("max_steps", "must be >= 1")


@dataclass(frozen=True)
class PlanStep:
    kind: StepKind
    competency_id: str
    item_id: str | None
    predicted_success: float | None
    reason: str
    leads_to: tuple[str, ...] = ()
    """Goal competencies this step is on the way to."""
    item_title: str = ""
    """The item's title, as a learner reads it (empty: no item, or an item without one)."""


@dataclass(frozen=True)
class Plan:
    learner_id: str
    goals: tuple[str, ...]
    steps: tuple[PlanStep, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, object]:
        return {
            "learner_id": self.learner_id,
            "goals": list(self.goals),
            "steps": [
                {
                    "kind": s.kind.value,
                    "competency_id": s.competency_id,
                    "item_id": s.item_id,
                    "predicted_success": s.predicted_success,
                    "reason": s.reason,
                    "leads_to": list(s.leads_to),
                    "item_title": s.item_title,
                }
                for s in self.steps
            ],
            "notes": list(self.notes),
        }


def _status(view: Mapping[str, CompetencyView], cid: str) -> Status:
    found = view.get(cid)
    return found.status if found is not None else Status.NOT_STARTED


def _pick_item(
    framework: Framework,
    cid: str,
    predict: Predict,
    recent: Sequence[str],
    prefs: Preferences,
) -> tuple[str | None, float]:
    items = sorted(i.id for i in framework.items if cid in i.competency_ids)
    if not items:
        return None, predict(cid, None)
    fresh = [i for i in items if i not in recent] if prefs.avoid_recent else items
    pool = fresh or items
    scored = [(abs(predict(cid, i) - prefs.target_success), i) for i in pool]
    _, best = min(scored)
    return best, predict(cid, best)


def plan(
    framework: Framework,
    view: Mapping[str, CompetencyView],
    *,
    predict: Predict,
    goals: Sequence[str] = (),
    recent_items: Sequence[str] = (),
    preferences: Preferences | None = None,
    learner_id: str = "",
) -> Plan:
    """The learner's next steps. Never includes a locked competency or a mastered one
    (except as a due review); deterministic for a given input."""
    prefs = preferences or Preferences()
    for g in goals:
        if g not in framework:
            raise ValidationError("goals", f"unknown competency {g!r}")
    statuses = {c.id: _status(view, c.id) for c in framework.competencies}
    open_ = unlocked(framework, statuses)
    order = {cid: n for n, cid in enumerate(framework.topological_order())}
    in_scope = set(framework.prerequisite_closure(goals)) if goals else set(framework.ids)
    steps: list[PlanStep] = []
    notes: list[str] = []
    item_titles = {i.id: i.title for i in framework.items}

    def named(cid: str) -> str:  # as the learner knows it
        return framework.competency(cid).title or cid

    def step(
        kind: StepKind,
        cid: str,
        item: str | None,
        p: float,
        reason: str,
        targets: tuple[str, ...] = (),
    ) -> None:
        title = item_titles.get(item, "") if item else ""
        steps.append(PlanStep(kind, cid, item, p, reason, targets, item_title=title))

    def estimate(cid: str) -> float:
        found = view.get(cid)
        return found.estimate if found is not None and found.estimate is not None else 0.0

    def due_at(cid: str) -> float:
        due = view[cid].review_due
        return due.timestamp() if due is not None else float("inf")

    reviews = sorted(
        (c for c, s in statuses.items() if s is Status.NEEDS_REVIEW and c in open_),
        key=lambda c: (due_at(c), estimate(c), order[c]),
    )
    for cid in reviews:
        item, p = _pick_item(framework, cid, predict, recent_items, prefs)
        due = view[cid].review_due
        when = f" (due {due.date().isoformat()})" if due else ""
        step(
            StepKind.REVIEW,
            cid,
            item,
            p,
            f"Review{when}: keep what you mastered before you forget it.",
        )

    goal_set = set(goals)
    parents = {c.parent_id for c in framework.competencies if c.parent_id is not None}
    candidates = [
        c
        for c in open_
        if c in in_scope
        and statuses[c] not in (Status.MASTERED, Status.NEEDS_REVIEW)
        and c not in parents  # parents roll up from their children: practise those
    ]

    def leads_to(cid: str) -> tuple[str, ...]:
        if not goals:
            return ()
        reach = framework.descendants(cid) | {cid}
        return tuple(sorted(goal_set & reach))

    def downstream(cid: str) -> int:
        return len((framework.descendants(cid) | {cid}) & in_scope)

    ranked = sorted(
        candidates,
        key=lambda c: (
            -len(leads_to(c)),
            -downstream(c),
            -(view[c].estimate or 0.0) if c in view else 0.0,
            order[c],
            c,
        ),
    )
    for cid in ranked:
        targets = leads_to(cid)
        if cid in view and view[cid].wheel_spinning:
            # Beck & Gong: more of the same will not help. If a prerequisite is not yet
            # mastered, it is planned as its own step (the ranking puts prerequisites
            # first) and this competency waits; otherwise switch the kind of activity.
            pending = [
                p.competency_id
                for p in framework.competency(cid).prerequisites
                if p.competency_id in open_ and statuses[p.competency_id] is not Status.MASTERED
            ]
            if pending:
                notes.append(
                    f"wheel-spinning on {named(cid)}: practise its prerequisite "
                    f"{', '.join(named(c) for c in pending)} first"
                )
                continue
            item, p = _pick_item(framework, cid, predict, recent_items, prefs)
            step(
                StepKind.REMEDIATE,
                cid,
                item,
                p,
                f"Many tries on {named(cid)} without mastery: switch to another kind of activity "
                "(a worked example or a different item), or ask your teacher.",
                targets,
            )
            notes.append(f"wheel-spinning on {named(cid)}: the plan switched the kind of activity")
            continue
        item, p = _pick_item(framework, cid, predict, recent_items, prefs)
        goal_text = (
            f"leads to {len(targets)} goal competenc{'y' if len(targets) == 1 else 'ies'} "
            f"({', '.join(named(t) for t in targets)})"
            if targets
            else "unlocked and not yet mastered"
        )
        item_text = (
            f"; {item_titles.get(item) or item} is at the right difficulty ({p:.0%} predicted "
            "success)"
            if item
            else ""
        )
        step(StepKind.LEARN, cid, item, p, f"Ready to learn: {goal_text}{item_text}.", targets)
    if goals and all(statuses[g] is Status.MASTERED for g in goals):
        notes.append("every goal is mastered")
    locked_goals = [g for g in goals if g not in open_]
    if locked_goals:
        notes.append("goals still locked: " + ", ".join(named(g) for g in locked_goals))
    return Plan(learner_id, tuple(goals), tuple(steps[: prefs.max_steps]), tuple(notes))
