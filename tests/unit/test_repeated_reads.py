"""Which repeated reads go into the access log (services/privacy.RepeatedReads)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from masterypath.services.privacy import RepeatedReads

T = datetime(2026, 3, 2, 9, tzinfo=UTC)
WINDOW = timedelta(minutes=5)


def read(reads: RepeatedReads, at: datetime, *learners: str, actor: str = "user:a") -> list[str]:
    """One request: what is due, and (as after a committed row) remembered."""
    due = reads.due(actor, "read_learner", "GET /p", learners, at)
    reads.logged(actor, "read_learner", "GET /p", due, at)
    return due


def test_a_read_not_committed_is_still_due() -> None:
    reads = RepeatedReads(WINDOW)
    assert reads.due("user:a", "read_learner", "GET /p", ["kim"], T) == ["kim"]
    # the row was not written (the request failed): the next read is logged
    assert read(reads, T + timedelta(seconds=1), "kim") == ["kim"]
    assert read(reads, T + timedelta(seconds=2), "kim") == []


def test_each_account_endpoint_and_learner_apart_and_once_per_request() -> None:
    reads = RepeatedReads(WINDOW)
    assert read(reads, T, "kim", "kim", "li") == ["kim", "li"]
    assert read(reads, T, "kim", actor="user:b") == ["kim"]
    assert reads.due("user:a", "read_learner", "GET /q", ["kim"], T) == ["kim"]
    assert reads.due("user:a", "export", "GET /p", ["kim"], T) == ["kim"]


def test_a_clock_set_back_logs_again_and_a_window_of_zero_logs_every_read() -> None:
    reads = RepeatedReads(WINDOW)
    read(reads, T, "kim")
    assert read(reads, T - timedelta(seconds=1), "kim") == ["kim"]
    never = RepeatedReads(timedelta(0))
    assert [read(never, T, "kim") for _ in range(3)] == [["kim"]] * 3


def test_forgotten_when_full_or_erased() -> None:
    reads = RepeatedReads(WINDOW)
    reads.max_remembered = 3
    read(reads, T, "a", "b")
    read(reads, T + timedelta(minutes=4), "c")
    read(reads, T + timedelta(minutes=6), "d")  # full: a and b (6 minutes old) are forgotten
    assert set(reads._last) == {("user:a", "read_learner", "GET /p", x) for x in "cd"}
    assert read(reads, T + timedelta(minutes=6), "c") == []  # c is still remembered
    reads.forget("c")
    assert read(reads, T + timedelta(minutes=6), "c") == ["c"]


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2000)), max_size=60))
def test_one_row_per_window_while_reads_go_on(polls: list[tuple[int, int]]) -> None:
    # each learner's logged reads are at least a window apart, and every read has a logged
    # read at most a window before it (nothing goes unrecorded for longer)
    reads = RepeatedReads(WINDOW)
    logged: dict[str, list[datetime]] = {}
    seen: dict[str, list[datetime]] = {}
    for learner, second in sorted(polls, key=lambda p: p[1]):
        at = T + timedelta(seconds=second)
        name = f"l{learner}"
        seen.setdefault(name, []).append(at)
        for due in read(reads, at, name):
            logged.setdefault(due, []).append(at)
    for times in logged.values():
        assert all(b - a >= WINDOW for a, b in pairwise(times))
    for name, times in seen.items():
        assert all(any(timedelta(0) <= t - w < WINDOW for w in logged[name]) for t in times)
