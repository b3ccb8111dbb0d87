"""xAPI's transmission format for attachments (xAPI 2.0 part three, 1.5.2): a
``multipart/mixed`` body (RFC 2046) whose first part holds the statements as JSON and
each further part the raw bytes of an attachment, named by the SHA-2 of those bytes in
its ``X-Experience-API-Hash`` header. :func:`read_transmission` takes one apart (for
``POST``/``PUT``), :func:`write_transmission` makes one (``GET ...?attachments=true``).

The parts are parsed by python-multipart (Starlette's parser); the rules here are
xAPI's: the hash must be the bytes' SHA-224/256/384/512, the transfer encoding, when
given, ``binary``.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from masterypath.errors import InvalidInputError, Problem

MULTIPART = "multipart/mixed"
HASH_HEADER = "x-experience-api-hash"
SHA2_BY_LENGTH = {56: "sha224", 64: "sha256", 96: "sha384", 128: "sha512"}
"""The SHA-2 function of a hex digest, by its length."""


@dataclass(frozen=True)
class AttachmentData:
    """The raw bytes of an attachment, named by their SHA-2 (lowercase hex)."""

    sha2: str
    content: bytes
    content_type: str | None = None
    """The part's ``Content-Type``, if it had one."""


@dataclass(frozen=True)
class Transmission:
    """A ``multipart/mixed`` request taken apart: the statements' JSON and the
    attachments' bytes by SHA-2 (a part sent twice is kept once)."""

    statements: bytes
    attachments: dict[str, AttachmentData]


def media_type(content_type: str | None) -> str:
    """The media type of a ``Content-Type`` value, lowercase, without parameters.

    >>> media_type('Multipart/Mixed; boundary="a b"'), media_type(None)
    ('multipart/mixed', '')
    """
    return (content_type or "").split(";", 1)[0].strip().lower()


def sha2_matches(sha2: str, content: bytes) -> bool:
    """Whether ``sha2`` (hex, any case) is the SHA-224, SHA-256, SHA-384 or SHA-512 of
    ``content``, told apart by its length.

    >>> sha2_matches(hashlib.sha256(b"here").hexdigest(), b"here")
    True
    >>> sha2_matches(hashlib.sha256(b"here").hexdigest().upper(), b"here")
    True
    >>> sha2_matches("ab" * 32, b"here"), sha2_matches("abc", b"here")
    (False, False)
    """
    name = SHA2_BY_LENGTH.get(len(sha2))
    return name is not None and hashlib.new(name, content).hexdigest() == sha2.lower()


def _refused(field_name: str, reason: str, location: str = "body") -> InvalidInputError:
    return InvalidInputError("xAPI attachments", [Problem(location, field_name, reason)])


@dataclass
class _Part:
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] = field(default_factory=list)


def _parts(body: bytes, boundary: bytes) -> list[_Part]:
    parts: list[_Part] = []
    name: list[bytes] = []
    value: list[bytes] = []

    def header_end() -> None:
        parts[-1].headers[b"".join(name).decode("latin-1").strip().lower()] = (
            b"".join(value).decode("latin-1").strip()
        )
        name.clear()
        value.clear()

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": lambda: parts.append(_Part()),
            "on_header_field": lambda data, start, end: name.append(data[start:end]),
            "on_header_value": lambda data, start, end: value.append(data[start:end]),
            "on_header_end": header_end,
            "on_part_data": lambda data, start, end: parts[-1].chunks.append(data[start:end]),
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except MultipartParseError as exc:
        raise _refused("(root)", f"not a multipart/mixed body: {exc}") from None
    return parts


def read_transmission(body: bytes, content_type: str) -> Transmission:
    """The statements and attachments of a ``multipart/mixed`` request body, or
    :class:`InvalidInputError` naming the part at fault: no boundary, no parts, a first
    part that is not ``application/json``, a further part without
    ``X-Experience-API-Hash``, whose hash is not its bytes' SHA-2, or whose
    ``Content-Transfer-Encoding`` is not ``binary``.

    >>> body = (b"--b\\r\\nContent-Type: application/json\\r\\n\\r\\n[]\\r\\n--b\\r\\n"
    ...         b"X-Experience-API-Hash: " + hashlib.sha256(b"hi").hexdigest().encode()
    ...         + b"\\r\\nContent-Type: text/plain\\r\\n\\r\\nhi\\r\\n--b--\\r\\n")
    >>> sent = read_transmission(body, "multipart/mixed; boundary=b")
    >>> sent.statements, [(a.content, a.content_type) for a in sent.attachments.values()]
    (b'[]', [(b'hi', 'text/plain')])
    """
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise _refused("Content-Type", "multipart/mixed needs a boundary", "header")
    parts = _parts(body, boundary)
    if not parts:
        raise _refused("(root)", "no parts: the first part holds the statements")
    first, *rest = parts
    if media_type(first.headers.get("content-type")) != "application/json":
        raise _refused("part 1", "the first part holds the statements: application/json")
    attachments: dict[str, AttachmentData] = {}
    for n, part in enumerate(rest, start=2):
        where = f"part {n}"
        sha2 = part.headers.get(HASH_HEADER, "").lower()
        encoding = part.headers.get("content-transfer-encoding", "binary").lower()
        content = b"".join(part.chunks)
        if not sha2:
            raise _refused(where, "an attachment part needs X-Experience-API-Hash")
        if encoding != "binary":
            raise _refused(where, f"Content-Transfer-Encoding {encoding!r}: must be binary")
        if not sha2_matches(sha2, content):
            raise _refused(where, "X-Experience-API-Hash is not the SHA-2 of the part's bytes")
        attachments[sha2] = AttachmentData(sha2, content, part.headers.get("content-type"))
    return Transmission(b"".join(first.chunks), attachments)


def write_transmission(
    statements: bytes, attachments: Iterable[AttachmentData]
) -> tuple[bytes, str]:
    """A ``multipart/mixed`` body of the statements' JSON and each attachment's bytes,
    and its ``Content-Type``. The boundary is random, and made anew in the unlikely case
    that a part holds it.

    >>> hi = AttachmentData(hashlib.sha256(b"hi").hexdigest(), b"hi", "text/plain")
    >>> body, kind = write_transmission(b"{}", [hi])
    >>> read_transmission(body, kind) == Transmission(b"{}", {hi.sha2: hi})
    True
    """
    chosen = list(attachments)
    while True:
        boundary = "masterypath-" + secrets.token_hex(16)
        delimiter = b"--" + boundary.encode()
        if delimiter not in statements and not any(delimiter in a.content for a in chosen):
            break
    out = [delimiter, b"\r\nContent-Type: application/json\r\n\r\n", statements]
    for attachment in chosen:
        out += [
            b"\r\n",
            delimiter,
            b"\r\nContent-Type: ",
            (attachment.content_type or "application/octet-stream").encode("latin-1"),
            b"\r\nContent-Transfer-Encoding: binary\r\nX-Experience-API-Hash: ",
            attachment.sha2.encode("ascii"),
            b"\r\n\r\n",
            attachment.content,
        ]
    out += [b"\r\n", delimiter, b"--\r\n"]
    return b"".join(out), f'{MULTIPART}; boundary="{boundary}"'
