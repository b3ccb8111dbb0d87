"""Repositories: convert between table rows and domain objects. They never commit;
the service that calls them owns the transaction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, delete, func, insert, select
from sqlalchemy.orm import Session

from masterypath.domain.evidence import (
    BinaryOutcome,
    Evidence,
    EvidenceKind,
    Outcome,
    RubricOutcome,
    ScoreOutcome,
    outcome_from_dict,
    outcome_to_dict,
)
from masterypath.domain.framework import (
    Competency,
    Framework,
    Item,
    Prerequisite,
    UnlockStatus,
)
from masterypath.store.bulk import Columns, append_rows, execute_arrays
from masterypath.store.conditions import one_of
from masterypath.store.tables import (
    CompetencyRow,
    EvidenceCompetencyRow,
    EvidenceRow,
    FrameworkRow,
    ItemRow,
    PrerequisiteRow,
)

#: rows per INSERT statement; keeps bound parameters well under SQLite's limit
CHUNK = 2000


@dataclass(frozen=True)
class FrameworkSummary:
    id: str
    title: str
    competencies: int
    prerequisites: int
    imported_at: datetime


class FrameworkRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def exists(self, framework_id: str) -> bool:
        return self.session.get(FrameworkRow, framework_id) is not None

    def add(self, framework: Framework, *, imported_at: datetime) -> None:
        s = self.session
        s.add(
            FrameworkRow(
                id=framework.id,
                title=framework.title,
                description=framework.description,
                imported_at=imported_at,
            )
        )
        s.flush()
        s.execute(
            insert(CompetencyRow),
            [
                {
                    "framework_id": framework.id,
                    "id": c.id,
                    "position": n,
                    "title": c.title,
                    "description": c.description,
                    "parent_id": c.parent_id,
                    "code": c.code,
                }
                for n, c in enumerate(framework.competencies)
            ],
        )
        edges = [
            {
                "framework_id": framework.id,
                "competency_id": c.id,
                "prerequisite_id": p.competency_id,
                "position": n,
                "requires": p.requires.value,
            }
            for c in framework.competencies
            for n, p in enumerate(c.prerequisites)
        ]
        if edges:
            s.execute(insert(PrerequisiteRow), edges)
        if framework.items:
            s.execute(
                insert(ItemRow),
                [
                    {
                        "framework_id": framework.id,
                        "id": i.id,
                        "position": n,
                        "title": i.title,
                        "difficulty": i.difficulty,
                        "competency_ids": list(i.competency_ids),
                    }
                    for n, i in enumerate(framework.items)
                ],
            )

    def delete(self, framework_id: str) -> None:
        for table in (PrerequisiteRow, ItemRow, CompetencyRow):
            self.session.execute(delete(table).where(table.framework_id == framework_id))
        self.session.execute(delete(FrameworkRow).where(FrameworkRow.id == framework_id))

    def get(self, framework_id: str) -> Framework | None:
        s = self.session
        row = s.get(FrameworkRow, framework_id)
        if row is None:
            return None
        comps = s.scalars(
            select(CompetencyRow)
            .where(CompetencyRow.framework_id == framework_id)
            .order_by(CompetencyRow.position)
        ).all()
        edges = s.scalars(
            select(PrerequisiteRow)
            .where(PrerequisiteRow.framework_id == framework_id)
            .order_by(PrerequisiteRow.competency_id, PrerequisiteRow.position)
        ).all()
        items = s.scalars(
            select(ItemRow).where(ItemRow.framework_id == framework_id).order_by(ItemRow.position)
        ).all()
        prereqs: dict[str, list[Prerequisite]] = {}
        for e in edges:
            prereqs.setdefault(e.competency_id, []).append(
                Prerequisite(e.prerequisite_id, UnlockStatus(e.requires))
            )
        return Framework(
            id=row.id,
            title=row.title,
            description=row.description,
            competencies=tuple(
                Competency(
                    id=c.id,
                    title=c.title,
                    description=c.description,
                    parent_id=c.parent_id,
                    code=c.code,
                    prerequisites=tuple(prereqs.get(c.id, ())),
                )
                for c in comps
            ),
            items=tuple(
                Item(
                    id=i.id,
                    competency_ids=tuple(i.competency_ids),
                    title=i.title,
                    difficulty=i.difficulty,
                )
                for i in items
            ),
        )

    def summaries(self) -> list[FrameworkSummary]:
        n_comps = (
            select(func.count())
            .where(CompetencyRow.framework_id == FrameworkRow.id)
            .correlate(FrameworkRow)
            .scalar_subquery()
        )
        n_edges = (
            select(func.count())
            .where(PrerequisiteRow.framework_id == FrameworkRow.id)
            .correlate(FrameworkRow)
            .scalar_subquery()
        )
        rows = self.session.execute(
            select(FrameworkRow, n_comps, n_edges).order_by(FrameworkRow.id)
        )
        summaries = []
        for row, nc, ne in rows:
            framework = cast(FrameworkRow, row)
            summaries.append(
                FrameworkSummary(
                    framework.id,
                    framework.title,
                    int(cast(int, nc)),
                    int(cast(int, ne)),
                    framework.imported_at,
                )
            )
        return summaries


def evidence_columns(batch: Sequence[Evidence], *, recorded_at: datetime) -> dict[str, list[Any]]:
    """The ``evidence`` table columns for a batch (competencies go to their own table)."""

    def levels(outcome: Outcome) -> Any:
        return outcome_to_dict(outcome)["levels"] if isinstance(outcome, RubricOutcome) else None

    return {
        "key": [e.key for e in batch],
        "content_hash": [e.content_hash() for e in batch],
        "learner_id": [e.learner_id for e in batch],
        "item_id": [e.item_id for e in batch],
        "outcome_type": [e.outcome.type for e in batch],
        "correct": [
            e.outcome.correct if isinstance(e.outcome, BinaryOutcome) else None for e in batch
        ],
        "score": [e.outcome.score for e in batch],
        "rubric_levels": [levels(e.outcome) for e in batch],
        "timestamp": [e.timestamp for e in batch],
        "sequence": [e.sequence for e in batch],
        "kind": [e.kind.value for e in batch],
        "source": [e.source for e in batch],
        "asserted_by": [e.asserted_by for e in batch],
        "recorded_at": [recorded_at] * len(batch),
    }


class EvidenceRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def append(
        self, columns: Columns, competencies: Mapping[str, Sequence[str]], *, batch_id: str
    ) -> dict[str, int]:
        """Insert ledger rows whose key is new; return ``{key: id}`` of those inserted.

        ``competencies`` maps each key to its competency ids. Rows whose key exists
        already are left alone (``ON CONFLICT DO NOTHING``), which also makes two
        concurrent writers of the same key store it exactly once.
        """
        return append_rows(self.session, columns, competencies.__getitem__, batch_id=batch_id)

    def content_hashes(self, keys: Iterable[str]) -> dict[str, str]:
        """Stored content hash of each of ``keys`` that exists."""
        keys = list(keys)
        found: dict[str, str] = {}
        postgres = self.session.get_bind().dialect.name == "postgresql"
        step = 50_000 if postgres else CHUNK
        for start in range(0, len(keys), step):
            part = keys[start : start + step]
            if postgres:
                # one array parameter: thousands of IN-list binds cost seconds to plan, and
                # plain SQL a fraction of the ORM's time on the hot path of every write
                found.update(
                    execute_arrays(
                        self.session,
                        "SELECT key, content_hash FROM evidence WHERE key = ANY(%b::text[])",
                        [part],
                    )
                )
                continue
            rows = self.session.execute(
                select(EvidenceRow.key, EvidenceRow.content_hash).where(
                    one_of(EvidenceRow.key, part, postgresql=False)
                )
            )
            found.update(rows.all())
        return found

    def count(self, *, learner_id: str | None = None) -> int:
        stmt = select(func.count()).select_from(EvidenceRow)
        if learner_id is not None:
            stmt = stmt.where(EvidenceRow.learner_id == learner_id)
        return int(self.session.scalar(stmt) or 0)

    def get(self, key: str) -> Evidence | None:
        found = self._load(select(EvidenceRow).where(EvidenceRow.key == key))
        return found[0] if found else None

    def find(
        self,
        *,
        learner_id: str | None = None,
        competency_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
        newest_first: bool = False,
    ) -> list[Evidence]:
        """Evidence in ledger order (time, then sequence, then arrival), or the reverse."""
        stmt = select(EvidenceRow)
        if learner_id is not None:
            stmt = stmt.where(EvidenceRow.learner_id == learner_id)
        if competency_id is not None:
            stmt = stmt.where(
                EvidenceRow.id.in_(
                    select(EvidenceCompetencyRow.evidence_id).where(
                        EvidenceCompetencyRow.competency_id == competency_id
                    )
                )
            )
        order = [EvidenceRow.timestamp, EvidenceRow.sequence, EvidenceRow.id]
        stmt = stmt.order_by(*(c.desc() for c in order) if newest_first else order)
        return self._load(stmt.limit(limit).offset(offset))

    def _load(self, stmt: Select[EvidenceRow]) -> list[Evidence]:
        rows = self.session.scalars(stmt).all()
        if not rows:
            return []
        links = self.session.execute(
            select(EvidenceCompetencyRow.evidence_id, EvidenceCompetencyRow.competency_id)
            .where(EvidenceCompetencyRow.evidence_id.in_([r.id for r in rows]))
            .order_by(EvidenceCompetencyRow.evidence_id, EvidenceCompetencyRow.position)
        ).all()
        comps: dict[int, list[str]] = {}
        for eid, cid in links:
            comps.setdefault(eid, []).append(cid)
        return [_to_evidence(r, tuple(comps.get(r.id, ()))) for r in rows]


def _to_evidence(row: EvidenceRow, competency_ids: tuple[str, ...]) -> Evidence:
    outcome: Outcome
    if row.outcome_type == "binary":
        outcome = BinaryOutcome(correct=bool(row.correct))
    elif row.outcome_type == "score":
        outcome = ScoreOutcome(value=row.score)
    else:
        outcome = outcome_from_dict({"type": "rubric", "levels": row.rubric_levels})
    return Evidence(
        key=row.key,
        learner_id=row.learner_id,
        competency_ids=competency_ids,
        outcome=outcome,
        timestamp=row.timestamp,
        kind=EvidenceKind(row.kind),
        item_id=row.item_id,
        source=row.source,
        asserted_by=row.asserted_by,
        sequence=row.sequence,
    )
