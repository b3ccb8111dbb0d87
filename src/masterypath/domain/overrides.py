"""Educator overrides: a reason-coded decision that wins over the model until lifted."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from masterypath.domain.policy import Status


class OverrideReason(StrEnum):
    DEMONSTRATED_ELSEWHERE = "demonstrated_elsewhere"
    """Shown outside the system (class work, a project, an oral check)."""
    PRIOR_LEARNING = "prior_learning"
    """Recognised prior learning or transfer credit."""
    ASSESSMENT_ERROR = "assessment_error"
    """The evidence or the model is wrong for this learner."""
    ACCOMMODATION = "accommodation"
    OTHER = "other"


@dataclass(frozen=True)
class Override:
    """``status`` granted (or revoked: set lower) by ``educator`` for one learner and
    competency, with what the model said at the time (for the audit report)."""

    id: int
    learner_id: str
    framework_id: str
    competency_id: str
    status: Status
    reason: OverrideReason
    note: str
    educator: str
    created_at: datetime
    model_status: Status
    model_estimate: float | None
    lifted_at: datetime | None = None
    lifted_by: str | None = None
    lift_note: str = ""

    @property
    def active(self) -> bool:
        return self.lifted_at is None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (times as datetimes; the caller's encoder formats them)."""
        return {
            **asdict(self),
            "status": str(self.status),
            "reason": str(self.reason),
            "model_status": str(self.model_status),
            "active": self.active,
        }
