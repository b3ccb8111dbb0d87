"""Ids that hold a slash, in a URL path: ``/api/v1/learners/school%2F42/progress``.

Learner, competency and framework ids may hold ``/`` (an LMS's ``school/42``), and a
client encodes it as ``%2F``. The ASGI server decodes the path before routing, so the
router would see ``/api/v1/learners/school/42/progress``: no route, 404. Here
:class:`EncodedSlashes` decodes the raw path itself, keeping each encoded slash as a
stand-in character, and :class:`SlashSafeRoute` turns the stand-in back into ``/`` in
the path parameters once the route has matched. No id may hold the stand-in (a control
character), so a path that spells it out is refused.

>>> decoded_path(b"/api/v1/learners/school%2F42/progress")
'/api/v1/learners/school\\x1f42/progress'
>>> decoded_path(b"/api/v1/learners/caf%C3%A9") is None  # nothing to keep: the server's path
True
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from masterypath.api.errors import ErrorOut, ProblemOut

ENCODED_SLASH = "\x1f"
"""Stands for ``%2F`` while a path is routed (a control character: no id holds one)."""

_SLASH = re.compile(rb"%2f", re.IGNORECASE)
_STAND_IN = re.compile(rb"%1f", re.IGNORECASE)


def decoded_path(raw_path: bytes) -> str | None:
    """The path with each ``%2F`` kept as :data:`ENCODED_SLASH`, or None when the raw
    path encodes no slash (the server's decoding then stands)."""
    if not _SLASH.search(raw_path):
        return None
    return unquote(_SLASH.sub(b"%1F", raw_path).decode("ascii", "replace"))


class EncodedSlashes:
    """ASGI middleware: routes a path with encoded slashes as one segment each (see the
    module docstring); a path that encodes the stand-in itself is a 422."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = scope.get("raw_path") if scope["type"] == "http" else None
        if raw and b"%" in raw:  # the common path encodes nothing: one byte search
            if _STAND_IN.search(raw):
                reason = "holds a control character (%1F), which no id accepts"
                body = ErrorOut(
                    error="validation_error",
                    message=f"(path): {reason}",
                    problems=[ProblemOut(location="path", field="(path)", reason=reason)],
                )
                await JSONResponse(body.model_dump(), status_code=422)(scope, receive, send)
                return
            path = decoded_path(raw)
            if path is not None:
                scope = {**scope, "path": path}
        await self.app(scope, receive, send)


class SlashSafeRoute(APIRoute):
    """An API route whose path parameters get their encoded slashes back."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        params: dict[str, Any] | None = child.get("path_params")
        if match is not Match.NONE and params:
            child["path_params"] = {
                name: value.replace(ENCODED_SLASH, "/") if isinstance(value, str) else value
                for name, value in params.items()
            }
        return match, child
