"""Load a framework file of any supported format (detected from content)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from masterypath.errors import InvalidInputError, Problem
from masterypath.interop import strict_json
from masterypath.interop.case import IdField, ImportResult, import_case
from masterypath.interop.evidence_log import read_text
from masterypath.interop.framework_files import (
    FrameworkFormat,
    detect_format,
    read_framework_csv,
    read_framework_yaml,
)
from masterypath.interop.graph_files import GraphRepairs, read_graphml, read_node_link


@dataclass(frozen=True)
class LoadOptions:
    format: FrameworkFormat | None = None
    framework_id: str | None = None
    title: str | None = None
    case_id_field: IdField = "identifier"
    repairs: GraphRepairs = field(default_factory=GraphRepairs)


def default_id(path: Path) -> str:
    """A framework id from a file name: ``Junyi-Prerequisites.json.gz`` -> ``junyi-prerequisites``.

    >>> default_id(Path("data/Junyi-Prerequisites.json.gz"))
    'junyi-prerequisites'
    """
    stem = path.name.split(".")[0]
    return re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-") or "framework"


def load_framework_file(path: Path, options: LoadOptions | None = None) -> ImportResult:
    options = options or LoadOptions()
    source = str(path)
    if not path.is_file():
        raise InvalidInputError(source, [Problem(source, "FILE", "no such file")])
    text = read_text(path)
    try:
        fmt = options.format or detect_format(text)
    except InvalidInputError as exc:
        raise InvalidInputError(source, exc.problems) from None
    fid = options.framework_id or default_id(path)
    title = options.title or path.name.split(".")[0]
    if fmt == "case":
        try:
            package = strict_json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(
                source, [Problem(f"line {exc.lineno}", "json", exc.msg)]
            ) from None
        return import_case(
            package,
            source=source,
            id_field=options.case_id_field,
            framework_id=options.framework_id,
        )
    if fmt == "csv":
        return read_framework_csv(text, source=source, framework_id=fid, title=title)
    if fmt == "yaml":
        return read_framework_yaml(text, source=source, framework_id=options.framework_id)
    if fmt == "graphml":
        return read_graphml(
            text, source=source, framework_id=fid, title=title, repairs=options.repairs
        )
    return read_node_link(
        text, source=source, framework_id=fid, title=title, repairs=options.repairs
    )
