"""The cache of parsed states: a state written is read back as the very object written,
which is only right if writing and parsing a state loses nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from masterypath.domain.policy import MasteryPolicy
from masterypath.domain.progress import (
    CompetencyState,
    Observation,
    apply_observation,
    state_from_dict,
)
from masterypath.domain.trackers import DEFAULT_BKT, BKTTracker
from masterypath.store.mastery import PARSED_STATES, ParsedStates, parse_state

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TRACKER = BKTTracker(DEFAULT_BKT)


@given(
    answers=st.lists(st.tuples(st.booleans(), st.integers(0, 60 * 24 * 40)), max_size=25),
    review=st.booleans(),
)
def test_a_state_survives_its_json_exactly_so_the_written_object_may_stand_in_for_it(
    answers: list[tuple[bool, int]], review: bool
) -> None:
    policy = MasteryPolicy(min_evidence=2, review=review)
    state = CompetencyState.new("ana", "add", TRACKER)
    minutes = 0
    for n, (correct, gap) in enumerate(answers):
        minutes += gap  # days apart at times: mastered states get FSRS review cards
        when = T + timedelta(minutes=minutes)
        seen = Observation(f"e{n}", float(correct), "practice", when, None)
        state, _ = apply_observation(state, seen, TRACKER, policy)
    raw = json.dumps(state.to_dict())
    assert state_from_dict(json.loads(raw)) == state
    assert json.dumps(state_from_dict(json.loads(raw)).to_dict()) == raw
    PARSED_STATES.put(raw, state)
    assert parse_state(raw) is state


def test_parsing_is_cached_by_the_text_and_the_cache_is_bounded() -> None:
    state = CompetencyState.new("bo", "sub", TRACKER)
    raw = json.dumps(state.to_dict())
    first = parse_state(raw)
    assert first == state and parse_state(raw) is first  # parsed once
    other = json.dumps({**state.to_dict(), "n_evidence": 7})
    assert parse_state(other).n_evidence == 7  # other text, other state
    small = ParsedStates(size=2)
    for k in range(3):
        small.put(str(k), k)
    assert [small.get(str(k)) for k in range(3)] == [None, 1, 2]
