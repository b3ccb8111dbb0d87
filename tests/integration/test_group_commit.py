"""Group commit of concurrent evidence writes on SQLite and PostgreSQL: concurrent batches
share one transaction, each caller gets exactly its own answer, and a refused batch
leaves the others stored and nothing of itself."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from masterypath.domain.evidence import BinaryOutcome, Evidence
from masterypath.domain.framework import Competency, Framework
from masterypath.errors import ConflictError
from masterypath.services.context import ServiceContext
from masterypath.services.evidence import EvidenceService
from masterypath.services.frameworks import FrameworkService
from masterypath.services.group_commit import GroupCommitter

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def answer(key: str, correct: bool = True, learner: str = "ana") -> Evidence:
    return Evidence.create(
        key=key,
        learner_id=learner,
        competency_ids=("add",),
        outcome=BinaryOutcome(correct),
        timestamp=T + timedelta(minutes=int(key.split("-")[-1])),
    )


def post_together(committer: GroupCommitter, batches: Sequence[list[Evidence]]) -> list[Any]:
    out: list[Any] = [None] * len(batches)

    def post(n: int) -> None:
        try:
            out[n] = committer.record_many(batches[n])
        except ConflictError as exc:
            out[n] = exc

    threads = [threading.Thread(target=post, args=(n,)) for n in range(len(batches))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return out


@pytest.fixture
def evidence(database: ServiceContext) -> EvidenceService:
    FrameworkService(database).save(
        Framework(id="arith", title="Arithmetic", competencies=(Competency("add", "Addition"),))
    )
    return EvidenceService(database)


def test_concurrent_batches_share_one_transaction_and_each_gets_its_answers(
    evidence: EvidenceService, database: ServiceContext
) -> None:
    # the committer waits for five pieces of evidence: the two batches share a transaction
    committer = GroupCommitter(evidence, max_batch=5, max_wait=30.0, quiet=30.0)
    commits: list[object] = []

    def count(conn: Any) -> None:
        commits.append(conn)

    first = [answer("ana-1"), answer("ana-2", False)]
    second = [answer("ben-1", learner="ben"), answer("ben-2", learner="ben"), answer("ben-3")]
    event.listen(database.engine, "commit", count)
    try:
        answers = post_together(committer, [first, second])
        assert len(commits) == 1  # one transaction for both
        commits.clear()
        # "ana-1" again in both: they cannot share a transaction, so each goes alone
        answers_again = post_together(
            GroupCommitter(evidence, max_batch=6, max_wait=30.0, quiet=30.0),
            [[answer("ana-1"), answer("ana-3")], [answer("ana-4"), *second[:2], answer("ana-1")]],
        )
        assert len(commits) == 2
    finally:
        event.remove(database.engine, "commit", count)
    assert [[(r.key, r.stored) for r in a] for a in answers] == [
        [("ana-1", True), ("ana-2", True)],
        [("ben-1", True), ("ben-2", True), ("ben-3", True)],
    ]
    assert [(r.key, r.stored) for r in answers_again[0]] == [("ana-1", False), ("ana-3", True)]
    assert [(r.key, r.stored) for r in answers_again[1]] == [
        ("ana-4", True),
        ("ben-1", False),
        ("ben-2", False),
        ("ana-1", False),
    ]
    assert evidence.count() == 7


def test_batches_are_answered_in_their_own_order(evidence: EvidenceService) -> None:
    committer = GroupCommitter(evidence, max_batch=5, max_wait=30.0, quiet=30.0)
    first = [answer("ana-1"), answer("ana-2", False)]
    second = [answer("ben-1", learner="ben"), answer("ben-2", learner="ben"), answer("ben-3")]
    answers = post_together(committer, [first, second])
    assert [[r.key for r in a] for a in answers] == [
        ["ana-1", "ana-2"],
        ["ben-1", "ben-2", "ben-3"],
    ]
    assert all(r.stored for a in answers for r in a)
    again = post_together(committer, [first, second])  # re-posted: stored before
    assert [[r.stored for r in a] for a in again] == [[False, False], [False, False, False]]
    assert evidence.count() == 5


def test_a_refused_batch_stores_nothing_and_the_others_are_stored(
    evidence: EvidenceService,
) -> None:
    evidence.record(answer("ana-1"))
    committer = GroupCommitter(evidence, max_batch=5, max_wait=30.0, quiet=30.0)
    changed = [answer("ana-1", correct=False), answer("ana-9")]  # "ana-1" with other content
    fine = [answer("ben-1", learner="ben"), answer("ben-2", learner="ben"), answer("ben-3")]
    answers = post_together(committer, [changed, fine])
    assert isinstance(answers[0], ConflictError)
    assert [r.stored for r in answers[1]] == [True, True, True]
    assert sorted(e.key for e in evidence.find(limit=10)) == ["ana-1", "ben-1", "ben-2", "ben-3"]
    with pytest.raises(ConflictError):  # alone: a batch naming a key twice
        GroupCommitter(evidence).record_many([answer("ana-5"), answer("ana-5")])
    assert evidence.count() == 4


def test_a_transaction_waits_while_callers_keep_joining_then_goes_without_waiting_its_most(
    evidence: EvidenceService, database: ServiceContext
) -> None:
    # quiet 2 s, most 60 s: a caller joining 50 ms after the first rides along (awaiting
    # on an event loop); then nobody joins for 2 s and the transaction goes, long before
    # the 60 s most (the threads' 30 s join timeout is a liveness guard, not a timing)
    committer = GroupCommitter(evidence, max_batch=100, max_wait=60.0, quiet=2.0)
    commits: list[object] = []
    answers: dict[str, Any] = {}

    def first() -> None:
        answers["first"] = committer.record_many([answer("ana-1")])

    def second() -> None:
        answers["second"] = asyncio.run(
            committer.record_many_async([answer("ben-1", learner="ben")])
        )

    def count(conn: Any) -> None:
        commits.append(conn)

    event.listen(database.engine, "commit", count)
    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    try:
        threads[0].start()
        threading.Event().wait(0.05)
        threads[1].start()
        for t in threads:
            t.join(timeout=30)
    finally:
        event.remove(database.engine, "commit", count)
    assert not any(t.is_alive() for t in threads)
    assert len(commits) == 1
    assert [(r.key, r.stored) for r in answers["first"]] == [("ana-1", True)]
    assert [(r.key, r.stored) for r in answers["second"]] == [("ben-1", True)]


def test_callers_on_one_event_loop_are_answered_with_one_wake_up(
    evidence: EvidenceService,
) -> None:
    # four callers awaiting on one loop share a transaction (the fifth piece of evidence
    # closes it) and are answered by one call into the loop, each with its own results; a
    # caller that gave up (cancelled) is skipped without disturbing the others
    committer = GroupCommitter(evidence, max_batch=5, max_wait=30.0, quiet=30.0)
    wake_ups: list[object] = []

    async def main() -> list[Any]:
        loop = asyncio.get_running_loop()
        threadsafe = loop.call_soon_threadsafe

        def counted(callback: Any, *args: Any) -> Any:
            wake_ups.append(callback)
            return threadsafe(callback, *args)

        loop.call_soon_threadsafe = counted  # type: ignore[method-assign,assignment]
        calls = [
            committer.record_many_async([answer("ana-1"), answer("ana-2", False)]),
            committer.record_many_async([answer("ben-1", learner="ben")]),
            committer.record_many_async([answer("cy-1", learner="cy")]),
        ]
        tasks = [asyncio.ensure_future(c) for c in calls]
        await asyncio.sleep(0)  # all three have handed their evidence over
        tasks[2].cancel()
        await asyncio.sleep(0)
        late = committer.record_many_async([answer("dee-1", learner="dee")])
        # 60 s: a liveness guard (a caller never answered), not a timing
        return await asyncio.wait_for(asyncio.gather(*tasks[:2], late), timeout=60)

    first, second, fourth = asyncio.run(main())
    assert len(wake_ups) == 1
    assert [(r.key, r.stored) for r in first] == [("ana-1", True), ("ana-2", True)]
    assert [(r.key, r.stored) for r in second] == [("ben-1", True)]
    assert [(r.key, r.stored) for r in fourth] == [("dee-1", True)]
    # the cancelled caller's evidence was handed over before it gave up: it is stored
    assert evidence.count() == 5
