"""Competencies and validated competency frameworks (a prerequisite DAG plus a hierarchy).

A :class:`Framework` is always valid: building one checks ids, references,
self-loops and cycles, and raises an error that names what is wrong.

>>> fw = Framework(id="math", title="Math", competencies=(
...     Competency(id="add", title="Addition"),
...     Competency(id="mul", title="Multiplication", prerequisites=(Prerequisite("add"),)),
...     Competency(id="div", title="Division", prerequisites=(Prerequisite("mul"),)),
... ))
>>> fw.topological_order()
('add', 'mul', 'div')
>>> sorted(fw.ancestors("div"))
['add', 'mul']
>>> Framework(id="bad", title="Bad", competencies=(
...     Competency(id="a", title="A", prerequisites=(Prerequisite("b"),)),
...     Competency(id="b", title="B", prerequisites=(Prerequisite("a"),)),
... ))
Traceback (most recent call last):
...
masterypath.errors.CycleError: prerequisite cycle: a -> b -> a
"""

from __future__ import annotations

import graphlib
import math
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from masterypath.errors import (
    CycleError,
    DuplicateIdError,
    SelfLoopError,
    UnknownReferenceError,
    ValidationError,
)

_Step = Callable[[str], Iterable[str]]


class UnlockStatus(StrEnum):
    """The status a prerequisite must reach before it unlocks its dependent."""

    PROFICIENT = "proficient"
    MASTERED = "mastered"


class Relation(StrEnum):
    """Which edges a graph query follows."""

    PREREQUISITE = "prerequisite"
    """``a -> b`` when ``a`` is a prerequisite of ``b``."""
    PARENT = "parent"
    """``a -> b`` when ``a`` is the parent of ``b`` in the hierarchy."""


@dataclass(frozen=True, slots=True)
class Prerequisite:
    """An incoming prerequisite edge: ``competency_id`` must reach ``requires`` first."""

    competency_id: str
    requires: UnlockStatus = UnlockStatus.MASTERED


@dataclass(frozen=True, slots=True)
class Competency:
    """One thing a learner can be able to do.

    ``code`` is an optional human-readable coding scheme (CASE ``humanCodingScheme``).
    """

    id: str
    title: str
    description: str = ""
    parent_id: str | None = None
    prerequisites: tuple[Prerequisite, ...] = ()
    code: str | None = None

    def __post_init__(self) -> None:
        _check_id(self.id, "id", self.id)
        if not self.title.strip():
            raise ValidationError("title", "must not be empty", location=f"competency {self.id!r}")
        _check_no_nul(
            self.id, "competency", title=self.title, description=self.description, code=self.code
        )
        if self.parent_id is not None:
            _check_id(self.parent_id, "parent_id", self.id)
        seen: set[str] = set()
        for prereq in self.prerequisites:
            _check_id(prereq.competency_id, "prerequisites", self.id)
            if prereq.competency_id in seen:
                raise ValidationError(
                    "prerequisites",
                    f"{prereq.competency_id!r} is listed twice",
                    location=f"competency {self.id!r}",
                )
            seen.add(prereq.competency_id)


@dataclass(frozen=True, slots=True)
class Item:
    """Something a learner does, aligned to one or more competencies (a Q-matrix row)."""

    id: str
    competency_ids: tuple[str, ...]
    title: str = ""
    difficulty: float | None = None

    def __post_init__(self) -> None:
        _check_id(self.id, "id", self.id, kind="item")
        _check_no_nul(self.id, "item", title=self.title)
        if not self.competency_ids:
            raise ValidationError(
                "competency_ids",
                "an item must align to at least one competency",
                location=f"item {self.id!r}",
            )
        if len(set(self.competency_ids)) != len(self.competency_ids):
            raise ValidationError(
                "competency_ids", "a competency is listed twice", location=f"item {self.id!r}"
            )
        if self.difficulty is not None and not math.isfinite(self.difficulty):
            raise ValidationError(
                "difficulty",
                f"must be a finite number, got {self.difficulty}",
                location=f"item {self.id!r}",
            )


def _check_id(value: str, field_name: str, owner: str, *, kind: str = "competency") -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(
            field_name, "must be a non-empty string", location=f"{kind} {owner!r}"
        )
    if value != value.strip():
        raise ValidationError(
            field_name, f"{value!r} has leading or trailing spaces", location=f"{kind} {owner!r}"
        )
    if any(ord(ch) < 0x20 or ch == "\x7f" for ch in value):
        raise ValidationError(
            field_name, f"{value!r} contains a control character", location=f"{kind} {owner!r}"
        )


def _check_no_nul(owner: str, kind: str, **texts: str | None) -> None:
    """Titles and descriptions may hold line breaks, but not NUL (PostgreSQL refuses it)."""
    for name, value in texts.items():
        if value is not None and "\x00" in value:
            raise ValidationError(
                name, "must not contain a NUL character", location=f"{kind} {owner!r}"
            )


@dataclass(frozen=True)
class Framework:
    """A validated set of competencies with a hierarchy and prerequisite edges."""

    id: str
    title: str
    competencies: tuple[Competency, ...]
    description: str = ""
    items: tuple[Item, ...] = ()
    _by_id: Mapping[str, Competency] = field(init=False, repr=False, compare=False)
    _dependents: Mapping[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)
    _children: Mapping[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)
    _order: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_id(self.id, "id", self.id, kind="framework")
        _check_no_nul(self.id, "framework", title=self.title, description=self.description)
        comps = self.competencies
        duplicates = [cid for cid, n in Counter(c.id for c in comps).items() if n > 1]
        if duplicates:
            raise DuplicateIdError(duplicates)
        by_id = {c.id: c for c in comps}
        unknown = [
            (c.id, "parent_id", c.parent_id)
            for c in comps
            if c.parent_id is not None and c.parent_id not in by_id
        ]
        unknown += [
            (c.id, "prerequisites", p.competency_id)
            for c in comps
            for p in c.prerequisites
            if p.competency_id not in by_id
        ]
        unknown += [
            (f"item {i.id}", "competency_ids", cid)
            for i in self.items
            for cid in i.competency_ids
            if cid not in by_id
        ]
        if unknown:
            raise UnknownReferenceError(unknown)
        item_dups = [iid for iid, n in Counter(i.id for i in self.items).items() if n > 1]
        if item_dups:
            raise ValidationError(
                "items",
                f"duplicate item id(s): {', '.join(item_dups)}",
                location=f"framework {self.id!r}",
            )
        loops = [c.id for c in comps if any(p.competency_id == c.id for p in c.prerequisites)]
        if loops:
            raise SelfLoopError(loops)
        parent_loops = [c.id for c in comps if c.parent_id == c.id]
        if parent_loops:
            raise CycleError([parent_loops[0], parent_loops[0]], relation="parent")
        position = {c.id: i for i, c in enumerate(comps)}
        order = _topological_order(
            {c.id: [p.competency_id for p in c.prerequisites] for c in comps},
            position,
            relation=Relation.PREREQUISITE,
        )
        _topological_order(
            {c.id: [c.parent_id] if c.parent_id else [] for c in comps},
            position,
            relation=Relation.PARENT,
        )
        dependents: dict[str, list[str]] = {c.id: [] for c in comps}
        children: dict[str, list[str]] = {c.id: [] for c in comps}
        for c in comps:
            for p in c.prerequisites:
                dependents[p.competency_id].append(c.id)
            if c.parent_id is not None:
                children[c.parent_id].append(c.id)
        object.__setattr__(self, "_by_id", by_id)
        object.__setattr__(self, "_dependents", {k: tuple(v) for k, v in dependents.items()})
        object.__setattr__(self, "_children", {k: tuple(v) for k, v in children.items()})
        object.__setattr__(self, "_order", order)

    # -- lookups -------------------------------------------------------------------------
    def __contains__(self, competency_id: object) -> bool:
        return competency_id in self._by_id

    def __len__(self) -> int:
        return len(self.competencies)

    def competency(self, competency_id: str) -> Competency:
        """Return the competency with this id (``KeyError`` naming it if unknown)."""
        try:
            return self._by_id[competency_id]
        except KeyError:
            raise KeyError(f"unknown competency {competency_id!r}") from None

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.competencies)

    def edges(self) -> tuple[tuple[str, str, UnlockStatus], ...]:
        """Every prerequisite edge as ``(prerequisite, dependent, requires)``."""
        return tuple(
            (p.competency_id, c.id, p.requires) for c in self.competencies for p in c.prerequisites
        )

    # -- graph queries -------------------------------------------------------------------
    def _out(self, relation: Relation) -> Mapping[str, tuple[str, ...]]:
        return self._dependents if relation is Relation.PREREQUISITE else self._children

    def _in(self, cid: str, relation: Relation) -> tuple[str, ...]:
        comp = self.competency(cid)
        if relation is Relation.PREREQUISITE:
            return tuple(p.competency_id for p in comp.prerequisites)
        return (comp.parent_id,) if comp.parent_id else ()

    def ancestors(
        self, competency_id: str, relation: Relation = Relation.PREREQUISITE
    ) -> frozenset[str]:
        """Everything reachable backwards: all transitive prerequisites (or parents)."""
        return self._reach(competency_id, lambda c: self._in(c, relation))

    def descendants(
        self, competency_id: str, relation: Relation = Relation.PREREQUISITE
    ) -> frozenset[str]:
        """Everything reachable forwards: all transitive dependents (or children)."""
        out = self._out(relation)
        return self._reach(competency_id, lambda c: out[c])

    def _reach(self, start: str, step: _Step) -> frozenset[str]:
        self.competency(start)
        seen: set[str] = set()
        queue = deque(step(start))
        while queue:
            cid = queue.popleft()
            if cid not in seen:
                seen.add(cid)
                queue.extend(step(cid))
        return frozenset(seen)

    def roots(self, relation: Relation = Relation.PREREQUISITE) -> tuple[str, ...]:
        """Competencies with no prerequisite (or, for ``PARENT``, no parent), in framework order."""
        return tuple(c.id for c in self.competencies if not self._in(c.id, relation))

    def topological_order(self) -> tuple[str, ...]:
        """Every competency after all of its prerequisites; ties keep framework order."""
        return self._order

    def prerequisite_closure(self, targets: Iterable[str]) -> tuple[str, ...]:
        """The targets and all their transitive prerequisites, in topological order."""
        wanted: set[str] = set()
        for target in targets:
            wanted.add(self.competency(target).id)
            wanted |= self.ancestors(target)
        return tuple(cid for cid in self._order if cid in wanted)


def _topological_order(
    predecessors: Mapping[str, list[str]], position: Mapping[str, int], *, relation: Relation
) -> tuple[str, ...]:
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter(predecessors)
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        cycle = list(exc.args[1])
        raise CycleError(_rotate_cycle(cycle, position), relation=relation.value) from None
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=position.__getitem__)
        order.extend(ready)
        sorter.done(*ready)
    return tuple(order)


def _rotate_cycle(cycle: list[str], position: Mapping[str, int]) -> list[str]:
    """Start a reported cycle at its earliest-defined member so messages are stable."""
    ring = cycle[:-1]
    start = min(range(len(ring)), key=lambda i: position[ring[i]])
    ring = ring[start:] + ring[:start]
    return [*ring, ring[0]]


def find_cycles(edges: Iterable[tuple[str, str]]) -> list[tuple[str, ...]]:
    """One cycle path per strongly connected component of a directed graph.

    Self-loops are included as ``(a, a)``. Paths start at their smallest id and are
    returned sorted, so reports are stable.

    >>> find_cycles([("a", "b"), ("b", "c"), ("c", "a"), ("c", "d"), ("d", "d")])
    [('a', 'b', 'c', 'a'), ('d', 'd')]
    """
    succ: dict[str, list[str]] = {}
    for a, b in edges:
        succ.setdefault(a, []).append(b)
        succ.setdefault(b, [])
    for targets in succ.values():
        targets.sort()
    cycles: list[tuple[str, ...]] = []
    for component in _strongly_connected(succ):
        if len(component) == 1:
            node = next(iter(component))
            if node in succ[node]:
                cycles.append((node, node))
            continue
        start = min(component)
        cycles.append(_cycle_through(start, component, succ))
    return sorted(cycles)


def _strongly_connected(succ: Mapping[str, list[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative (real graphs are deep enough to overflow recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[set[str]] = []
    counter = 0
    for root in sorted(succ):
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            targets = succ[node]
            if i < len(targets):
                work.append((node, i + 1))
                nxt = targets[i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                component: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return components


def _cycle_through(
    start: str, component: set[str], succ: Mapping[str, list[str]]
) -> tuple[str, ...]:
    """A shortest cycle from ``start`` back to itself inside one strongly connected component."""
    previous: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in succ[node]:
            if nxt not in component:
                continue
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return (start, *reversed(path[:-1]), start) if node != start else (start, start)
            if nxt not in previous:
                previous[nxt] = node
                queue.append(nxt)
    raise AssertionError("a strongly connected component always has a cycle")  # pragma: no cover
