r"""Strict JSON (RFC 8259) for what users hand in, with the field named when only a lax
parser would read it.

Python's ``json`` module reads ``NaN``, ``Infinity``, numbers beyond a double (``1e999``
becomes infinity) and strings with an unpaired surrogate escape (``"\ud800"``). None of
them is JSON, no field here needs one, and PostgreSQL refuses each of them in a JSON
column or in text, so they must be refused where the text comes in, with the field named.

>>> loads('{"levels": [{"points": 1}, {"points": 2.5}]}')
{'levels': [{'points': 1}, {'points': 2.5}]}
>>> loads('{"levels": [{"points": 1},\n {"points": NaN}]}')
Traceback (most recent call last):
...
json.decoder.JSONDecodeError: levels.1.points: is NaN, Infinity or beyond a double's range...
>>> lax_value_in(b'{"title": "a \\ud800 b"}')
('title', 'holds an unpaired UTF-16 surrogate (\\ud800-\\udfff), which is not Unicode text')
>>> lax_value_in(b'{"title": "NaN, Infinity, 1e999"}') is None
True
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import orjson

NON_FINITE_REASON = "is NaN, Infinity or beyond a double's range, which no number field accepts"
SURROGATE_REASON = "holds an unpaired UTF-16 surrogate (\\ud800-\\udfff), which is not Unicode text"


def loads(text: str | bytes) -> Any:
    """The JSON value in ``text``; :class:`json.JSONDecodeError` (with its line and column)
    for malformed text, and for a lax-only value with the field and the reason as ``msg``."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        found = lax_value_in(text)
        msg = exc.msg if found is None else f"{found[0]}: {found[1]}"
        raise json.JSONDecodeError(msg, exc.doc, exc.pos) from None


def lax_value_in(text: str | bytes) -> tuple[str, str] | None:
    """(field, reason) of the first value that only a lax parser reads, or None when
    ``text`` is strict JSON or not JSON at all."""
    try:
        orjson.loads(text)
        return None  # strict JSON: the common case, one fast parse
    except orjson.JSONDecodeError:
        pass
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None  # malformed, or nested too deep, for both parsers: the caller's error
    path = first_path(value, _non_finite)
    if path is not None:
        return path, NON_FINITE_REASON
    path = first_path(value, _holds_surrogate)
    return None if path is None else (path, SURROGATE_REASON)


def first_path(value: object, bad: Callable[[object], bool]) -> str | None:
    """The dotted path (``criteria.1.title``) to the first value or key that is ``bad``;
    ``(root)`` for the value itself, None when nothing is. Iterative: a value nested
    deeper than Python's recursion limit is walked too.

    >>> first_path({"a": [1, "x"]}, lambda v: v == "x")
    'a.1'
    """
    stack: list[tuple[object, tuple[str, ...]]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if bad(item):
            return ".".join(path) or "(root)"
        children: list[tuple[object, tuple[str, ...]]] = []
        if isinstance(item, dict):
            for key, child in item.items():
                if bad(key):  # named with its odd characters escaped, so it can be shown
                    return ".".join((*path, key.encode("ascii", "backslashreplace").decode()))
                children.append((child, (*path, key)))
        elif isinstance(item, list):
            children = [(child, (*path, str(i))) for i, child in enumerate(item)]
        stack.extend(reversed(children))  # depth first, in document order
    return None


def _non_finite(value: object) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def _holds_surrogate(value: object) -> bool:
    return isinstance(value, str) and any("\ud800" <= c <= "\udfff" for c in value)
