"""The one place where errors become HTTP responses: JSON with a code, a message
naming the field, and never a stack trace."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from http import HTTPStatus
from urllib.parse import parse_qsl

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from masterypath.errors import (
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    FrameworkError,
    InvalidInputError,
    MasterypathError,
    NotFoundError,
    PermissionDeniedError,
    PreconditionFailedError,
    RateLimitedError,
    ValidationError,
)
from masterypath.interop.strict_json import first_path, lax_value_in
from masterypath.interop.web_json import RemoteRefusedError

STATUS: list[tuple[type[MasterypathError], int]] = [
    (AuthenticationError, 401),
    (PermissionDeniedError, 403),
    (RateLimitedError, 429),
    (NotFoundError, 404),
    (PreconditionFailedError, 412),
    (ConflictError, 409),
    (ValidationError, 422),
    (InvalidInputError, 422),
    (FrameworkError, 422),
    (ConfigurationError, 503),  # raised while serving: the server is not set up for it
    (RemoteRefusedError, 502),  # a server this one called (a platform's, a SIS) answered badly
    (MasterypathError, 400),
]


def status_of(exc: MasterypathError) -> int:
    """The HTTP status an error is answered with.

    >>> status_of(NotFoundError("learner", "l1"))
    404
    """
    return next(code for kind, code in STATUS if isinstance(exc, kind))


class ProblemOut(BaseModel):
    location: str
    field: str
    reason: str


class ErrorOut(BaseModel):
    """Every error response has this shape."""

    error: str
    message: str
    problems: list[ProblemOut] = []


XAPI_PREFIX = "/xapi/"
"""The xAPI resources' paths begin so (``/xapi`` alone is none: its 404 is the API's)."""
XAPI_VERSIONS = {b"2.0": b"2.0.0", b"1.0": b"1.0.3"}
"""The ``X-Experience-API-Version`` this LRS answers with: the latest patch of the minor
version the request names (1.0.3 when it names none it knows)."""


class XapiConventions:
    """What xAPI asks of every ``/xapi`` response, whoever wrote it (an endpoint, an
    exception handler, :class:`InputGuard`, a fast lane): the ``X-Experience-API-Version``
    header (xAPI 1.0.3 part three, 3.3), and ``400 Bad Request`` where the rest of the API
    answers 422, since 400 is the code xAPI gives invalid or missing arguments and its
    list of codes has no 422 (3.2). The body keeps the shape of every other error.

    >>> answered_version([(b"x-experience-api-version", b"2.0.0")])
    b'2.0.0'
    >>> answered_version([(b"x-experience-api-version", b"1.0.1")]), answered_version([])
    (b'1.0.3', b'1.0.3')
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        root: str = scope.get("root_path", "")
        if scope["type"] != "http" or not path.removeprefix(root).startswith(XAPI_PREFIX):
            await self.app(scope, receive, send)
            return

        version = answered_version(scope.get("headers") or [])

        async def send_xapi(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"x-experience-api-version" for k, _ in headers):
                    headers.append((b"x-experience-api-version", version))
                status = 400 if message["status"] == 422 else message["status"]
                message = {**message, "status": status, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_xapi)


def answered_version(headers: Iterable[tuple[bytes, bytes]]) -> bytes:
    """The version an xAPI answer names, for a request with these (ASGI) headers."""
    asked = next((v for k, v in headers if k.lower() == b"x-experience-api-version"), b"")
    return XAPI_VERSIONS.get(asked[:3], XAPI_VERSIONS[b"1.0"])


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(MasterypathError)
    async def domain_error(_: Request, exc: MasterypathError) -> JSONResponse:
        status = status_of(exc)
        problems = [asdict(p) for p in exc.problems] if isinstance(exc, InvalidInputError) else []
        if isinstance(exc, ValidationError):
            problems = [
                {"location": exc.location or "body", "field": exc.field, "reason": exc.reason}
            ]
        headers = {}
        if isinstance(exc, AuthenticationError):
            headers["WWW-Authenticate"] = "Bearer"
        if isinstance(exc, RateLimitedError):
            headers["Retry-After"] = str(exc.retry_after)
        return JSONResponse(
            ErrorOut(error=exc.code, message=str(exc), problems=problems).model_dump(),
            status_code=status,
            headers=headers,
        )

    @app.exception_handler(DBAPIError)
    async def database_error(_: Request, exc: DBAPIError) -> JSONResponse:
        # a lost connection or a stopped server is the server's fault and retryable;
        # anything else is a bug and must not hide behind a 503
        if not (exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)):
            raise exc
        return JSONResponse(
            ErrorOut(
                error="unavailable", message="the database is unavailable; retry shortly"
            ).model_dump(),
            status_code=503,
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        # the framework's own errors (an unknown path, a wrong method, a body that is not
        # UTF-8) take the same shape as ours instead of FastAPI's {"detail": ...}
        code = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_").replace("-", "_")
        return JSONResponse(
            ErrorOut(error=code, message=str(exc.detail)).model_dump(),
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def request_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            ProblemOut(
                location=str(e["loc"][0]) if e["loc"] else "request",
                field=".".join(str(p) for p in e["loc"][1:]) or "(root)",
                reason=e["msg"],
            )
            for e in exc.errors()
        ]
        message = "; ".join(f"{p.field}: {p.reason}" for p in problems)
        return JSONResponse(
            ErrorOut(error="validation_error", message=message, problems=problems).model_dump(),
            status_code=422,
        )


class InputGuard:
    """Refuses, before the app sees it, a request body over ``max_bytes`` (413, by
    Content-Length, or counted as it streams in), a NUL character anywhere in the path,
    the query or the body, and in a JSON body what only a lax parser reads (``NaN``,
    ``Infinity``, ``1e999``, an unpaired surrogate; :mod:`masterypath.interop.strict_json`)
    (422, naming the field). No field needs any of them, and each would otherwise surface
    as a server error where it reaches PostgreSQL, which refuses NUL in text and the rest
    in JSON or text, while Python's JSON parser, the endpoints', reads them. Each JSON
    body is parsed once more here (orjson: ~0.5 µs for a single post)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        read = await read_body(receive, self.max_bytes)
        if read is None:
            return  # the client left before its body was complete: nothing to act on
        body, too_large = read
        if too_large:
            await self._too_large(scope, receive, send)
            return
        problem = refused_in_request(scope, headers.get(b"content-type", b""), body)
        if problem is not None:
            await JSONResponse(
                ErrorOut(
                    error="validation_error",
                    message=f"{problem.field}: {problem.reason}",
                    problems=[problem],
                ).model_dump(),
                status_code=422,
            )(scope, receive, send)
            return
        await self.app(scope, replay(body, receive), send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = ErrorOut(
            error="too_large", message=f"request body over {self.max_bytes} bytes"
        ).model_dump()
        await JSONResponse(body, status_code=413)(scope, receive, send)


NUL_REASON = "contains a NUL character, which no field accepts"


OPAQUE_BODIES = frozenset(
    {"/xapi/activities/state", "/xapi/agents/profile", "/xapi/activities/profile"}
)
"""Paths whose body is a document stored as bytes, whatever it holds (NUL included): the
guard checks their path and query only."""


def _is_transmission(scope: Scope, content_type: bytes) -> bool:
    """A ``multipart/mixed`` body of statements and attachments' bytes (any bytes): the
    endpoint checks its JSON part as the guard checks a JSON body."""
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"multipart/mixed" and scope["path"] == "/xapi/statements"


def refused_in_request(scope: Scope, content_type: bytes, body: bytes) -> ProblemOut | None:
    """What :class:`InputGuard` refuses in a request, or None: a NUL character, and in a
    JSON body what strict JSON refuses but Python's parser (the endpoints') lets through."""
    if scope["path"] in OPAQUE_BODIES or _is_transmission(scope, content_type):
        body = b""
    found = nul_in_request(scope, content_type, body)
    if found is not None:
        return ProblemOut(location=found[0], field=found[1], reason=NUL_REASON)
    if body and _is_json(content_type, missing=True):
        lax = lax_value_in(body)
        if lax is not None:
            return ProblemOut(location="body", field=lax[0], reason=lax[1])
    return None


def nul_in_request(scope: Scope, content_type: bytes, body: bytes) -> tuple[str, str] | None:
    r"""(location, field) of a NUL character in the request, or None.

    >>> scope = {"path": "/a", "query_string": b"x=1&title=a%00b"}
    >>> nul_in_request(scope, b"", b"")
    ('query', 'title')
    >>> nul_in_request({"path": "/a", "query_string": b"q=100%2500"}, b"", b"") is None
    True
    >>> nul_in_request({"path": "/a", "query_string": b""}, b"application/json",
    ...                b'{"rubric": {"levels": [{"title": "ok"}, {"title": "a\\u0000"}]}}')
    ('body', 'rubric.levels.1.title')
    >>> nul_in_request({"path": "/a", "query_string": b""}, b"application/json",
    ...                b'{"title": "a backslash: \\\\u0000"}') is None
    True
    >>> nul_in_request({"path": "/a", "query_string": b""}, b"text/csv", b"a,b\n1,\x002\n")
    ('body', 'line 2')
    """
    if "\x00" in scope["path"]:
        return "path", "(path)"
    query = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        field = _nul_field(parse_qsl(query.decode("latin-1"), keep_blank_values=True))
        if field is not None:
            return "query", field
    if b"\x00" not in body and b"\\u0000" not in body:
        return None
    if _is_json(content_type, missing=False):
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None  # the endpoint answers malformed JSON with its own error
        path = first_path(value, _holds_nul)
        return None if path is None else ("body", path)
    at = body.find(b"\x00")
    if at < 0:
        return None
    line = body.count(b"\n", 0, at) + 1
    return "body", f"line {line}"


def _nul_field(pairs: list[tuple[str, str]]) -> str | None:
    """The first name whose name or value holds a NUL (``%2500`` is text, not a NUL)."""
    return next((k.replace("\x00", "\\0") or "(name)" for k, v in pairs if "\x00" in k + v), None)


def _is_json(content_type: bytes, *, missing: bool) -> bool:
    """Whether a body of this media type is parsed as JSON (FastAPI also parses a body
    without a content type as JSON: ``missing``)."""
    media = content_type.split(b";", 1)[0].strip().lower()
    if not media:
        return missing
    return media == b"application/json" or media.endswith(b"+json")


def _holds_nul(value: object) -> bool:
    return isinstance(value, str) and "\x00" in value


async def read_body(receive: Receive, max_bytes: int) -> tuple[bytes, bool] | None:
    """A request's body read whole, and whether it ran past ``max_bytes`` (reading stops
    there, with what was read so far); None when the client left before it was
    complete."""
    chunks: list[bytes] = []
    seen = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        seen += len(chunk)
        if seen > max_bytes:
            return b"".join(chunks), True
        chunks.append(chunk)
        if not message.get("more_body", False):
            return (chunks[0] if len(chunks) == 1 else b"".join(chunks)), False


def replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` for a request whose body was already read: the body, then the client's
    messages (a disconnect, while the response streams)."""
    replayed = False

    async def again() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again
