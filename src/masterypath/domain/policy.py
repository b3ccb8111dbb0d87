"""Mastery policies: the measurable criterion that turns a learner's state into a status.

>>> policy = MasteryPolicy(mastery_threshold=0.9, min_evidence=2)
>>> MasteryPolicy.from_dict(policy.to_dict()) == policy
True
>>> satisfies(Status.MASTERED, UnlockStatus.PROFICIENT), satisfies(Status.PROFICIENT, "mastered")
(True, False)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from masterypath.domain.evidence import EvidenceKind
from masterypath.domain.framework import UnlockStatus
from masterypath.domain.models.rollup import RollupMethod
from masterypath.errors import ValidationError

SCHEMA_VERSION = 1


class Status(StrEnum):
    NOT_STARTED = "not_started"
    INSUFFICIENT_EVIDENCE = "insufficient_evidence"
    """Some evidence, but not enough (or not of the required kinds) to decide."""
    IN_PROGRESS = "in_progress"
    PROFICIENT = "proficient"
    MASTERED = "mastered"
    NEEDS_REVIEW = "needs_review"
    """Was mastered; a review is overdue, failed, or the evidence expired."""


def satisfies(status: Status | str, requires: UnlockStatus | str) -> bool:
    """Whether ``status`` meets a prerequisite edge. ``needs_review`` meets both kinds of
    edge: it only follows mastery, and a review that falls due puts the competency back
    into the learner's plan without re-locking what it had unlocked."""
    status = Status(status)
    if status is Status.NEEDS_REVIEW:
        return True
    if UnlockStatus(requires) is UnlockStatus.MASTERED:
        return status is Status.MASTERED
    return status in (Status.PROFICIENT, Status.MASTERED)


class ParentRule(StrEnum):
    """How a parent competency's status rolls up from its children (Moodle's two rules)."""

    ALL = "all"
    """Mastered when every child is mastered."""
    POINTS = "points"
    """Mastered when mastered children's points reach ``points_to_master`` and every
    required child is mastered."""


MODEL_KINDS = ("bkt", "logistic", *(f"rollup:{m.value}" for m in RollupMethod))


@dataclass(frozen=True)
class MasteryPolicy:
    """One competency's mastery criterion (or a framework's default).

    ``model`` is ``bkt``, ``logistic`` or ``rollup:<method>``; thresholds apply to its
    estimate (P(mastered) for BKT, P(correct) for logistic, the rolled-up score for a
    rollup). Rollup rules use ``rollup_weight`` (weighted and decaying averages),
    ``rollup_n`` (n_mastery) and ``mastery_threshold`` as Canvas's mastery points.
    """

    model: str = "bkt"
    proficient_threshold: float = 0.8
    mastery_threshold: float = 0.95
    min_evidence: int = 3
    required_kinds: tuple[EvidenceKind, ...] = ()
    """At least one piece of evidence of one of these kinds (none: any kind)."""
    expires_after: timedelta | None = None
    """A proficient or mastered status needs review this long after the last evidence."""
    review: bool = True
    """Schedule spaced reviews of mastered competencies (FSRS)."""
    wheel_spinning_opportunities: int = 10
    falling_drop: float = 0.2
    """Alert when the estimate falls this far below its peak, once the peak had reached
    ``proficient_threshold``."""
    rollup_weight: float = 0.65
    rollup_n: int = 3
    parent_rule: ParentRule = ParentRule.ALL
    child_points: Mapping[str, float] = field(default_factory=dict)
    """Points per child for ``ParentRule.POINTS`` (1 each when not listed)."""
    required_children: tuple[str, ...] = ()
    points_to_master: float = 0.0

    def __post_init__(self) -> None:
        if self.model not in MODEL_KINDS:
            raise ValidationError("model", f"must be one of {', '.join(MODEL_KINDS)}")
        for name in ("proficient_threshold", "mastery_threshold", "rollup_weight"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0.0 < value <= 1.0):
                raise ValidationError(name, f"must be in (0, 1], got {value!r}")
        if self.proficient_threshold > self.mastery_threshold:
            raise ValidationError("proficient_threshold", "must not exceed mastery_threshold")
        for name in ("min_evidence", "wheel_spinning_opportunities", "rollup_n"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValidationError(name, f"must be a whole number >= 0, got {value!r}")
        if not (math.isfinite(self.falling_drop) and 0.0 < self.falling_drop <= 1.0):
            raise ValidationError("falling_drop", f"must be in (0, 1], got {self.falling_drop!r}")
        if self.expires_after is not None and self.expires_after <= timedelta(0):
            raise ValidationError("expires_after", "must be a positive duration")
        for kind in self.required_kinds:
            if kind not in set(EvidenceKind):
                raise ValidationError("required_kinds", f"unknown evidence kind {kind!r}")
        if self.points_to_master < 0 or any(p < 0 for p in self.child_points.values()):
            raise ValidationError("child_points", "points must be >= 0")

    @property
    def rollup_method(self) -> RollupMethod | None:
        if not self.model.startswith("rollup:"):
            return None
        return RollupMethod(self.model.split(":", 1)[1])

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "model": self.model,
            "proficient_threshold": self.proficient_threshold,
            "mastery_threshold": self.mastery_threshold,
            "min_evidence": self.min_evidence,
            "required_kinds": [str(k) for k in self.required_kinds],
            "expires_after_days": (
                None if self.expires_after is None else self.expires_after / timedelta(days=1)
            ),
            "review": self.review,
            "wheel_spinning_opportunities": self.wheel_spinning_opportunities,
            "falling_drop": self.falling_drop,
            "rollup_weight": self.rollup_weight,
            "rollup_n": self.rollup_n,
            "parent_rule": str(self.parent_rule),
            "child_points": dict(self.child_points),
            "required_children": list(self.required_children),
            "points_to_master": self.points_to_master,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MasteryPolicy:
        """Build from a dict; missing keys take the defaults, unknown keys are an error."""
        data = dict(data)
        version = data.pop("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise ValidationError("schema_version", f"unsupported policy schema {version!r}")
        known = set(cls().to_dict()) - {"schema_version"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValidationError(unknown[0], "is not a policy setting")
        kwargs: dict[str, Any] = dict(data)
        if "required_kinds" in kwargs:
            kinds = kwargs["required_kinds"]
            try:
                kwargs["required_kinds"] = tuple(EvidenceKind(k) for k in kinds)
            except ValueError as exc:
                raise ValidationError("required_kinds", str(exc)) from None
        days = kwargs.pop("expires_after_days", None)
        if days is not None:
            if not isinstance(days, int | float) or isinstance(days, bool) or days <= 0:
                raise ValidationError("expires_after_days", f"must be > 0, got {days!r}")
            kwargs["expires_after"] = timedelta(days=days)
        if "parent_rule" in kwargs:
            try:
                kwargs["parent_rule"] = ParentRule(kwargs["parent_rule"])
            except ValueError:
                raise ValidationError("parent_rule", "must be 'all' or 'points'") from None
        if "required_children" in kwargs:
            kwargs["required_children"] = tuple(kwargs["required_children"])
        return cls(**kwargs)


@dataclass(frozen=True)
class PolicyBook:
    """A framework's default policy and the competencies that have their own."""

    default: MasteryPolicy = field(default_factory=MasteryPolicy)
    by_competency: Mapping[str, MasteryPolicy] = field(default_factory=dict)

    def for_competency(self, competency_id: str) -> MasteryPolicy:
        return self.by_competency.get(competency_id, self.default)
