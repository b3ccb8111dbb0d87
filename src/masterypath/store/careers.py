"""Taxonomies, alignments and career goals in the database (never commits)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from masterypath.domain.alignment import Matrix, Suggestion
from masterypath.domain.careers import (
    CareerSkill,
    Decision,
    Occupation,
    Requirement,
    SkillGroup,
    Taxonomy,
)
from masterypath.errors import NotFoundError
from masterypath.store.tables import (
    AlignmentRow,
    CareerGoalRow,
    CareerSkillRow,
    OccupationRow,
    RequirementRow,
    SkillGroupRow,
    TaxonomyRow,
)

CHUNK = 5000


def to_bytes(vector: np.ndarray[Any, Any]) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(blobs: Sequence[bytes | None]) -> Matrix | None:
    """Stack stored vectors, or None if any is missing."""
    if not blobs or any(b is None for b in blobs):
        return None
    return np.vstack([np.frombuffer(b, dtype="<f4") for b in blobs if b is not None]).astype(
        np.float32
    )


class CareerRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _insert(self, table: type[Any], rows: list[dict[str, Any]]) -> None:
        for start in range(0, len(rows), CHUNK):
            self.session.execute(insert(table), rows[start : start + CHUNK])

    def taxonomy_row(self, taxonomy_id: str) -> TaxonomyRow:
        row = self.session.get(TaxonomyRow, taxonomy_id)
        if row is None:
            raise NotFoundError("taxonomy", taxonomy_id)
        return row

    def delete_taxonomy(self, taxonomy_id: str) -> None:
        # explicit children first: SQLite enforces ON DELETE CASCADE only with its pragma on
        for table in (
            CareerGoalRow,
            AlignmentRow,
            RequirementRow,
            CareerSkillRow,
            SkillGroupRow,
            OccupationRow,
        ):
            self.session.execute(delete(table).where(table.taxonomy_id == taxonomy_id))
        self.session.execute(delete(TaxonomyRow).where(TaxonomyRow.id == taxonomy_id))

    def add_taxonomy(
        self,
        taxonomy: Taxonomy,
        *,
        imported_at: datetime,
        encoder: str | None,
        occupation_vectors: Matrix | None,
        skill_vectors: Matrix | None,
    ) -> None:
        tid = taxonomy.id
        self.session.add(
            TaxonomyRow(
                id=tid,
                title=taxonomy.title,
                source=taxonomy.source,
                encoder=encoder,
                imported_at=imported_at,
            )
        )
        self.session.flush()
        self._insert(
            OccupationRow,
            [
                {
                    "taxonomy_id": tid,
                    "id": o.id,
                    "position": i,
                    "label": o.label,
                    "description": o.description,
                    "code": o.code,
                    "alt_labels": list(o.alt_labels),
                    "vector": None
                    if occupation_vectors is None
                    else to_bytes(occupation_vectors[i]),
                }
                for i, o in enumerate(taxonomy.occupations)
            ],
        )
        self._insert(
            CareerSkillRow,
            [
                {
                    "taxonomy_id": tid,
                    "id": s.id,
                    "position": i,
                    "label": s.label,
                    "description": s.description,
                    "kind": s.kind,
                    "alt_labels": list(s.alt_labels),
                    "broader": list(s.broader),
                    "vector": None if skill_vectors is None else to_bytes(skill_vectors[i]),
                }
                for i, s in enumerate(taxonomy.skills)
            ],
        )
        self._insert(
            SkillGroupRow,
            [
                {
                    "taxonomy_id": tid,
                    "id": g.id,
                    "position": i,
                    "code": g.code,
                    "label": g.label,
                    "broader": list(g.broader),
                }
                for i, g in enumerate(taxonomy.groups)
            ],
        )
        self._insert(
            RequirementRow,
            [
                {
                    "taxonomy_id": tid,
                    "occupation_id": r.occupation_id,
                    "skill_id": r.skill_id,
                    "position": i,
                    "essential": r.essential,
                    "importance": r.importance,
                }
                for i, r in enumerate(taxonomy.requirements)
            ],
        )

    def load_taxonomy(self, taxonomy_id: str) -> Taxonomy:
        row = self.taxonomy_row(taxonomy_id)
        occupations = self.session.scalars(
            select(OccupationRow)
            .where(OccupationRow.taxonomy_id == taxonomy_id)
            .order_by(OccupationRow.position)
        )
        skills = self.session.execute(
            select(
                CareerSkillRow.id,
                CareerSkillRow.label,
                CareerSkillRow.description,
                CareerSkillRow.alt_labels,
                CareerSkillRow.kind,
                CareerSkillRow.broader,
            )
            .where(CareerSkillRow.taxonomy_id == taxonomy_id)
            .order_by(CareerSkillRow.position)
        )
        requirements = self.session.execute(
            select(
                RequirementRow.occupation_id,
                RequirementRow.skill_id,
                RequirementRow.essential,
                RequirementRow.importance,
            )
            .where(RequirementRow.taxonomy_id == taxonomy_id)
            .order_by(RequirementRow.position)
        )
        return Taxonomy(
            id=row.id,
            title=row.title,
            source=row.source,
            occupations=tuple(
                Occupation(
                    id=o.id,
                    label=o.label,
                    description=o.description,
                    code=o.code,
                    alt_labels=tuple(o.alt_labels),
                )
                for o in occupations
            ),
            skills=tuple(
                CareerSkill(
                    id=s[0],
                    label=s[1],
                    description=s[2],
                    alt_labels=tuple(s[3]),
                    kind=s[4],
                    broader=tuple(s[5]),
                )
                for s in skills
            ),
            requirements=tuple(Requirement(r[0], r[1], bool(r[2]), r[3]) for r in requirements),
            groups=tuple(
                SkillGroup(id=g.id, label=g.label, code=g.code, broader=tuple(g.broader))
                for g in self.session.scalars(
                    select(SkillGroupRow)
                    .where(SkillGroupRow.taxonomy_id == taxonomy_id)
                    .order_by(SkillGroupRow.position)
                )
            ),
        )

    def vectors(self, taxonomy_id: str) -> tuple[Matrix | None, Matrix | None]:
        """(skill vectors, occupation vectors) in import order, or None where not embedded."""
        skills = self.session.scalars(
            select(CareerSkillRow.vector)
            .where(CareerSkillRow.taxonomy_id == taxonomy_id)
            .order_by(CareerSkillRow.position)
        ).all()
        occupations = self.session.scalars(
            select(OccupationRow.vector)
            .where(OccupationRow.taxonomy_id == taxonomy_id)
            .order_by(OccupationRow.position)
        ).all()
        return from_bytes(skills), from_bytes(occupations)

    def taxonomies(self) -> list[TaxonomyRow]:
        return list(self.session.scalars(select(TaxonomyRow).order_by(TaxonomyRow.id)))

    def save_suggestions(
        self,
        framework_id: str,
        taxonomy_id: str,
        suggestions: Sequence[tuple[str, Suggestion]],
        *,
        method: str,
        at: datetime,
    ) -> int:
        """Replace the undecided suggestions of the realigned competencies; decided links
        keep their decision (their scores are refreshed). Returns how many are new."""
        targets = {s.target_id for _, s in suggestions}
        existing = {
            (r.competency_id, r.skill_id): r
            for r in self.session.scalars(
                select(AlignmentRow).where(
                    AlignmentRow.framework_id == framework_id,
                    AlignmentRow.taxonomy_id == taxonomy_id,
                )
            )
            if r.competency_id in targets
        }
        fresh = {(s.target_id, s.skill_id) for _, s in suggestions}
        for key, row in existing.items():
            if row.decision == Decision.SUGGESTED and key not in fresh:
                self.session.delete(row)
        new = 0
        for kind, s in suggestions:
            current = existing.get((s.target_id, s.skill_id))
            values = {
                "target_kind": kind,
                "rank": s.rank,
                "score": s.score,
                "semantic": s.semantic,
                "lexical": s.lexical,
                "matched_words": list(s.matched_words),
                "matched_sentence": s.matched_sentence,
                "method": method,
                "suggested_at": at,
            }
            if current is None:
                new += 1
                self.session.add(
                    AlignmentRow(
                        framework_id=framework_id,
                        competency_id=s.target_id,
                        taxonomy_id=taxonomy_id,
                        skill_id=s.skill_id,
                        decision=Decision.SUGGESTED.value,
                        **values,
                    )
                )
            else:
                for name, value in values.items():
                    setattr(current, name, value)
        return new

    def alignment(
        self, framework_id: str, competency_id: str, taxonomy_id: str, skill_id: str
    ) -> AlignmentRow | None:
        return self.session.get(AlignmentRow, (framework_id, competency_id, taxonomy_id, skill_id))

    def alignments(
        self,
        framework_id: str,
        taxonomy_id: str,
        *,
        decision: Decision | None = None,
        competency_id: str | None = None,
    ) -> list[AlignmentRow]:
        query = select(AlignmentRow).where(
            AlignmentRow.framework_id == framework_id, AlignmentRow.taxonomy_id == taxonomy_id
        )
        if decision is not None:
            query = query.where(AlignmentRow.decision == decision.value)
        if competency_id is not None:
            query = query.where(AlignmentRow.competency_id == competency_id)
        return list(
            self.session.scalars(
                query.order_by(AlignmentRow.competency_id, AlignmentRow.rank, AlignmentRow.skill_id)
            )
        )

    def links(self, framework_id: str, taxonomy_id: str) -> dict[str, tuple[str, ...]]:
        """Confirmed links: career skill id -> competency ids."""
        out: dict[str, list[str]] = defaultdict(list)
        for row in self.alignments(framework_id, taxonomy_id, decision=Decision.CONFIRMED):
            out[row.skill_id].append(row.competency_id)
        return {k: tuple(v) for k, v in out.items()}

    def goal(self, learner_id: str, framework_id: str) -> CareerGoalRow | None:
        return self.session.get(CareerGoalRow, (learner_id, framework_id))

    def set_goal(
        self, learner_id: str, framework_id: str, taxonomy_id: str, occupation_id: str, at: datetime
    ) -> None:
        row = self.goal(learner_id, framework_id)
        if row is None:
            self.session.add(
                CareerGoalRow(
                    learner_id=learner_id,
                    framework_id=framework_id,
                    taxonomy_id=taxonomy_id,
                    occupation_id=occupation_id,
                    chosen_at=at,
                )
            )
        else:
            row.taxonomy_id, row.occupation_id, row.chosen_at = taxonomy_id, occupation_id, at
