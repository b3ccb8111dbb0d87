from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from masterypath.domain.framework import (
    Competency,
    Framework,
    Item,
    Prerequisite,
    Relation,
    UnlockStatus,
    find_cycles,
)
from masterypath.errors import (
    CycleError,
    DuplicateIdError,
    SelfLoopError,
    UnknownReferenceError,
    ValidationError,
)


def comp(cid: str, *prereqs: str, parent: str | None = None) -> Competency:
    return Competency(
        id=cid,
        title=cid.upper(),
        parent_id=parent,
        prerequisites=tuple(Prerequisite(p) for p in prereqs),
    )


def fw(*competencies: Competency, items: tuple[Item, ...] = ()) -> Framework:
    return Framework(id="f", title="F", competencies=competencies, items=items)


# A small course:   add -> mul -> div,  sub -> div,  add -> sub;  "arith" is the parent of all.
COURSE = fw(
    comp("arith"),
    comp("add", parent="arith"),
    comp("sub", "add", parent="arith"),
    comp("mul", "add", parent="arith"),
    comp("div", "mul", "sub", parent="arith"),
    comp("frac", "div"),
)


def test_unknown_prerequisite_is_named() -> None:
    with pytest.raises(UnknownReferenceError) as exc:
        fw(comp("a"), comp("b", "zzz"))
    assert exc.value.references == (("b", "prerequisites", "zzz"),)
    assert "b.prerequisites -> 'zzz'" in str(exc.value)


def test_unknown_parent_is_named() -> None:
    with pytest.raises(UnknownReferenceError, match=r"b\.parent_id -> 'nope'"):
        fw(comp("a"), comp("b", parent="nope"))


def test_duplicate_ids_are_named() -> None:
    with pytest.raises(DuplicateIdError) as exc:
        fw(comp("a"), comp("b"), comp("a"))
    assert exc.value.ids == ("a",)


def test_self_loop_is_named() -> None:
    with pytest.raises(SelfLoopError, match="a -> a"):
        fw(comp("a", "a"))


def test_cycle_error_prints_the_cycle_path() -> None:
    with pytest.raises(CycleError) as exc:
        fw(comp("a", "c"), comp("b", "a"), comp("c", "b"), comp("d", "a"))
    # a is a prerequisite of b, b of c, c of a
    assert exc.value.path == ("a", "b", "c", "a")
    assert str(exc.value) == "prerequisite cycle: a -> b -> c -> a"


def test_parent_cycle_is_rejected() -> None:
    with pytest.raises(CycleError, match="parent cycle"):
        fw(comp("a", parent="b"), comp("b", parent="a"))


def test_item_aligned_to_unknown_competency_is_named() -> None:
    with pytest.raises(UnknownReferenceError, match="item q1"):
        fw(comp("a"), items=(Item(id="q1", competency_ids=("a", "x")),))


def test_competency_validation_names_field() -> None:
    with pytest.raises(ValidationError, match="title: must not be empty"):
        Competency(id="a", title="  ")
    with pytest.raises(ValidationError, match="prerequisites: 'b' is listed twice"):
        Competency(id="a", title="A", prerequisites=(Prerequisite("b"), Prerequisite("b")))
    # PostgreSQL refuses NUL in text: refused here, naming the field, before any write
    with pytest.raises(ValidationError, match="contains a control character") as err:
        Competency(id="a\tb", title="A")
    assert err.value.field == "id"
    with pytest.raises(ValidationError, match="description: must not contain a NUL"):
        Competency(id="a", title="A", description="x\x00")
    with pytest.raises(ValidationError, match="title: must not contain a NUL"):
        Framework(id="f", title="F\x00", competencies=(Competency(id="a", title="A"),))
    assert Competency(id="a", title="A", description="two\nlines").description == "two\nlines"


def test_topological_order_golden() -> None:
    assert COURSE.topological_order() == ("arith", "add", "sub", "mul", "div", "frac")


def test_ancestors_and_descendants() -> None:
    assert COURSE.ancestors("div") == {"add", "sub", "mul"}
    assert COURSE.descendants("add") == {"sub", "mul", "div", "frac"}
    assert COURSE.ancestors("div", Relation.PARENT) == {"arith"}
    assert COURSE.descendants("arith", Relation.PARENT) == {"add", "sub", "mul", "div"}
    with pytest.raises(KeyError, match="unknown competency 'nope'"):
        COURSE.ancestors("nope")


def test_roots() -> None:
    assert COURSE.roots() == ("arith", "add")
    assert COURSE.roots(Relation.PARENT) == ("arith", "frac")


def test_prerequisite_closure_in_topological_order() -> None:
    assert COURSE.prerequisite_closure(["div"]) == ("add", "sub", "mul", "div")
    assert COURSE.prerequisite_closure(["mul", "sub"]) == ("add", "sub", "mul")


def test_edge_keeps_required_status() -> None:
    f = fw(
        comp("a"),
        Competency(id="b", title="B", prerequisites=(Prerequisite("a", UnlockStatus.PROFICIENT),)),
    )
    assert f.edges() == (("a", "b", UnlockStatus.PROFICIENT),)
    assert Prerequisite("a").requires is UnlockStatus.MASTERED


def test_find_cycles_golden() -> None:
    edges = [("a", "b"), ("b", "a"), ("c", "d"), ("d", "e"), ("e", "c"), ("x", "x"), ("e", "f")]
    assert find_cycles(edges) == [("a", "b", "a"), ("c", "d", "e", "c"), ("x", "x")]
    assert find_cycles([("a", "b"), ("b", "c")]) == []


def build(edges: list[tuple[str, str]], nodes: list[str]) -> Framework:
    prereqs: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        prereqs[b].append(a)
    return fw(*(comp(n, *prereqs[n]) for n in nodes))


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_topological_order_respects_every_edge(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 25))
    names = data.draw(st.permutations([f"c{i}" for i in range(n)]))
    pairs = [(names[i], names[j]) for i in range(n) for j in range(i + 1, n)]
    edges = data.draw(st.lists(st.sampled_from(pairs), unique=True, max_size=60)) if pairs else []
    framework = build(edges, data.draw(st.permutations(names)))
    order = framework.topological_order()
    position = {cid: i for i, cid in enumerate(order)}
    assert sorted(order) == sorted(names)
    for a, b in edges:
        assert position[a] < position[b]
    for cid in names:  # closure is exactly the node and its ancestors, prerequisites first
        closure = framework.prerequisite_closure([cid])
        assert set(closure) == framework.ancestors(cid) | {cid}
        assert closure[-1] == cid


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_any_cycle_is_reported_as_a_real_cycle(data: st.DataObject) -> None:
    n = data.draw(st.integers(2, 12))
    names = [f"c{i}" for i in range(n)]
    edges = data.draw(
        st.lists(
            st.tuples(st.sampled_from(names), st.sampled_from(names)).filter(
                lambda e: e[0] != e[1]
            ),
            unique=True,
            min_size=1,
            max_size=40,
        )
    )
    cycles = find_cycles(edges)
    try:
        build(edges, names)
    except CycleError as exc:
        path = exc.path
        assert path[0] == path[-1] and len(path) >= 3
        for a, b in itertools.pairwise(path):
            assert (a, b) in edges
        assert cycles, "find_cycles must agree that there is a cycle"
    else:
        assert cycles == []
