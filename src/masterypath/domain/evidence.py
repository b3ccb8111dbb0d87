"""Evidence: one immutable, validated observation of a learner.

Evidence is append-only. Its ``key`` makes ingestion idempotent: posting the same
key twice stores it once. When no key is given, the key is derived from the
content, so an identical re-post is recognised as well.

>>> from datetime import datetime, timezone
>>> ev = Evidence.create(
...     learner_id="l1", competency_ids=("add",), outcome=BinaryOutcome(correct=True),
...     timestamp=datetime(2026, 1, 5, 9, 30, tzinfo=timezone.utc), item_id="q1",
... )
>>> ev.outcome.score
1.0
>>> ev.key.startswith("sha256:")
True
>>> Evidence.from_dict(ev.to_dict()) == ev
True
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from masterypath.errors import ValidationError

SCHEMA_VERSION = 1
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_ID_LENGTH = 1000
MAX_KEY_LENGTH = 2000


class EvidenceKind(StrEnum):
    PRACTICE = "practice"
    ASSESSMENT = "assessment"
    PERFORMANCE = "performance"
    EDUCATOR_JUDGEMENT = "educator_judgement"
    INFERRED = "inferred"


EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
"""Evidence outside these times is a typo (or a fuzzer), not a learner's answer."""


@dataclass(frozen=True, slots=True)
class BinaryOutcome:
    """Correct or incorrect."""

    correct: bool
    type: Literal["binary"] = "binary"

    @property
    def score(self) -> float:
        return 1.0 if self.correct else 0.0


@dataclass(frozen=True, slots=True)
class ScoreOutcome:
    """A score in [0, 1]."""

    value: float
    type: Literal["score"] = "score"

    def __post_init__(self) -> None:
        if isinstance(self.value, bool) or not isinstance(self.value, int | float):
            raise ValidationError("outcome.value", f"must be a number, got {self.value!r}")
        if not (math.isfinite(self.value) and 0.0 <= self.value <= 1.0):
            raise ValidationError("outcome.value", f"must be within [0, 1], got {self.value!r}")

    @property
    def score(self) -> float:
        return float(self.value)


@dataclass(frozen=True, slots=True)
class RubricLevel:
    """The level reached on one rubric criterion, with its points out of the maximum."""

    criterion: str
    level: str
    points: float
    max_points: float


@dataclass(frozen=True, slots=True)
class RubricOutcome:
    """Rubric levels per criterion; its score is total points over total maximum."""

    levels: tuple[RubricLevel, ...]
    type: Literal["rubric"] = "rubric"

    def __post_init__(self) -> None:
        if not self.levels:
            raise ValidationError("outcome.levels", "must name at least one criterion")
        names = [lv.criterion for lv in self.levels]
        if len(set(names)) != len(names):
            raise ValidationError("outcome.levels", "a criterion is listed twice")
        for lv in self.levels:
            where = f"outcome.levels[{lv.criterion!r}]"
            if not lv.criterion.strip() or not lv.level.strip():
                raise ValidationError(where, "criterion and level must not be empty")
            if not (math.isfinite(lv.max_points) and lv.max_points > 0):
                raise ValidationError(where, f"max_points must be > 0, got {lv.max_points!r}")
            if not (math.isfinite(lv.points) and 0 <= lv.points <= lv.max_points):
                raise ValidationError(
                    where, f"points must be within [0, {lv.max_points}], got {lv.points!r}"
                )

    @property
    def score(self) -> float:
        return sum(lv.points for lv in self.levels) / sum(lv.max_points for lv in self.levels)


Outcome = BinaryOutcome | ScoreOutcome | RubricOutcome


@dataclass(frozen=True, slots=True)
class Evidence:
    """One immutable observation: who, on what, with which outcome, when, and by whose word."""

    key: str
    learner_id: str
    competency_ids: tuple[str, ...]
    outcome: Outcome
    timestamp: datetime
    kind: EvidenceKind = EvidenceKind.PRACTICE
    item_id: str | None = None
    source: str | None = None
    asserted_by: str | None = None
    sequence: int | None = None
    """Position among the learner's evidence in its source (e.g. a log's order column)."""

    def __post_init__(self) -> None:
        check_text(self.key, "key", MAX_KEY_LENGTH)
        check_text(self.learner_id, "learner_id")
        if not self.competency_ids:
            raise ValidationError("competency_ids", "must name at least one competency")
        for cid in self.competency_ids:
            check_text(cid, "competency_ids")
        if len(set(self.competency_ids)) != len(self.competency_ids):
            raise ValidationError("competency_ids", "a competency is listed twice")
        if not isinstance(self.outcome, BinaryOutcome | ScoreOutcome | RubricOutcome):
            raise ValidationError("outcome", f"unsupported outcome {self.outcome!r}")
        if not isinstance(self.timestamp, datetime):
            raise ValidationError("timestamp", f"must be a datetime, got {self.timestamp!r}")
        if self.timestamp.tzinfo is None or self.timestamp.utcoffset() is None:
            raise ValidationError(
                "timestamp", f"must be timezone-aware, got naive {self.timestamp.isoformat()}"
            )
        if not EARLIEST <= self.timestamp <= LATEST:
            raise ValidationError(
                "timestamp",
                f"must be between {EARLIEST.date()} and {LATEST.date()}, "
                f"got {self.timestamp.isoformat()}",
            )
        EvidenceKind(self.kind)
        for name in ("item_id", "source", "asserted_by"):
            value = getattr(self, name)
            if value is not None:
                check_text(value, name)
        if self.sequence is not None and (
            isinstance(self.sequence, bool) or not isinstance(self.sequence, int)
        ):
            raise ValidationError("sequence", f"must be an integer, got {self.sequence!r}")

    @classmethod
    def create(
        cls,
        *,
        learner_id: str,
        competency_ids: tuple[str, ...],
        outcome: Outcome,
        timestamp: datetime,
        kind: EvidenceKind = EvidenceKind.PRACTICE,
        item_id: str | None = None,
        source: str | None = None,
        asserted_by: str | None = None,
        sequence: int | None = None,
        key: str | None = None,
    ) -> Evidence:
        """Build evidence; without a ``key`` the key is the hash of the content."""
        draft = cls(
            key=key or "pending",
            learner_id=learner_id,
            competency_ids=tuple(competency_ids),
            outcome=outcome,
            timestamp=timestamp,
            kind=EvidenceKind(kind),
            item_id=item_id,
            source=source,
            asserted_by=asserted_by,
            sequence=sequence,
        )
        if key is None:
            return cls(**{**draft._fields(), "key": "sha256:" + draft.content_hash()})
        return draft

    def _fields(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    def content_hash(self) -> str:
        """SHA-256 of the canonical content (everything but the key): equal content, equal hash."""
        return content_hash(
            learner_id=self.learner_id,
            competency_ids=self.competency_ids,
            outcome=canonical_outcome(self.outcome),
            timestamp=canonical_time(self.timestamp),
            kind=self.kind.value,
            item_id=self.item_id,
            source=self.source,
            asserted_by=self.asserted_by,
            sequence=self.sequence,
        )

    def to_dict(self) -> dict[str, Any]:
        """Typed JSON form with a schema version."""
        return {
            "schema_version": SCHEMA_VERSION,
            "key": self.key,
            "learner_id": self.learner_id,
            "competency_ids": list(self.competency_ids),
            "outcome": outcome_to_dict(self.outcome),
            "timestamp": self.timestamp.isoformat(),
            "kind": self.kind.value,
            "item_id": self.item_id,
            "source": self.source,
            "asserted_by": self.asserted_by,
            "sequence": self.sequence,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Evidence:
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ValidationError("schema_version", f"expected {SCHEMA_VERSION}, got {version!r}")
        try:
            timestamp = datetime.fromisoformat(data["timestamp"])
            kind = EvidenceKind(data.get("kind", EvidenceKind.PRACTICE))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationError("timestamp/kind", str(exc)) from None
        return cls(
            key=data["key"],
            learner_id=data["learner_id"],
            competency_ids=tuple(data["competency_ids"]),
            outcome=outcome_from_dict(data["outcome"]),
            timestamp=timestamp,
            kind=kind,
            item_id=data.get("item_id"),
            source=data.get("source"),
            asserted_by=data.get("asserted_by"),
            sequence=data.get("sequence"),
        )


_SEP = "\x1f"  # ASCII unit separator: cannot occur in validated ids (they are printable text)


def canonical_time(timestamp: datetime) -> str:
    """The instant in UTC, ISO 8601: the same instant in two offsets is the same content."""
    return timestamp.astimezone(UTC).isoformat()


def canonical_outcome(outcome: Outcome) -> str:
    if isinstance(outcome, BinaryOutcome):
        return "b1" if outcome.correct else "b0"
    if isinstance(outcome, ScoreOutcome):
        return f"s{float(outcome.value)!r}"
    return "r" + json.dumps(outcome_to_dict(outcome)["levels"], sort_keys=True)


def content_hash(
    *,
    learner_id: str,
    competency_ids: tuple[str, ...] | list[str],
    outcome: str,
    timestamp: str,
    kind: str,
    item_id: str | None,
    source: str | None,
    asserted_by: str | None,
    sequence: int | None,
) -> str:
    """Hash of canonical evidence content; shared by :class:`Evidence` and bulk imports.

    ``outcome`` and ``timestamp`` are the :func:`canonical_outcome` and
    :func:`canonical_time` strings.
    """
    parts = (
        learner_id,
        "\x1e".join(competency_ids),
        outcome,
        timestamp,
        kind,
        item_id or "",
        source or "",
        asserted_by or "",
        "" if sequence is None else str(sequence),
    )
    return hashlib.sha256(_SEP.join(parts).encode()).hexdigest()


def outcome_to_dict(outcome: Outcome) -> dict[str, Any]:
    if isinstance(outcome, BinaryOutcome):
        return {"type": "binary", "correct": outcome.correct}
    if isinstance(outcome, ScoreOutcome):
        return {"type": "score", "value": outcome.value}
    return {
        "type": "rubric",
        "levels": [
            {
                "criterion": lv.criterion,
                "level": lv.level,
                "points": lv.points,
                "max_points": lv.max_points,
            }
            for lv in outcome.levels
        ],
    }


def outcome_from_dict(data: dict[str, Any]) -> Outcome:
    kind = data.get("type") if isinstance(data, dict) else None
    if kind == "binary":
        correct = data.get("correct")
        if not isinstance(correct, bool):
            raise ValidationError("outcome.correct", f"must be true or false, got {correct!r}")
        return BinaryOutcome(correct=correct)
    if kind == "score":
        return ScoreOutcome(value=data.get("value"))  # type: ignore[arg-type]
    if kind == "rubric":
        try:
            levels = tuple(
                RubricLevel(
                    str(lv["criterion"]),
                    str(lv["level"]),
                    float(lv["points"]),
                    float(lv["max_points"]),
                )
                for lv in data["levels"]
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationError("outcome.levels", f"malformed rubric level: {exc}") from None
        return RubricOutcome(levels=levels)
    raise ValidationError("outcome.type", f"must be binary, score or rubric, got {kind!r}")


def check_text(value: object, field_name: str, limit: int = MAX_ID_LENGTH) -> None:
    r"""Raise :class:`ValidationError` naming ``field_name`` unless ``value`` is a non-blank
    string of at most ``limit`` characters without control characters (which no id or
    label needs, and PostgreSQL refuses NUL in text).

    >>> check_text("ana", "learner_id")
    >>> check_text("a\x00b", "value")
    Traceback (most recent call last):
    ...
    masterypath.errors.ValidationError: value: must not contain control characters
    """
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field_name, f"must be a non-empty string, got {value!r}")
    if len(value) > limit:
        raise ValidationError(field_name, f"must be at most {limit} characters")
    if _CONTROL.search(value):
        raise ValidationError(field_name, "must not contain control characters")
