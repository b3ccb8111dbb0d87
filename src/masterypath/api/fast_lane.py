"""A fast lane for the posts that integrations send most: evidence (one piece, or a
batch) and xAPI statements.

Under load every single post paid FastAPI's way through a request (dependency injection,
body and response models) more than the work the endpoint does: about 230 µs of the
event loop's time per post against about 100 µs for the same calls made directly (in
process on the 2-core benchmark machine; ``bench/single_path_cost.py``), while the
workers are CPU-bound; a batch of 100 paid 38 instead of 23 µs per piece. A
:class:`FastLane` is a route placed before all others, for one path and ``POST``. It
answers a request when it is the common case:

* the bearer credential was resolved a moment ago (:meth:`AccountService.cached`) and
  may take the endpoint's action, so no database read is needed to know who is asking;
* the body is JSON, and the lane's ``answer`` accepts it (the evidence lanes: it
  validates as :class:`EvidenceIn`, or a list of them).

Then ``answer`` calls the same function the FastAPI endpoint calls and returns the same
response. Anything else it declines before anything is stored: the request goes on, with
its body, to the FastAPI endpoint, which defines the contract (the OpenAPI schema, every
error response). An error raised while answering (a conflict, a minor without consent,
the database down) reaches the app's exception handlers exactly as it would from the
endpoint, so clients cannot tell the lanes apart except by speed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
from starlette.datastructures import URLPath
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

from masterypath.api.errors import replay
from masterypath.domain.access import Action, Principal
from masterypath.errors import PermissionDeniedError
from masterypath.services.accounts import AccountService

Answer = Callable[[Principal, Request, bytes], Awaitable[Response | None]]
"""Answers a request the lane took (or None, before anything is stored: declined)."""

DECLINED = "masterypath.fast_lane.declined"


class FastLane(BaseRoute):
    """``POST path``, answered by ``answer`` in the common case (see the module)."""

    def __init__(self, path: str, action: Action, accounts: AccountService, answer: Answer):
        self.path = path
        self.action = action
        self.accounts = accounts
        self.answer = answer

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and DECLINED not in scope
            and scope["path"] == scope.get("root_path", "") + self.path
        ):
            return Match.FULL, {}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: object) -> URLPath:
        raise NoMatchFound(name, path_params)  # nameless: the FastAPI route has the name

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        principal = self.accounts.cached(bearer_token(request.headers.get("authorization")))
        if (
            principal is not None
            and self._allowed(principal)
            and _is_json(request)
            and not scope.get("query_string")  # the endpoint refuses what it does not take
        ):
            body = await request.body()
            response = await self.answer(principal, request, body)
            if response is not None:
                await response(scope, receive, send)
                return
            receive = replay(body, receive)
        scope[DECLINED] = True
        await scope["router"](scope, receive, send)

    def _allowed(self, principal: Principal) -> bool:
        try:
            self.accounts.check(principal, self.action)
        except PermissionDeniedError:
            return False
        return True


def bearer_token(header: str | None) -> str | None:
    """The credential of an ``Authorization: Bearer <credential>`` header, as FastAPI's
    ``HTTPBearer`` reads it.

    >>> bearer_token("Bearer abc"), bearer_token("bearer abc"), bearer_token("Basic abc")
    ('abc', 'abc', None)
    >>> bearer_token(None), bearer_token("Bearer")
    (None, None)
    """
    if not header:
        return None
    scheme, _, credential = header.partition(" ")
    if scheme.lower() != "bearer" or not credential:
        return None
    return credential


def json_or_none(body: bytes) -> object | None:
    """The JSON value of ``body``; None if it is not JSON (the FastAPI endpoint then
    answers with its error).

    >>> json_or_none(b'{"a": [1, 2.5]}'), json_or_none(b"{"), json_or_none(b"null")
    ({'a': [1, 2.5]}, None, None)
    """
    try:
        value: object = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return value


def _is_json(request: Request) -> bool:
    content_type = request.headers.get("content-type", "")
    return content_type.split(";", 1)[0].strip().lower() == "application/json"
