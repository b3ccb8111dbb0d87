"""Who a statement names, and where: the index the ``agent`` and ``related_agents`` filters,
exports and erasures read is built from these."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from masterypath.interop.xapi_pseudonyms import (
    ERASED,
    agents_named,
    agents_related,
    authority_of,
    learner_of,
    learners_in,
)

NAMES = st.sampled_from(["ana", "ben", "cy", "dee", "lms"])
AGENTS = st.builds(
    lambda name: {"objectType": "Agent", "account": {"homePage": "https://h", "name": name}},
    NAMES,
) | st.just(dict(ERASED))
GROUPS = st.builds(
    lambda members, name: {
        "objectType": "Group",
        "member": members,
        **({} if name is None else {"account": {"homePage": "https://h", "name": name}}),
    },
    st.lists(AGENTS, min_size=1, max_size=3),
    st.none() | NAMES,
)
ACTIVITY = {"objectType": "Activity", "id": "https://lms.example/q"}


@st.composite
def statements(draw: st.DrawFn, *, sub: bool = True) -> dict[str, Any]:
    statement: dict[str, Any] = {
        # mostly an Agent about an Activity, the common case the quick answer is for
        "actor": draw(st.one_of(AGENTS, AGENTS, GROUPS)),
        "verb": {"id": "https://verbs.example/did"},
        "object": draw(
            st.one_of(
                st.just(ACTIVITY),
                st.just(ACTIVITY),
                AGENTS,
                GROUPS,
                statements(sub=False) if sub else AGENTS,
            )
        ),
    }
    if isinstance(statement["object"], dict) and "verb" in statement["object"]:
        statement["object"] = {**statement["object"], "objectType": "SubStatement"}
    context = {
        role: draw(kinds)
        for role, kinds in (("instructor", AGENTS | GROUPS), ("team", GROUPS))
        if draw(st.booleans())
    }
    if context:
        statement["context"] = context
    if sub:
        statement["authority"] = draw(st.one_of(AGENTS, AGENTS, GROUPS))
    return statement


@settings(max_examples=400)
@given(statements())
def test_the_filters_indexes_hold_every_learner_a_statement_names(
    statement: dict[str, Any],
) -> None:
    """The actor, the authority, those ``agents_named`` finds and those ``agents_related``
    finds are everyone :func:`learners_in` sees (the erased stand-in aside), so a search
    of the index misses no one; the quick answer for plain statements agrees."""
    actor = learner_of(statement["actor"]) or "group"
    authority = authority_of(statement)
    besides = [actor, *agents_named(statement), *([authority] if authority else [])]
    related = agents_related(statement, besides=besides)
    assert set(related).isdisjoint(besides)
    everyone = learners_in(statement) - {learner_of(ERASED)}
    assert set(besides) | set(related) >= everyone
    assert set(related) <= everyone


def test_a_plain_statement_names_no_one_else_and_a_teacher_is_related_only() -> None:
    kim = {"objectType": "Agent", "account": {"homePage": "https://h", "name": "kim"}}
    lms = {"objectType": "Agent", "account": {"homePage": "https://h", "name": "lms"}}
    plain = {"actor": kim, "verb": {"id": "v"}, "object": ACTIVITY, "authority": lms}
    assert authority_of(plain) == "lms"
    assert agents_related(plain, besides=["kim", "lms"]) == ()
    taught = {**plain, "context": {"instructor": {**kim, "account": {"name": "ms-li"}}}}
    assert agents_named(taught) == ()
    assert agents_related(taught, besides=["kim", "lms"]) == ("ms-li",)
    team = {"objectType": "Group", "member": [{**kim, "account": {"name": "cy"}}]}
    assert agents_related({**plain, "context": {"team": team}}, besides=["kim", "lms"]) == ("cy",)
    oauth = {**plain, "authority": {"objectType": "Group", "member": [lms, kim]}}
    assert authority_of(oauth) is None  # an anonymous pair: its members are related
    assert agents_related(oauth, besides=["kim"]) == ("lms",)
