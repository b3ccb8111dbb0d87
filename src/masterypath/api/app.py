"""The application factory. Nothing is wired at import time."""

from __future__ import annotations

import html
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, FastAPI, Query, Request, Response
from fastapi.responses import HTMLResponse

from masterypath import __version__
from masterypath.api.careers import careers_router
from masterypath.api.errors import ErrorOut, install_error_handlers
from masterypath.api.how_it_works import PAGE
from masterypath.api.schemas import (
    AttributeIn,
    EvidenceIn,
    EvidenceOut,
    FrameworkImportedOut,
    FrameworkOut,
    FrameworkSummaryOut,
    RecordOut,
    Text,
)
from masterypath.domain.evidence import (
    Evidence,
    EvidenceKind,
    outcome_from_dict,
    outcome_to_dict,
)
from masterypath.domain.framework import Framework
from masterypath.errors import NotFoundError
from masterypath.interop.audit_report import render_audit_html
from masterypath.interop.case import import_case
from masterypath.interop.framework_files import framework_to_dict
from masterypath.nlp.embeddings import load_encoder
from masterypath.services.audit import AuditService
from masterypath.services.careers import CareerService
from masterypath.services.context import ServiceContext
from masterypath.services.evidence import EvidenceService
from masterypath.services.frameworks import FrameworkService
from masterypath.services.mastery import MasteryService
from masterypath.settings import Settings

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Malformed request body"},
    404: {"model": ErrorOut, "description": "Not found"},
    409: {"model": ErrorOut, "description": "Conflicts with stored data"},
    422: {"model": ErrorOut, "description": "Invalid input; the message names the field"},
}
MEDIA = {"case": "application/json", "csv": "text/csv", "yaml": "application/yaml"}


def create_app(settings: Settings, *, context: ServiceContext | None = None) -> FastAPI:
    """Build the API for ``settings`` (or an explicit service context, e.g. in tests).

    The schema must already be migrated (``masterypath init``).
    """
    context = context or ServiceContext.from_settings(settings)
    frameworks = FrameworkService(context)
    evidence = EvidenceService(context)
    audits = AuditService(context)
    mastery = MasteryService(context)
    careers = CareerService(context, encoder=load_encoder(enabled=settings.embeddings))
    app = FastAPI(
        title="masterypath",
        version=__version__,
        responses=ERRORS,
        description="Competency frameworks, the evidence ledger and mastery.",
    )
    install_error_handlers(app)
    v1 = APIRouter(prefix="/api/v1")

    @app.get("/health", tags=["meta"])
    def health() -> dict[str, str]:
        """Liveness: the service answers."""
        return {"status": "ok", "version": __version__}

    @v1.get("/frameworks", tags=["frameworks"])
    def list_frameworks() -> list[FrameworkSummaryOut]:
        """Every stored framework with its size."""
        return [FrameworkSummaryOut(**vars(s)) for s in frameworks.summaries()]

    @v1.get("/frameworks/{framework_id}", tags=["frameworks"])
    def get_framework(framework_id: Text) -> FrameworkOut:
        """One framework: competencies, prerequisites (with the status each requires),
        items and a topological order."""
        return _framework_out(frameworks.get(framework_id))

    @v1.get(
        "/frameworks/{framework_id}/export",
        tags=["frameworks"],
        responses={200: {"content": {m: {} for m in MEDIA.values()}}},
    )
    def export_framework(
        framework_id: Text, format: Literal["case", "csv", "yaml"] = "case"
    ) -> Response:
        """The framework as a CASE 1.1 CFPackage, CSV or YAML."""
        return Response(frameworks.export(framework_id, format), media_type=MEDIA[format])

    @v1.post("/frameworks/case", tags=["frameworks"], status_code=201)
    def import_case_package(
        package: Annotated[dict[str, Any], Body(description="A CASE 1.1 CFPackage.")],
        replace: bool = False,
    ) -> FrameworkImportedOut:
        """Import a CASE CFPackage; all or nothing, every problem named."""
        result = import_case(package, source="request body")
        saved = frameworks.save(result.framework, replace=replace)
        return FrameworkImportedOut(**vars(saved), notes=list(result.notes))

    def record(batch: list[EvidenceIn], response: Response) -> list[RecordOut]:
        results = evidence.record_many([_to_domain(e) for e in batch])
        response.status_code = 201 if any(r.stored for r in results) else 200
        return [RecordOut(key=r.key, stored=r.stored, locked=list(r.locked)) for r in results]

    @v1.post("/evidence", tags=["evidence"], status_code=201)
    def post_evidence(body: EvidenceIn, response: Response) -> RecordOut:
        """Record one piece of evidence. Idempotent: 201 when stored, 200 with
        ``stored: false`` when the same key and content were stored before; the same key
        with other content is 409."""
        return record([body], response)[0]

    @v1.post("/evidence/batch", tags=["evidence"], status_code=201)
    def post_evidence_batch(
        body: Annotated[list[EvidenceIn], Body(min_length=1, max_length=10_000)],
        response: Response,
    ) -> list[RecordOut]:
        """Record a batch in one transaction: on any error (a 422 naming the item's index
        and field, or a 409 conflict) nothing of the batch is stored."""
        return record(body, response)

    @v1.get("/evidence", tags=["evidence"])
    def list_evidence(
        learner_id: Text | None = None,
        competency_id: Text | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
    ) -> list[EvidenceOut]:
        """The ledger in time order, filtered by learner and/or competency."""
        return [
            _evidence_out(e)
            for e in evidence.find(
                learner_id=learner_id, competency_id=competency_id, limit=limit, offset=offset
            )
        ]

    @v1.put("/learners/{learner_id}/attributes/{attribute}", tags=["audit"])
    def put_attribute(learner_id: Text, attribute: Text, body: AttributeIn) -> dict[str, str]:
        """Store one group attribute of a learner for fairness audits. ``consent_by`` (who
        consented: the learner, or a guardian) is required; nothing is stored without it."""
        audits.set_attributes(
            attribute, {learner_id: body.value}, consent_by={learner_id: body.consent_by}
        )
        return {"learner_id": learner_id, "attribute": attribute, "value": body.value}

    @v1.delete("/learners/{learner_id}/attributes/{attribute}", status_code=204, tags=["audit"])
    def delete_attribute(learner_id: Text, attribute: Text) -> Response:
        """Consent withdrawn: delete the attribute."""
        if not audits.withdraw(attribute, [learner_id]):
            raise NotFoundError("attribute", f"{learner_id}/{attribute}")
        return Response(status_code=204)

    @v1.get("/frameworks/{framework_id}/audit", tags=["audit"])
    def get_audit(
        framework_id: Text,
        attribute: Text,
        min_group: Annotated[int, Query(ge=1, le=100_000)] = 20,
        dif: bool = True,
        format: Literal["json", "html"] = "json",
    ) -> Any:
        """Fairness audit of a framework by a consented group attribute (JSON, or the HTML
        report with ``format=html``). Raises alerts above the default thresholds."""
        report = audits.run(framework_id, attribute, min_group=min_group, dif=dif)
        if format == "html":
            return HTMLResponse(render_audit_html(report))
        return report

    @v1.get("/frameworks/{framework_id}/model-card", tags=["audit"])
    def get_model_card(
        framework_id: Text,
        version: Annotated[int | None, Query(ge=1)] = None,
        attribute: Text | None = None,
    ) -> dict[str, Any]:
        """The model card of the active (or a given) model version."""
        return audits.model_card(framework_id, version=version, attribute=attribute)

    @v1.get("/learners/{learner_id}/plan", tags=["mastery"])
    def get_plan(
        learner_id: Text,
        framework_id: Text,
        goal: Annotated[list[Text] | None, Query()] = None,
        max_steps: Annotated[int, Query(ge=1, le=100)] = 10,
        target_success: Annotated[float, Query(gt=0, lt=1)] = 0.7,
    ) -> dict[str, Any]:
        """The learner's next steps (due reviews, then ready-to-learn competencies toward
        the goals, each with an item and a reason). Without ``goal``, the goals come from
        the learner's career goal when one is chosen."""
        goals = tuple(goal or ()) or careers.goals_for(learner_id, framework_id)
        return mastery.plan(
            learner_id,
            framework_id,
            goals=goals,
            max_steps=max_steps,
            target_success=target_success,
        ).to_dict()

    v1.include_router(careers_router(careers, frameworks))
    app.include_router(v1)

    @app.get("/how-it-works", response_class=HTMLResponse, tags=["meta"])
    def how_it_works() -> str:
        """For learners: how evidence becomes a status, in plain language."""
        return PAGE

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request) -> str:
        return _home_page(frameworks, evidence)

    return app


def _to_domain(e: EvidenceIn) -> Evidence:
    return Evidence.create(
        key=e.key,
        learner_id=e.learner_id,
        competency_ids=tuple(e.competency_ids),
        outcome=outcome_from_dict(e.outcome.model_dump()),
        timestamp=e.timestamp,
        kind=EvidenceKind(e.kind),
        item_id=e.item_id,
        source=e.source,
        asserted_by=e.asserted_by,
        sequence=e.sequence,
    )


def _evidence_out(e: Evidence) -> EvidenceOut:
    return EvidenceOut(
        key=e.key,
        learner_id=e.learner_id,
        competency_ids=list(e.competency_ids),
        outcome=outcome_to_dict(e.outcome),
        timestamp=e.timestamp,
        kind=e.kind.value,
        item_id=e.item_id,
        source=e.source,
        asserted_by=e.asserted_by,
        sequence=e.sequence,
    )


def _framework_out(fw: Framework) -> FrameworkOut:
    return FrameworkOut.model_validate(framework_to_dict(fw))


def _home_page(frameworks: FrameworkService, evidence: EvidenceService) -> str:
    esc = html.escape
    sections = []
    for summary in frameworks.summaries():
        fw = frameworks.get(summary.id)
        rows = "".join(
            f"<tr><td>{esc(c.title)}</td><td><code>{esc(c.id)}</code></td><td>"
            + ", ".join(esc(fw.competency(p.competency_id).title) for p in c.prerequisites)
            + "</td></tr>"
            for c in (fw.competency(cid) for cid in fw.topological_order())
        )
        sections.append(
            f"<section><h2>{esc(fw.title)}</h2><p>{esc(fw.description)}</p>"
            f"<table><caption>Competencies in prerequisite order</caption><thead><tr>"
            f"<th scope='col'>Competency</th><th scope='col'>Id</th>"
            f"<th scope='col'>Requires</th></tr></thead><tbody>{rows}</tbody></table></section>"
        )
    body = "".join(sections) or "<p>No framework yet: run <code>masterypath demo</code>.</p>"
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>masterypath</title><meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
color:#1a1a1a}}table{{border-collapse:collapse;width:100%}}td,th{{border:1px solid #999;
padding:.3rem .5rem;text-align:left}}caption{{text-align:left;font-weight:600}}
a{{color:#0645ad}}</style></head><body><main><h1>masterypath</h1>
<p>{evidence.count()} pieces of evidence in the ledger.
<a href="/docs">API documentation</a></p>{body}</main></body></html>"""
