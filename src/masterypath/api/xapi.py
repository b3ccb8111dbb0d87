"""``/xapi/statements``: receive xAPI statements as evidence (see ``services/xapi.py``)."""

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from masterypath.api.security import Guard
from masterypath.domain.access import Action, Principal
from masterypath.errors import InvalidInputError, Problem
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


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError("body", [Problem("body", "(root)", f"not JSON: {exc}")]) from None


def xapi_router(xapi: XapiService, guard: Guard, allow: Callable[..., Any]) -> APIRouter:
    router = APIRouter(prefix="/xapi", tags=["xapi"])

    async def store(principal: Principal, statements: list[Any]) -> list[str]:
        await guard.check_async(principal, Action.WRITE_XAPI, xapi.learners_of(statements))
        ids, _ = await xapi.record_async(statements)
        return ids

    @router.post("/statements", openapi_extra=STATEMENTS_BODY)
    async def post_statements(
        request: Request,
        version: Version,
        principal: Annotated[Principal, allow(Action.WRITE_XAPI)],
    ) -> JSONResponse:
        """Store one statement or a list (all or nothing) and record each as evidence;
        answers the statement ids. Re-posting a statement is a no-op; the same id with
        other content is 409."""
        check_version(version)
        body = await _json(request)
        statements = body if isinstance(body, list) else [body]
        ids = await store(principal, statements)
        return JSONResponse(ids, headers={"X-Experience-API-Version": VERSION})

    @router.put("/statements", status_code=204, openapi_extra=STATEMENTS_BODY)
    async def put_statement(
        request: Request,
        version: Version,
        statement_id: Annotated[str, Query(alias="statementId", min_length=1, max_length=64)],
        principal: Annotated[Principal, allow(Action.WRITE_XAPI)],
    ) -> Response:
        """Store one statement under ``statementId`` (204)."""
        check_version(version)
        body = await _json(request)
        if not isinstance(body, dict):
            raise InvalidInputError("body", [Problem("body", "(root)", "PUT takes one statement")])
        if body.get("id", statement_id) != statement_id:
            raise InvalidInputError(
                "body", [Problem("body", "id", "differs from the statementId parameter")]
            )
        await store(principal, [{**body, "id": statement_id}])
        return Response(status_code=204, headers={"X-Experience-API-Version": VERSION})

    @router.get("/statements")
    def get_statements(
        version: Version,
        _: Annotated[Principal, allow(Action.READ_XAPI)],
        statement_id: Annotated[
            str | None, Query(alias="statementId", min_length=1, max_length=64)
        ] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> JSONResponse:
        """One statement by ``statementId``, or the most recent ones as a StatementResult."""
        check_version(version)
        headers = {"X-Experience-API-Version": VERSION}
        if statement_id is not None:
            return JSONResponse(xapi.get(statement_id), headers=headers)
        return JSONResponse({"statements": xapi.recent(limit=limit), "more": ""}, headers=headers)

    return router
