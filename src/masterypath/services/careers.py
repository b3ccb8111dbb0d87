"""Career use cases: import a taxonomy, align a framework to it, decide, report, set goals."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from masterypath.domain.alignment import AlignmentTarget, Matrix, SkillAligner, TextEncoder
from masterypath.domain.careers import (
    CoverageReport,
    Decision,
    MatchKind,
    Taxonomy,
    best_occupations,
    career_goals,
    coverage,
)
from masterypath.domain.evidence import check_text
from masterypath.domain.framework import Framework
from masterypath.errors import ConflictError, ValidationError
from masterypath.interop.career_reports import career_associations
from masterypath.interop.case import export_case
from masterypath.services.conflicts import created_once
from masterypath.services.context import ServiceContext
from masterypath.services.mastery import MasteryService
from masterypath.store.careers import CareerRepository
from masterypath.store.mastery import MasteryRepository
from masterypath.store.tables import AlignmentRow, TaxonomyRow

Progress = Callable[[str, int, int], None]
"""Called with (stage, done, total)."""


@dataclass(frozen=True)
class TaxonomyImported:
    id: str
    occupations: int
    skills: int
    requirements: int
    essential: int
    encoder: str | None
    replaced: bool
    skipped: int = 0


@dataclass(frozen=True)
class AlignmentRun:
    framework_id: str
    taxonomy_id: str
    method: str
    targets: int
    suggestions: int
    new: int


def alignment_targets(framework: Framework, *, modules: bool = True) -> list[AlignmentTarget]:
    """Every competency, and (with ``modules``) every competency that has children as a
    module whose text also names its children."""
    children: dict[str, list[str]] = {}
    for c in framework.competencies:
        if c.parent_id:
            children.setdefault(c.parent_id, []).append(c.title)
    targets = []
    for c in framework.competencies:
        text = f"{c.title}. {c.description}".strip() if c.description else c.title
        if modules and c.id in children:
            text += " Covers: " + "; ".join(children[c.id]) + "."
            targets.append(AlignmentTarget(id=c.id, text=text, kind="module"))
        else:
            targets.append(AlignmentTarget(id=c.id, text=text))
    return targets


class CareerService:
    """``encoder`` embeds texts (None: lexical matching only)."""

    def __init__(self, context: ServiceContext, *, encoder: TextEncoder | None = None) -> None:
        self.context = context
        self.encoder = encoder

    # -- taxonomies ---------------------------------------------------------------------
    def import_taxonomy(
        self,
        taxonomy: Taxonomy,
        *,
        replace: bool = False,
        embed: bool = True,
        skipped: int = 0,
        progress: Progress | None = None,
    ) -> TaxonomyImported:
        """Store a taxonomy (all or nothing), with its texts embedded when an encoder is
        set and ``embed`` (slow for ESCO: minutes; alignment then needs no re-encoding)."""
        taken = "already exists; pass --replace to overwrite it"
        with self.context.sessions() as session:
            exists = session.get(TaxonomyRow, taxonomy.id) is not None
        if exists and not replace:
            raise ConflictError("taxonomy", taxonomy.id, taken)
        encoder = self.encoder if embed else None
        skill_vectors = occupation_vectors = None
        if encoder is not None:
            skill_vectors = self._encode(
                encoder, [s.text for s in taxonomy.skills], "embedding skills", progress
            )
            occupation_vectors = self._encode(
                encoder,
                [_occupation_text(o.label, o.description) for o in taxonomy.occupations],
                "embedding occupations",
                progress,
            )
        with (
            created_once(self.context, TaxonomyRow, "taxonomy", [taxonomy.id], taken),
            self.context.sessions.begin() as session,
        ):
            repo = CareerRepository(session)
            if exists:
                repo.delete_taxonomy(taxonomy.id)
                session.flush()
            repo.add_taxonomy(
                taxonomy,
                imported_at=self.context.clock(),
                encoder=None if encoder is None else encoder.name,
                occupation_vectors=occupation_vectors,
                skill_vectors=skill_vectors,
            )
        return TaxonomyImported(
            id=taxonomy.id,
            occupations=len(taxonomy.occupations),
            skills=len(taxonomy.skills),
            requirements=len(taxonomy.requirements),
            essential=sum(r.essential for r in taxonomy.requirements),
            encoder=None if encoder is None else encoder.name,
            replaced=exists,
            skipped=skipped,
        )

    @staticmethod
    def _encode(
        encoder: TextEncoder, texts: list[str], stage: str, progress: Progress | None
    ) -> Matrix:
        if progress is None:
            return encoder.encode(texts)
        parts = []
        step = 1024
        for start in range(0, len(texts), step):
            parts.append(encoder.encode(texts[start : start + step]))
            progress(stage, min(start + step, len(texts)), len(texts))
        return np.vstack(parts) if parts else np.zeros((0, 0), dtype=np.float32)

    def taxonomies(self) -> list[dict[str, object]]:
        with self.context.sessions() as session:
            return [
                {
                    "id": r.id,
                    "title": r.title,
                    "source": r.source,
                    "encoder": r.encoder,
                    "imported_at": r.imported_at.isoformat(),
                }
                for r in CareerRepository(session).taxonomies()
            ]

    def taxonomy(self, taxonomy_id: str) -> Taxonomy:
        """The stored taxonomy (cached by import time)."""
        with self.context.sessions() as session:
            repo = CareerRepository(session)
            stamp = repo.taxonomy_row(taxonomy_id).imported_at
            key = ("taxonomy", taxonomy_id, stamp)
            cached = self.context.cache.get(key)
            if isinstance(cached, Taxonomy):
                return cached
            taxonomy = repo.load_taxonomy(taxonomy_id)
        self.context.cache[key] = taxonomy
        return taxonomy

    def occupations(
        self, taxonomy_id: str, *, query: str = "", limit: int = 20
    ) -> list[dict[str, str]]:
        """Occupations whose label (or alternative label) contains ``query``."""
        q = query.strip().lower()
        out = []
        for o in self.taxonomy(taxonomy_id).occupations:
            if not q or q in o.label.lower() or any(q in a.lower() for a in o.alt_labels):
                out.append({"id": o.id, "label": o.label, "code": o.code or ""})
                if len(out) >= limit:
                    break
        return out

    def _aligner(self, taxonomy_id: str) -> SkillAligner:
        with self.context.sessions() as session:
            repo = CareerRepository(session)
            row = repo.taxonomy_row(taxonomy_id)
            encoder_name = None if self.encoder is None else self.encoder.name
            key = ("aligner", taxonomy_id, row.imported_at, encoder_name)
            cached = self.context.cache.get(key)
            if isinstance(cached, SkillAligner):
                return cached
            stored = row.encoder is not None and row.encoder == encoder_name
            skill_vectors, occupation_vectors = (
                repo.vectors(taxonomy_id) if stored else (None, None)
            )
        taxonomy = self.taxonomy(taxonomy_id)
        aligner = SkillAligner(encoder=self.encoder).fit(
            taxonomy.skills,
            skill_vectors=skill_vectors,
            reference_texts=[
                _occupation_text(o.label, o.description) for o in taxonomy.occupations
            ],
            reference_vectors=occupation_vectors,
        )
        self.context.cache[key] = aligner
        return aligner

    # -- alignment ----------------------------------------------------------------------
    def align(
        self,
        framework_id: str,
        taxonomy_id: str,
        *,
        top_k: int = 10,
        modules: bool = True,
        competency_ids: Sequence[str] = (),
    ) -> AlignmentRun:
        """Suggest the ``top_k`` career skills for each competency (and module) and store
        them; links an educator already decided keep their decision."""
        framework = self._framework(framework_id)
        targets = alignment_targets(framework, modules=modules)
        if competency_ids:
            for cid in competency_ids:
                framework.competency(cid)
            wanted = set(competency_ids)
            targets = [t for t in targets if t.id in wanted]
        aligner = self._aligner(taxonomy_id)
        ranked = aligner.suggest(targets, top_k=top_k)
        pairs = [(t.kind, s) for t, row in zip(targets, ranked, strict=True) for s in row]
        with self.context.sessions.begin() as session:
            new = CareerRepository(session).save_suggestions(
                framework_id, taxonomy_id, pairs, method=aligner.method_, at=self.context.clock()
            )
        return AlignmentRun(
            framework_id, taxonomy_id, aligner.method_, len(targets), len(pairs), new
        )

    def _framework(self, framework_id: str) -> Framework:
        with self.context.sessions() as session:
            return MasteryService(self.context).framework(session, framework_id)

    def suggestions(
        self,
        framework_id: str,
        taxonomy_id: str,
        *,
        decision: Decision | None = None,
        competency_id: str | None = None,
    ) -> list[dict[str, Any]]:
        taxonomy = self.taxonomy(taxonomy_id)
        with self.context.sessions() as session:
            rows = CareerRepository(session).alignments(
                framework_id, taxonomy_id, decision=decision, competency_id=competency_id
            )
            return [_alignment_dict(r, taxonomy) for r in rows]

    def decide(
        self,
        framework_id: str,
        competency_id: str,
        taxonomy_id: str,
        skill_id: str,
        *,
        decision: Decision,
        by: str,
        match: MatchKind = MatchKind.RELATED,
        note: str = "",
    ) -> dict[str, object]:
        """Confirm or reject a link (an educator may also confirm one never suggested)."""
        if not by.strip():
            raise ValidationError("by", "say who decides (an educator id)")
        if decision == Decision.SUGGESTED:
            raise ValidationError("decision", "must be confirmed or rejected")
        framework = self._framework(framework_id)
        framework.competency(competency_id)
        taxonomy = self.taxonomy(taxonomy_id)
        taxonomy.skill(skill_id)
        now = self.context.clock()
        with self.context.sessions.begin() as session:
            # the taxonomy locked: two decisions on a link never suggested would both insert
            session.get(TaxonomyRow, taxonomy_id, with_for_update=True)
            repo = CareerRepository(session)
            row = repo.alignment(framework_id, competency_id, taxonomy_id, skill_id)
            if row is None:
                row = AlignmentRow(
                    framework_id=framework_id,
                    competency_id=competency_id,
                    taxonomy_id=taxonomy_id,
                    skill_id=skill_id,
                    target_kind="competency",
                    rank=0,
                    score=0.0,
                    semantic=None,
                    lexical=0.0,
                    matched_words=[],
                    matched_sentence="",
                    method="educator",
                    suggested_at=now,
                )
                session.add(row)
            row.decision = decision.value
            row.match_kind = match.value if decision == Decision.CONFIRMED else None
            row.decided_by = by
            row.decided_at = now
            row.note = note
            session.flush()
            return _alignment_dict(row, taxonomy)

    def links(self, framework_id: str, taxonomy_id: str) -> dict[str, tuple[str, ...]]:
        self._framework(framework_id)
        with self.context.sessions() as session:
            CareerRepository(session).taxonomy_row(taxonomy_id)
            return CareerRepository(session).links(framework_id, taxonomy_id)

    def export_case(self, framework_id: str, taxonomy_id: str) -> dict[str, Any]:
        """The framework's CASE package plus one association per confirmed link."""
        framework = self._framework(framework_id)
        taxonomy = self.taxonomy(taxonomy_id)
        stamp = self.context.clock().isoformat()
        package = export_case(framework, last_change=stamp)
        confirmed = self.suggestions(framework_id, taxonomy_id, decision=Decision.CONFIRMED)
        package["CFAssociations"] += career_associations(
            framework, confirmed, source=taxonomy.source, last_change=stamp
        )
        return package

    # -- reports ------------------------------------------------------------------------
    def coverage(self, framework_id: str, taxonomy_id: str, occupation_id: str) -> CoverageReport:
        return coverage(
            self.taxonomy(taxonomy_id), occupation_id, self.links(framework_id, taxonomy_id)
        )

    def best_occupations(
        self, framework_id: str, taxonomy_id: str, *, limit: int = 10
    ) -> list[CoverageReport]:
        return best_occupations(
            self.taxonomy(taxonomy_id), self.links(framework_id, taxonomy_id), limit=limit
        )

    # -- learner goals ------------------------------------------------------------------
    def set_goal(
        self, learner_id: str, framework_id: str, taxonomy_id: str, occupation_id: str
    ) -> tuple[str, ...]:
        """Choose a career for a learner; returns the competencies it makes goals."""
        if not learner_id.strip():
            raise ValidationError("learner_id", "must not be empty")
        check_text(learner_id, "learner_id")  # as evidence's: length, no control characters
        goals = career_goals(
            self.taxonomy(taxonomy_id), occupation_id, self.links(framework_id, taxonomy_id)
        )
        now = self.context.clock()
        with self.context.sessions.begin() as session:
            # serialised per learner: two first choices at once would both insert
            MasteryRepository(session).lock_learners([learner_id], now=now)
            CareerRepository(session).set_goal(
                learner_id, framework_id, taxonomy_id, occupation_id, now
            )
        return goals

    def goal(self, learner_id: str, framework_id: str) -> dict[str, object] | None:
        """The learner's career goal and the competencies it sets as planner goals."""
        with self.context.sessions() as session:
            row = CareerRepository(session).goal(learner_id, framework_id)
            if row is None:
                return None
            taxonomy_id, occupation_id, chosen_at = (
                row.taxonomy_id,
                row.occupation_id,
                row.chosen_at,
            )
        taxonomy = self.taxonomy(taxonomy_id)
        return {
            "learner_id": learner_id,
            "framework_id": framework_id,
            "taxonomy_id": taxonomy_id,
            "occupation_id": occupation_id,
            "occupation": taxonomy.occupation(occupation_id).label,
            "chosen_at": chosen_at.isoformat(),
            "goals": list(
                career_goals(taxonomy, occupation_id, self.links(framework_id, taxonomy_id))
            ),
        }

    def goals_for(self, learner_id: str, framework_id: str) -> tuple[str, ...]:
        """Planner goals from the learner's career (empty when none is chosen)."""
        goal = self.goal(learner_id, framework_id)
        if goal is None:
            return ()
        return tuple(str(g) for g in goal["goals"])  # type: ignore[attr-defined]


def _occupation_text(label: str, description: str) -> str:
    return f"{label}. {description}".strip() if description else label


def _alignment_dict(row: AlignmentRow, taxonomy: Taxonomy) -> dict[str, object]:
    skill = taxonomy.skill(row.skill_id)
    return {
        "framework_id": row.framework_id,
        "competency_id": row.competency_id,
        "target_kind": row.target_kind,
        "taxonomy_id": row.taxonomy_id,
        "skill_id": row.skill_id,
        "skill": skill.label,
        "rank": row.rank,
        "score": row.score,
        "semantic": row.semantic,
        "lexical": row.lexical,
        "reason": {"words": list(row.matched_words), "sentence": row.matched_sentence},
        "method": row.method,
        "decision": row.decision,
        "match": row.match_kind,
        "decided_by": row.decided_by,
        "decided_at": None if row.decided_at is None else row.decided_at.isoformat(),
        "note": row.note,
    }
