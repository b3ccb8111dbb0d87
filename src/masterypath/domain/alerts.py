"""Interventions: wheel-spinning and falling estimates raise alerts for an educator.

An estimate is falling when it drops ``falling_drop`` below its peak after that peak had
reached the proficient threshold: a learner losing what they had shown.

Wheel-spinning follows Beck & Gong (2013): a learner who has not mastered a skill after
``wheel_spinning_opportunities`` (10) practice opportunities is unlikely to by practising
more of the same.

An alert whose reason has gone is cleared by the evidence that took it away
(:func:`cleared_alerts`): wheel-spinning once the competency is mastered, a falling
estimate once it is at the proficient threshold again and within half ``falling_drop``
of its peak (the half keeps an estimate that wavers about one level from raising and
clearing alerts in turn). The educator's queue then no longer holds a learner who has
already recovered; a new fall after that raises a new alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from masterypath.domain.policy import MasteryPolicy
    from masterypath.domain.progress import CompetencyState


class AlertKind(StrEnum):
    WHEEL_SPINNING = "wheel_spinning"
    FALLING_ESTIMATE = "falling_estimate"
    AUDIT_MASTERY_GAP = "audit_mastery_gap"
    AUDIT_CALIBRATION_GAP = "audit_calibration_gap"
    AUDIT_ITEM_DIF = "audit_item_dif"


AUDIT_KINDS = frozenset(
    {AlertKind.AUDIT_MASTERY_GAP, AlertKind.AUDIT_CALIBRATION_GAP, AlertKind.AUDIT_ITEM_DIF}
)
"""The alerts a fairness audit raises (about a framework, not a learner); a later audit
that no longer finds the gap or the item's bias clears them."""


SUGGESTIONS = {
    AlertKind.WHEEL_SPINNING: (
        "Stop repeating the same practice: review a prerequisite, switch to a worked "
        "example or another activity type, or meet the learner."
    ),
    AlertKind.FALLING_ESTIMATE: (
        "Check the learner's recent answers on this competency and plan a short review."
    ),
}


@dataclass(frozen=True)
class AlertDraft:
    """An alert to raise; the service stores it once per (learner, competency, kind, key)."""

    kind: AlertKind
    learner_id: str
    competency_id: str
    evidence_key: str
    message: str
    suggested_action: str


@dataclass(frozen=True)
class AlertClearing:
    """An open alert whose reason ``evidence_key`` (of time ``at``) took away."""

    kind: AlertKind
    learner_id: str
    competency_id: str
    evidence_key: str
    at: datetime
    reason: str


def cleared_alerts(
    before: CompetencyState,
    after: CompetencyState,
    policy: MasteryPolicy,
    *,
    evidence_key: str,
    at: datetime,
) -> tuple[AlertClearing, ...]:
    """The alerts raised before whose reason ``after`` took away."""
    if not before.alerts_raised:  # most states: nothing to clear (the hot path)
        return ()
    out = []
    raised = set(before.alerts_raised)
    if (
        AlertKind.WHEEL_SPINNING.value in raised
        and before.mastered_at is None
        and after.mastered_at is not None
    ):
        reason = f"mastered after {after.opportunities_to_mastery} practice opportunities"
        out.append((AlertKind.WHEEL_SPINNING, reason))
    if (
        AlertKind.FALLING_ESTIMATE.value in raised
        and after.estimate is not None
        and after.peak_estimate is not None
        and after.estimate >= policy.proficient_threshold
        and after.peak_estimate - after.estimate < policy.falling_drop / 2
    ):
        out.append((AlertKind.FALLING_ESTIMATE, f"estimate back at {after.estimate:.2f}"))
    return tuple(
        AlertClearing(kind, after.learner_id, after.competency_id, evidence_key, at, reason)
        for kind, reason in out
    )


def detect_alerts(
    before: CompetencyState, after: CompetencyState, policy: MasteryPolicy, *, evidence_key: str
) -> tuple[AlertDraft, ...]:
    """Alerts that ``after`` raises and ``before`` had not raised yet."""
    out = []
    raised = set(before.alerts_raised)
    limit = policy.wheel_spinning_opportunities
    if (
        limit
        and AlertKind.WHEEL_SPINNING.value not in raised
        and after.mastered_at is None
        and after.n_evidence >= limit
    ):
        out.append(
            AlertDraft(
                AlertKind.WHEEL_SPINNING,
                after.learner_id,
                after.competency_id,
                evidence_key,
                f"no mastery after {after.n_evidence} practice opportunities",
                SUGGESTIONS[AlertKind.WHEEL_SPINNING],
            )
        )
    if (
        AlertKind.FALLING_ESTIMATE.value not in raised
        and after.estimate is not None
        and after.peak_estimate is not None
        # a skill being lost, not early practice: before proficiency one answer moves a BKT
        # estimate by about the drop as a matter of course (0.47 -> 0.28 -> 0.24)
        and after.peak_estimate >= policy.proficient_threshold
        and after.peak_estimate - after.estimate >= policy.falling_drop
    ):
        out.append(
            AlertDraft(
                AlertKind.FALLING_ESTIMATE,
                after.learner_id,
                after.competency_id,
                evidence_key,
                f"estimate fell from {after.peak_estimate:.2f} to {after.estimate:.2f}",
                SUGGESTIONS[AlertKind.FALLING_ESTIMATE],
            )
        )
    return tuple(out)
