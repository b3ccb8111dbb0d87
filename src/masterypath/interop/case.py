"""1EdTech CASE 1.1 JSON: import and export a ``CFPackage``.

Mapping (documented in the README):

- ``CFDocument`` -> the framework (``identifier`` is its id unless overridden).
- ``CFItems`` -> competencies; ``abbreviatedStatement`` (or ``fullStatement``) is the title,
  ``fullStatement`` the description when both exist; ``humanCodingScheme`` is the code.
- ``isChildOf`` (origin = child, destination = parent) -> the hierarchy; a destination that
  is the document itself means "top level".
- ``precedes`` (origin precedes destination) -> origin is a prerequisite of destination.
- Other association types are counted in the import notes and otherwise ignored.

CASE identifiers must be UUIDs. On export a non-UUID id gets a stable UUID5 and the
masterypath id travels in ``extensions.masterypath.id`` (with an edge's unlock status),
so import -> export -> import gives the same framework.

>>> from masterypath.domain.framework import Competency, Framework, Prerequisite
>>> fw = Framework(id="arith", title="Arithmetic", competencies=(
...     Competency(id="add", title="Add"),
...     Competency(id="mul", title="Multiply", prerequisites=(Prerequisite("add"),)),
... ))
>>> package = export_case(fw, last_change="2026-01-01T00:00:00+00:00")
>>> [a["associationType"] for a in package["CFAssociations"]]
['isChildOf', 'isChildOf', 'precedes']
>>> import_case(package, source="doc").framework == fw
True
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from masterypath.domain.framework import (
    Competency,
    Framework,
    Prerequisite,
    UnlockStatus,
)
from masterypath.errors import InvalidInputError, Problem

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://masterypath.invalid/case")
EXTENSION = "masterypath"

IdField = Literal["identifier", "humanCodingScheme"]


@dataclass(frozen=True)
class ImportResult:
    """A framework read from a file, and notes on everything the importer did or ignored."""

    framework: Framework
    notes: tuple[str, ...] = field(default=())


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def case_identifier(framework_id: str, competency_id: str | None = None) -> str:
    """The CASE identifier for a framework or competency id (itself if already a UUID)."""
    own = competency_id if competency_id is not None else framework_id
    if is_uuid(own):
        return own
    name = framework_id if competency_id is None else f"{framework_id}/{competency_id}"
    return str(uuid.uuid5(NAMESPACE, name))


def import_case(
    package: Any,
    *,
    source: str,
    id_field: IdField = "identifier",
    framework_id: str | None = None,
) -> ImportResult:
    """Build a framework from a parsed CFPackage; every problem is reported at once."""
    problems: list[Problem] = []

    def bad(location: str, field_name: str, reason: str) -> None:
        problems.append(Problem(location, field_name, reason))

    if not isinstance(package, Mapping):
        raise InvalidInputError(source, [Problem("package", "(root)", "must be a JSON object")])
    doc = package.get("CFDocument")
    items = package.get("CFItems", [])
    associations = package.get("CFAssociations", [])
    if not isinstance(doc, Mapping):
        bad("package", "CFDocument", "missing or not an object")
        doc = {}
    if not isinstance(items, list):
        bad("package", "CFItems", "must be a list")
        items = []
    if not isinstance(associations, list):
        bad("package", "CFAssociations", "must be a list")
        associations = []
    doc_identifier = _text(doc.get("identifier"))
    if doc and not doc_identifier:
        bad("CFDocument", "identifier", "missing")
    if doc and not _text(doc.get("title")):
        bad("CFDocument", "title", "missing")

    ids: dict[str, str] = {}  # CASE identifier -> competency id
    drafts: dict[str, dict[str, Any]] = {}
    for n, item in enumerate(items):
        where = f"CFItems[{n}]"
        if not isinstance(item, Mapping):
            bad(where, "(item)", "must be an object")
            continue
        identifier = _text(item.get("identifier"))
        statement = _text(item.get("fullStatement"))
        if not identifier:
            bad(where, "identifier", "missing")
            continue
        if not statement:
            bad(where, "fullStatement", "missing")
        ext = _extension(item)
        cid = _text(ext.get("id")) or (
            _text(item.get("humanCodingScheme")) if id_field == "humanCodingScheme" else identifier
        )
        if not cid:
            bad(where, id_field, "missing (needed as the competency id)")
            continue
        if identifier in ids:
            bad(where, "identifier", f"duplicate {identifier!r}")
            continue
        ids[identifier] = cid
        short = _text(item.get("abbreviatedStatement"))
        drafts[cid] = {
            "id": cid,
            "title": short or statement or cid,
            "description": statement if short else (_text(item.get("notes")) or ""),
            "code": _text(item.get("humanCodingScheme")) or None,
            "parent_id": None,
            "prerequisites": [],
        }

    notes: list[str] = []
    ignored: dict[str, int] = {}
    for n, assoc in enumerate(associations):
        where = f"CFAssociations[{n}]"
        if not isinstance(assoc, Mapping):
            bad(where, "(association)", "must be an object")
            continue
        kind = assoc.get("associationType")
        if kind not in ("isChildOf", "precedes"):
            ignored[str(kind)] = ignored.get(str(kind), 0) + 1
            continue
        origin = _node_identifier(assoc.get("originNodeURI"))
        dest = _node_identifier(assoc.get("destinationNodeURI"))
        if origin not in ids:
            bad(where, "originNodeURI", f"unknown CFItem {origin!r}")
            continue
        if kind == "isChildOf":
            if dest == doc_identifier:
                continue
            if dest not in ids:
                bad(where, "destinationNodeURI", f"unknown CFItem {dest!r}")
                continue
            child = drafts[ids[origin]]
            if child["parent_id"] not in (None, ids[dest]):
                notes.append(
                    f"{ids[origin]!r} has more than one parent; kept {child['parent_id']!r}, "
                    f"ignored {ids[dest]!r}"
                )
                continue
            child["parent_id"] = ids[dest]
        else:
            if dest not in ids:
                bad(where, "destinationNodeURI", f"unknown CFItem {dest!r}")
                continue
            requires = _extension(assoc).get("requires", UnlockStatus.MASTERED.value)
            if requires not in {s.value for s in UnlockStatus}:
                bad(where, "extensions.masterypath.requires", f"unknown status {requires!r}")
                continue
            drafts[ids[dest]]["prerequisites"].append(
                Prerequisite(ids[origin], UnlockStatus(requires))
            )
    if problems:
        raise InvalidInputError(source, problems)
    for kind_name, count in sorted(ignored.items()):
        notes.append(f"ignored {count} association(s) of type {kind_name!r}")

    ext_doc = _extension(doc)
    framework = Framework(
        id=framework_id or _text(ext_doc.get("id")) or doc_identifier,
        title=_text(doc.get("title")),
        description=_text(doc.get("description")) or "",
        competencies=tuple(
            Competency(**{**d, "prerequisites": tuple(d["prerequisites"])}) for d in drafts.values()
        ),
    )
    return ImportResult(framework, tuple(notes))


def export_case(framework: Framework, *, last_change: str) -> dict[str, Any]:
    """Write a framework as a CASE 1.1 CFPackage (JSON-ready dict).

    ``last_change`` is the ISO 8601 ``lastChangeDateTime`` to stamp (passed in, so
    exports are reproducible).
    """
    doc_id = case_identifier(framework.id)

    def link(identifier: str, title: str) -> dict[str, str]:
        return {"title": title, "identifier": identifier, "uri": f"urn:uuid:{identifier}"}

    doc_link = link(doc_id, framework.title)
    document: dict[str, Any] = {
        "identifier": doc_id,
        "uri": f"urn:uuid:{doc_id}",
        "creator": "masterypath",
        "title": framework.title,
        "lastChangeDateTime": last_change,
        "CFPackageURI": doc_link,
        "extensions": {EXTENSION: {"id": framework.id}},
    }
    if framework.description:
        document["description"] = framework.description
    items: list[dict[str, Any]] = []
    item_links: dict[str, dict[str, str]] = {}
    for comp in framework.competencies:
        identifier = case_identifier(framework.id, comp.id)
        item: dict[str, Any] = {
            "identifier": identifier,
            "uri": f"urn:uuid:{identifier}",
            "CFDocumentURI": doc_link,
            "lastChangeDateTime": last_change,
            "extensions": {EXTENSION: {"id": comp.id}},
        }
        if comp.description:
            item["fullStatement"] = comp.description
            item["abbreviatedStatement"] = comp.title
        else:
            item["fullStatement"] = comp.title
        if comp.code:
            item["humanCodingScheme"] = comp.code
        items.append(item)
        item_links[comp.id] = link(identifier, comp.title)
    associations: list[dict[str, Any]] = []

    def associate(
        kind: str,
        origin: dict[str, str],
        dest: dict[str, str],
        seq: int,
        extra: dict[str, Any] | None = None,
    ) -> None:
        identifier = str(
            uuid.uuid5(NAMESPACE, f"{kind}:{origin['identifier']}:{dest['identifier']}")
        )
        assoc: dict[str, Any] = {
            "identifier": identifier,
            "uri": f"urn:uuid:{identifier}",
            "CFDocumentURI": doc_link,
            "associationType": kind,
            "sequenceNumber": seq,
            "originNodeURI": origin,
            "destinationNodeURI": dest,
            "lastChangeDateTime": last_change,
        }
        if extra:
            assoc["extensions"] = {EXTENSION: extra}
        associations.append(assoc)

    for seq, comp in enumerate(framework.competencies, start=1):
        parent = item_links[comp.parent_id] if comp.parent_id else doc_link
        associate("isChildOf", item_links[comp.id], parent, seq)
    for seq, (prereq, dependent, requires) in enumerate(framework.edges(), start=1):
        associate(
            "precedes", item_links[prereq], item_links[dependent], seq, {"requires": requires.value}
        )
    return {"CFDocument": document, "CFItems": items, "CFAssociations": associations}


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _node_identifier(node: object) -> str:
    if isinstance(node, Mapping):
        return _text(node.get("identifier"))
    return ""


def _extension(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    ext = obj.get("extensions")
    if isinstance(ext, Mapping) and isinstance(ext.get(EXTENSION), Mapping):
        return ext[EXTENSION]  # type: ignore[no-any-return]
    return {}
