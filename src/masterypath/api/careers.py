"""Career alignment endpoints (``/api/v1``): taxonomies, alignments, reports, goals."""

import io
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from masterypath.api.paths import SlashSafeRoute
from masterypath.api.schemas import CareerGoalIn, DecisionIn, Text
from masterypath.domain.access import Action, Principal
from masterypath.domain.careers import Decision, MatchKind
from masterypath.errors import InvalidInputError, NotFoundError, Problem
from masterypath.interop.career_reports import (
    coverage_html,
    coverage_matrix_csv,
    coverage_to_dict,
)
from masterypath.interop.taxonomies import read_generic_csv
from masterypath.services.careers import CareerService
from masterypath.services.frameworks import FrameworkService
from masterypath.web.pages import document

MAX_CSV_BYTES = 20_000_000


def careers_router(
    careers: CareerService, frameworks: FrameworkService, allow: Callable[..., Any]
) -> APIRouter:
    router = APIRouter(route_class=SlashSafeRoute, tags=["careers"])

    @router.get("/taxonomies")
    def list_taxonomies(
        _: Annotated[Principal, allow(Action.READ_CAREERS)],
    ) -> list[dict[str, Any]]:
        """Stored career taxonomies (ESCO is imported with ``masterypath careers import``)."""
        return careers.taxonomies()

    @router.post(
        "/taxonomies/{taxonomy_id}",
        status_code=201,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"text/csv": {"schema": {"type": "string"}}},
                "description": "Generic CSV: occupation, skill, importance[, ids, descriptions]",
            }
        },
    )
    async def import_taxonomy_csv(
        taxonomy_id: Text,
        request: Request,
        _: Annotated[Principal, allow(Action.MANAGE_CAREERS)],
        title: Annotated[str, Query(max_length=1000)] = "",
        replace: bool = False,
    ) -> dict[str, Any]:
        """Import a taxonomy in the generic CSV format (all or nothing; bad rows are
        named by line and field). Texts are embedded when the nlp extra is installed."""
        body = await request.body()
        if len(body) > MAX_CSV_BYTES:
            raise InvalidInputError("body", [Problem("body", "body", "larger than 20 MB")])
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInputError("body", [Problem("body", "body", "not UTF-8")]) from None
        taxonomy = read_generic_csv(
            io.StringIO(text, newline=""), taxonomy_id=taxonomy_id, title=title
        )
        imported = await run_in_threadpool(careers.import_taxonomy, taxonomy, replace=replace)
        return vars(imported)

    @router.get("/taxonomies/{taxonomy_id}/occupations")
    def find_occupations(
        taxonomy_id: Text,
        _: Annotated[Principal, allow(Action.READ_CAREERS)],
        q: Annotated[str, Query(max_length=200)] = "",
        limit: Annotated[int, Query(ge=1, le=500)] = 20,
    ) -> list[dict[str, str]]:
        """Occupations whose label or alternative label contains ``q``."""
        return careers.occupations(taxonomy_id, query=q, limit=limit)

    @router.post("/frameworks/{framework_id}/alignments/{taxonomy_id}")
    def run_alignment(
        framework_id: Text,
        taxonomy_id: Text,
        _: Annotated[Principal, allow(Action.MANAGE_CAREERS)],
        top_k: Annotated[int, Query(ge=1, le=100)] = 10,
        modules: bool = True,
    ) -> dict[str, Any]:
        """Suggest the ``top_k`` career skills for every competency and module (decided
        links keep their decision)."""
        return vars(careers.align(framework_id, taxonomy_id, top_k=top_k, modules=modules))

    @router.get("/frameworks/{framework_id}/alignments/{taxonomy_id}")
    def list_alignments(
        framework_id: Text,
        taxonomy_id: Text,
        _: Annotated[Principal, allow(Action.READ_CAREERS)],
        decision: Literal["suggested", "confirmed", "rejected"] | None = None,
        competency_id: Text | None = None,
    ) -> list[dict[str, Any]]:
        """Alignments with score, reason (matched words and sentence) and decision."""
        return careers.suggestions(
            framework_id,
            taxonomy_id,
            decision=None if decision is None else Decision(decision),
            competency_id=competency_id,
        )

    @router.put("/frameworks/{framework_id}/alignments/{taxonomy_id}/{competency_id}/{skill_id}")
    def decide_alignment(
        framework_id: Text,
        taxonomy_id: Text,
        competency_id: Text,
        skill_id: Text,
        body: DecisionIn,
        principal: Annotated[Principal, allow(Action.MANAGE_CAREERS)],
    ) -> dict[str, Any]:
        """Confirm or reject a link (confirming one never suggested creates it)."""
        return careers.decide(
            framework_id,
            competency_id,
            taxonomy_id,
            skill_id,
            decision=Decision(body.decision),
            by=principal.subject,
            match=MatchKind(body.match),
            note=body.note,
        )

    @router.get(
        "/frameworks/{framework_id}/careers/{taxonomy_id}/coverage/{occupation_id}",
        responses={200: {"content": {"text/html": {}, "text/csv": {}}}},
    )
    def get_coverage(
        framework_id: Text,
        taxonomy_id: Text,
        occupation_id: Text,
        _: Annotated[Principal, allow(Action.READ_CAREERS)],
        format: Literal["json", "html", "csv"] = "json",
    ) -> Any:
        """How the programme's confirmed links cover an occupation's essential and optional
        skills: JSON, an HTML report with a chart, or the skill x competency CSV matrix."""
        report = careers.coverage(framework_id, taxonomy_id, occupation_id)
        if format == "html":
            best = careers.best_occupations(framework_id, taxonomy_id, limit=5)
            title = frameworks.get(framework_id).title
            return document(coverage_html(report, best, programme=title))
        if format == "csv":
            competencies = sorted({c for s in report.skills for c in s.competencies})
            return Response(coverage_matrix_csv(report, competencies), media_type="text/csv")
        return coverage_to_dict(report)

    @router.get("/frameworks/{framework_id}/careers/{taxonomy_id}/occupations")
    def best_occupations(
        framework_id: Text,
        taxonomy_id: Text,
        _: Annotated[Principal, allow(Action.READ_CAREERS)],
        limit: Annotated[int, Query(ge=1, le=100)] = 10,
    ) -> list[dict[str, Any]]:
        """The occupations the programme prepares for best."""
        return [
            {k: v for k, v in coverage_to_dict(r).items() if k != "skills"}
            for r in careers.best_occupations(framework_id, taxonomy_id, limit=limit)
        ]

    @router.get("/frameworks/{framework_id}/careers/{taxonomy_id}/case")
    def export_case_links(
        framework_id: Text,
        taxonomy_id: Text,
        _: Annotated[Principal, allow(Action.READ_CAREERS)],
    ) -> dict[str, Any]:
        """The framework as a CASE package with confirmed links as ``exactMatchOf`` /
        ``isRelatedTo`` associations."""
        return careers.export_case(framework_id, taxonomy_id)

    @router.put("/learners/{learner_id}/career-goal")
    def put_career_goal(
        learner_id: Text,
        body: CareerGoalIn,
        _: Annotated[Principal, allow(Action.SET_CAREER_GOAL, "learner_id")],
    ) -> dict[str, Any]:
        """Choose the learner's career: the competencies confirmed for its essential
        skills become the planner's goals."""
        careers.set_goal(learner_id, body.framework_id, body.taxonomy_id, body.occupation_id)
        goal = careers.goal(learner_id, body.framework_id)
        assert goal is not None
        return goal

    @router.get("/learners/{learner_id}/career-goal")
    def get_career_goal(
        learner_id: Text,
        framework_id: Text,
        _: Annotated[Principal, allow(Action.READ_LEARNER, "learner_id")],
    ) -> dict[str, Any]:
        """The learner's career goal in a framework and the goals it sets."""
        goal = careers.goal(learner_id, framework_id)
        if goal is None:
            raise NotFoundError("career goal", f"{learner_id}/{framework_id}")
        return goal

    return router
