"""Rubrics, submissions with feedback, the review queue and final levels as evidence."""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path

from masterypath.api.paths import SlashSafeRoute
from masterypath.api.schemas import ReviewIn, SubmissionIn, Text
from masterypath.api.security import Guard
from masterypath.domain.access import Action, Principal
from masterypath.domain.rubric import rubric_from_dict, rubric_to_dict
from masterypath.interop.case_rubrics import export_case_rubric, import_case_rubrics
from masterypath.services.accounts import AccountService
from masterypath.services.feedback import FeedbackService
from masterypath.store.types import INT32_MAX


def feedback_router(
    feedback: FeedbackService, guard: Guard, accounts: AccountService, allow: Callable[..., Any]
) -> APIRouter:
    router = APIRouter(route_class=SlashSafeRoute, tags=["feedback"])

    @router.post("/rubrics", status_code=201)
    def create_rubric(
        body: Annotated[dict[str, Any], Body(description="A rubric (see the README).")],
        _: Annotated[Principal, allow(Action.MANAGE_RUBRICS)],
        replace: bool = False,
    ) -> dict[str, Any]:
        """Store a rubric: criteria with ordered levels (descriptor, points, references),
        aligned competencies and exemplars."""
        rubric = rubric_from_dict(body)
        feedback.save_rubric(rubric, replace=replace)
        return {"id": rubric.id, "criteria": len(rubric.criteria)}

    @router.get("/rubrics/{rubric_id}")
    def get_rubric(
        rubric_id: Text, _: Annotated[Principal, allow(Action.READ_FRAMEWORK)]
    ) -> dict[str, Any]:
        """A stored rubric."""
        return rubric_to_dict(feedback.rubric(rubric_id))

    @router.post("/rubrics/case", status_code=201)
    def import_case(
        body: Annotated[
            dict[str, Any], Body(description="A CASE 1.1 CFRubric, or a CFPackage with CFRubrics.")
        ],
        _: Annotated[Principal, allow(Action.MANAGE_RUBRICS)],
        replace: bool = False,
    ) -> dict[str, Any]:
        """Store the rubrics of a CASE ``CFRubric`` (or a package's ``CFRubrics``), all or
        none; every problem is reported at once (422)."""
        rubrics = import_case_rubrics(body, source="body")
        feedback.save_rubrics(rubrics, replace=replace)
        return {"imported": [{"id": r.id, "criteria": len(r.criteria)} for r in rubrics]}

    @router.get("/rubrics/{rubric_id}/case")
    def export_case(
        rubric_id: Text,
        _: Annotated[Principal, allow(Action.READ_FRAMEWORK)],
        framework_id: str | None = None,
    ) -> dict[str, Any]:
        """A stored rubric as a CASE 1.1 ``CFRubric`` (with ``framework_id``, each criterion
        points at its competency's ``CFItem``)."""
        return export_case_rubric(
            feedback.rubric(rubric_id),
            last_change=feedback.context.clock().isoformat(),
            framework_id=framework_id,
        )

    @router.post("/learners/{learner_id}/submissions", status_code=201)
    def submit(
        learner_id: Text,
        body: SubmissionIn,
        _: Annotated[Principal, allow(Action.SUBMIT_WORK, "learner_id")],
    ) -> dict[str, Any]:
        """A new version of the learner's answer: judged per criterion (level, confidence,
        supporting sentences) with feedback; unsure judgements go to the review queue."""
        return feedback.submit(
            learner_id, body.rubric_id, body.text, next_activity=body.next_activity
        )

    @router.get("/learners/{learner_id}/submissions")
    def history(
        learner_id: Text,
        rubric_id: Text,
        _: Annotated[Principal, allow(Action.READ_LEARNER, "learner_id")],
    ) -> dict[str, Any]:
        """Every version, and each criterion's level over the versions."""
        return feedback.history(learner_id, rubric_id)

    @router.get("/learners/{learner_id}/feedback")
    def latest_feedback(
        learner_id: Text,
        competency_id: Text,
        _: Annotated[Principal, allow(Action.READ_LEARNER, "learner_id")],
    ) -> list[dict[str, Any]]:
        """The latest feedback on the learner's work for a competency: for each rubric with a
        criterion aligned to it, the latest version's levels on those criteria, its
        feedback and its text (what the learner page shows and lets them revise)."""
        return feedback.latest_on(learner_id, competency_id)

    @router.post("/learners/{learner_id}/submissions/{rubric_id}/final")
    def finalize(
        learner_id: Text,
        rubric_id: Text,
        _: Annotated[Principal, allow(Action.ACT_ON_LEARNER, "learner_id")],
    ) -> dict[str, Any]:
        """Record the latest version's levels as evidence for the aligned competencies."""
        return {"evidence_keys": feedback.finalize(learner_id, rubric_id)}

    @router.get("/reviews")
    def reviews(
        principal: Annotated[Principal, allow(Action.READ_AUDIT)],
        include_done: bool = False,
    ) -> list[dict[str, Any]]:
        """Low-confidence judgements waiting for an educator (educators: their cohorts)."""
        return feedback.reviews(
            learner_ids=accounts.visible_learners(principal), open_only=not include_done
        )

    @router.put("/reviews/{submission_id}/{criterion_id}")
    def review(
        submission_id: Annotated[int, Path(ge=1, le=INT32_MAX)],
        criterion_id: Text,
        body: ReviewIn,
        principal: Annotated[Principal, allow(Action.ACT_ON_LEARNER)],
    ) -> dict[str, Any]:
        """An educator's level for a criterion; it is kept and becomes an exemplar."""
        guard.check(principal, Action.ACT_ON_LEARNER, [feedback.submission_learner(submission_id)])
        return feedback.review(submission_id, criterion_id, body.level_id, by=principal.subject)

    return router
