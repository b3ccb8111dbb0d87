"""xAPI's statement comparison rules (2.0 part two, 2.3.1): what is set aside is set aside
only where the rules say, walked by the statement's structure."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from masterypath.interop.xapi_comparison import equivalent, same_statement

KIM = {"objectType": "Agent", "account": {"homePage": "https://lms.example", "name": "kim"}}
ANA = {"objectType": "Agent", "account": {"homePage": "https://lms.example", "name": "ana"}}
COURSE = "https://lms.example/courses/sql-101"


def answered(**more: Any) -> dict[str, Any]:
    return {
        "id": "3f2a1c00-0000-4000-8000-000000000001",
        "actor": KIM,
        "verb": {"id": "http://adlnet.gov/expapi/verbs/answered", "display": {"en-US": "did"}},
        "object": {"id": f"{COURSE}/q1", "definition": {"name": {"en-US": "Q1"}}},
        "timestamp": "2026-12-07T10:00:00Z",
        **more,
    }


def test_activity_definitions_are_set_aside_wherever_an_activity_stands() -> None:
    renamed = {"definition": {"name": {"en-US": "Question one"}}}
    in_context = {
        "contextActivities": {
            "parent": [{"id": COURSE, "definition": {"name": {"en-US": "SQL"}}}],
            "grouping": {"id": COURSE, **renamed},  # 1.0's single object
        }
    }
    stored = answered(context=in_context)
    again = answered(
        object={"id": f"{COURSE}/q1", **renamed},
        context={
            "contextActivities": {
                "parent": [{"id": COURSE}],
                "grouping": {"id": COURSE},
            }
        },
    )
    assert same_statement(stored, again)
    sub = {"objectType": "SubStatement", "actor": KIM, "verb": {"id": "v"}}
    assert equivalent(
        answered(object={**sub, "object": {"id": "o", **renamed}}),
        answered(object={**sub, "object": {"id": "o"}}),
    )
    # but another activity is another statement
    assert not same_statement(stored, answered(object={"id": f"{COURSE}/q2"}))


def test_a_definition_or_member_inside_an_extension_is_content() -> None:
    """An extension is the statement's own data: a key named ``definition`` in it, or a
    list named ``member``, was dropped or reordered by the comparison, so a re-post that
    changed it was taken as the same statement (200, the change silently lost)."""
    ext = "https://lms.example/xapi/extensions/rubric"

    def with_extension(value: Any) -> dict[str, Any]:
        return answered(result={"extensions": {ext: value}})

    first = with_extension({"definition": "uses a JOIN", "level": 2})
    assert same_statement(first, with_extension({"definition": "uses a JOIN", "level": 2}))
    assert not same_statement(first, with_extension({"definition": "uses WHERE", "level": 2}))
    assert not same_statement(first, with_extension({"level": 2}))
    ordered = {"objectType": "Group", "member": ["first", "second"]}
    reordered = {"objectType": "Group", "member": ["second", "first"]}
    assert not same_statement(with_extension(ordered), with_extension(reordered))
    in_definition = {"extensions": {ext: {"definition": "A"}}}
    assert equivalent(  # an activity's whole definition, its extensions too, is set aside
        answered(object={"id": "o", "definition": in_definition}),
        answered(object={"id": "o"}),
    )


def test_groups_are_compared_without_the_order_of_their_members() -> None:
    team = {"objectType": "Group", "name": "Team", "member": [KIM, ANA]}
    swapped = {**team, "member": [ANA, KIM]}
    assert same_statement(answered(actor=team), answered(actor=swapped))
    assert same_statement(answered(object=team), answered(object=swapped))
    assert same_statement(
        answered(context={"team": team, "instructor": team}),
        answered(context={"team": swapped, "instructor": swapped}),
    )
    assert equivalent(
        answered(context={"contextGroups": [{"objectType": "contextGroup", "group": team}]}),
        answered(context={"contextGroups": [{"objectType": "contextGroup", "group": swapped}]}),
    )
    assert not same_statement(answered(actor=team), answered(actor={**team, "member": [KIM]}))


JSON_VALUES = st.recursive(
    st.none() | st.integers(-2, 2) | st.sampled_from(["a", "b"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["definition", "member", "objectType", "id"]), inner)
    ),
    max_leaves=8,
)


@given(JSON_VALUES, JSON_VALUES)
def test_statements_that_differ_in_an_extension_are_never_the_same(left: Any, right: Any) -> None:
    ext = "https://lms.example/xapi/extensions/x"
    first = answered(context={"extensions": {ext: left}}, result={"extensions": {ext: left}})
    second = answered(context={"extensions": {ext: right}}, result={"extensions": {ext: right}})
    assert same_statement(first, second) == (left == right)
