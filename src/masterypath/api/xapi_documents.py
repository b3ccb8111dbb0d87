"""The xAPI document resources and lookups: ``/xapi/activities/state`` (see
``services/xapi_state.py``), ``/xapi/agents/profile`` and ``/xapi/activities/profile``
(``services/xapi_profiles.py``), ``/xapi/agents`` and ``/xapi/activities``.

Content written with an authoring tool keeps its learner's place in State (a bookmark, the
answers so far) and reads it back to resume; profiles hold what it keeps about a learner
across activities, or about an activity. The credentials that may write statements
(``xapi:write``, or an admin) may read and write these documents: they are the content's
own scratch area, not a record to analyse, so ``xapi:read`` alone does not. The two
lookups (``agents``, ``activities``) take ``xapi:read``.
"""

import asyncio
import functools
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import AwareDatetime

from masterypath.api.query import refuse_unknown
from masterypath.api.security import Guard
from masterypath.domain.access import Action, Principal
from masterypath.errors import ValidationError
from masterypath.interop import strict_json
from masterypath.interop.xapi_documents import etag
from masterypath.interop.xapi_pseudonyms import learner_of
from masterypath.services.xapi import check_version
from masterypath.services.xapi_document_store import Conditions, Slot, StoredDocument
from masterypath.services.xapi_profiles import (
    XapiProfileService,
    activity_profile_slot,
    agent_profile_slot,
)
from masterypath.services.xapi_state import StateContext, XapiStateService

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
ProfileId = Annotated[str, Query(alias="profileId", min_length=1, max_length=1000)]
MaybeProfileId = Annotated[str | None, Query(alias="profileId", min_length=1, max_length=1000)]
Since = Annotated[AwareDatetime | None, Query(description="Updated after this time (exclusive).")]
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


def agent_parameter(agent: str, *, groups: bool = False) -> tuple[dict[str, Any], str]:
    """The Agent (or, with ``groups``, identified Group) in an ``agent`` parameter and the
    learner it names; a :class:`ValidationError` on ``agent`` when it is not JSON, a Group
    where none is taken, or has no identifier."""
    try:
        actor = strict_json.loads(agent)
    except json.JSONDecodeError as exc:
        raise ValidationError("agent", f"not JSON: {exc.msg}") from None
    if not isinstance(actor, dict):
        actor = {}
    elif not groups and actor.get("objectType", "Agent") != "Agent":
        raise ValidationError("agent", "an Agent object (not a Group)")
    learner = learner_of(actor)
    if learner is None:
        raise ValidationError("agent", "an Agent with an account, mbox, mbox_sha1sum or openid")
    return actor, learner


def state_context(activity_id: str, agent: str, registration: str | None) -> StateContext:
    """The documents' context from the query parameters; a :class:`ValidationError` names
    the first that is not what xAPI says it is."""
    iri_parameter("activityId", activity_id)
    _, learner = agent_parameter(agent)
    if registration is not None:
        registration = uuid_parameter("registration", registration)
    return StateContext(learner, activity_id, registration)


async def _log_read(
    guard: Guard, principal: Principal, request: Request, learner_id: str | None
) -> None:
    """A read of a learner's documents goes into their access log (an Activity's
    documents are no one's)."""
    if learner_id is not None:
        await asyncio.to_thread(guard.log, principal, Action.READ_XAPI, request, [learner_id])


def _http_date(at: datetime) -> str:
    return format_datetime(at.astimezone(UTC), usegmt=True)


async def _write(
    write: Callable[[bytes, str, Conditions], str], request: Request, conditions: Conditions
) -> Response:
    """Store the request's body with its Content-Type (``application/octet-stream`` if
    none) by ``write`` (a PUT or POST of one document): 204 with the new ``ETag``."""
    kind = request.headers.get("content-type", "application/octet-stream")
    tag = await asyncio.to_thread(write, await request.body(), kind, conditions)
    return Response(status_code=204, headers={"ETag": tag})


def _document(found: StoredDocument) -> Response:
    """One document as stored, with its ``ETag`` and ``Last-Modified``."""
    headers = {"ETag": found.etag, "Last-Modified": _http_date(found.updated_at)}
    return Response(found.content, media_type=found.content_type, headers=headers)


def _ids(ids: list[str], latest: datetime | None) -> Response:
    """A JSON list of document ids, with its ``ETag`` and the latest ``Last-Modified``."""
    body = json.dumps(ids, ensure_ascii=False).encode()
    headers = {"ETag": etag(body)}
    if latest is not None:
        headers["Last-Modified"] = _http_date(latest)
    return Response(body, media_type="application/json", headers=headers)


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
        write = functools.partial(states.put, where, state_id)
        return await _write(write, request, Conditions(if_match, if_none_match))

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
        write = functools.partial(states.post, where, state_id)
        return await _write(write, request, Conditions(if_match, if_none_match))

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
        since: Since = None,
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
            found = _document(await asyncio.to_thread(states.get, where, state_id))
        else:
            found = _ids(*await asyncio.to_thread(lambda: states.ids(where, since=since)))
        await _log_read(guard, principal, request, where.learner_id)
        return found

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


AGENT_PROFILE = "/agents/profile"
ACTIVITY_PROFILE = "/activities/profile"


@dataclass(frozen=True)
class ProfilePlace:
    """Whose profiles a request is about, from its query parameters: an Agent's (the
    learner it names) or an Activity's (nobody's)."""

    learner_id: str | None
    slot: Callable[[str], Slot]
    """The slot of one profile id."""
    ids: Callable[[datetime | None], tuple[list[str], datetime | None]]
    """The profile ids updated after a time (or all), and the latest update."""
    parameter: str
    """The parameter that names the place (``agent``, ``activityId``)."""


def add_profile_routes(
    router: APIRouter, profiles: XapiProfileService, guard: Guard, allow: Callable[..., Any]
) -> None:
    """The Agent Profile and Activity Profile resources, and the Agents and Activities
    lookups, on the ``/xapi`` router."""

    def agent_place(agent: Agent) -> ProfilePlace:
        _, learner = agent_parameter(agent)
        return ProfilePlace(
            learner,
            lambda profile_id: agent_profile_slot(learner, profile_id),
            lambda since: profiles.agent_ids(learner, since=since),
            "agent",
        )

    def activity_place(activity_id: ActivityId) -> ProfilePlace:
        iri_parameter("activityId", activity_id)
        return ProfilePlace(
            None,
            lambda profile_id: activity_profile_slot(activity_id, profile_id),
            lambda since: profiles.activity_ids(activity_id, since=since),
            "activityId",
        )

    _add_profile_resource(router, AGENT_PROFILE, "an Agent", agent_place, profiles, guard, allow)
    _add_profile_resource(
        router, ACTIVITY_PROFILE, "an Activity", activity_place, profiles, guard, allow
    )

    @router.get("/agents")
    @router.head("/agents", include_in_schema=False)
    def get_person(
        request: Request,
        version: Version,
        agent: Agent,
        _: Annotated[Principal, allow(Action.READ_XAPI)],
    ) -> dict[str, Any]:
        """The Person object of an Agent (xAPI 2.4): this LRS keeps no more about a
        person than the Agent says, so it is that Agent's identifiers as lists."""
        refuse_unknown(request.query_params, ("agent",))
        check_version(version)
        actor, _learner = agent_parameter(agent)
        person: dict[str, Any] = {"objectType": "Person"}
        for field in ("name", "mbox", "mbox_sha1sum", "openid", "account"):
            if field in actor:
                person[field] = [actor[field]]
        return person

    @router.get("/activities")
    @router.head("/activities", include_in_schema=False)
    def get_activity(
        request: Request,
        version: Version,
        activity_id: ActivityId,
        _: Annotated[Principal, allow(Action.READ_XAPI)],
    ) -> dict[str, Any]:
        """The Activity object of an activity id (xAPI 2.5): this LRS keeps no canonical
        definitions, so it is the id alone, as xAPI asks of an LRS that knows none."""
        refuse_unknown(request.query_params, ("activityId",))
        check_version(version)
        return {"objectType": "Activity", "id": iri_parameter("activityId", activity_id)}


def _add_profile_resource(
    router: APIRouter,
    path: str,
    whose: str,
    place_of: Callable[..., ProfilePlace],
    profiles: XapiProfileService,
    guard: Guard,
    allow: Callable[..., Any],
) -> None:
    """One profile resource's operations at ``path``; ``place_of`` reads whose profiles
    they are from the query (a FastAPI dependency)."""
    put_doc = (
        f"Store a profile document of {whose}, replacing any (204, with its ``ETag``). Over "
        "a stored one it must be conditional: ``If-Match`` (the ETag you read) or "
        "``If-None-Match: *``; 409 without, 412 when the condition fails."
    )
    post_doc = (
        f"Store a profile document of {whose}, or merge a JSON object into the stored one "
        "(each top-level property replaced). 400 when either is not a JSON object."
    )
    get_doc = (
        "With ``profileId``: the document as stored (its Content-Type, ``ETag`` and "
        f"``Last-Modified``; 404 when there is none). Without: the JSON list of {whose}'s "
        "profile ids, updated after ``since`` if given. ``HEAD`` answers the headers alone."
    )
    delete_doc = f"Delete a profile document of {whose} (``If-Match`` makes it conditional)."

    async def checked(
        request: Request, version: str | None, place: ProfilePlace, principal: Principal, *more: str
    ) -> None:
        refuse_unknown(request.query_params, (place.parameter, "profileId", *more))
        check_version(version)
        if place.learner_id is not None:
            await guard.check_async(principal, Action.WRITE_XAPI, [place.learner_id])

    @router.put(path, status_code=204, openapi_extra=DOCUMENT_BODY, description=put_doc)
    async def put_profile(
        request: Request,
        version: Version,
        principal: Annotated[Principal, allow(Action.WRITE_XAPI)],
        place: Annotated[ProfilePlace, Depends(place_of)],
        profile_id: ProfileId,
        if_match: IfMatch = None,
        if_none_match: IfNoneMatch = None,
    ) -> Response:
        await checked(request, version, place, principal)
        write = functools.partial(profiles.put, place.slot(profile_id))
        return await _write(write, request, Conditions(if_match, if_none_match))

    @router.post(path, status_code=204, openapi_extra=DOCUMENT_BODY, description=post_doc)
    async def post_profile(
        request: Request,
        version: Version,
        principal: Annotated[Principal, allow(Action.WRITE_XAPI)],
        place: Annotated[ProfilePlace, Depends(place_of)],
        profile_id: ProfileId,
        if_match: IfMatch = None,
        if_none_match: IfNoneMatch = None,
    ) -> Response:
        await checked(request, version, place, principal)
        write = functools.partial(profiles.post, place.slot(profile_id))
        return await _write(write, request, Conditions(if_match, if_none_match))

    @router.get(path, description=get_doc)
    @router.head(path, include_in_schema=False)
    async def get_profile(
        request: Request,
        version: Version,
        principal: Annotated[Principal, allow(Action.WRITE_XAPI)],
        place: Annotated[ProfilePlace, Depends(place_of)],
        profile_id: MaybeProfileId = None,
        since: Since = None,
    ) -> Response:
        if profile_id is not None:
            await checked(request, version, place, principal)
            found = _document(await asyncio.to_thread(profiles.get, place.slot(profile_id)))
        else:
            await checked(request, version, place, principal, "since")
            found = _ids(*await asyncio.to_thread(place.ids, since))
        await _log_read(guard, principal, request, place.learner_id)
        return found

    @router.delete(path, status_code=204, description=delete_doc)
    async def delete_profile(
        request: Request,
        version: Version,
        principal: Annotated[Principal, allow(Action.WRITE_XAPI)],
        place: Annotated[ProfilePlace, Depends(place_of)],
        profile_id: ProfileId,
        if_match: IfMatch = None,
    ) -> Response:
        await checked(request, version, place, principal)
        await asyncio.to_thread(profiles.delete, place.slot(profile_id), Conditions(if_match))
        return Response(status_code=204)
