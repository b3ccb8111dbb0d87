"""Rubric feedback use cases: rubrics, versioned submissions with feedback, the educator
review queue (a correction becomes an exemplar), and final levels recorded as evidence."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import func, select

from masterypath.domain.evidence import Evidence, EvidenceKind, RubricLevel, RubricOutcome
from masterypath.domain.rubric import (
    Criterion,
    Exemplar,
    Judgement,
    Rubric,
    feedback_for,
    rubric_from_dict,
    rubric_to_dict,
)
from masterypath.errors import ConflictError, NotFoundError, ValidationError
from masterypath.services.conflicts import created_once
from masterypath.services.context import ServiceContext
from masterypath.services.evidence import EvidenceService
from masterypath.store.mastery import MasteryRepository
from masterypath.store.tables import ReviewRow, RubricRow, SubmissionRow


class Scorer(Protocol):
    @property
    def name(self) -> str: ...

    def prepare(self, rubrics: Sequence[Rubric]) -> None: ...

    def score(self, submission: str, rubric: Rubric) -> tuple[Judgement, ...]: ...


def judgement_dict(j: Judgement) -> dict[str, Any]:
    return {
        "criterion_id": j.criterion_id,
        "level_id": j.level_id,
        "confidence": j.confidence,
        "support": list(j.support),
        "scorer": j.scorer,
        "note": j.note,
    }


RUBRIC_TAKEN = "already exists; pass replace to overwrite"


class FeedbackService:
    """``scorer`` judges submissions (the offline one, or an LLM one with its fallback);
    judgements under ``confidence_floor`` go to the review queue. Saved rubrics are
    prepared for scoring (``scorer.prepare``) unless ``prepare_on_save`` is off (a
    process that only stores them, like the CLI's import)."""

    def __init__(
        self,
        context: ServiceContext,
        scorer: Scorer,
        *,
        confidence_floor: float = 0.6,
        prepare_on_save: bool = True,
    ) -> None:
        self.context = context
        self.scorer = scorer
        self.confidence_floor = confidence_floor
        self.prepare_on_save = prepare_on_save

    # -- rubrics ----------------------------------------------------------------------------
    def save_rubric(self, rubric: Rubric, *, replace: bool = False) -> None:
        self.save_rubrics([rubric], replace=replace)

    def save_rubrics(self, rubrics: Sequence[Rubric], *, replace: bool = False) -> None:
        """Store rubrics all together or none (e.g. a CASE package's ``CFRubrics``)."""
        ids = [r.id for r in rubrics]
        if len(set(ids)) != len(ids):
            raise ValidationError("rubrics", f"repeated rubric ids in {ids}")
        with (
            created_once(self.context, RubricRow, "rubric", ids, RUBRIC_TAKEN),
            self.context.sessions.begin() as session,
        ):
            for rubric in rubrics:
                self._save(session, rubric, replace=replace)
        if self.prepare_on_save:  # once stored: its first submission need not wait
            self.scorer.prepare(rubrics)

    def _save(self, session: Any, rubric: Rubric, *, replace: bool) -> None:
        row = session.get(RubricRow, rubric.id)
        if row is not None and not replace:
            raise ConflictError("rubric", rubric.id, RUBRIC_TAKEN)
        payload = rubric_to_dict(rubric)
        if row is None:
            session.add(
                RubricRow(
                    id=rubric.id,
                    title=rubric.title,
                    payload=payload,
                    updated_at=self.context.clock(),
                )
            )
        else:
            row.title, row.payload, row.updated_at = rubric.title, payload, self.context.clock()

    def rubric(self, rubric_id: str) -> Rubric:
        with self.context.sessions() as session:
            row = session.get(RubricRow, rubric_id)
            if row is None:
                raise NotFoundError("rubric", rubric_id)
            return rubric_from_dict(row.payload)

    def scored_examples(self) -> list[tuple[Rubric, str, str, str]]:
        """Every stored rubric's exemplars (educator-scored answers, corrections included)
        as ``(rubric, criterion id, text, level id)``: what a scorer is fitted on."""
        with self.context.sessions() as session:
            rubrics = [
                rubric_from_dict(row.payload)
                for row in session.scalars(select(RubricRow).order_by(RubricRow.id))
            ]
        return [(r, e.criterion_id, e.text, e.level_id) for r in rubrics for e in r.exemplars]

    # -- submissions ------------------------------------------------------------------------
    def judge(
        self, rubric: Rubric, text: str, *, next_activity: str | None = None
    ) -> dict[str, Any]:
        """Score without storing anything (the CLI's ``masterypath feedback``)."""
        judged = self.scorer.score(text, rubric)
        feedback = feedback_for(
            rubric, judged, next_activity=next_activity, confidence_floor=self.confidence_floor
        )
        return {
            "judgements": [judgement_dict(j) for j in judged],
            "feedback": {
                "strengths": list(feedback.strengths),
                "gaps": list(feedback.gaps),
                "next_step": feedback.next_step,
                "needs_review": list(feedback.needs_review),
                "text": feedback.text(),
            },
        }

    def submit(
        self, learner_id: str, rubric_id: str, text: str, *, next_activity: str | None = None
    ) -> dict[str, Any]:
        """Store a new version of the learner's answer with its judgements and feedback;
        low-confidence judgements open review items."""
        if not learner_id.strip():
            raise ValidationError("learner_id", "must not be empty")
        if len(text) > 20_000:
            raise ValidationError("text", "longer than 20,000 characters")
        rubric = self.rubric(rubric_id)
        result = self.judge(rubric, text, next_activity=next_activity)
        now = self.context.clock()
        with self.context.sessions.begin() as session:
            # the learner's writes are serialised (as evidence's are): two versions sent at
            # the same moment read the same last number otherwise, and the unique index
            # refused one of them (a 500)
            MasteryRepository(session).lock_learners([learner_id], now=now)
            last = session.scalar(
                select(func.max(SubmissionRow.version)).where(
                    SubmissionRow.learner_id == learner_id, SubmissionRow.rubric_id == rubric_id
                )
            )
            row = SubmissionRow(
                learner_id=learner_id,
                rubric_id=rubric_id,
                version=(last or 0) + 1,
                text=text,
                judgements=result["judgements"],
                feedback=result["feedback"],
                scorer=self.scorer.name,
                created_at=now,
                evidence_keys=[],
            )
            session.add(row)
            session.flush()
            for j in result["judgements"]:
                if j["confidence"] < self.confidence_floor:
                    session.add(
                        ReviewRow(
                            submission_id=row.id,
                            criterion_id=j["criterion_id"],
                            learner_id=learner_id,
                            proposed_level=j["level_id"],
                            confidence=j["confidence"],
                        )
                    )
            return self._submission_dict(row)

    @staticmethod
    def _submission_dict(row: SubmissionRow) -> dict[str, Any]:
        return {
            "id": row.id,
            "learner_id": row.learner_id,
            "rubric_id": row.rubric_id,
            "version": row.version,
            "text": row.text,
            "judgements": row.judgements,
            "feedback": row.feedback,
            "scorer": row.scorer,
            "created_at": row.created_at.isoformat(),
            "final": bool(row.evidence_keys),
        }

    def history(self, learner_id: str, rubric_id: str) -> dict[str, Any]:
        """Every version, oldest first, and each criterion's level over the versions."""
        with self.context.sessions() as session:
            rows = list(
                session.scalars(
                    select(SubmissionRow)
                    .where(
                        SubmissionRow.learner_id == learner_id, SubmissionRow.rubric_id == rubric_id
                    )
                    .order_by(SubmissionRow.version)
                )
            )
        levels: dict[str, list[str]] = {}
        for row in rows:
            for j in row.judgements:
                levels.setdefault(j["criterion_id"], []).append(j["level_id"])
        return {"versions": [self._submission_dict(r) for r in rows], "levels": levels}

    def latest_on(self, learner_id: str, competency_id: str) -> list[dict[str, Any]]:
        """The learner's latest version of each rubric that has a criterion aligned to the
        competency (by rubric id): that version's levels on those criteria, its feedback,
        and its text (to revise). Empty when there is none."""
        with self.context.sessions() as session:
            latest: dict[str, SubmissionRow] = {}
            for row in session.scalars(
                select(SubmissionRow)
                .where(SubmissionRow.learner_id == learner_id)
                .order_by(SubmissionRow.rubric_id, SubmissionRow.version)
            ):
                latest[row.rubric_id] = row
            rubrics = {
                r.id: rubric_from_dict(r.payload)
                for r in session.scalars(select(RubricRow).where(RubricRow.id.in_(sorted(latest))))
            }
        out = []
        for rubric_id, row in sorted(latest.items()):
            rubric = rubrics[rubric_id]
            judged = {j["criterion_id"]: j for j in row.judgements}
            criteria = [
                {
                    "criterion_id": c.id,
                    "title": c.title,
                    "level": _label(c, judged[c.id]["level_id"]),
                    "confidence": judged[c.id]["confidence"],
                }
                for c in rubric.criteria
                if competency_id in c.competency_ids and c.id in judged
            ]
            if criteria:
                out.append(
                    {
                        "rubric_id": rubric_id,
                        "rubric_title": rubric.title,
                        "version": row.version,
                        "created_at": row.created_at.isoformat(),
                        "text": row.text,
                        "criteria": criteria,
                        "feedback": row.feedback,
                        "final": bool(row.evidence_keys),
                    }
                )
        return out

    def submission_learner(self, submission_id: int) -> str:
        with self.context.sessions() as session:
            row = session.get(SubmissionRow, submission_id)
            if row is None:
                raise NotFoundError("submission", str(submission_id))
            return row.learner_id

    # -- review queue -----------------------------------------------------------------------
    def reviews(
        self, *, learner_ids: set[str] | None = None, open_only: bool = True
    ) -> list[dict[str, Any]]:
        with self.context.sessions() as session:
            query = select(ReviewRow, SubmissionRow).join(
                SubmissionRow, SubmissionRow.id == ReviewRow.submission_id
            )
            if open_only:
                query = query.where(ReviewRow.reviewed_at.is_(None))
            if learner_ids is not None:
                query = query.where(ReviewRow.learner_id.in_(sorted(learner_ids)))
            return [
                {
                    "submission_id": review.submission_id,
                    "criterion_id": review.criterion_id,
                    "learner_id": review.learner_id,
                    "rubric_id": submission.rubric_id,
                    "version": submission.version,
                    "text": submission.text,
                    "proposed_level": review.proposed_level,
                    "confidence": review.confidence,
                    "corrected_level": review.corrected_level,
                    "reviewed_by": review.reviewed_by,
                }
                for review, submission in session.execute(query.order_by(ReviewRow.submission_id))
            ]

    def review(
        self, submission_id: int, criterion_id: str, level_id: str, *, by: str
    ) -> dict[str, Any]:
        """An educator's level for a criterion: stored on the submission (confidence 1),
        closes the review item, and becomes an exemplar of the rubric."""
        now = self.context.clock()
        with self.context.sessions.begin() as session:
            # locked: two reviews at once must not lose a judgement or an exemplar
            row = session.get(SubmissionRow, submission_id, with_for_update=True)
            if row is None:
                raise NotFoundError("submission", str(submission_id))
            rubric_row = session.get(RubricRow, row.rubric_id, with_for_update=True)
            assert rubric_row is not None
            rubric = rubric_from_dict(rubric_row.payload)
            rubric.criterion(criterion_id).level(level_id)
            row.judgements = [
                {
                    **j,
                    "level_id": level_id,
                    "confidence": 1.0,
                    "scorer": f"educator:{by}",
                    "note": "corrected by an educator",
                }
                if j["criterion_id"] == criterion_id
                else j
                for j in row.judgements
            ]
            review = session.get(ReviewRow, (submission_id, criterion_id))
            if review is None:
                review = ReviewRow(
                    submission_id=submission_id,
                    criterion_id=criterion_id,
                    learner_id=row.learner_id,
                    proposed_level="",
                    confidence=1.0,
                )
                session.add(review)
            review.corrected_level, review.reviewed_by, review.reviewed_at = level_id, by, now
            rubric_row.payload = rubric_to_dict(
                rubric.with_exemplar(Exemplar(criterion_id, level_id, row.text, "educator"))
            )
            rubric_row.updated_at = now
            session.flush()
            return self._submission_dict(row)

    # -- evidence -----------------------------------------------------------------------------
    def finalize(self, learner_id: str, rubric_id: str) -> list[str]:
        """Record the latest version's levels as rubric evidence for each criterion's
        competencies (one piece per criterion; the competency's rollup rule combines them).
        Returns the evidence keys; finalizing the same version again changes nothing."""
        rubric = self.rubric(rubric_id)
        with self.context.sessions() as session:
            row = session.scalars(
                select(SubmissionRow)
                .where(SubmissionRow.learner_id == learner_id, SubmissionRow.rubric_id == rubric_id)
                .order_by(SubmissionRow.version.desc())
                .limit(1)
            ).first()
            if row is None:
                raise NotFoundError("submission", f"{learner_id}/{rubric_id}")
            submission_id, judgements, created = row.id, row.judgements, row.created_at
        evidence: list[Evidence] = []
        for j in judgements:
            criterion = rubric.criterion(j["criterion_id"])
            if not criterion.competency_ids:
                continue
            level = criterion.level(j["level_id"])
            top = criterion.levels[-1].points
            evidence.append(
                Evidence.create(
                    key=f"feedback:{submission_id}:{criterion.id}",
                    learner_id=learner_id,
                    competency_ids=criterion.competency_ids,
                    outcome=RubricOutcome(
                        levels=(RubricLevel(criterion.id, level.id, level.points, top),)
                    ),
                    timestamp=created,
                    kind=EvidenceKind.ASSESSMENT,
                    item_id=f"rubric:{rubric_id}",
                    source="feedback",
                    asserted_by=j.get("scorer") or None,
                )
            )
        keys = [e.key for e in evidence]

        def mark(session: Any) -> None:
            stored = session.get(SubmissionRow, submission_id)
            stored.evidence_keys = keys

        if evidence:
            EvidenceService(self.context).record_many(evidence, also=mark)
        return keys


def _label(criterion: Criterion, level_id: str) -> str:
    """The level's label; its id when the rubric was replaced since without that level."""
    return next((lv.label for lv in criterion.levels if lv.id == level_id), level_id)
