"""``/xapi/statements``: receive xAPI statements as evidence (see ``services/xapi.py``)."""

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from masterypath.api.fast_lane import Answer
from masterypath.api.paths import SlashSafeRoute
from masterypath.api.security import Guard
from masterypath.domain.access import Action, Principal
from masterypath.errors import InvalidInputError, NotFoundError, Problem, ValidationError
from masterypath.interop import strict_json
from masterypath.services.xapi import XapiService, check_version

VERSION = "1.0.3"
Version = Annotated[
    str | None,
    Header(alias="X-Experience-API-Version", description="1.0.3 or 2.0.0 (required)"),
]
STATEMENTS_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"type": "object"},
                        {"type": "array", "items": {"type": "object"}, "minItems": 1},
                    ]
                }
            }
        },
        "description": "One xAPI statement or a list of them.",
    }
}


def _json(body: bytes) -> Any:
    try:  # strict: no NaN, no nesting deeper than 1,024 (Python's parser would recurse)
        return strict_json.loads(body)
    except json.JSONDecodeError as exc:
        raise InvalidInputError("body", [Problem("body", "(root)", f"not JSON: {exc}")]) from None


async def _store(
    xapi: XapiService, guard: Guard, principal: Principal, statements: list[Any]
) -> list[str]:
    await guard.check_async(principal, Action.WRITE_XAPI, xapi.learners_of(statements))
    ids, _ = await xapi.record_async(statements)
    return ids


async def _post(
    xapi: XapiService, guard: Guard, principal: Principal, version: str | None, body: bytes
) -> JSONResponse:
    check_version(version)
    parsed = _json(body)
    statements = parsed if isinstance(parsed, list) else [parsed]
    ids = await _store(xapi, guard, principal, statements)
    return JSONResponse(ids, headers={"X-Experience-API-Version": VERSION})


def statements_lane(xapi: XapiService, guard: Guard) -> Answer:
    """``POST /xapi/statements`` for :class:`FastLane`: the endpoint's own code. Without
    the version header it declines (FastAPI answers that a required header is missing)."""

    async def answer(principal: Principal, request: Request, body: bytes) -> Response | None:
        version = request.headers.get("x-experience-api-version")
        if version is None:
            return None
        return await _post(xapi, guard, principal, version, body)

    return answer


def xapi_router(xapi: XapiService, guard: Guard, allow: Callable[..., Any]) -> APIRouter:
    router = APIRouter(route_class=SlashSafeRoute, prefix="/xapi", tags=["xapi"])

    @router.post("/statements", openapi_extra=STATEMENTS_BODY)
    async def post_statements(
        request: Request,
        version: Version,
        principal: Annotated[Principal, allow(Action.WRITE_XAPI)],
    ) -> JSONResponse:
        """Store one statement or a list (all or nothing) and record each as evidence;
        answers the statement ids. Re-posting a statement is a no-op; the same id with
        other content is 409."""
        return await _post(xapi, guard, principal, version, await request.body())

    @router.put("/statements", status_code=204, openapi_extra=STATEMENTS_BODY)
    async def put_statement(
        request: Request,
        version: Version,
        statement_id: Annotated[str, Query(alias="statementId", min_length=1, max_length=64)],
        principal: Annotated[Principal, allow(Action.WRITE_XAPI)],
    ) -> Response:
        """Store one statement under ``statementId`` (204)."""
        check_version(version)
        body = _json(await request.body())
        if not isinstance(body, dict):
            raise InvalidInputError("body", [Problem("body", "(root)", "PUT takes one statement")])
        if body.get("id", statement_id) != statement_id:
            raise InvalidInputError(
                "body", [Problem("body", "id", "differs from the statementId parameter")]
            )
        await _store(xapi, guard, principal, [{**body, "id": statement_id}])
        return Response(status_code=204, headers={"X-Experience-API-Version": VERSION})

    @router.get("/statements")
    def get_statements(
        version: Version,
        _: Annotated[Principal, allow(Action.READ_XAPI)],
        statement_id: Annotated[
            str | None, Query(alias="statementId", min_length=1, max_length=64)
        ] = None,
        voided_statement_id: Annotated[
            str | None, Query(alias="voidedStatementId", min_length=1, max_length=64)
        ] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> JSONResponse:
        """One statement by ``statementId``, or the most recent ones as a StatementResult.
        ``voidedStatementId`` is always 404: this LRS refuses voiding statements, so none
        is ever voided; with ``statementId`` as well it is 422 (one or the other)."""
        check_version(version)
        headers = {"X-Experience-API-Version": VERSION}
        if voided_statement_id is not None:
            if statement_id is not None:
                raise ValidationError("voidedStatementId", "give statementId or voidedStatementId")
            raise NotFoundError("voided statement", voided_statement_id)
        if statement_id is not None:
            return JSONResponse(xapi.get(statement_id), headers=headers)
        return JSONResponse({"statements": xapi.recent(limit=limit), "more": ""}, headers=headers)

    return router
