"""The cache of parsed states: a state written is read back as the very object written,
which is only right if writing and parsing a state loses nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from masterypath.domain.policy import MasteryPolicy
from masterypath.domain.progress import (
    CompetencyState,
    Observation,
    apply_observation,
    state_from_dict,
)
from masterypath.domain.trackers import DEFAULT_BKT, BKTTracker
from masterypath.store.json_text import from_json_text, to_json_text
from masterypath.store.mastery import PARSED_STATES, ParsedStates, parse_state

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TRACKER = BKTTracker(DEFAULT_BKT)


API_TIME = TypeAdapter(datetime)  # timestamps as the API parses them (pydantic's TzInfo)


@given(
    answers=st.lists(st.tuples(st.booleans(), st.integers(0, 60 * 24 * 40)), max_size=25),
    review=st.booleans(),
    offset=st.sampled_from(["Z", "+00:00"]),  # the projection works in UTC
)
def test_a_state_survives_its_json_exactly_so_the_written_object_may_stand_in_for_it(
    answers: list[tuple[bool, int]], review: bool, offset: str
) -> None:
    policy = MasteryPolicy(min_evidence=2, review=review)
    state = CompetencyState.new("ana", "add", TRACKER)
    minutes = 0
    for n, (correct, gap) in enumerate(answers):
        minutes += gap  # days apart at times: mastered states get FSRS review cards
        when = T + timedelta(minutes=minutes, microseconds=n * 37)
        when = API_TIME.validate_python(when.strftime("%Y-%m-%dT%H:%M:%S.%f") + offset)
        seen = Observation(f"e{n}", float(correct), "practice", when, None)
        state, _ = apply_observation(state, seen, TRACKER, policy)
    raw = to_json_text(state)  # what replace_states stores
    assert from_json_text(raw) == json.loads(json.dumps(state.to_dict()))  # = its to_dict
    assert state_from_dict(from_json_text(raw)) == state
    assert to_json_text(state_from_dict(from_json_text(raw))) == raw
    PARSED_STATES.put(raw, state)
    assert parse_state(raw) is state


def test_json_text_writes_what_json_dumps_would_and_refuses_what_it_cannot_store() -> None:
    value = {
        "at": datetime(2026, 1, 2, 3, 4, 5, 600, tzinfo=UTC),
        "n": np.int64(3),
        "p": np.float32(0.5),
        7: (1, "x"),
    }
    assert from_json_text(to_json_text(value)) == {
        "at": "2026-01-02T03:04:05.000600+00:00",
        "n": 3,
        "p": 0.5,
        "7": [1, "x"],
    }
    with pytest.raises(TypeError, match="not JSON serializable: set"):
        to_json_text({"s": {1, 2}})


def test_parsing_is_cached_by_the_text_and_the_cache_is_bounded() -> None:
    state = CompetencyState.new("bo", "sub", TRACKER)
    raw = to_json_text(state)
    first = parse_state(raw)
    assert first == state and parse_state(raw) is first  # parsed once
    other = json.dumps({**state.to_dict(), "n_evidence": 7})
    assert parse_state(other).n_evidence == 7  # other text, other state
    small = ParsedStates(size=2)
    for k in range(3):
        small.put(str(k), k)
    assert [small.get(str(k)) for k in range(3)] == [None, 1, 2]
