"""ralph's IRI check remembers valid IRIs (``remember_valid_iris``) and still refuses
invalid ones."""

from __future__ import annotations

from typing import Any

import pytest
import ralph.models.xapi.base.common as ralph_common
from pydantic import ValidationError
from ralph.models.xapi.base.statements import BaseXapiStatement

from masterypath.services.xapi import remember_valid_iris


def statement(activity: str) -> dict[str, Any]:
    return {
        "actor": {"account": {"homePage": "https://lms.example", "name": "learner-1"}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"},
        "object": {"id": activity},
        "result": {"success": True},
    }


def test_valid_iris_are_checked_by_rfc3987_once_and_invalid_ones_every_time() -> None:
    remember_valid_iris()
    remember_valid_iris()  # idempotent: one cache, not a cache of a cache
    parse = ralph_common.parse
    assert not hasattr(parse.__wrapped__, "cache_info")
    parse.cache_clear()

    BaseXapiStatement.model_validate(statement("https://lms.example/items/q1"))
    first = parse.cache_info()
    BaseXapiStatement.model_validate(statement("https://lms.example/items/q1"))
    second = parse.cache_info()
    # ralph checks four IRIs of such a statement, three distinct (the home page, the
    # verb, the activity): each is parsed once and then remembered
    assert (first.misses, first.hits) == (3, 1)
    assert (second.misses, second.hits) == (3, 5)

    for _ in range(2):  # refused the second time as well: a refusal is not remembered
        with pytest.raises(ValidationError) as refused:
            BaseXapiStatement.model_validate(statement("https://lms.example/items/q 1"))
        assert refused.value.errors()[0]["loc"][::2] == ("object", "id")
    assert parse.cache_info().currsize == 3
