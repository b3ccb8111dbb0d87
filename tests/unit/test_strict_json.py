"""interop.strict_json: strict JSON reads back what Python writes, and every value only a
lax parser reads is found and named by its path."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from masterypath.interop.strict_json import (
    NON_FINITE_REASON,
    SURROGATE_REASON,
    lax_value_in,
    loads,
)

KEYS = st.text(st.characters(exclude_categories=["Cs"]), max_size=5)
FINITE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_categories=["Cs"])),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=20,
)


def walk(value: Any, path: str) -> Any:
    for part in path.split(".") if path != "(root)" else []:
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


@given(FINITE)
def test_strict_json_reads_back_what_python_writes(value: Any) -> None:
    text = json.dumps(value)
    assert loads(text) == value
    assert lax_value_in(text) is None


@given(FINITE, st.sampled_from([math.nan, math.inf, -math.inf]), st.data())
def test_a_non_finite_number_anywhere_is_found_at_its_path(
    value: Any, odd: float, data: st.DataObject
) -> None:
    # put the odd number in a random place: a new list around the value, or a dict key
    holder = data.draw(st.sampled_from(["list", "dict"]))
    doc: Any = [value, odd] if holder == "list" else {"ok": value, "odd": odd}
    text = json.dumps(doc)
    found = lax_value_in(text)
    assert found is not None and found[1] == NON_FINITE_REASON
    bad = walk(json.loads(text), found[0])
    assert isinstance(bad, float) and not math.isfinite(bad)
    with pytest.raises(json.JSONDecodeError, match=NON_FINITE_REASON.split(",")[0]):
        loads(text)


@given(FINITE, st.integers(0xD800, 0xDFFF))
def test_an_unpaired_surrogate_is_found_at_its_path(value: Any, code: int) -> None:
    text = json.dumps({"a": [value, {"b": f"x{chr(code)}y"}]})
    assert lax_value_in(text) == ("a.1.b", SURROGATE_REASON)


def test_a_number_beyond_a_double_is_named() -> None:
    assert lax_value_in('{"points": [1, 2e400]}') == ("points.1", NON_FINITE_REASON)
