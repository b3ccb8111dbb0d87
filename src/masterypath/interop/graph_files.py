"""Prerequisite graphs as GraphML or networkx node-link JSON.

Real graphs are messy. The Junyi Academy graph, for one, has node ids that are
comma-joined lists, self-loops and a longer cycle. The importer never repairs
anything silently: it reports every problem by name, and the user repairs them
with explicit options (:class:`GraphRepairs`); every repair applied is listed in
the import notes.

Edges are read as ``source -> target`` = "source is a prerequisite of target"
(``edge_direction="prerequisite-first"``); graphs drawn the other way round, like
DBE-KT22 (``Natural Join -> Join``), need ``edge_direction="dependent-first"``.
Problems and ``drop_edges`` always speak of edges as ``prerequisite -> dependent``.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Literal

from masterypath.domain.framework import Competency, Framework, Prerequisite, find_cycles
from masterypath.errors import InvalidInputError, Problem
from masterypath.interop import strict_json
from masterypath.interop.case import ImportResult

EdgeDirection = Literal["prerequisite-first", "dependent-first"]
_NS = "{http://graphml.graphdrawing.org/xmlns}"


@dataclass(frozen=True)
class GraphRepairs:
    """Explicit repairs a user asks for when importing a graph."""

    split_joined_ids: bool = False
    """Split node ids like ``"a,b"`` into ``a`` and ``b`` (edges apply to each part)."""
    drop_edges: frozenset[tuple[str, str]] = field(default_factory=frozenset)
    """Edges to drop, as ``(prerequisite, dependent)`` pairs after splitting."""
    edge_direction: EdgeDirection = "prerequisite-first"


@dataclass(frozen=True)
class _Node:
    id: str
    title: str
    description: str


def parse_edge(text: str) -> tuple[str, str]:
    """Parse ``"a->b"`` (spaces allowed) into ``("a", "b")``.

    >>> parse_edge("proportions_1 -> proportions_1")
    ('proportions_1', 'proportions_1')
    """
    prereq, sep, dependent = text.partition("->")
    if not sep or not prereq.strip() or not dependent.strip():
        raise InvalidInputError(
            "--drop-edge", [Problem(repr(text), "edge", "must look like 'prerequisite->dependent'")]
        )
    return prereq.strip(), dependent.strip()


def read_node_link(
    text: str, *, source: str, framework_id: str, title: str, repairs: GraphRepairs | None = None
) -> ImportResult:
    try:
        data = strict_json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(source, [Problem(f"line {exc.lineno}", "json", exc.msg)]) from None
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
        raise InvalidInputError(source, [Problem("document", "nodes", "missing or not a list")])
    raw_edges = data.get("links", data.get("edges", []))
    if not isinstance(raw_edges, list):
        raise InvalidInputError(source, [Problem("document", "links", "must be a list")])
    problems: list[Problem] = []
    nodes: list[_Node] = []
    for n, node in enumerate(data["nodes"]):
        if not isinstance(node, dict) or node.get("id") in (None, ""):
            problems.append(Problem(f"nodes[{n}]", "id", "missing"))
            continue
        nid = str(node["id"])
        nodes.append(_Node(nid, str(node.get("name") or nid), str(node.get("description") or "")))
    edges: list[tuple[str, str]] = []
    for n, edge in enumerate(raw_edges):
        if not isinstance(edge, dict) or "source" not in edge or "target" not in edge:
            problems.append(Problem(f"links[{n}]", "source/target", "missing"))
            continue
        edges.append((str(edge["source"]), str(edge["target"])))
    if problems:
        raise InvalidInputError(source, problems)
    return _to_framework(
        nodes,
        edges,
        source=source,
        framework_id=framework_id,
        title=title,
        repairs=repairs or GraphRepairs(),
    )


def read_graphml(
    text: str, *, source: str, framework_id: str, title: str, repairs: GraphRepairs | None = None
) -> ImportResult:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise InvalidInputError(
            source, [Problem(f"line {exc.position[0]}", "xml", str(exc))]
        ) from None
    keys = {k.get("id"): k.get("attr.name") for k in root.iter(f"{_NS}key")}
    graph = root.find(f"{_NS}graph")
    if graph is None:
        raise InvalidInputError(source, [Problem("document", "graph", "no <graph> element")])
    undirected = graph.get("edgedefault") == "undirected"
    if undirected:
        raise InvalidInputError(
            source, [Problem("graph", "edgedefault", "prerequisite graphs must be directed")]
        )
    problems: list[Problem] = []
    nodes: list[_Node] = []
    for n, node in enumerate(graph.iter(f"{_NS}node")):
        nid = node.get("id")
        if not nid:
            problems.append(Problem(f"node #{n + 1}", "id", "missing"))
            continue
        attrs = {keys.get(d.get("key")): (d.text or "") for d in node.iter(f"{_NS}data")}
        nodes.append(_Node(nid, attrs.get("name") or nid, attrs.get("description") or ""))
    edges: list[tuple[str, str]] = []
    for n, edge in enumerate(graph.iter(f"{_NS}edge")):
        src, tgt = edge.get("source"), edge.get("target")
        if not src or not tgt:
            problems.append(Problem(f"edge #{n + 1}", "source/target", "missing"))
            continue
        edges.append((src, tgt))
    if problems:
        raise InvalidInputError(source, problems)
    return _to_framework(
        nodes,
        edges,
        source=source,
        framework_id=framework_id,
        title=title,
        repairs=repairs or GraphRepairs(),
    )


def _to_framework(
    nodes: list[_Node],
    edges: list[tuple[str, str]],
    *,
    source: str,
    framework_id: str,
    title: str,
    repairs: GraphRepairs,
) -> ImportResult:
    problems: list[Problem] = []
    notes: list[str] = []
    by_id: dict[str, _Node] = {}
    for node in nodes:
        if node.id in by_id:
            problems.append(Problem(f"node {node.id!r}", "id", "duplicate node id"))
        by_id[node.id] = node
    for src, tgt in edges:
        for end in (src, tgt):
            if end not in by_id:
                problems.append(
                    Problem(f"edge {src!r} -> {tgt!r}", "node", f"unknown node {end!r}")
                )
    if problems:
        raise InvalidInputError(source, problems)

    # 1. comma-joined ids
    parts_of: dict[str, tuple[str, ...]] = {}
    for node in nodes:
        if "," in node.id:
            parts = tuple(dict.fromkeys(p.strip() for p in node.id.split(",") if p.strip()))
            if not repairs.split_joined_ids:
                problems.append(
                    Problem(
                        f"node {node.id!r}",
                        "id",
                        f"joins {len(parts)} ids ({', '.join(parts)}); pass --split-joined-ids "
                        "to split it into separate competencies",
                    )
                )
            parts_of[node.id] = parts
    if problems:
        raise InvalidInputError(source, problems)
    final: dict[str, _Node] = {}
    created: list[str] = []
    for node in nodes:
        if node.id not in parts_of:
            final.setdefault(node.id, node)
    for joined, parts in parts_of.items():
        new = [p for p in parts if p not in final]
        for part in new:
            final[part] = _Node(part, part, "")
        created += new
        notes.append(
            f"split joined id {joined!r} into {', '.join(map(repr, parts))}"
            + (f" (created {', '.join(map(repr, new))})" if new else "")
        )

    # 2. orient and de-duplicate edges
    oriented: dict[tuple[str, str], None] = {}
    for src, tgt in edges:
        for a in parts_of.get(src, (src,)):
            for b in parts_of.get(tgt, (tgt,)):
                pair = (a, b) if repairs.edge_direction == "prerequisite-first" else (b, a)
                oriented[pair] = None
    merged = len(edges) - len(oriented)
    if merged and parts_of:
        notes.append(f"{merged} edge(s) became duplicates after splitting and were merged")

    # 3. explicit drops
    for pair in sorted(repairs.drop_edges):
        if pair not in oriented:
            problems.append(
                Problem(
                    f"--drop-edge {pair[0]}->{pair[1]}",
                    "edge",
                    "no such edge (edges are named prerequisite->dependent)",
                )
            )
        else:
            del oriented[pair]
            notes.append(f"dropped edge {pair[0]!r} -> {pair[1]!r}")

    # 4. self-loops and cycles, all at once
    for cycle in find_cycles(oriented):
        if len(cycle) == 2:
            problems.append(
                Problem(
                    f"edge {cycle[0]!r} -> {cycle[0]!r}",
                    "edge",
                    f"self-loop; drop it with --drop-edge '{cycle[0]}->{cycle[0]}'",
                )
            )
        else:
            problems.append(
                Problem(
                    "graph",
                    "cycle",
                    f"{' -> '.join(cycle)}; drop one of its edges with --drop-edge 'a->b'",
                )
            )
    if problems:
        raise InvalidInputError(source, problems)

    prereqs: dict[str, list[Prerequisite]] = {nid: [] for nid in final}
    for a, b in oriented:
        prereqs[b].append(Prerequisite(a))
    competencies = tuple(
        Competency(
            id=n.id,
            title=n.title.strip() or n.id,
            description=n.description.strip(),
            prerequisites=tuple(prereqs[n.id]),
        )
        for n in final.values()
    )
    return ImportResult(
        Framework(id=framework_id, title=title, competencies=competencies), tuple(notes)
    )
