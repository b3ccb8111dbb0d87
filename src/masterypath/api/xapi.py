"""``/xapi/statements``: receive xAPI statements as evidence (see ``services/xapi.py``)."""

import asyncio
import base64
import binascii
import json
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, FastAPI, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime
from starlette.datastructures import QueryParams

from masterypath.api.errors import ErrorOut, refused_in_request
from masterypath.api.fast_lane import Answer
from masterypath.api.paths import SlashSafeRoute
from masterypath.api.query import refuse_unknown
from masterypath.api.security import Guard
from masterypath.api.xapi_documents import (
    add_profile_routes,
    add_state_routes,
    agent_parameter,
    iri_parameter,
    uuid_parameter,
)
from masterypath.domain.access import Action, Principal
from masterypath.domain.evidence import EARLIEST, LATEST
from masterypath.errors import InvalidInputError, Problem, ValidationError
from masterypath.interop import strict_json
from masterypath.interop.xapi_formats import Format, formed_as
from masterypath.interop.xapi_multipart import (
    MULTIPART,
    AttachmentData,
    media_type,
    read_transmission,
    write_transmission,
)
from masterypath.services.xapi import (
    Cursor,
    StatementQuery,
    XapiService,
    check_version,
    is_voiding,
    statement_version,
)
from masterypath.services.xapi_profiles import XapiProfileService
from masterypath.services.xapi_state import XapiStateService

ABOUT_VERSIONS = ["1.0.3", "2.0.0"]
"""The latest version of each major xAPI version this LRS conforms to (``/xapi/about``)."""
CONSISTENT_THROUGH = "X-Experience-API-Consistent-Through"
Version = Annotated[
    str | None,
    Header(alias="X-Experience-API-Version", description="1.0.3 or 2.0.0 (required)"),
]
STATEMENTS_SCHEMA = {
    "oneOf": [
        {"type": "object"},
        {"type": "array", "items": {"type": "object"}, "minItems": 1},
    ]
}
STATEMENTS_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": STATEMENTS_SCHEMA},
            MULTIPART: {"schema": {"type": "string", "format": "binary"}},
        },
        "description": "One xAPI statement or a list of them; with attachments' bytes, "
        "multipart/mixed: the statements (application/json) first, then one part per "
        "attachment with its X-Experience-API-Hash (xAPI part three, 1.5.2).",
    }
}


STATEMENTS_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A statement or a StatementResult; with `attachments=true`, "
        "multipart/mixed: that JSON first, then the bytes of each attachment.",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            MULTIPART: {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


def _json(body: bytes) -> Any:
    try:  # strict: no NaN, no nesting deeper than 1,024 (Python's parser would recurse)
        return strict_json.loads(body)
    except json.JSONDecodeError as exc:
        raise InvalidInputError("body", [Problem("body", "(root)", f"not JSON: {exc}")]) from None


async def _read(request: Request, body: bytes) -> tuple[Any, dict[str, AttachmentData]]:
    """The statements of a request body and the attachments' bytes that came with them:
    a JSON body, or a ``multipart/mixed`` one (:func:`read_transmission`; taken apart in a
    thread, since it hashes every attachment). The JSON part gets the checks
    :class:`~masterypath.api.errors.InputGuard` makes of a JSON body."""
    content_type = request.headers.get("content-type", "")
    if media_type(content_type) != MULTIPART:
        return _json(body), {}
    sent = await asyncio.to_thread(read_transmission, body, content_type)
    scope = {"path": request.url.path, "query_string": b""}
    problem = refused_in_request(scope, b"application/json", sent.statements)
    if problem is not None:
        raise InvalidInputError("body", [Problem("part 1", problem.field, problem.reason)])
    return _json(sent.statements), sent.attachments


async def _store(
    xapi: XapiService,
    guard: Guard,
    principal: Principal,
    request: Request,
    statements: list[Any],
    attachments: dict[str, AttachmentData],
) -> list[str]:
    if any(is_voiding(s) for s in statements):
        if attachments:
            raise InvalidInputError(
                "xAPI statements",
                [Problem("body", "(root)", "voiding statements come without attachment parts")],
            )
        return await _void(xapi, guard, principal, request, statements)
    await guard.check_async(principal, Action.WRITE_XAPI, xapi.learners_of(statements))
    ids, _ = await xapi.record_async(
        statements,
        authority=authority(principal, request),
        attachments=attachments,
        version=_version(request),
    )
    return ids


async def _void(
    xapi: XapiService, guard: Guard, principal: Principal, request: Request, statements: list[Any]
) -> list[str]:
    """Voiding statements (xAPI 2.3.2): the sender must be allowed to write statements of
    the learners whose statements they void. They come on their own: a list that mixes
    them with other statements is a 400 (the two are stored by different paths, and a
    request is all or nothing)."""
    if not all(is_voiding(s) for s in statements):
        raise InvalidInputError(
            "xAPI statements",
            [Problem("body", "verb.id", "send voiding statements in a request of their own")],
        )
    learners = await asyncio.to_thread(xapi.voided_learners, statements)
    await guard.check_async(principal, Action.WRITE_XAPI, learners)
    return await asyncio.to_thread(
        lambda: xapi.void(
            statements,
            authority=authority(principal, request),
            by=principal.subject,
            version=_version(request),
        )
    )


def _version(request: Request) -> str:
    """The ``version`` a statement without one is stored with, by the request's version
    header (checked before)."""
    return statement_version(request.headers.get("x-experience-api-version", ""))


def authority(principal: Principal, request: Request) -> dict[str, Any]:
    """The Agent this LRS records as a statement's ``authority`` (xAPI 2.4.9: the LRS sets
    it from the credentials that sent the statement): the account or API key, by the id
    the access log names it by, at this server."""
    return {
        "objectType": "Agent",
        "account": {"homePage": str(request.base_url), "name": principal.subject},
    }


async def _post(
    xapi: XapiService, guard: Guard, principal: Principal, request: Request, body: bytes
) -> JSONResponse:
    check_version(request.headers.get("x-experience-api-version"))
    parsed, attachments = await _read(request, body)
    statements = parsed if isinstance(parsed, list) else [parsed]
    ids = await _store(xapi, guard, principal, request, statements, attachments)
    return JSONResponse(ids, headers=_consistent_through(xapi))


def _consistent_through(xapi: XapiService) -> dict[str, str]:
    """xAPI 2.1.3: every answer of the statement resource says up to when every statement
    stored is visible; here, up to now (each post is answered after its commit)."""
    return {CONSISTENT_THROUGH: xapi.context.clock().isoformat()}


def statements_lane(xapi: XapiService, guard: Guard) -> Answer:
    """``POST /xapi/statements`` for :class:`FastLane`: the endpoint's own code. Without
    the version header it declines (FastAPI answers that a required header is missing)."""

    async def answer(principal: Principal, request: Request, body: bytes) -> Response | None:
        if "x-experience-api-version" not in request.headers:
            return None
        return await _post(xapi, guard, principal, request, body)

    return answer


def xapi_router(
    xapi: XapiService,
    guard: Guard,
    allow: Callable[..., Any],
    states: XapiStateService,
    profiles: XapiProfileService,
) -> APIRouter:
    router = APIRouter(
        route_class=SlashSafeRoute,
        prefix="/xapi",
        tags=["xapi"],
        responses={400: {"model": ErrorOut, "description": INVALID}},
    )

    @router.get("/about")
    @router.head("/about", include_in_schema=False)  # xAPI: every GET resource takes HEAD
    def about() -> dict[str, list[str]]:
        """The xAPI versions this LRS conforms to. Open to anyone, whatever the version
        header (xAPI 1.0.3 part three, 2.8)."""
        return {"version": ABOUT_VERSIONS}

    @router.post("/statements", openapi_extra=STATEMENTS_BODY)
    async def post_statements(
        request: Request,
        version: Version,
        principal: Annotated[Principal, allow(Action.WRITE_XAPI)],
    ) -> JSONResponse:
        """Store one statement or a list (all or nothing) and record each as evidence;
        answers the statement ids. Re-posting a statement is a no-op; the same id with
        other content is 409. Attachments' bytes come in a ``multipart/mixed`` body
        (statements first): an attachment without ``fileUrl`` needs its part, each part
        must be an attachment's (by ``X-Experience-API-Hash``, its SHA-2), and a
        signature (usageType ``.../attachments/signature``) must be a well-formed RS256,
        RS384 or RS512 JWS of its statement, verified against its ``x5c`` certificate
        if it has one; otherwise 400."""
        _refuse_unknown(request.query_params, ())
        return await _post(xapi, guard, principal, request, await request.body())

    @router.put("/statements", status_code=204, openapi_extra=STATEMENTS_BODY)
    async def put_statement(
        request: Request,
        version: Version,
        statement_id: Annotated[str, Query(alias="statementId", min_length=1, max_length=64)],
        principal: Annotated[Principal, allow(Action.WRITE_XAPI)],
    ) -> Response:
        """Store one statement under ``statementId`` (204); its attachments' bytes as
        for ``POST``."""
        _refuse_unknown(request.query_params, ("statementId",))
        check_version(version)
        body, attachments = await _read(request, await request.body())
        if not isinstance(body, dict):
            raise InvalidInputError("body", [Problem("body", "(root)", "PUT takes one statement")])
        if body.get("id", statement_id) != statement_id:
            raise InvalidInputError(
                "body", [Problem("body", "id", "differs from the statementId parameter")]
            )
        statements = [{**body, "id": statement_id}]
        await _store(xapi, guard, principal, request, statements, attachments)
        return Response(status_code=204, headers=_consistent_through(xapi))

    @router.get("/statements", responses=STATEMENTS_ANSWER)
    @router.head("/statements", include_in_schema=False)
    def get_statements(
        request: Request,
        version: Version,
        principal: Annotated[Principal, allow(Action.READ_XAPI)],
        statement_id: Annotated[
            str | None, Query(alias="statementId", min_length=1, max_length=64)
        ] = None,
        voided_statement_id: Annotated[
            str | None, Query(alias="voidedStatementId", min_length=1, max_length=64)
        ] = None,
        agent: Annotated[
            str | None, Query(max_length=2000, description="An Agent object as JSON.")
        ] = None,
        verb: Annotated[str | None, Query(max_length=2048, description="A verb id.")] = None,
        activity: Annotated[
            str | None, Query(max_length=2048, description="The object's id (an Activity).")
        ] = None,
        registration: Annotated[
            str | None, Query(max_length=36, description="context.registration (a UUID).")
        ] = None,
        related_activities: Annotated[
            bool,
            Query(description="`activity` also in context activities and SubStatements."),
        ] = False,
        related_agents: Annotated[
            bool,
            Query(description="`agent` anywhere: authority, instructor, team, SubStatement too."),
        ] = False,
        since: Annotated[
            AwareDatetime | None, Query(description="Stored after this time (exclusive).")
        ] = None,
        until: Annotated[
            AwareDatetime | None, Query(description="Stored at or before this time.")
        ] = None,
        ascending: bool = False,
        limit: Annotated[
            int, Query(ge=0, le=MAX_LIMIT, description=f"0: the most allowed, {MAX_LIMIT}.")
        ] = 100,
        cursor: Annotated[
            str | None, Query(max_length=200, description="From a StatementResult's `more`.")
        ] = None,
        answer_format: Annotated[
            Format,
            Query(
                alias="format",
                description="`exact` (as stored), `ids` (identifiers only) or `canonical` "
                "(each language map in the one language `Accept-Language` prefers).",
            ),
        ] = "exact",
        accept_language: Annotated[str | None, Header(max_length=1000)] = None,
        attachments: Annotated[
            bool,
            Query(description="`true`: multipart/mixed, with the bytes of the attachments."),
        ] = False,
    ) -> Response:
        """One statement by ``statementId``, or a StatementResult: the statements stored
        (``stored``) in the window ``since``..``until``, of ``agent`` (its actor or
        object, or a Group with it as a member; with ``related_agents=true`` also its
        authority, instructor, team or a SubStatement's agents), ``verb``,
        ``activity`` (the object's id; with ``related_activities=true`` also a context
        activity's, or a SubStatement's) and ``registration`` if given (a statement whose
        object is a StatementRef also meets these filters when the statement it targets
        does, however long the chain of references), newest
        first unless ``ascending``, at most ``limit``; ``more`` is the URL of the next
        page (empty on the last); a statement that a voiding statement voids
        is left out, and ``statementId`` does not find it: ``voidedStatementId`` does.
        Either id with any other parameter but ``format`` and ``attachments`` is a 400.
        One statement comes with ``Last-Modified``, its ``stored`` time. ``format``:
        ``exact`` (as stored), ``ids`` (only what identifies each Agent, Group, Activity
        and Verb) or ``canonical`` (each language map of an Activity or Verb cut to the
        one language ``Accept-Language`` prefers). ``attachments=true``: a
        ``multipart/mixed`` answer, the JSON first, then the bytes of each attachment the
        statements came with, once each, named by ``X-Experience-API-Hash``. Any
        parameter it does not know is a 400, not ignored. ``HEAD`` answers the headers
        alone."""
        _refuse_unknown(request.query_params, GET_PARAMETERS)
        check_version(version)
        headers = _consistent_through(xapi)
        if statement_id is not None or voided_statement_id is not None:
            _refuse_unknown(request.query_params, ONE_STATEMENT_PARAMETERS)
        if statement_id is not None and voided_statement_id is not None:
            raise ValidationError("voidedStatementId", "give statementId or voidedStatementId")
        if statement_id is not None or voided_statement_id is not None:
            wanted = statement_id or voided_statement_id or ""
            found = xapi.get(wanted, voided=voided_statement_id is not None)
            guard.log(principal, Action.READ_XAPI, request, found.learner_ids)
            stored = datetime.fromisoformat(found.statement["stored"]).astimezone(UTC)
            headers["Last-Modified"] = format_datetime(stored, usegmt=True)
            formed = formed_as(answer_format, accept_language)
            answer = formed(found.statement)
            if attachments:
                return _with_attachments(xapi, answer, [wanted], headers)
            return JSONResponse(answer, headers=headers)
        named = None if agent is None else agent_parameter(agent, groups=True)
        query = StatementQuery(
            learner_id=None if named is None else named[1],
            related_agents=related_agents,
            verb=None if verb is None else iri_parameter("verb", verb),
            activity=None if activity is None else iri_parameter("activity", activity),
            registration=None
            if registration is None
            else uuid_parameter("registration", registration),
            related_activities=related_activities,
            since=None if since is None else _within_stored_times(since),
            until=None if until is None else _within_stored_times(until),
            ascending=ascending,
            limit=limit or MAX_LIMIT,
            after=None if cursor is None else _decode_cursor(cursor),
        )
        page = xapi.query(query)
        guard.log(principal, Action.READ_XAPI, request, page.learner_ids)
        more = ""
        if page.after is not None:
            params = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
            following = _encode_cursor(page.after)
            more = f"{request.url.path}?{urlencode([*params, ('cursor', following)])}"
        formed = formed_as(answer_format, accept_language)
        statements = [formed(s) for s in page.statements]
        result = {"statements": statements, "more": more}
        if attachments:
            ids = [str(s["id"]) for s in page.statements]
            return _with_attachments(xapi, result, ids, headers)
        return JSONResponse(result, headers=headers)

    add_state_routes(router, states, guard, allow)
    add_profile_routes(router, profiles, guard, allow)
    return router


INVALID = (
    "Invalid input, or a parameter this LRS does not know; the message names it. xAPI "
    "answers 400 where the rest of the API answers 422 (api.errors.XapiConventions)."
)
ONE_STATEMENT_PARAMETERS = ("statementId", "voidedStatementId", "format", "attachments")
"""What a request for one statement may add (xAPI 2.1.3); any other parameter is a 400."""
MAX_LIMIT = 1000
GET_PARAMETERS = (
    "related_agents",
    "verb",
    "activity",
    "registration",
    "related_activities",
    "statementId",
    "voidedStatementId",
    "agent",
    "since",
    "until",
    "limit",
    "format",
    "attachments",
    "ascending",
    "cursor",
)


def _refuse_unknown(params: QueryParams, known: tuple[str, ...]) -> None:
    """xAPI (part three, 3.2) refuses a parameter the LRS does not know, and one that
    differs from a known one only in case (``statementID``): a client that misspells a
    filter must not get statements it did not ask for. (A request in the alternate
    syntax was rewritten before it came here: ``api/xapi_alternate.py``.) The routes
    declare fewer parameters than xAPI names, so they list what they know here."""
    refuse_unknown(params, known)


def _with_attachments(
    xapi: XapiService, answer: Any, statement_ids: list[str], headers: dict[str, str]
) -> Response:
    """``answer`` (a statement or a StatementResult) and the bytes of the statements'
    attachments, as xAPI's ``multipart/mixed`` transmission format."""
    body, content_type = write_transmission(
        orjson.dumps(answer), xapi.attachments_of(statement_ids)
    )
    return Response(body, media_type=content_type, headers=headers)


def _within_stored_times(at: datetime) -> datetime:
    """``at`` moved into the span a statement can be stored in (which changes no answer);
    converting a time beyond it to UTC could overflow (``9999-12-31T23:59:59-14:00``)."""
    return min(max(at, EARLIEST), LATEST)


def _encode_cursor(after: Cursor) -> str:
    text = orjson.dumps([after.stored.isoformat(), after.id])
    return base64.urlsafe_b64encode(text).decode("ascii")


def _decode_cursor(token: str) -> Cursor:
    try:
        stored, statement_id = orjson.loads(base64.urlsafe_b64decode(token.encode("ascii")))
        return Cursor(_within_stored_times(datetime.fromisoformat(stored)), str(statement_id))
    except (ValueError, TypeError, binascii.Error, UnicodeEncodeError):
        raise ValidationError("cursor", "not a cursor this LRS gave (copy `more` whole)") from None


def document_xapi_errors(app: FastAPI) -> None:
    """The OpenAPI description says what :class:`~masterypath.api.errors.XapiConventions`
    does: an ``/xapi`` operation answers 400, never 422."""
    described = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            for path, operations in described()["paths"].items():
                if path.startswith("/xapi"):
                    for operation in operations.values():
                        operation["responses"].pop("422", None)
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
