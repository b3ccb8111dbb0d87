"""Structured explanations of a status, with one sentence for the learner and a fuller
one for the educator."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from masterypath.domain.overrides import Override
from masterypath.domain.policy import MasteryPolicy, Status

if TYPE_CHECKING:
    from masterypath.domain.progress import CompetencyState
    from masterypath.domain.trackers import Tracker


@dataclass(frozen=True)
class MissingEvidence:
    count: int
    """Pieces of evidence still needed to meet ``min_evidence``."""
    kinds: tuple[str, ...]
    """Evidence kinds of which at least one is still required."""


@dataclass(frozen=True)
class Explanation:
    competency_id: str
    status: Status
    """The model's status (an override is reported in ``override``)."""
    rule: str
    """The policy rule that decided: e.g. ``mastery_threshold``, ``min_evidence``, ``expiry``."""
    threshold: float | None
    model: str
    estimate: float | None
    uncertainty: float | None
    n_evidence: int
    evidence_keys: tuple[str, ...]
    """The most recent evidence used (oldest first)."""
    missing: MissingEvidence
    correct_needed: int | None
    """About how many more correct answers in a row would reach mastery (None: not
    reachable within the look-ahead, or not applicable)."""
    review_due: datetime | None
    override: Override | None
    learner_text: str
    educator_text: str

    def to_dict(self) -> dict[str, Any]:
        ov = self.override
        return {
            "competency_id": self.competency_id,
            "status": str(self.status),
            "rule": self.rule,
            "threshold": self.threshold,
            "model": self.model,
            "estimate": self.estimate,
            "uncertainty": self.uncertainty,
            "n_evidence": self.n_evidence,
            "evidence_keys": list(self.evidence_keys),
            "missing": {"count": self.missing.count, "kinds": list(self.missing.kinds)},
            "correct_needed": self.correct_needed,
            "review_due": None if self.review_due is None else self.review_due.isoformat(),
            "override": None
            if ov is None
            else {
                "id": ov.id,
                "status": str(ov.status),
                "reason": str(ov.reason),
                "note": ov.note,
                "educator": ov.educator,
                "created_at": ov.created_at.isoformat(),
            },
            "learner_text": self.learner_text,
            "educator_text": self.educator_text,
        }


def _pct(value: float | None) -> str:
    return "none yet" if value is None else f"{value:.0%}"


def _words(value: StrEnum) -> str:
    return value.value.replace("_", " ")


def _answers(n: int | None) -> str:
    if n is None:
        return "more practice"
    return f"about {n} more correct answer{'s' if n != 1 else ''}"


def explain(
    *,
    state: CompetencyState,
    policy: MasteryPolicy,
    tracker: Tracker,
    status: Status,
    rule: str,
    missing: MissingEvidence,
    review_due: datetime | None,
    override: Override | None,
    title: str = "",
    educator_name: str = "",
) -> Explanation:
    """The explanation of ``status``; its sentences name the competency by ``title`` (what
    a learner knows it as), or by its id when it has none, and who set an override by
    ``educator_name`` (a username), else by the account id it has."""
    c = title or state.competency_id
    est = state.estimate
    unc = tracker.uncertainty(est, dict(state.model_state))
    needed = (
        0
        if status is Status.MASTERED
        else tracker.correct_needed(est, dict(state.model_state), policy.mastery_threshold)
    )
    threshold: float | None = {
        "mastery_threshold": policy.mastery_threshold,
        "failed_review": policy.mastery_threshold,
        "proficient_threshold": policy.proficient_threshold,
        "below_proficient": policy.proficient_threshold,
        "required_kinds": policy.proficient_threshold,
    }.get(rule)
    pm = f"± {unc:.0%}" if unc is not None else "(uncertainty unknown)"
    figures = (
        f"{policy.model} estimate {_pct(est)} {pm}; {state.n_evidence} piece"
        f"{'s' if state.n_evidence != 1 else ''} of evidence"
    )
    due = review_due.date().isoformat() if review_due else None
    if status is Status.NOT_STARTED:
        learner = f"You have not started {c} yet."
        educator = f"No evidence yet for {c}."
    elif rule == "min_evidence":
        learner = (
            f"We need {missing.count} more piece{'s' if missing.count != 1 else ''} of evidence "
            f"before we can tell whether you have mastered {c}."
        )
        educator = (
            f"Insufficient evidence: {state.n_evidence} of the {policy.min_evidence} pieces the "
            f"policy requires; {figures}."
        )
    elif rule == "required_kinds":
        kinds = " or ".join(missing.kinds)
        learner = f"Your practice on {c} looks good; complete an {kinds} activity to show mastery."
        educator = (
            f"Insufficient evidence: {figures} reaches the proficient threshold "
            f"{_pct(policy.proficient_threshold)}, but the policy requires {kinds} evidence."
        )
    elif status is Status.IN_PROGRESS:
        learner = f"You are making progress on {c}: {_answers(needed)} would reach mastery."
        educator = (
            f"In progress: {figures}, below the proficient threshold "
            f"{_pct(policy.proficient_threshold)} (mastery {_pct(policy.mastery_threshold)}); "
            f"{_answers(needed)} in a row would reach mastery."
        )
    elif status is Status.PROFICIENT:
        learner = f"You are proficient in {c}; {_answers(needed)} would show mastery."
        educator = (
            f"Proficient: {figures}, at or above {_pct(policy.proficient_threshold)} but below "
            f"the mastery threshold {_pct(policy.mastery_threshold)}; {_answers(needed)} in a row "
            "would reach mastery."
        )
    elif status is Status.MASTERED:
        learner = f"You have mastered {c}." + (f" Review it by {due}." if due else "")
        educator = (
            f"Mastered: {figures}, at or above the mastery threshold "
            f"{_pct(policy.mastery_threshold)}"
            + (f"; first mastered {state.mastered_at.date()}" if state.mastered_at else "")
            + (f"; next review due {due}." if due else ".")
        )
    elif rule == "expiry":
        days = policy.expires_after.days if policy.expires_after else 0
        learner = (
            f"Your last evidence for {c} is more than {days} days old; a short review will "
            "confirm what you know."
        )
        educator = (
            f"{status.value.replace('_', ' ').capitalize()}: the policy's {days}-day expiry "
            f"has passed since the last evidence; {figures}."
        )
    elif rule == "review_due":
        learner = f"It is time to review {c} (due {due}) so you keep it."
        educator = f"Needs review: the spaced-review date {due} has passed; {figures}."
    else:
        learner = (
            f"Your recent answers on {c} suggest a review: {_answers(needed)} would "
            "restore mastery."
        )
        educator = (
            f"Needs review: mastered before, now {figures}, below the mastery threshold "
            f"{_pct(policy.mastery_threshold)}; {_answers(needed)} in a row would restore it."
        )
    if override is not None:
        learner = f"Your teacher set {c} to {_words(override.status)}" + (
            f": {override.note}" if override.note else "."
        )
        educator = (
            f"Override by {educator_name or override.educator} ({_words(override.reason)}) "
            f"sets {_words(override.status)}; the model says {_words(status)}. " + educator
        )
    return Explanation(
        competency_id=state.competency_id,
        status=status,
        rule=rule,
        threshold=threshold,
        model=policy.model,
        estimate=est,
        uncertainty=unc,
        n_evidence=state.n_evidence,
        evidence_keys=state.recent_evidence,
        missing=missing,
        correct_needed=needed,
        review_due=review_due,
        override=override,
        learner_text=learner,
        educator_text=educator,
    )
