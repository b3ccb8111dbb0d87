"""xAPI 1.0.3's alternate request syntax (part three, 1.3), for clients that can send
only ``GET`` and ``POST`` without headers of their own (a browser's cross-domain
request): a ``POST`` to any ``/xapi`` resource with the method meant in the ``method``
query parameter and everything else in a form body: the content in ``content``, the
headers xAPI names (``Authorization``, ``X-Experience-API-Version``, ``Content-Type``,
``If-Match``, ``If-None-Match``) as form parameters, and the query parameters as form
parameters too.

:class:`AlternateSyntax` rewrites such a request into the one it stands for before
anything else sees it, so that it is authenticated, checked, authorized and answered as
that request is. The rewrite is all it does; what the request asks is the endpoint's.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from masterypath.api.errors import XAPI_PREFIX, ErrorOut, ProblemOut, read_body, replay
from masterypath.errors import ValidationError

METHODS = frozenset({"GET", "HEAD", "PUT", "POST", "DELETE"})
HEADERS = frozenset(
    {"authorization", "x-experience-api-version", "content-type", "if-match", "if-none-match"}
)
"""The form parameters that are headers (``Content-Length`` too, which is computed anew)."""
FORM = "application/x-www-form-urlencoded"


def rewritten(scope: Scope, body: bytes) -> tuple[Scope, bytes]:
    """The request an alternate-syntax request stands for: its scope and body.

    >>> scope = {"method": "POST", "query_string": b"method=PUT", "headers": [
    ...     (b"content-type", b"application/x-www-form-urlencoded"), (b"host", b"lrs")]}
    >>> form = b"statementId=1&content=%7B%7D&X-Experience-API-Version=1.0.3"
    >>> new, content = rewritten(scope, form)
    >>> new["method"], new["query_string"], content
    ('PUT', b'statementId=1', b'{}')
    >>> sorted(new["headers"])  # doctest: +NORMALIZE_WHITESPACE
    [(b'content-length', b'2'), (b'content-type', b'application/json'), (b'host', b'lrs'),
     (b'x-experience-api-version', b'1.0.3')]
    """
    query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    others = sorted({name for name, _ in query if name != "method"})
    if others:
        reason = "the alternate request syntax takes `method` alone; send the rest in the form"
        raise ValidationError(others[0], reason)
    method = next(value for name, value in query if name == "method").upper()
    if method not in METHODS:
        raise ValidationError("method", f"{method!r} is not GET, HEAD, PUT, POST or DELETE")
    headers = dict(scope.get("headers") or [])
    if headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower() != FORM.encode():
        raise ValidationError("Content-Type", f"the alternate request syntax sends {FORM}")
    try:
        form = parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise ValidationError("body", "not a UTF-8 form") from None
    given: dict[str, str] = {}
    params: list[tuple[str, str]] = []
    for name, value in form:
        key = name.lower()
        if key in HEADERS or key in ("content", "content-length"):
            if key in given:
                raise ValidationError(name, "given twice")
            given[key] = value
        else:
            params.append((name, value))
    content = given.pop("content", "").encode("utf-8")
    given.pop("content-length", None)
    if content and "content-type" not in given:
        given["content-type"] = "application/json"
    kept = [
        (k, v)
        for k, v in headers.items()
        if k.decode("latin-1") not in HEADERS and k != b"content-length"
    ]
    new_headers = [
        *kept,
        *((k.encode("latin-1"), v.encode("latin-1", "replace")) for k, v in given.items()),
        (b"content-length", str(len(content)).encode()),
    ]
    new_scope = {
        **scope,
        "method": method,
        "query_string": urlencode(params).encode("latin-1"),
        "headers": new_headers,
    }
    return new_scope, content


class AlternateSyntax:
    """Rewrites a request in xAPI's alternate syntax (a ``POST`` to ``/xapi/...`` with
    ``method`` in its query) into the request it stands for (:func:`rewritten`); one it
    cannot read is a 400 naming the field, one over ``max_bytes`` a 413. Every other
    request passes untouched."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _is_alternate(scope):
            await self.app(scope, receive, send)
            return
        read = await read_body(receive, self.max_bytes)
        if read is None:
            return  # the client left before its body was complete
        body, too_large = read
        if too_large:
            error = ErrorOut(error="too_large", message=f"request body over {self.max_bytes} bytes")
            await _answer(error, 413, scope, receive, send)
            return
        try:
            new_scope, content = rewritten(scope, body)
        except ValidationError as exc:
            problem = ProblemOut(location="alternate request", field=exc.field, reason=exc.reason)
            error = ErrorOut(error=exc.code, message=str(exc), problems=[problem])
            await _answer(error, 400, scope, receive, send)
            return
        await self.app(new_scope, replay(content, receive), send)


def _is_alternate(scope: Scope) -> bool:
    if scope["type"] != "http" or scope.get("method") != "POST":
        return False
    path: str = scope.get("path", "")
    if not path.removeprefix(scope.get("root_path", "")).startswith(XAPI_PREFIX):
        return False
    query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    return any(name == "method" for name, _ in query)


async def _answer(error: ErrorOut, status: int, scope: Scope, receive: Receive, send: Send) -> None:
    response = JSONResponse(
        error.model_dump(), status_code=status, headers={"X-Experience-API-Version": "1.0.3"}
    )
    await response(scope, receive, send)
