"""``/xapi/activities/state``: the xAPI State resource (see ``services/xapi_state.py``).

Content written with an authoring tool keeps its learner's place here (a bookmark, the
answers so far) and reads it back to resume. The credentials that may write a learner's
statements (``xapi:write``, or an admin) may read and write their state; it is the
content's own scratch area, not a record to analyse, so ``xapi:read`` alone does not.
"""

import asyncio
import json
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import AwareDatetime

from masterypath.api.query import refuse_unknown
from masterypath.api.security import Guard
from masterypath.domain.access import Action, Principal
from masterypath.errors import ValidationError
from masterypath.interop import strict_json
from masterypath.interop.xapi_documents import etag
from masterypath.services.xapi import check_version, learner_of
from masterypath.services.xapi_state import Conditions, StateContext, XapiStateService

PATH = "/activities/state"
ONE = ("activityId", "agent", "registration", "stateId")
"""The parameters of a request for one document."""
MANY = ("activityId", "agent", "registration", "stateId", "since")
"""What ``GET`` takes (``since`` only without ``stateId``)."""

Version = Annotated[
    str | None,
    Header(alias="X-Experience-API-Version", description="1.0.3 or 2.0.0 (required)"),
]
ActivityId = Annotated[
    str, Query(alias="activityId", min_length=1, max_length=2048, description="An IRI.")
]
Agent = Annotated[
    str, Query(min_length=2, max_length=2000, description="The Agent object, as JSON.")
]
Registration = Annotated[
    str | None, Query(max_length=36, description="A registration UUID (optional).")
]
StateId = Annotated[str, Query(alias="stateId", min_length=1, max_length=1000)]
IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=1000)]
IfNoneMatch = Annotated[str | None, Header(alias="If-None-Match", max_length=1000)]
DOCUMENT_BODY = {
    "requestBody": {
        "required": True,
        "content": {"*/*": {"schema": {}}},
        "description": "The document, of any Content-Type; a POST of application/json "
        "merges its top-level properties into a stored JSON object.",
    }
}


IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+")
"""An IRI as the parameters take it: a scheme, then no space."""


def iri_parameter(field: str, value: str) -> str:
    """``value`` if it is an IRI, else a :class:`ValidationError` naming ``field``."""
    if not IRI.fullmatch(value):
        raise ValidationError(field, "not an IRI (scheme:rest, e.g. https://...)")
    return value


def uuid_parameter(field: str, value: str) -> str:
    """``value`` as a lowercase UUID, else a :class:`ValidationError` naming ``field``."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValidationError(field, "not a UUID") from None


def state_context(activity_id: str, agent: str, registration: str | None) -> StateContext:
    """The documents' context from the query parameters; a :class:`ValidationError` names
    the first that is not what xAPI says it is."""
    iri_parameter("activityId", activity_id)
    try:
        actor = strict_json.loads(agent)
    except json.JSONDecodeError as exc:
        raise ValidationError("agent", f"not JSON: {exc.msg}") from None
    if not isinstance(actor, dict) or actor.get("objectType", "Agent") != "Agent":
        raise ValidationError("agent", "an Agent object (not a Group)")
    learner = learner_of(actor)
    if learner is None:
        raise ValidationError("agent", "an Agent with an account, mbox, mbox_sha1sum or openid")
    if registration is not None:
        registration = uuid_parameter("registration", registration)
    return StateContext(learner, activity_id, registration)


def _http_date(at: datetime) -> str:
    return format_datetime(at.astimezone(UTC), usegmt=True)


def add_state_routes(
    router: APIRouter, states: XapiStateService, guard: Guard, allow: Callable[..., Any]
) -> None:
    """The State resource's operations, on the ``/xapi`` router."""

    async def context_for(
        request: Request,
        principal: Principal,
        version: str | None,
        known: tuple[str, ...],
        activity_id: str,
        agent: str,
        registration: str | None,
    ) -> StateContext:
        refuse_unknown(request.query_params, known)
        check_version(version)
        where = state_context(activity_id, agent, registration)
        await guard.check_async(principal, Action.WRITE_XAPI, [where.learner_id])
        return where

    @router.put(PATH, status_code=204, openapi_extra=DOCUMENT_BODY)
    async def put_state(
        request: Request,
        version: Version,
        activity_id: ActivityId,
        agent: Agent,
        state_id: StateId,
        principal: Annotated[Principal, allow(Action.WRITE_XAPI)],
        registration: Registration = None,
        if_match: IfMatch = None,
        if_none_match: IfNoneMatch = None,
    ) -> Response:
        """Store a State document, replacing any (204, with its ``ETag``). Any
        Content-Type; ``application/json`` must be JSON. ``If-Match`` (the ETag you read)
        and ``If-None-Match: *`` make it conditional: 412 when the condition fails."""
        where = await context_for(
            request, principal, version, ONE, activity_id, agent, registration
        )
        body = await request.body()
        kind = request.headers.get("content-type", "application/octet-stream")
        tag = await asyncio.to_thread(
            states.put, where, state_id, body, kind, Conditions(if_match, if_none_match)
        )
        return Response(status_code=204, headers={"ETag": tag})

    @router.post(PATH, status_code=204, openapi_extra=DOCUMENT_BODY)
    async def post_state(
        request: Request,
        version: Version,
        activity_id: ActivityId,
        agent: Agent,
        state_id: StateId,
        principal: Annotated[Principal, allow(Action.WRITE_XAPI)],
        registration: Registration = None,
        if_match: IfMatch = None,
        if_none_match: IfNoneMatch = None,
    ) -> Response:
        """Store a State document, or merge a JSON object into the stored one (each
        top-level property replaced; xAPI 2.2). 400 when either is not a JSON object."""
        where = await context_for(
            request, principal, version, ONE, activity_id, agent, registration
        )
        body = await request.body()
        kind = request.headers.get("content-type", "application/octet-stream")
        tag = await asyncio.to_thread(
            states.post, where, state_id, body, kind, Conditions(if_match, if_none_match)
        )
        return Response(status_code=204, headers={"ETag": tag})

    @router.get(PATH)
    @router.head(PATH, include_in_schema=False)
    async def get_state(
        request: Request,
        version: Version,
        activity_id: ActivityId,
        agent: Agent,
        principal: Annotated[Principal, allow(Action.WRITE_XAPI)],
        registration: Registration = None,
        state_id: Annotated[str | None, Query(alias="stateId", max_length=1000)] = None,
        since: Annotated[
            AwareDatetime | None, Query(description="Updated after this time (exclusive).")
        ] = None,
    ) -> Response:
        """With ``stateId``: the document as stored (its Content-Type, ``ETag`` and
        ``Last-Modified``; 404 when there is none). Without: the JSON list of the state
        ids in the activity (of every registration unless one is given), updated after
        ``since`` if given. ``HEAD`` answers the headers alone."""
        known = ONE if state_id is not None else MANY
        where = await context_for(
            request, principal, version, known, activity_id, agent, registration
        )
        if state_id is not None:
            found = await asyncio.to_thread(states.get, where, state_id)
            headers = {"ETag": found.etag, "Last-Modified": _http_date(found.updated_at)}
            return Response(found.content, media_type=found.content_type, headers=headers)
        ids, latest = await asyncio.to_thread(lambda: states.ids(where, since=since))
        body = json.dumps(ids, ensure_ascii=False).encode()
        headers = {"ETag": etag(body)}
        if latest is not None:
            headers["Last-Modified"] = _http_date(latest)
        return Response(body, media_type="application/json", headers=headers)

    @router.delete(PATH, status_code=204)
    async def delete_state(
        request: Request,
        version: Version,
        activity_id: ActivityId,
        agent: Agent,
        principal: Annotated[Principal, allow(Action.WRITE_XAPI)],
        registration: Registration = None,
        state_id: Annotated[str | None, Query(alias="stateId", max_length=1000)] = None,
        if_match: IfMatch = None,
    ) -> Response:
        """With ``stateId``: delete that document (``If-Match`` makes it conditional).
        Without: delete every document in the activity (of every registration unless
        one is given). 204 either way."""
        where = await context_for(
            request, principal, version, ONE, activity_id, agent, registration
        )
        if state_id is not None:
            await asyncio.to_thread(states.delete, where, state_id, Conditions(if_match))
        else:
            await asyncio.to_thread(states.delete_all, where)
        return Response(status_code=204)
