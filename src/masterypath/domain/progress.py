"""A learner's progress on one competency: apply evidence, decide the status, explain it.

Everything here is pure: the time is the evidence's timestamp or a ``now`` passed in.

>>> from datetime import datetime, UTC
>>> from masterypath.domain.trackers import BKTTracker, DEFAULT_BKT
>>> policy, tracker = MasteryPolicy(min_evidence=2), BKTTracker(DEFAULT_BKT)
>>> state = CompetencyState.new("ana", "add", tracker)
>>> t = datetime(2026, 3, 2, 9, tzinfo=UTC)
>>> for n in range(4):
...     state, step = apply_observation(
...         state, Observation(f"e{n}", 1.0, "practice", t, None), tracker, policy)
>>> step.status, state.n_evidence, state.mastered_at == t
(<Status.MASTERED: 'mastered'>, 4, True)
>>> decision = decide(state, policy, tracker, now=t, title="Addition")
>>> decision.explanation.learner_text
'You have mastered Addition. Review it by 2026-03-04.'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from fsrs import Card, Rating, Scheduler

from masterypath.domain.alerts import (
    AlertClearing,
    AlertDraft,
    AlertKind,
    cleared_alerts,
    detect_alerts,
)
from masterypath.domain.explain import Explanation, MissingEvidence, explain
from masterypath.domain.overrides import Override
from masterypath.domain.policy import MasteryPolicy, ParentRule, Status, satisfies
from masterypath.domain.trackers import Tracker

RECENT_EVIDENCE = 20
"""Evidence keys kept on the state for explanations (the full trail is in the ledger)."""

REVIEWS = Scheduler(learning_steps=(), relearning_steps=(), enable_fuzzing=False)
"""FSRS without same-session learning steps or random fuzz: deterministic review dates."""


@dataclass(frozen=True, slots=True)
class Observation:
    """What the pipeline needs from one piece of evidence for one competency."""

    key: str
    score: float
    kind: str
    timestamp: datetime
    item_id: str | None


@dataclass(frozen=True)
class CompetencyState:
    """Everything known about one learner on one competency, updated per evidence."""

    learner_id: str
    competency_id: str
    estimate: float | None
    model_state: Mapping[str, Any] = field(default_factory=dict)
    n_evidence: int = 0
    kinds: tuple[str, ...] = ()
    recent_evidence: tuple[str, ...] = ()
    first_evidence_at: datetime | None = None
    last_evidence_at: datetime | None = None
    mastered_at: datetime | None = None
    """When it was first mastered; it then gets reviews instead of going back to start."""
    opportunities_to_mastery: int | None = None
    peak_estimate: float | None = None
    review_card: Card | None = None
    """The FSRS card of the spaced reviews. Never changed in place (fsrs reviews a copy);
    kept as fsrs's own object, not its dictionary, so that a review does not convert it
    both ways (a third of a review's time). Stored as ``Card.to_dict()`` writes it."""
    review_due: datetime | None = None
    alerts_raised: tuple[str, ...] = ()

    @classmethod
    def new(cls, learner_id: str, competency_id: str, tracker: Tracker) -> CompetencyState:
        return cls(
            learner_id,
            competency_id,
            tracker.initial_estimate(),
            tracker.initial_state(),
        )

    def to_dict(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return None if t is None else t.isoformat()

        return {
            "learner_id": self.learner_id,
            "competency_id": self.competency_id,
            "estimate": self.estimate,
            "model_state": dict(self.model_state),
            "n_evidence": self.n_evidence,
            "kinds": list(self.kinds),
            "recent_evidence": list(self.recent_evidence),
            "first_evidence_at": iso(self.first_evidence_at),
            "last_evidence_at": iso(self.last_evidence_at),
            "mastered_at": iso(self.mastered_at),
            "opportunities_to_mastery": self.opportunities_to_mastery,
            "peak_estimate": self.peak_estimate,
            "review_card": None if self.review_card is None else self.review_card.to_dict(),
            "review_due": iso(self.review_due),
            "alerts_raised": list(self.alerts_raised),
        }


@dataclass(frozen=True)
class Decision:
    status: Status
    explanation: Explanation
    model_status: Status
    """What the model and policy say; differs from ``status`` under an override."""


@dataclass(frozen=True)
class Step:
    """The log of one applied observation. Its statuses are as of the evidence's time;
    the full explanation is built by :func:`decide` when someone asks."""

    estimate_before: float | None
    estimate_after: float | None
    status: Status
    model_status: Status
    alerts: tuple[AlertDraft, ...]
    reviewed: bool
    cleared: tuple[AlertClearing, ...] = ()
    """Alerts raised earlier whose reason this observation took away."""


def _missing(state: CompetencyState, policy: MasteryPolicy) -> MissingEvidence:
    kinds_missing: tuple[str, ...] = ()
    if policy.required_kinds and not set(state.kinds) & {str(k) for k in policy.required_kinds}:
        kinds_missing = tuple(str(k) for k in policy.required_kinds)
    return MissingEvidence(max(policy.min_evidence - state.n_evidence, 0), kinds_missing)


def model_status(
    state: CompetencyState, policy: MasteryPolicy, now: datetime
) -> tuple[Status, str]:
    """The status the policy gives ``state`` at ``now``, and the rule that decided it."""
    if state.n_evidence == 0:
        return Status.NOT_STARTED, "no_evidence"
    est = state.estimate
    expired = (
        policy.expires_after is not None
        and state.last_evidence_at is not None
        and now > state.last_evidence_at + policy.expires_after
    )
    if state.mastered_at is not None:
        due = state.review_due
        if expired:
            return Status.NEEDS_REVIEW, "expiry"
        if policy.review and due is not None and now >= due:
            return Status.NEEDS_REVIEW, "review_due"
        if est is None or est < policy.mastery_threshold:
            return Status.NEEDS_REVIEW, "failed_review"
        return Status.MASTERED, "mastery_threshold"
    missing = _missing(state, policy)
    if missing.count:
        return Status.INSUFFICIENT_EVIDENCE, "min_evidence"
    if est is not None and est >= policy.proficient_threshold:
        if missing.kinds:
            return Status.INSUFFICIENT_EVIDENCE, "required_kinds"
        if expired:
            return Status.INSUFFICIENT_EVIDENCE, "expiry"
        if est >= policy.mastery_threshold:
            return Status.MASTERED, "mastery_threshold"
        return Status.PROFICIENT, "proficient_threshold"
    return Status.IN_PROGRESS, "below_proficient"


def decide(
    state: CompetencyState,
    policy: MasteryPolicy,
    tracker: Tracker,
    now: datetime,
    override: Override | None = None,
    *,
    title: str = "",
    educator_name: str = "",
) -> Decision:
    """The status of ``state`` at ``now`` with its explanation (naming the competency by
    ``title``, else by its id, and who set an override by ``educator_name``, else by its
    account id); an override wins."""
    status, rule = model_status(state, policy, now)
    explanation = explain(
        state=state,
        policy=policy,
        tracker=tracker,
        status=status,
        rule=rule,
        missing=_missing(state, policy),
        review_due=state.review_due,
        override=override,
        title=title,
        educator_name=educator_name,
    )
    return Decision(override.status if override else status, explanation, status)


def apply_observation(
    state: CompetencyState,
    obs: Observation,
    tracker: Tracker,
    policy: MasteryPolicy,
    override: Override | None = None,
) -> tuple[CompetencyState, Step]:
    """Update ``state`` with one observation; returns the new state and what happened.
    ``state`` is not modified."""
    before = state.estimate
    estimate, model_state = tracker.observe(
        before, dict(state.model_state), score=obs.score, item_id=obs.item_id
    )
    peak = state.peak_estimate
    new_peak = estimate is not None and (peak is None or estimate > peak)
    kinds = state.kinds if obs.kind in state.kinds else tuple(sorted((*state.kinds, obs.kind)))
    card, due, reviewed = state.review_card, state.review_due, False
    if state.mastered_at is not None and policy.review and card is not None:
        rating = Rating.Good if obs.score >= 0.5 else Rating.Again
        card, _ = REVIEWS.review_card(card, rating, review_datetime=obs.timestamp)
        due, reviewed = card.due, True
    new = CompetencyState(
        learner_id=state.learner_id,
        competency_id=state.competency_id,
        estimate=estimate,
        model_state=model_state,
        n_evidence=state.n_evidence + 1,
        kinds=kinds,
        recent_evidence=(*state.recent_evidence, obs.key)[-RECENT_EVIDENCE:],
        first_evidence_at=state.first_evidence_at or obs.timestamp,
        last_evidence_at=obs.timestamp,
        mastered_at=state.mastered_at,
        opportunities_to_mastery=state.opportunities_to_mastery,
        peak_estimate=estimate if new_peak else peak,
        review_card=card,
        review_due=due,
        alerts_raised=state.alerts_raised,
    )
    status, _ = model_status(new, policy, obs.timestamp)
    if new.mastered_at is None and status is Status.MASTERED:
        first = None
        if policy.review:
            first = REVIEWS.review_card(
                Card(card_id=0, due=obs.timestamp), Rating.Good, review_datetime=obs.timestamp
            )[0]
        new = replace(
            new,
            mastered_at=obs.timestamp,
            opportunities_to_mastery=new.n_evidence,
            review_card=first,
            review_due=None if first is None else first.due,
        )
    alerts = detect_alerts(state, new, policy, evidence_key=obs.key)
    cleared = cleared_alerts(state, new, policy, evidence_key=obs.key, at=obs.timestamp)
    if alerts or cleared or (new_peak and new.alerts_raised):
        raised = set(new.alerts_raised) | {a.kind.value for a in alerts}
        if new_peak or any(c.kind is AlertKind.FALLING_ESTIMATE for c in cleared):
            raised.discard("falling_estimate")  # a new fall is a new alert
        new = replace(new, alerts_raised=tuple(sorted(raised)))
    # alerts never change the status, and a first mastery is MASTERED by construction
    effective = override.status if override is not None else status
    return new, Step(before, estimate, effective, status, alerts, reviewed, cleared)


def parent_status(children: Mapping[str, Status], policy: MasteryPolicy) -> tuple[Status, str]:
    """A parent competency's status from its children's (Moodle's rules)."""
    statuses = list(children.values())
    if not statuses or all(s is Status.NOT_STARTED for s in statuses):
        return Status.NOT_STARTED, "children_not_started"
    if policy.parent_rule is ParentRule.POINTS:
        points = sum(
            policy.child_points.get(c, 1.0) for c, s in children.items() if s is Status.MASTERED
        )
        required_met = all(children.get(c) is Status.MASTERED for c in policy.required_children)
        if required_met and points >= policy.points_to_master:
            return Status.MASTERED, "child_points"
        return Status.IN_PROGRESS, "child_points"
    if all(s is Status.MASTERED for s in statuses):
        return Status.MASTERED, "all_children_mastered"
    if all(satisfies(s, "proficient") for s in statuses):
        return Status.PROFICIENT, "all_children_proficient"
    return Status.IN_PROGRESS, "children_in_progress"


def state_from_dict(data: Mapping[str, Any]) -> CompetencyState:
    """Inverse of :meth:`CompetencyState.to_dict`."""

    def when(name: str) -> datetime | None:
        value = data.get(name)
        return None if value is None else datetime.fromisoformat(value)

    return CompetencyState(
        learner_id=data["learner_id"],
        competency_id=data["competency_id"],
        estimate=data["estimate"],
        model_state=dict(data["model_state"]),
        n_evidence=int(data["n_evidence"]),
        kinds=tuple(data["kinds"]),
        recent_evidence=tuple(data["recent_evidence"]),
        first_evidence_at=when("first_evidence_at"),
        last_evidence_at=when("last_evidence_at"),
        mastered_at=when("mastered_at"),
        opportunities_to_mastery=data.get("opportunities_to_mastery"),
        peak_estimate=data.get("peak_estimate"),
        review_card=None
        if data.get("review_card") is None
        else Card.from_dict(data["review_card"]),
        review_due=when("review_due"),
        alerts_raised=tuple(data.get("alerts_raised", ())),
    )
