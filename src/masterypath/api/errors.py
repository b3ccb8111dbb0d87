"""The one place where errors become HTTP responses: JSON with a code, a message
naming the field, and never a stack trace."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from masterypath.errors import (
    ConflictError,
    FrameworkError,
    InvalidInputError,
    MasterypathError,
    NotFoundError,
    ValidationError,
)

STATUS: list[tuple[type[MasterypathError], int]] = [
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
        return JSONResponse(
            ErrorOut(error=exc.code, message=str(exc), problems=problems).model_dump(),
            status_code=status,
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
