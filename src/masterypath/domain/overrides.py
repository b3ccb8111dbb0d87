"""Educator overrides: a reason-coded decision that wins over the model until lifted."""

from __future__ import annotations

from collections.abc import Mapping
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

    @property
    def actors(self) -> tuple[str, ...]:
        """Who set it and, once lifted, who lifted it (as stored: an account's subject)."""
        return (self.educator,) if self.lifted_by is None else (self.educator, self.lifted_by)

    def to_dict(self, names: Mapping[str, str] | None = None) -> dict[str, Any]:
        """JSON-ready (times as datetimes; the caller's encoder formats them). With
        ``names`` (each of :attr:`actors` -> what to call them) also ``educator_name`` and
        ``lifted_by_name``.

        >>> from datetime import UTC
        >>> o = Override(1, "kim", "f", "c", Status.MASTERED, OverrideReason.OTHER, "",
        ...              "user:7", datetime(2026, 1, 1, tzinfo=UTC), Status.IN_PROGRESS, 0.4)
        >>> {k: v for k, v in o.to_dict({"user:7": "ms-lee"}).items() if k.endswith("name")}
        {'educator_name': 'ms-lee', 'lifted_by_name': None}
        """
        out = {
            **asdict(self),
            "status": str(self.status),
            "reason": str(self.reason),
            "model_status": str(self.model_status),
            "active": self.active,
        }
        if names is not None:
            out["educator_name"] = names[self.educator]
            out["lifted_by_name"] = None if self.lifted_by is None else names[self.lifted_by]
        return out
