"""The request edge (api.errors.InputGuard) on raw ASGI messages: what the app sees."""

from __future__ import annotations

import asyncio
import json
from collections.abc import MutableMapping
from typing import Any

import pytest

from masterypath.api.errors import NUL_REASON, InputGuard
from masterypath.interop.strict_json import NON_FINITE_REASON, SURROGATE_REASON

Message = dict[str, Any]


def exchange(chunks: list[Message], *, max_bytes: int = 100) -> tuple[list[bytes], list[Message]]:
    """Send ``chunks`` through the guard: (the bodies the app read, what went back)."""
    seen: list[bytes] = []
    sent: list[Message] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append((await receive())["body"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def main() -> None:
        pending = list(chunks)

        async def receive() -> Message:
            return pending.pop(0) if pending else {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(dict(message))

        scope = {
            "type": "http",
            "method": "POST",
            "path": "/x",
            "query_string": b"",
            "headers": [(b"content-type", b"application/json")],
        }
        await InputGuard(app, max_bytes=max_bytes)(scope, receive, send)

    asyncio.run(main())
    return seen, sent


def part(body: bytes, more: bool) -> Message:
    return {"type": "http.request", "body": body, "more_body": more}


def test_a_body_in_parts_reaches_the_app_whole() -> None:
    seen, sent = exchange([part(b'{"a": ', True), part(b"1}", False)])
    assert seen == [b'{"a": 1}'] and sent[0]["status"] == 200


def test_a_client_that_leaves_mid_body_is_not_acted_on() -> None:
    # a truncated body can still parse (a CSV cut at a line end): it must not be stored
    seen, sent = exchange([part(b"a,b\n1,2\n", True), {"type": "http.disconnect"}])
    assert seen == [] and sent == []


def test_a_streamed_body_over_the_limit_is_413_before_the_app_reads_it() -> None:
    seen, sent = exchange([part(b"x" * 60, True), part(b"x" * 60, False)])
    assert seen == [] and sent[0]["status"] == 413


def test_a_nul_escape_split_across_parts_is_found() -> None:
    seen, sent = exchange([part(b'{"title": "a\\u00', True), part(b'00"}', False)])
    assert seen == [] and sent[0]["status"] == 422
    assert json.loads(sent[1]["body"])["problems"] == [
        {"location": "body", "field": "title", "reason": NUL_REASON}
    ]


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        (b'{"levels": [{"points": 1}, {"points": NaN}]}', "levels.1.points", NON_FINITE_REASON),
        (b'{"score": Infinity}', "score", NON_FINITE_REASON),
        (b'{"score": -Infinity}', "score", NON_FINITE_REASON),
        (b'{"points": [1e999]}', "points.0", NON_FINITE_REASON),  # Python reads it as inf
        (b'{"title": "a \\udc00 b"}', "title", SURROGATE_REASON),
        (b'{"a \\ud800": 1}', "a \\ud800", SURROGATE_REASON),  # a key, named escaped
    ],
)
def test_what_only_a_lax_json_parser_reads_is_422_naming_the_field(
    body: bytes, field: str, reason: str
) -> None:
    # each of these reached PostgreSQL and was a 500 there (refused in JSON or in text)
    seen, sent = exchange([part(body, False)], max_bytes=1000)
    assert seen == [] and sent[0]["status"] == 422
    assert json.loads(sent[1]["body"])["problems"] == [
        {"location": "body", "field": field, "reason": reason}
    ]


def test_the_words_nan_and_infinity_in_text_pass() -> None:
    body = b'{"title": "NaN, Infinity and 1e999", "note": "\\ud83d\\ude00"}'
    seen, sent = exchange([part(body, False)], max_bytes=1000)
    assert seen == [body] and sent[0]["status"] == 200
