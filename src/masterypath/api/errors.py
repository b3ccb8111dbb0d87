"""The one place where errors become HTTP responses: JSON with a code, a message
naming the field, and never a stack trace."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from masterypath.errors import (
    AuthenticationError,
    ConflictError,
    FrameworkError,
    InvalidInputError,
    MasterypathError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ValidationError,
)

STATUS: list[tuple[type[MasterypathError], int]] = [
    (AuthenticationError, 401),
    (PermissionDeniedError, 403),
    (RateLimitedError, 429),
    (NotFoundError, 404),
    (ConflictError, 409),
    (ValidationError, 422),
    (InvalidInputError, 422),
    (FrameworkError, 422),
    (MasterypathError, 400),
]


class ProblemOut(BaseModel):
    location: str
    field: str
    reason: str


class ErrorOut(BaseModel):
    """Every error response has this shape."""

    error: str
    message: str
    problems: list[ProblemOut] = []


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(MasterypathError)
    async def domain_error(_: Request, exc: MasterypathError) -> JSONResponse:
        status = next(code for kind, code in STATUS if isinstance(exc, kind))
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


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413 (by Content-Length, and while
    streaming for bodies sent without one)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def counting() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLargeError
            return message

        try:
            await self.app(scope, counting, send)
        except _TooLargeError:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = ErrorOut(
            error="too_large", message=f"request body over {self.max_bytes} bytes"
        ).model_dump()
        await JSONResponse(body, status_code=413)(scope, receive, send)


class _TooLargeError(Exception):
    pass
