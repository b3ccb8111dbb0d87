"""Two writers posting the same evidence at the same moment store it exactly once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from masterypath.domain.evidence import BinaryOutcome, Evidence
from masterypath.services.context import ServiceContext
from masterypath.services.evidence import EvidenceService, RecordResult
from tests.conftest import TABLES


@pytest.fixture
def pg(postgres_context: ServiceContext) -> ServiceContext:
    from sqlalchemy import text

    with postgres_context.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    return postgres_context


@pytest.mark.parametrize("batch_size", [1, 500])
def test_concurrent_writers_store_each_key_exactly_once(
    pg: ServiceContext, batch_size: int
) -> None:
    batch = [
        Evidence.create(
            key=f"race:{n}",
            learner_id="l1",
            competency_ids=("add",),
            outcome=BinaryOutcome(True),
            timestamp=datetime(2026, 1, 1, tzinfo=UTC),
            sequence=n,
        )
        for n in range(batch_size)
    ]
    start = threading.Barrier(2)
    results: list[list[RecordResult]] = []
    errors: list[BaseException] = []

    def writer() -> None:
        service = EvidenceService(pg)  # each thread gets its own connection from the pool
        start.wait()
        try:
            results.append(service.record_many(batch))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert EvidenceService(pg).count() == batch_size
    stored_by = [sum(r.stored for r in result) for result in results]
    assert sum(stored_by) == batch_size  # every key stored by exactly one of the writers
