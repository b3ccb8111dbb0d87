"""A layered drawing of the prerequisite graph (pure): where each competency goes on a map.

Layer = the length of the longest prerequisite chain below a competency (so every edge
points to a higher layer); within a layer, competencies are ordered by the barycentre of
their prerequisites' positions, a few sweeps down and up (the Sugiyama heuristic), which
keeps edges short and crossings few.

>>> from masterypath.domain.framework import Competency, Framework, Prerequisite
>>> fw = Framework(id="f", title="F", competencies=(
...     Competency(id="a", title="A"), Competency(id="b", title="B"),
...     Competency(id="c", title="C", prerequisites=(Prerequisite("a"), Prerequisite("b"))),
... ))
>>> [(n.id, n.layer) for n in layered_layout(fw)]
[('a', 0), ('b', 0), ('c', 1)]
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from masterypath.domain.framework import Framework


@dataclass(frozen=True, slots=True)
class Placed:
    id: str
    layer: int
    order: int
    """Position within the layer, 0 first."""


def layered_layout(framework: Framework, *, sweeps: int = 4) -> list[Placed]:
    """Every competency with its layer and its order in the layer (by layer, then order)."""
    layer: dict[str, int] = {}
    prerequisites: dict[str, list[str]] = defaultdict(list)
    dependents: dict[str, list[str]] = defaultdict(list)
    for before, after, _ in framework.edges():
        prerequisites[after].append(before)
        dependents[before].append(after)
    for cid in framework.topological_order():
        layer[cid] = max((layer[p] + 1 for p in prerequisites[cid]), default=0)
    layers: dict[int, list[str]] = defaultdict(list)
    for cid in framework.topological_order():
        layers[layer[cid]].append(cid)
    position = {cid: i for nodes in layers.values() for i, cid in enumerate(nodes)}

    def reorder(index: int, neighbours: dict[str, list[str]]) -> None:
        nodes = layers[index]

        def centre(cid: str) -> float:
            linked = neighbours[cid]
            if not linked:
                return float(position[cid])
            return sum(position[n] for n in linked) / len(linked)

        nodes.sort(key=lambda cid: (centre(cid), position[cid]))
        for i, cid in enumerate(nodes):
            position[cid] = i

    depth = max(layers, default=0)
    for _ in range(sweeps):
        for index in range(1, depth + 1):
            reorder(index, prerequisites)
        for index in range(depth - 1, -1, -1):
            reorder(index, dependents)
    return [
        Placed(cid, index, i) for index in sorted(layers) for i, cid in enumerate(layers[index])
    ]
