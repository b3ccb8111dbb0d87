"""The demo course's simulation: seeded, bounded by ``end``, and a later load only adds."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from masterypath.demo import (
    DEMO_SOURCE,
    course_start,
    default_start,
    load_demo_framework,
    simulate_learners,
)
from masterypath.domain.evidence import BinaryOutcome, Evidence, EvidenceKind
from masterypath.errors import ConflictError

FRAMEWORK = load_demo_framework()
START = datetime(2026, 9, 1, tzinfo=UTC)


def simulate(seed: int, end: datetime | None, n: int = 6) -> list[Evidence]:
    return simulate_learners(
        FRAMEWORK, n_learners=n, rng=np.random.default_rng(seed), start=START, end=end
    )


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    first=st.integers(0, 60 * 24 * 40),
    more=st.integers(0, 60 * 24 * 40),
)
def test_a_later_end_keeps_every_earlier_answer_and_adds_only_later_ones(
    seed: int, first: int, more: int
) -> None:
    early_end = START + timedelta(minutes=first)
    late_end = early_end + timedelta(minutes=more)
    early, late = simulate(seed, early_end), simulate(seed, late_end)
    assert all(e.timestamp <= early_end for e in early)
    assert all(e.timestamp <= late_end for e in late)
    by_key = {e.key: e for e in late}
    assert all(by_key[e.key] == e for e in early)  # same key, same content: no conflict
    added = set(by_key) - {e.key for e in early}
    assert all(by_key[k].timestamp > early_end for k in added)


def test_learners_study_in_sessions_days_apart_from_the_first_week() -> None:
    evidence = simulate(7, None, n=30)
    times: dict[str, list[datetime]] = {}
    for e in evidence:
        times.setdefault(e.learner_id, []).append(e.timestamp)
    sessions: list[int] = []
    for stamps in times.values():
        assert START <= stamps[0] < START + timedelta(days=7)
        size = 1
        for before, after in pairwise(stamps):
            gap = after - before
            assert timedelta(minutes=1) <= gap < timedelta(minutes=30) or gap >= timedelta(days=1)
            if gap >= timedelta(days=1):
                sessions.append(size)
                size = 0
            size += 1
    assert sessions and min(sessions) >= 5 and max(sessions) <= 15
    assert max(len(stamps) for stamps in times.values()) > 30  # someone came back often
    assert {e.source for e in evidence} == {DEMO_SOURCE}
    assert Counter(e.key.split(":")[1] for e in evidence) == {"2026-09-01": len(evidence)}


def test_the_same_seed_and_dates_give_the_same_course() -> None:
    end = START + timedelta(days=20)
    assert simulate(3, end) == simulate(3, end)
    assert simulate(3, end) != simulate(4, end)


def practice(key: str, source: str) -> Evidence:
    return Evidence(
        key=key,
        learner_id="sim-learner-01",
        competency_ids=("c",),
        outcome=BinaryOutcome(True),
        timestamp=START,
        kind=EvidenceKind.PRACTICE,
        source=source,
    )


def test_course_start_reads_the_first_simulated_key() -> None:
    assert course_start([]) is None
    own = practice("mine-1", "web")
    assert course_start([own]) is None
    assert course_start([own, practice("demo:2026-10-05:sim-learner-01:0", DEMO_SOURCE)]) == (
        date(2026, 10, 5)
    )
    with pytest.raises(ConflictError, match="earlier release") as raised:
        course_start([practice("demo:sim-learner-01:0", DEMO_SOURCE)])
    assert raised.value.field == "database"


def test_a_new_course_begins_five_weeks_before_today() -> None:
    assert default_start(date(2027, 1, 3)) == datetime(2026, 11, 29, tzinfo=UTC)
