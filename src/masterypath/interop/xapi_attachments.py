"""Which attachments of a batch of xAPI statements came with their bytes, and whether
the batch keeps xAPI's rules for them (xAPI 2.0 part three, 1.5.2; part two, 2.4.11 and
2.6): every attachment without a ``fileUrl`` has a part of the request with its
``sha2``, every part is some attachment's, a part's length and media type are its
attachment's, and a signature is well formed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from masterypath.errors import InvalidInputError, Problem
from masterypath.interop.xapi_multipart import AttachmentData, media_type
from masterypath.interop.xapi_signatures import (
    SIGNATURE,
    SIGNATURE_CONTENT_TYPE,
    signature_problem,
)


def attachments_held(
    statements: Sequence[Mapping[str, Any]], sent: Mapping[str, AttachmentData]
) -> list[tuple[str, ...]]:
    """For each statement (as received, validated), the SHA-2s of its attachments whose
    bytes ``sent`` holds; or :class:`InvalidInputError` naming every attachment and part
    at fault.

    >>> import hashlib
    >>> essay = AttachmentData(hashlib.sha256(b"essay").hexdigest(), b"essay", "text/plain")
    >>> attachment = {"usageType": "https://school.example/essay", "display": {"en": "Essay"},
    ...               "contentType": "text/plain", "length": 5, "sha2": essay.sha2}
    >>> held = attachments_held([{"attachments": [attachment]}, {}], {essay.sha2: essay})
    >>> held == [(essay.sha2,), ()]
    True
    >>> attachments_held([{"attachments": [attachment]}], {})
    Traceback (most recent call last):
    ...
    masterypath.errors.InvalidInputError: xAPI attachments: 1 problem(s), nothing stored:
      statements[0]: attachments[0]: no fileUrl, and no part of the request has its sha2 \
(send its bytes in a multipart/mixed request)
    """
    problems: list[Problem] = []
    out: list[tuple[str, ...]] = []
    used: set[str] = set()
    for n, statement in enumerate(statements):
        held: list[str] = []
        attachments = statement.get("attachments") or ()
        for j, attachment in enumerate(attachments):
            where = (f"statements[{n}]", f"attachments[{j}]")
            sha2 = str(attachment.get("sha2", "")).lower()
            used.add(sha2)
            data = sent.get(sha2)
            reason = _problem(statement, attachment, data)
            if reason is not None:
                problems.append(Problem(*where, reason))
            elif data is not None:
                held.append(sha2)
        out.append(tuple(dict.fromkeys(held)))
    for sha2 in sent:
        if sha2 not in used:
            reason = "no attachment of the statements has this sha2"
            problems.append(Problem("body", f"part with X-Experience-API-Hash {sha2}", reason))
    if problems:
        raise InvalidInputError("xAPI attachments", problems)
    return out


def _problem(
    statement: Mapping[str, Any], attachment: Mapping[str, Any], data: AttachmentData | None
) -> str | None:
    signature = attachment.get("usageType") == SIGNATURE
    if data is None:
        if signature:
            return "a signature comes as a part of the request, with its sha2"
        if not attachment.get("fileUrl"):
            return (
                "no fileUrl, and no part of the request has its sha2 "
                "(send its bytes in a multipart/mixed request)"
            )
        return None
    declared = attachment.get("length")
    if declared != len(data.content):
        return f"length {declared}: its part has {len(data.content)} bytes"
    content_type = str(attachment.get("contentType", ""))
    if data.content_type is not None and media_type(data.content_type) != media_type(content_type):
        return f"contentType {content_type!r} differs from its part's {data.content_type!r}"
    if signature and media_type(content_type) != SIGNATURE_CONTENT_TYPE:
        return f"a signature's contentType is {SIGNATURE_CONTENT_TYPE}"
    if signature:
        return signature_problem(statement, data.content)
    return None
