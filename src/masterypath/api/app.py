"""The application factory. Nothing is wired at import time."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Body, Depends, FastAPI, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.telemetry import TelemetryConfig
from fastapi_offline import FastAPIOffline
from pydantic import Field, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from masterypath import __version__
from masterypath.api.accounts import account_router, auth_router
from masterypath.api.badges import badge_router, verify_router
from masterypath.api.careers import careers_router
from masterypath.api.errors import (
    ErrorOut,
    InputGuard,
    XapiConventions,
    install_error_handlers,
)
from masterypath.api.fast_lane import FastLane, json_or_none
from masterypath.api.feedback import feedback_router
from masterypath.api.how_it_works import PAGE
from masterypath.api.jobs import JobThreads, jobs_lifespan, jobs_router
from masterypath.api.learners import learner_router
from masterypath.api.lti import lti_platform_router, lti_router
from masterypath.api.paths import EncodedSlashes, SlashSafeRoute
from masterypath.api.placement import placement_router
from masterypath.api.public_url import PublicUrl
from masterypath.api.query import KNOWN_QUERY
from masterypath.api.schemas import (
    AttributeIn,
    CompetencyOut,
    EvidenceIn,
    EvidenceOut,
    FrameworkImportedOut,
    FrameworkOut,
    FrameworkSummaryOut,
    ItemOut,
    RecordOut,
    Text,
    VoidIn,
)
from masterypath.api.security import Guard
from masterypath.api.xapi import document_xapi_errors, statements_lane, xapi_router
from masterypath.api.xapi_alternate import AlternateSyntax
from masterypath.domain.access import Action, Principal
from masterypath.domain.evidence import (
    Evidence,
    EvidenceKind,
    outcome_from_dict,
    outcome_to_dict,
)
from masterypath.domain.framework import Framework
from masterypath.domain.layout import layered_layout
from masterypath.errors import NotFoundError, PermissionDeniedError
from masterypath.interop.audit_report import render_audit_html
from masterypath.interop.case import import_case
from masterypath.interop.framework_files import framework_to_dict
from masterypath.interop.grid_csv import grid_csv
from masterypath.interop.lti_tool_key import ToolKey
from masterypath.interop.oneroster_rest import RosterSource
from masterypath.nlp.embeddings import load_encoder
from masterypath.nlp.llm import make_scorer
from masterypath.services.accounts import AccountService
from masterypath.services.audit import AuditService
from masterypath.services.badges import BadgeService, BadgeSigner
from masterypath.services.careers import CareerService
from masterypath.services.context import ServiceContext
from masterypath.services.evidence import EvidenceService
from masterypath.services.feedback import FeedbackService
from masterypath.services.frameworks import FrameworkService
from masterypath.services.group_commit import GroupCommitter
from masterypath.services.health import readiness, server_checks
from masterypath.services.jobs import JobRunner, scheduled_jobs
from masterypath.services.lti import LtiService
from masterypath.services.lti_grades import LtiGradeService
from masterypath.services.lti_members import LtiMemberService
from masterypath.services.lti_registration import LtiRegistrationService
from masterypath.services.mastery import MasteryService
from masterypath.services.placement import PlacementService
from masterypath.services.privacy import PrivacyService
from masterypath.services.xapi import XapiService
from masterypath.services.xapi_profiles import XapiProfileService
from masterypath.services.xapi_state import XapiStateService
from masterypath.settings import Settings, parse_origins
from masterypath.store.types import INT32_MAX
from masterypath.web.pages import document, pages_router, static_files

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Malformed request body"},
    401: {"model": ErrorOut, "description": "Missing, wrong, expired or revoked credentials"},
    403: {"model": ErrorOut, "description": "Not allowed for this role, scope or learner"},
    404: {"model": ErrorOut, "description": "Not found"},
    409: {"model": ErrorOut, "description": "Conflicts with stored data"},
    413: {"model": ErrorOut, "description": "Request body too large"},
    422: {"model": ErrorOut, "description": "Invalid input; the message names the field"},
    503: {"model": ErrorOut, "description": "The database is unavailable; retry"},
}
MEDIA = {"case": "application/json", "csv": "text/csv", "yaml": "application/yaml"}
MAX_BATCH = 10_000
TELEMETRY_OFF: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
"""FastAPI's OpenTelemetry bridge, off unless ``Settings.opentelemetry``."""
EvidenceBatch = Annotated[list[EvidenceIn], Field(min_length=1, max_length=MAX_BATCH)]
EVIDENCE_BATCH: TypeAdapter[list[EvidenceIn]] = TypeAdapter(EvidenceBatch)
"""The batch endpoint's body, for its fast lane."""


def create_app(
    settings: Settings,
    *,
    context: ServiceContext | None = None,
    accounts: AccountService | None = None,
) -> FastAPI:
    """Build the API for ``settings`` (or an explicit service context and account service,
    e.g. in tests). The schema must already be migrated (``masterypath init``)."""
    context = context or ServiceContext.from_settings(settings)
    frameworks = FrameworkService(context)
    evidence = EvidenceService(context)
    committer = GroupCommitter(evidence)
    audits = AuditService(context)
    mastery = MasteryService(context)
    encoder = load_encoder(enabled=settings.embeddings)  # one model, shared
    careers = CareerService(context, encoder=encoder)
    accounts = accounts or AccountService(context)
    privacy = PrivacyService(
        context, access_log_window=timedelta(seconds=settings.access_log_window)
    )
    guard = Guard(accounts, privacy)
    tool_key = ToolKey.from_settings(settings)
    runner = JobRunner(
        context, scheduled_jobs(settings, context, accounts=accounts, tool_key=tool_key)
    )
    threads = JobThreads(runner)
    # /docs and /redoc from assets in a package: a school's server may have no internet
    app = FastAPIOffline(
        title="masterypath",
        version=__version__,
        responses=ERRORS,
        description="Competency frameworks, the evidence ledger and mastery. Every `/api/v1` "
        "and `/xapi` endpoint but `/xapi/about` needs `Authorization: Bearer <token or API "
        "key>`.",
        telemetry=None if settings.opentelemetry else TELEMETRY_OFF,
        lifespan=jobs_lifespan(threads),
    )
    install_error_handlers(app)
    app.add_middleware(EncodedSlashes)
    app.add_middleware(InputGuard, max_bytes=settings.max_body_bytes)
    app.add_middleware(XapiConventions)  # outside the guard: its 422s are 400s there too
    # outermost: all the rest sees the request an alternate-syntax one stands for
    app.add_middleware(AlternateSyntax, max_bytes=settings.max_body_bytes)
    if settings.public_url:  # before all the rest: every URL made names the public one
        app.add_middleware(PublicUrl, public_url=settings.public_url)
    app.router.route_class = SlashSafeRoute  # ids may hold an encoded slash (api/paths.py)
    v1 = APIRouter(route_class=SlashSafeRoute, prefix="/api/v1", dependencies=[KNOWN_QUERY])

    def allow(action: Action, learner: str | None = None) -> Any:
        return Depends(guard.requires(action, learner=learner))

    @app.get("/health", tags=["meta"])
    def health() -> dict[str, str]:
        """Liveness: the service answers (no credentials needed)."""
        return {"status": "ok", "version": __version__}

    @app.get(
        "/health/ready",
        tags=["meta"],
        responses={503: {"description": "The database cannot be reached or is not migrated"}},
    )
    def ready() -> JSONResponse:
        """Readiness, for a load balancer (no credentials needed): 200 when the database
        answers and its schema is this release's, else 503; ``checks`` says which
        (without the database's address: the server's log has the error)."""
        checks = readiness(context)
        ok = all(c.ok for c in checks)
        return JSONResponse(
            {"status": "ready" if ok else "unready", "checks": [c.to_dict() for c in checks]},
            status_code=200 if ok else 503,
        )

    @v1.get("/frameworks", tags=["frameworks"])
    def list_frameworks(_: Principal = allow(Action.READ_FRAMEWORK)) -> list[FrameworkSummaryOut]:
        """Every stored framework with its size."""
        return [FrameworkSummaryOut(**vars(s)) for s in frameworks.summaries()]

    @v1.get("/frameworks/{framework_id}", tags=["frameworks"])
    def get_framework(
        framework_id: Text, _: Principal = allow(Action.READ_FRAMEWORK)
    ) -> FrameworkOut:
        """One framework: competencies, prerequisites (with the status each requires),
        items and a topological order."""
        return _framework_out(frameworks.get(framework_id))

    @v1.get("/frameworks/{framework_id}/competencies", tags=["frameworks"])
    def list_competencies(
        framework_id: Text, _: Principal = allow(Action.READ_FRAMEWORK)
    ) -> list[CompetencyOut]:
        """The framework's competencies (with parents and prerequisites)."""
        return _framework_out(frameworks.get(framework_id)).competencies

    @v1.get("/frameworks/{framework_id}/map", tags=["frameworks"])
    def framework_map(
        framework_id: Text, _: Principal = allow(Action.READ_FRAMEWORK)
    ) -> dict[str, Any]:
        """The prerequisite graph laid out in layers (for drawing a progress map): each
        competency's layer and order, and the prerequisite edges."""
        fw = frameworks.get(framework_id)
        return {
            "id": fw.id,
            "title": fw.title,
            "nodes": [
                {
                    "id": p.id,
                    "title": fw.competency(p.id).title,
                    "layer": p.layer,
                    "order": p.order,
                    "parent": fw.competency(p.id).parent_id,
                    "requires": [r.competency_id for r in fw.competency(p.id).prerequisites],
                }
                for p in layered_layout(fw)
            ],
            "edges": [[before, after] for before, after, _ in fw.edges()],
        }

    def read_grid(
        request: Request, framework_id: str, cohort_id: str | None, principal: Principal
    ) -> dict[str, Any]:
        visible = accounts.visible_learners(principal)
        if cohort_id is not None:
            members = accounts.cohort_members(cohort_id)
            visible = members if visible is None else visible & members
        grid = mastery.grid(framework_id, visible)
        guard.log(principal, Action.READ_LEARNER, request, [r["id"] for r in grid["learners"]])
        return grid

    @v1.get("/frameworks/{framework_id}/grid", tags=["mastery"])
    def cohort_grid(
        request: Request,
        framework_id: Text,
        cohort_id: Text | None = None,
        principal: Principal = allow(Action.READ_AUDIT),
    ) -> dict[str, Any]:
        """Learners x competencies (status now, as the learner's own page shows it;
        estimate, uncertainty, evidence count) for the caller's learners (an educator's
        cohorts; a cohort's only with ``cohort_id``). Each learner's ``locked`` lists the
        columns whose prerequisites they have not met (a mastered one is never listed), as
        their page shows them. Every learner shown is written to the access log."""
        return read_grid(request, framework_id, cohort_id, principal)

    @v1.get(
        "/frameworks/{framework_id}/grid.csv",
        tags=["mastery"],
        responses={200: {"content": {"text/csv": {}}}},
    )
    def cohort_grid_csv(
        request: Request,
        framework_id: Text,
        cohort_id: Text | None = None,
        principal: Principal = allow(Action.READ_AUDIT),
    ) -> Response:
        """The same grid for a spreadsheet: a row per learner (id, competencies mastered),
        a column per competency, each cell its status (``locked`` where the prerequisites
        are not met). UTF-8 with a byte-order mark (spreadsheets need it to read accents);
        a cell that would read as a formula starts with ``'``. Logged as the grid is."""
        grid = read_grid(request, framework_id, cohort_id, principal)
        name = re.sub(r"[^A-Za-z0-9._-]", "_", framework_id)
        return Response(
            "\ufeff" + grid_csv(grid),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}-grid.csv"'},
        )

    @v1.get("/frameworks/{framework_id}/items", tags=["frameworks"])
    def list_items(
        framework_id: Text, _: Principal = allow(Action.READ_FRAMEWORK)
    ) -> list[ItemOut]:
        """The framework's items and the competencies each one assesses."""
        return _framework_out(frameworks.get(framework_id)).items

    @v1.get(
        "/frameworks/{framework_id}/export",
        tags=["frameworks"],
        responses={200: {"content": {m: {} for m in MEDIA.values()}}},
    )
    def export_framework(
        framework_id: Text,
        format: Literal["case", "csv", "yaml"] = "case",
        _: Principal = allow(Action.READ_FRAMEWORK),
    ) -> Response:
        """The framework as a CASE 1.1 CFPackage, CSV or YAML."""
        return Response(frameworks.export(framework_id, format), media_type=MEDIA[format])

    @v1.post("/frameworks/case", tags=["frameworks"], status_code=201)
    def import_case_package(
        package: Annotated[dict[str, Any], Body(description="A CASE 1.1 CFPackage.")],
        replace: bool = False,
        _: Principal = allow(Action.WRITE_FRAMEWORK),
    ) -> FrameworkImportedOut:
        """Import a CASE CFPackage; all or nothing, every problem named."""
        result = import_case(package, source="request body")
        saved = frameworks.save(result.framework, replace=replace)
        return FrameworkImportedOut(**vars(saved), notes=list(result.notes))

    async def record(batch: list[EvidenceIn], principal: Principal) -> tuple[int, list[RecordOut]]:
        await guard.check_async(principal, Action.WRITE_EVIDENCE, [e.learner_id for e in batch])
        results = await committer.record_many_async([_to_domain(e) for e in batch])
        out = [RecordOut(key=r.key, stored=r.stored, locked=list(r.locked)) for r in results]
        return (201 if any(r.stored for r in results) else 200), out

    # route matching walks the routes in order, through every included router: the
    # evidence posts (half of all writes under load) are matched first, at the top level
    @app.post(
        "/api/v1/evidence",
        tags=["evidence"],
        status_code=201,
        dependencies=[KNOWN_QUERY],
        responses={200: {"model": RecordOut, "description": "Stored before: nothing changed"}},
    )
    async def post_evidence(
        body: EvidenceIn, response: Response, principal: Principal = allow(Action.WRITE_EVIDENCE)
    ) -> RecordOut:
        """Record one piece of evidence. Idempotent: 201 when stored, 200 with
        ``stored: false`` when the same key and content were stored before; the same key
        with other content is 409. A learner under 13 without guardian consent is 403.
        Concurrent single posts share a transaction (group commit); each is answered
        after its own commit."""
        response.status_code, out = await record_one(body, principal)
        return out

    async def record_one(body: EvidenceIn, principal: Principal) -> tuple[int, RecordOut]:
        status, [out] = await record([body], principal)
        return status, out

    async def evidence_lane(principal: Principal, _: Request, body: bytes) -> Response | None:
        try:
            evidence = EvidenceIn.model_validate(json_or_none(body))
        except PydanticValidationError:
            return None  # the endpoint answers with the 422 that names the field
        status, out = await record_one(evidence, principal)
        return _json_response(status, out.model_dump())

    async def batch_lane(principal: Principal, _: Request, body: bytes) -> Response | None:
        try:
            batch = EVIDENCE_BATCH.validate_python(json_or_none(body))
        except PydanticValidationError:
            return None  # the endpoint answers with the 422 that names item and field
        status, out = await record(batch, principal)
        return _json_response(status, [o.model_dump() for o in out])

    @app.post(
        "/api/v1/evidence/batch",
        tags=["evidence"],
        status_code=201,
        dependencies=[KNOWN_QUERY],
        responses={
            200: {"model": list[RecordOut], "description": "All stored before: nothing changed"}
        },
    )
    async def post_evidence_batch(
        body: Annotated[list[EvidenceIn], Body(min_length=1, max_length=MAX_BATCH)],
        response: Response,
        principal: Principal = allow(Action.WRITE_EVIDENCE),
    ) -> list[RecordOut]:
        """Record a batch in one transaction: on any error (a 422 naming the item's index
        and field, a 403 or a 409) nothing of the batch is stored. Concurrent batches may
        share a transaction (group commit); each is answered after its own commit."""
        response.status_code, out = await record(body, principal)
        return out

    @v1.get("/evidence", tags=["evidence"])
    def list_evidence(
        learner_id: Text | None = None,
        competency_id: Text | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=INT32_MAX)] = 0,
        newest_first: bool = False,
        principal: Principal = allow(Action.READ_LEARNER, "learner_id"),
    ) -> list[EvidenceOut]:
        """The ledger in time order (the newest first with ``newest_first``), for one
        learner and/or competency, each piece marked ``voided`` if it was voided as
        recorded in error. Without ``learner_id`` only admins and keys with
        ``learners:read`` may list."""
        if learner_id is None and accounts.visible_learners(principal) is not None:
            raise PermissionDeniedError("read_learner", "name the learner (learner_id)")
        found = evidence.find(
            learner_id=learner_id,
            competency_id=competency_id,
            limit=limit,
            offset=offset,
            newest_first=newest_first,
        )
        voided = evidence.voided_keys([e.key for e in found])
        return [_evidence_out(e, voided=e.key in voided) for e in found]

    @v1.post("/learners/{learner_id}/evidence-voids", status_code=201, tags=["evidence"])
    def void_evidence(
        learner_id: Text,
        body: VoidIn,
        principal: Principal = allow(Action.ACT_ON_LEARNER, "learner_id"),
    ) -> dict[str, Any]:
        """Void a piece of the learner's evidence recorded in error (another learner's
        work, a test post): the ledger keeps it, and the learner's states are rebuilt
        without it in the same transaction (``rebuilt`` names the frameworks). 404 when the
        learner has no evidence with that key; 409 when it is voided already."""
        voided = evidence.void(learner_id, body.key, reason=body.reason, by=principal.subject)
        return voided.to_dict()

    @v1.post("/learners/{learner_id}/evidence-restorations", tags=["evidence"])
    def restore_evidence(
        learner_id: Text,
        body: VoidIn,
        principal: Principal = allow(Action.ACT_ON_LEARNER, "learner_id"),
    ) -> dict[str, Any]:
        """Undo a void made in error: the evidence counts again, and the learner's states
        are rebuilt with it in the same transaction (``rebuilt`` names the frameworks);
        ``reason`` says why the void was wrong (audited). 404 when the learner has no
        evidence with that key; 409 when it is not voided, or an xAPI voiding statement
        voided it (xAPI voiding cannot be undone)."""
        restored = evidence.restore(learner_id, body.key, reason=body.reason, by=principal.subject)
        return restored.to_dict()

    @v1.get("/learners/{learner_id}/evidence-voids", tags=["evidence"])
    def list_evidence_voids(
        learner_id: Text,
        _: Principal = allow(Action.READ_LEARNER, "learner_id"),
    ) -> list[dict[str, Any]]:
        """The learner's voided evidence: key, when, by whom and why."""
        return [v.to_dict() for v in evidence.voids(learner_id)]

    @v1.put("/learners/{learner_id}/attributes/{attribute}", tags=["audit"])
    def put_attribute(
        learner_id: Text,
        attribute: Text,
        body: AttributeIn,
        _: Principal = allow(Action.WRITE_ATTRIBUTES),
    ) -> dict[str, str]:
        """Store one group attribute of a learner for fairness audits. ``consent_by`` (who
        consented: the learner, or a guardian) is required; nothing is stored without it."""
        audits.set_attributes(
            attribute, {learner_id: body.value}, consent_by={learner_id: body.consent_by}
        )
        return {"learner_id": learner_id, "attribute": attribute, "value": body.value}

    @v1.delete("/learners/{learner_id}/attributes/{attribute}", status_code=204, tags=["audit"])
    def delete_attribute(
        learner_id: Text, attribute: Text, _: Principal = allow(Action.WRITE_ATTRIBUTES)
    ) -> Response:
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
        _: Principal = allow(Action.READ_AUDIT),
    ) -> Any:
        """Fairness audit of a framework by a consented group attribute (JSON, or the HTML
        report with ``format=html``). Raises alerts above the default thresholds."""
        report = audits.run(framework_id, attribute, min_group=min_group, dif=dif)
        if format == "html":
            return document(render_audit_html(report))
        return report

    @v1.get("/frameworks/{framework_id}/model-card", tags=["audit"])
    def get_model_card(
        framework_id: Text,
        version: Annotated[int | None, Query(ge=1, le=INT32_MAX)] = None,
        attribute: Text | None = None,
        _: Principal = allow(Action.READ_AUDIT),
    ) -> dict[str, Any]:
        """The model card of the active (or a given) model version."""
        return audits.model_card(framework_id, version=version, attribute=attribute)

    v1.include_router(learner_router(guard, allow, accounts, privacy, mastery, careers))
    v1.include_router(
        account_router(allow, accounts, privacy, RosterSource.from_settings(settings))
    )
    v1.include_router(careers_router(careers, frameworks, allow))
    feedback = FeedbackService(context, make_scorer(settings, encoder))
    v1.include_router(feedback_router(feedback, guard, accounts, allow))
    placements = PlacementService(context, hold_for_confirmation=settings.placement_confirmation)
    v1.include_router(placement_router(placements, allow))
    badges = BadgeService(context, BadgeSigner.from_settings(settings))
    v1.include_router(badge_router(badges, allow))
    # then the xAPI statements (the other half), before the hundred routes of /api/v1
    xapi = XapiService(context, committer=committer)
    documents = XapiStateService(context), XapiProfileService(context)
    app.include_router(xapi_router(xapi, guard, allow, *documents))

    @v1.get("/xapi/unmapped-activities", tags=["xapi"])
    def list_unmapped_activities(
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        _: Principal = allow(Action.READ_XAPI),
    ) -> list[dict[str, Any]]:
        """The activities of xAPI answers that became no evidence because no framework
        has an item for them, most answered first (answers, learners, last stored)."""
        return xapi.unmapped_activities(limit=limit)

    lti = LtiService(context, accounts, tool_key=tool_key)
    grades = LtiGradeService(context, tool_key=tool_key, mastery=mastery)
    registrations = LtiRegistrationService(lti)
    v1.include_router(lti_platform_router(lti, grades, LtiMemberService(lti), registrations, allow))
    v1.include_router(
        jobs_router(threads, allow, lambda: server_checks(settings, context, runner.statuses()))
    )

    document_xapi_errors(app)
    app.include_router(auth_router(accounts))
    app.include_router(lti_router(lti, registrations))
    app.include_router(v1)
    app.include_router(verify_router(badges))

    app.include_router(
        pages_router(
            embed_origins=parse_origins(settings.embed_origins), frame_origins=lti.frame_origins
        )
    )
    app.mount("/static", static_files(), name="static")

    @app.get("/how-it-works", response_class=HTMLResponse, tags=["meta"])
    def how_it_works() -> HTMLResponse:
        """For learners: how evidence becomes a status, in plain language."""
        return document(PAGE)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request) -> HTMLResponse:
        return document(_home_page(frameworks, evidence))

    # before every route: the common case of the ingest posts (see api/fast_lane.py)
    app.router.routes[:0] = [
        FastLane("/api/v1/evidence", Action.WRITE_EVIDENCE, accounts, evidence_lane),
        FastLane("/api/v1/evidence/batch", Action.WRITE_EVIDENCE, accounts, batch_lane),
        FastLane("/xapi/statements", Action.WRITE_XAPI, accounts, statements_lane(xapi, guard)),
    ]
    return app


def app_from_environment() -> FastAPI:
    """``create_app(Settings.from_environment())``: the factory ``uvicorn --factory`` (and
    each worker process of ``masterypath serve --workers N``) calls."""
    return create_app(Settings.from_environment())


def _json_response(status: int, content: Any) -> Response:
    return Response(orjson.dumps(content), status_code=status, media_type="application/json")


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


def _evidence_out(e: Evidence, *, voided: bool) -> EvidenceOut:
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
        voided=voided,
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
