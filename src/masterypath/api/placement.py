"""Placement (test-out) sessions: an adaptive diagnostic over the prerequisite graph whose
conclusions become ``inferred`` evidence, after an educator confirms them by default."""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path

from masterypath.api.paths import SlashSafeRoute
from masterypath.api.schemas import PlacementAnswerIn, PlacementDecisionIn, PlacementIn, Text
from masterypath.domain.access import Action, Principal
from masterypath.services.placement import PlacementService

PlacementId = Annotated[int, Path(ge=1, le=2**62)]


def placement_router(placements: PlacementService, allow: Callable[..., Any]) -> APIRouter:
    router = APIRouter(route_class=SlashSafeRoute, tags=["placement"])

    @router.post("/learners/{learner_id}/placements", status_code=201)
    def start(
        learner_id: Text,
        body: PlacementIn,
        principal: Annotated[Principal, allow(Action.SUBMIT_WORK, "learner_id")],
    ) -> dict[str, Any]:
        """Open a placement session on a framework: the first question is ``next_probe``.
        The prior is fitted on the other learners' mastered competencies (uniform while
        fewer than 20 learners have states in the framework)."""
        return placements.start(
            learner_id,
            body.framework_id,
            by=principal.subject,
            budget=body.budget,
            confidence=body.confidence,
            seed=body.seed,
        )

    @router.get("/learners/{learner_id}/placements")
    def list_sessions(
        learner_id: Text, _: Annotated[Principal, allow(Action.READ_LEARNER, "learner_id")]
    ) -> list[dict[str, Any]]:
        """The learner's placement sessions, newest first."""
        return placements.sessions_of(learner_id)

    @router.get("/learners/{learner_id}/placements/{placement_id}")
    def get(
        learner_id: Text,
        placement_id: PlacementId,
        _: Annotated[Principal, allow(Action.READ_LEARNER, "learner_id")],
    ) -> dict[str, Any]:
        """One session: answers, the next question and current beliefs while open; the
        conclusions (with each one's P(known)) once finished."""
        return placements.get(placement_id, learner_id=learner_id)

    @router.post("/learners/{learner_id}/placements/{placement_id}/answers")
    def answer(
        learner_id: Text,
        placement_id: PlacementId,
        body: PlacementAnswerIn,
        _: Annotated[Principal, allow(Action.SUBMIT_WORK, "learner_id")],
    ) -> dict[str, Any]:
        """Record whether the learner answered a question on a competency correctly; the
        reply holds the next question (``next_probe``, null once ``done``)."""
        return placements.answer(
            placement_id, body.competency_id, body.correct, learner_id=learner_id
        )

    @router.post("/learners/{learner_id}/placements/{placement_id}/finish")
    def finish(
        learner_id: Text,
        placement_id: PlacementId,
        principal: Annotated[Principal, allow(Action.SUBMIT_WORK, "learner_id")],
    ) -> dict[str, Any]:
        """Conclude the session: each competency classified with the session's confidence
        (a competency whose own question failed is never concluded known). The conclusions
        wait for an educator unless the server records them at once."""
        return placements.finish(placement_id, by=principal.subject, learner_id=learner_id)

    @router.post("/learners/{learner_id}/placements/{placement_id}/decision")
    def decide(
        learner_id: Text,
        placement_id: PlacementId,
        body: PlacementDecisionIn,
        principal: Annotated[Principal, allow(Action.ACT_ON_LEARNER, "learner_id")],
    ) -> dict[str, Any]:
        """An educator accepts the conclusions (each becomes ``inferred`` evidence with
        source ``placement:<id>``, asserted by the educator) or rejects them."""
        placements.get(placement_id, learner_id=learner_id)  # 404 for another learner's
        return placements.decide(
            placement_id, accept=body.accept, by=principal.subject, note=body.note
        )

    return router
