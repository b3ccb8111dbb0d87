"""xAPI documents (the State resource's): entity tags, the JSON merge of a POST, and the
``If-Match`` / ``If-None-Match`` preconditions (xAPI 1.0.3 part three, 2.2 and 3.1).

Pure functions over bytes and headers; ``services/xapi_state.py`` stores the documents.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from masterypath.errors import PreconditionFailedError, ValidationError
from masterypath.interop import strict_json

JSON = "application/json"


def etag(content: bytes) -> str:
    """The entity tag xAPI asks for: the SHA-1 of the contents, lowercase hex, quoted.

    >>> etag(b'{"x": 1}')
    '"c8b0bcdb34ded0fdaf264864fe47b8f2cd5dc056"'
    """
    return f'"{hashlib.sha1(content).hexdigest()}"'


def is_json(content_type: str | None) -> bool:
    """Whether a ``Content-Type`` is JSON (parameters such as ``charset`` aside).

    >>> is_json("application/json; charset=utf-8"), is_json("text/plain")
    (True, False)
    """
    return (content_type or "").split(";")[0].strip().lower() == JSON


def json_document(content: bytes) -> Any:
    """A JSON document's value; a :class:`ValidationError` on ``body`` when it is not JSON."""
    try:
        return strict_json.loads(content)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            "body", f"Content-Type is {JSON} but the document is not JSON: {exc}"
        ) from None


def merged(existing: bytes, posted: bytes) -> bytes:
    """A POST's document merged into the stored one: each top-level property of ``posted``
    replaces the stored one's (xAPI 2.2: only the top level; both must be JSON objects).

    >>> merged(b'{"x": "foo", "y": "bar"}', b'{"x": "bash", "z": "faz"}')
    b'{"x":"bash","y":"bar","z":"faz"}'
    >>> merged(b'[1]', b'{"x": 1}')
    Traceback (most recent call last):
    ...
    masterypath.errors.ValidationError: body: the stored document is not a JSON object, so a POST cannot merge into it; PUT replaces it
    """  # noqa: E501
    old = json_document(existing)
    if not isinstance(old, dict):
        raise ValidationError(
            "body",
            "the stored document is not a JSON object, so a POST cannot merge into it; "
            "PUT replaces it",
        )
    new = json_document(posted)
    if not isinstance(new, dict):
        raise ValidationError("body", "a POST merges a JSON object; this is not one")
    return json.dumps({**old, **new}, separators=(",", ":"), ensure_ascii=False).encode()


def _tags(header: str) -> list[str]:
    return [t.strip() for t in header.split(",") if t.strip()]


def check_preconditions(
    current: str | None,
    *,
    if_match: str | None,
    if_none_match: str | None,
    what: str,
) -> None:
    """Refuse a write whose precondition fails (:class:`PreconditionFailedError`, 412):
    ``If-Match`` lists the entity tags the client read (``*``: any stored document),
    ``If-None-Match: *`` asks that none be stored yet. ``current`` is the stored document's
    tag, ``None`` when there is none; ``what`` names the document in the message.

    >>> check_preconditions('"a"', if_match='"a"', if_none_match=None, what="state s")
    >>> check_preconditions('"b"', if_match='"a"', if_none_match=None, what="state s")
    Traceback (most recent call last):
    ...
    masterypath.errors.PreconditionFailedError: If-Match 'state s': it changed since you read it (its ETag is now "b"); GET it again
    """  # noqa: E501
    if if_match is not None:
        tags = _tags(if_match)
        if current is None:
            raise PreconditionFailedError("If-Match", what, "there is no such document")
        if "*" not in tags and current not in tags:
            raise PreconditionFailedError(
                "If-Match",
                what,
                f"it changed since you read it (its ETag is now {current}); GET it again",
            )
    if if_none_match is not None and current is not None:
        tags = _tags(if_none_match)
        if "*" in tags or current in tags:
            raise PreconditionFailedError(
                "If-None-Match", what, f"a document is stored already (its ETag is {current})"
            )


def require_json_object_for_merge(content_type: str | None) -> None:
    """A POST to a stored document merges, which only JSON objects can (xAPI 2.2)."""
    if not is_json(content_type):
        raise ValidationError(
            "Content-Type", f"a POST to a stored document merges JSON: send {JSON}, or PUT it"
        )
