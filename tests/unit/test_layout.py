"""The layered map layout: every prerequisite sits in a lower layer; orders are a permutation."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from masterypath.domain.framework import Competency, Framework, Prerequisite
from masterypath.domain.layout import layered_layout


@st.composite
def dags(draw: st.DrawFn) -> Framework:
    n = draw(st.integers(1, 12))
    competencies = []
    for i in range(n):
        before = draw(st.sets(st.integers(0, i - 1), max_size=3)) if i else set()
        competencies.append(
            Competency(
                id=f"c{i}",
                title=f"C{i}",
                prerequisites=tuple(Prerequisite(f"c{j}") for j in sorted(before)),
            )
        )
    return Framework(id="f", title="F", competencies=tuple(competencies))


@given(dags())
def test_edges_point_down_and_each_layer_is_a_permutation(framework: Framework) -> None:
    placed = layered_layout(framework)
    layer = {p.id: p.layer for p in placed}
    assert sorted(layer) == sorted(framework.ids)
    assert all(layer[a] < layer[b] for a, b, _ in framework.edges())
    for index in set(layer.values()):
        orders = sorted(p.order for p in placed if p.layer == index)
        assert orders == list(range(len(orders)))
    # the longest chain decides the layer: a competency sits right above its deepest prerequisite
    for c in framework.competencies:
        if c.prerequisites:
            assert layer[c.id] == 1 + max(layer[p.competency_id] for p in c.prerequisites)


def test_barycentre_puts_a_dependent_near_its_prerequisites() -> None:
    fw = Framework(
        id="f",
        title="F",
        competencies=(
            Competency(id="a", title="A"),
            Competency(id="b", title="B"),
            Competency(id="c", title="C"),
            Competency(id="x", title="X", prerequisites=(Prerequisite("c"),)),
            Competency(id="y", title="Y", prerequisites=(Prerequisite("a"),)),
        ),
    )
    order = {p.id: p.order for p in layered_layout(fw)}
    assert order["y"] < order["x"]  # y hangs under a (left), x under c (right)
