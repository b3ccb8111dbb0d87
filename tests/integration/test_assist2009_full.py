"""The full ASSISTments 2009 log (325,589 rows) imports in bulk with exact counts."""

from __future__ import annotations

from datetime import UTC, datetime

from masterypath.interop.evidence_log import ColumnMapping, read_evidence_log, read_text
from masterypath.services.context import ServiceContext
from masterypath.services.evidence import EvidenceService
from tests.conftest import data_file

ROWS = 325_589


def test_full_assist2009_log_imports_once(database: ServiceContext) -> None:
    text = read_text(data_file("kt/assist2009/assist2009_log.csv.gz"))
    mapping = ColumnMapping.parse(
        "user=user_id,skill=skill_name,correct=correct,order=seq_idx,item=problem_id"
    )
    log = read_evidence_log(
        text, mapping, source="assist2009", imported_at=datetime(2026, 11, 23, tzinfo=UTC)
    )
    service = EvidenceService(database)
    progressed: list[int] = []
    counts = service.import_log(log, progress=progressed.append)
    assert (counts.rows, counts.stored, counts.duplicate, counts.rejected) == (ROWS, ROWS, 0, 0)
    assert sum(progressed) == ROWS and len(progressed) > 1
    assert service.count() == ROWS
    assert service.count(learner_id="78276") == 305  # awk -F, '$1=="78276"' | wc -l
    first = service.find(learner_id="78276", limit=2)
    assert [(e.sequence, e.competency_ids, e.item_id, e.outcome.score) for e in first] == [
        (0, ("Addition Whole Numbers",), "84805", 0.0),
        (1, ("Absolute Value",), "84805", 0.0),
    ]
    again = service.import_log(log)
    assert (again.stored, again.duplicate) == (0, ROWS)
    assert service.count() == ROWS
