"""Hand-written framework formats (CSV and YAML), and format detection.

CSV: one competency per row; header ``id,title,description,parent,prerequisites,code``
(only ``id`` and ``title`` are required). ``prerequisites`` is a ``;``-separated list;
an entry ``id:proficient`` asks for proficiency instead of mastery::

    id,title,description,parent,prerequisites
    arith,Arithmetic,,,
    add,Addition,Add whole numbers,arith,
    mul,Multiplication,,arith,add
    div,Division,,arith,mul; add:proficient

YAML::

    id: arith
    title: Arithmetic
    competencies:
      - {id: add, title: Addition}
      - id: mul
        title: Multiplication
        prerequisites: [add]            # or [{id: add, requires: proficient}]
    items:                              # optional Q-matrix
      - {id: q1, competencies: [add, mul], title: "3 x (2 + 1)"}

>>> result = read_framework_csv("id,title,prerequisites\\na,A,\\nb,B,a:proficient\\n",
...                             source="f.csv", framework_id="f", title="F")
>>> result.framework.edges()
(('a', 'b', <UnlockStatus.PROFICIENT: 'proficient'>),)
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from typing import Any, Literal

import yaml

from masterypath.domain.framework import (
    Competency,
    Framework,
    Item,
    Prerequisite,
    UnlockStatus,
)
from masterypath.errors import InvalidInputError, MasterypathError, Problem
from masterypath.interop import strict_json
from masterypath.interop.case import ImportResult
from masterypath.interop.spreadsheet import from_spreadsheet, spreadsheet_safe
from masterypath.interop.text_files import MORE_CELLS

FrameworkFormat = Literal["case", "csv", "yaml", "graphml", "node-link"]
CSV_COLUMNS = ("id", "title", "description", "parent", "prerequisites", "code")


def detect_format(text: str) -> FrameworkFormat:
    """Guess a framework file's format from its content (not its name)."""
    head = text.lstrip()[:4096]
    if head.startswith("<"):
        if "<graphml" in head:
            return "graphml"
        raise InvalidInputError("input", [Problem("content", "format", "XML but not GraphML")])
    if head.startswith("{"):
        try:
            data = strict_json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(
                "input", [Problem(f"line {exc.lineno} column {exc.colno}", "json", exc.msg)]
            ) from None
        if isinstance(data, dict) and "CFDocument" in data:
            return "case"
        if isinstance(data, dict) and "nodes" in data:
            return "node-link"
        raise InvalidInputError(
            "input",
            [
                Problem(
                    "content",
                    "format",
                    "JSON but neither a CASE CFPackage (CFDocument) nor a node-link graph (nodes)",
                )
            ],
        )
    first_line = head.splitlines()[0] if head else ""
    if first_line.replace(" ", "").lower().startswith("id,") and "," in first_line:
        return "csv"
    if "competencies:" in head:
        return "yaml"
    raise InvalidInputError(
        "input", [Problem("content", "format", "cannot tell the format; pass --format")]
    )


def _parse_prerequisites(
    cell: str, where: str, problems: list[Problem]
) -> tuple[Prerequisite, ...]:
    prereqs = []
    for raw in cell.split(";"):
        entry = raw.strip()
        if not entry:
            continue
        cid, _, status = entry.partition(":")
        status = status.strip() or UnlockStatus.MASTERED.value
        if status not in {s.value for s in UnlockStatus}:
            problems.append(
                Problem(where, "prerequisites", f"{entry!r}: status must be proficient or mastered")
            )
            continue
        prereqs.append(Prerequisite(cid.strip(), UnlockStatus(status)))
    return tuple(prereqs)


def _build(framework_args: Mapping[str, Any], source: str) -> ImportResult:
    try:
        return ImportResult(Framework(**framework_args))
    except MasterypathError:
        raise
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(source, [Problem("framework", "(structure)", str(exc))]) from None


def read_framework_csv(text: str, *, source: str, framework_id: str, title: str) -> ImportResult:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
        rows = list(reader)
    except csv.Error as exc:
        problem = Problem(f"line {reader.line_num}", "(row)", f"not valid CSV: {exc}")
        raise InvalidInputError(source, [problem]) from None
    missing = [c for c in ("id", "title") if c not in header]
    unknown = [c for c in header if c not in CSV_COLUMNS]
    if missing or unknown:
        reason = []
        if missing:
            reason.append(f"missing column(s) {', '.join(missing)}")
        if unknown:
            reason.append(f"unknown column(s) {', '.join(unknown)}")
        raise InvalidInputError(
            source,
            [
                Problem(
                    "line 1", "header", "; ".join(reason) + f" (allowed: {', '.join(CSV_COLUMNS)})"
                )
            ],
        )
    problems: list[Problem] = []
    competencies: list[Competency] = []
    for line, row in enumerate(rows, start=2):
        where = f"line {line}"
        clean = {
            (k or "").strip(): from_spreadsheet((v or "").strip())
            for k, v in row.items()
            if k is not None
        }
        if None in row:
            problems.append(Problem(where, "(row)", MORE_CELLS))
            continue
        try:
            competencies.append(
                Competency(
                    id=clean.get("id", ""),
                    title=clean.get("title", ""),
                    description=clean.get("description", ""),
                    parent_id=clean.get("parent") or None,
                    prerequisites=_parse_prerequisites(
                        clean.get("prerequisites", ""), where, problems
                    ),
                    code=clean.get("code") or None,
                )
            )
        except MasterypathError as exc:
            problems.append(
                Problem(where, getattr(exc, "field", "(row)"), getattr(exc, "reason", str(exc)))
            )
    if problems:
        raise InvalidInputError(source, problems)
    return _build({"id": framework_id, "title": title, "competencies": tuple(competencies)}, source)


def read_framework_yaml(text: str, *, source: str, framework_id: str | None = None) -> ImportResult:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "document"
        raise InvalidInputError(
            source, [Problem(where, "yaml", str(exc).splitlines()[0])]
        ) from None
    if not isinstance(data, dict):
        raise InvalidInputError(source, [Problem("document", "(root)", "must be a mapping")])
    problems: list[Problem] = []
    for key in ("id", "title"):
        if not isinstance(data.get(key), str) and not (key == "id" and framework_id):
            problems.append(Problem("document", key, "missing or not a string"))
    raw_comps = data.get("competencies")
    if not isinstance(raw_comps, list) or not raw_comps:
        problems.append(Problem("document", "competencies", "must be a non-empty list"))
        raw_comps = []
    competencies: list[Competency] = []
    for n, raw in enumerate(raw_comps):
        where = f"competencies[{n}]"
        if not isinstance(raw, dict):
            problems.append(Problem(where, "(entry)", "must be a mapping"))
            continue
        extra = set(raw) - {"id", "title", "description", "parent", "prerequisites", "code"}
        if extra:
            problems.append(Problem(where, ", ".join(sorted(extra)), "unknown field(s)"))
            continue
        prereqs: list[Prerequisite] = []
        for p in raw.get("prerequisites") or []:
            if isinstance(p, str):
                prereqs.append(Prerequisite(p))
            elif isinstance(p, dict) and isinstance(p.get("id"), str):
                status = p.get("requires", UnlockStatus.MASTERED.value)
                if status not in {s.value for s in UnlockStatus}:
                    problems.append(
                        Problem(
                            where,
                            "prerequisites",
                            f"requires must be proficient or mastered, got {status!r}",
                        )
                    )
                    continue
                prereqs.append(Prerequisite(p["id"], UnlockStatus(status)))
            else:
                problems.append(Problem(where, "prerequisites", f"bad entry {p!r}"))
        try:
            competencies.append(
                Competency(
                    id=str(raw.get("id", "")),
                    title=str(raw.get("title", "")),
                    description=str(raw.get("description") or ""),
                    parent_id=raw.get("parent"),
                    prerequisites=tuple(prereqs),
                    code=raw.get("code"),
                )
            )
        except MasterypathError as exc:
            problems.append(
                Problem(where, getattr(exc, "field", "(entry)"), getattr(exc, "reason", str(exc)))
            )
    items: list[Item] = []
    for n, raw in enumerate(data.get("items") or []):
        where = f"items[{n}]"
        if not isinstance(raw, dict) or not isinstance(raw.get("competencies"), list):
            problems.append(Problem(where, "competencies", "must be a list of competency ids"))
            continue
        try:
            difficulty = raw.get("difficulty")
            items.append(
                Item(
                    id=str(raw.get("id", "")),
                    competency_ids=tuple(str(c) for c in raw["competencies"]),
                    title=str(raw.get("title") or ""),
                    difficulty=None if difficulty is None else float(difficulty),
                )
            )
        except (MasterypathError, ValueError) as exc:
            problems.append(
                Problem(where, getattr(exc, "field", "(entry)"), getattr(exc, "reason", str(exc)))
            )
    if problems:
        raise InvalidInputError(source, problems)
    return _build(
        {
            "id": framework_id or data["id"],
            "title": data["title"],
            "description": str(data.get("description") or ""),
            "competencies": tuple(competencies),
            "items": tuple(items),
        },
        source,
    )


def write_framework_csv(framework: Framework) -> str:
    """The framework as the CSV a teacher edits in a spreadsheet (a cell that would run
    as a formula is quoted, and read back without the quote: see
    :mod:`~masterypath.interop.spreadsheet`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for c in framework.competencies:
        prereqs = "; ".join(
            p.competency_id
            if p.requires is UnlockStatus.MASTERED
            else f"{p.competency_id}:{p.requires.value}"
            for p in c.prerequisites
        )
        cells = [c.id, c.title, c.description, c.parent_id or "", prereqs, c.code or ""]
        writer.writerow(map(spreadsheet_safe, cells))
    return out.getvalue()


def write_framework_yaml(framework: Framework) -> str:
    def competency(c: Competency) -> dict[str, Any]:
        entry: dict[str, Any] = {"id": c.id, "title": c.title}
        if c.description:
            entry["description"] = c.description
        if c.parent_id:
            entry["parent"] = c.parent_id
        if c.code:
            entry["code"] = c.code
        if c.prerequisites:
            entry["prerequisites"] = [
                p.competency_id
                if p.requires is UnlockStatus.MASTERED
                else {"id": p.competency_id, "requires": p.requires.value}
                for p in c.prerequisites
            ]
        return entry

    data: dict[str, Any] = {"id": framework.id, "title": framework.title}
    if framework.description:
        data["description"] = framework.description
    data["competencies"] = [competency(c) for c in framework.competencies]
    if framework.items:
        data["items"] = [
            {
                "id": i.id,
                "competencies": list(i.competency_ids),
                **({"title": i.title} if i.title else {}),
                **({"difficulty": i.difficulty} if i.difficulty is not None else {}),
            }
            for i in framework.items
        ]
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def framework_to_dict(framework: Framework) -> dict[str, Any]:
    """The JSON view of a framework shared by ``show-framework --json`` and the API."""
    return {
        "id": framework.id,
        "title": framework.title,
        "description": framework.description,
        "competencies": [
            {
                "id": c.id,
                "title": c.title,
                "description": c.description,
                "parent_id": c.parent_id,
                "code": c.code,
                "prerequisites": [
                    {"id": p.competency_id, "requires": p.requires.value} for p in c.prerequisites
                ],
            }
            for c in framework.competencies
        ],
        "items": [
            {
                "id": i.id,
                "competency_ids": list(i.competency_ids),
                "title": i.title,
                "difficulty": i.difficulty,
            }
            for i in framework.items
        ],
        "topological_order": list(framework.topological_order()),
    }
