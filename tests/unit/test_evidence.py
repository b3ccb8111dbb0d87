from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from masterypath.domain.evidence import (
    BinaryOutcome,
    Evidence,
    EvidenceKind,
    RubricLevel,
    RubricOutcome,
    ScoreOutcome,
)
from masterypath.errors import ValidationError

T = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def make(**changes: object) -> Evidence:
    fields: dict[str, object] = dict(
        learner_id="l1",
        competency_ids=("add",),
        outcome=BinaryOutcome(True),
        timestamp=T,
        item_id="q1",
    )
    fields.update(changes)
    return Evidence.create(**fields)  # type: ignore[arg-type]


def test_naive_timestamp_is_rejected_naming_the_field() -> None:
    with pytest.raises(ValidationError) as exc:
        make(timestamp=datetime(2026, 3, 1, 10, 0))
    assert exc.value.field == "timestamp"
    assert "timezone-aware" in exc.value.reason


def test_evidence_is_immutable() -> None:
    ev = make()
    with pytest.raises(dataclasses.FrozenInstanceError):
        ev.learner_id = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"learner_id": ""}, "learner_id"),
        ({"competency_ids": ()}, "competency_ids"),
        ({"competency_ids": ("a", "a")}, "competency_ids"),
        ({"item_id": "bad\x00id"}, "item_id"),
        ({"learner_id": "x" * 1001}, "learner_id"),
        ({"sequence": 1.5}, "sequence"),
    ],
)
def test_bad_fields_are_named(changes: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        make(**changes)
    assert exc.value.field == field


@pytest.mark.parametrize("value", [-0.01, 1.01, float("nan"), True])
def test_score_outside_unit_interval_is_rejected(value: float) -> None:
    with pytest.raises(ValidationError, match=r"outcome\.value"):
        ScoreOutcome(value)


def test_rubric_score_is_points_over_maximum() -> None:
    outcome = RubricOutcome(
        (RubricLevel("thesis", "proficient", 3, 4), RubricLevel("evidence", "developing", 1, 4))
    )
    assert outcome.score == pytest.approx(4 / 8)
    with pytest.raises(ValidationError, match="points must be within"):
        RubricOutcome((RubricLevel("thesis", "x", 5, 4),))
    with pytest.raises(ValidationError, match="listed twice"):
        RubricOutcome((RubricLevel("a", "x", 1, 4), RubricLevel("a", "y", 1, 4)))


def test_derived_key_depends_on_content_only() -> None:
    a, b = make(), make()
    assert a.key == b.key and a.key.startswith("sha256:")
    assert make(outcome=BinaryOutcome(False)).key != a.key
    # the same instant written in another offset is the same content
    same_instant = T.astimezone(timezone(timedelta(hours=2)))
    assert make(timestamp=same_instant).key == a.key


def test_explicit_key_is_kept() -> None:
    assert make(key="lms:attempt:42").key == "lms:attempt:42"


def test_typed_json_round_trip_with_schema_version() -> None:
    ev = make(
        outcome=RubricOutcome((RubricLevel("c", "l", 2, 4),)),
        kind=EvidenceKind.PERFORMANCE,
        sequence=7,
        asserted_by="teacher-1",
    )
    data = ev.to_dict()
    assert data["schema_version"] == 1
    assert Evidence.from_dict(data) == ev
    with pytest.raises(ValidationError, match="schema_version"):
        Evidence.from_dict({**data, "schema_version": 99})


@given(
    st.one_of(
        st.booleans().map(BinaryOutcome),
        st.floats(0, 1).map(ScoreOutcome),
        st.lists(st.tuples(st.floats(0, 10), st.floats(0.1, 10)), min_size=1, max_size=5).map(
            lambda pairs: RubricOutcome(
                tuple(RubricLevel(f"c{i}", "l", min(p, m), m) for i, (p, m) in enumerate(pairs))
            )
        ),
    )
)
def test_every_outcome_scores_within_unit_interval(outcome: object) -> None:
    assert 0.0 <= outcome.score <= 1.0  # type: ignore[attr-defined]
