"""Read career taxonomies: ESCO's CSV release (as TSV files) and a generic CSV format.

**ESCO** (:func:`read_esco`): a folder with ``occupations.tsv[.gz]``,
``skills.tsv[.gz]`` and ``occupation_skill.tsv[.gz]`` (tab-separated, header row,
``\\`` escapes, multi-value fields joined with ``|``), as in
``../shared/data/careers/esco-v1.1.1``. Relations to occupations that are not in the
released occupation list are skipped and counted.

**Generic CSV** (:func:`read_generic_csv`), for O*NET, a national framework or an
employer's own list; one row per (occupation, skill)::

    occupation,skill,importance[,occupation_id,skill_id,occupation_description,skill_description]
    data analyst,SQL,essential
    data analyst,data visualisation,0.4

``importance`` is ``essential``, ``optional`` or a number in [0, 1]; numbers at or
above ``essential_at`` (0.5) count as essential (rescale O*NET's 1-5 importance
as ``(I - 1) / 4``). Without id columns, ids are the labels in lower case. The
first row that repeats an (occupation, skill) pair, a missing label or a bad
importance is reported with its line and field, and nothing is read.

>>> import io
>>> tax = read_generic_csv(io.StringIO(
...     "occupation,skill,importance\\nanalyst,SQL,essential\\nanalyst,charts,0.3\\n"
... ), taxonomy_id="mine")
>>> [(r.skill_id, r.essential) for r in tax.requirements]
[('sql', True), ('charts', False)]
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pandas as pd

from masterypath.domain.careers import (
    CareerSkill,
    Occupation,
    Requirement,
    SkillGroup,
    Taxonomy,
)
from masterypath.errors import InvalidInputError, Problem, ValidationError
from masterypath.interop.text_files import MORE_CELLS, read_utf8

ESCO_FILES = ("occupations", "skills", "occupation_skill")
GENERIC_REQUIRED = ("occupation", "skill", "importance")
GENERIC_OPTIONAL = ("occupation_id", "skill_id", "occupation_description", "skill_description")


@dataclass(frozen=True)
class TaxonomyRead:
    taxonomy: Taxonomy
    skipped: int = 0
    """Relations left out because they point to an occupation or skill not in the files."""


def _esco_file(folder: Path, name: str) -> Path:
    for candidate in (folder / f"{name}.tsv.gz", folder / f"{name}.tsv"):
        if candidate.exists():
            return candidate
    raise InvalidInputError(
        str(folder), [Problem(str(folder), name, f"no {name}.tsv or {name}.tsv.gz here")]
    )


def _read_tsv(path: Path) -> pd.DataFrame:
    return pd.read_csv(
        path, sep="\t", quoting=csv.QUOTE_NONE, escapechar="\\", dtype=str, keep_default_na=False
    )


def _records(df: pd.DataFrame) -> list[dict[str, str]]:
    return [{str(k): str(v) for k, v in row.items()} for row in df.to_dict("records")]


def _labels(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split("|") if v.strip())


def read_esco(folder: Path, *, taxonomy_id: str = "esco", title: str = "") -> TaxonomyRead:
    """Read an ESCO release; see the module docstring for the files it needs."""
    occupations_df, skills_df, links_df = (_read_tsv(_esco_file(folder, n)) for n in ESCO_FILES)
    for name, df, columns in (
        ("occupations", occupations_df, ("occupation_id", "label", "description")),
        ("skills", skills_df, ("skill_id", "label", "description")),
        ("occupation_skill", links_df, ("occupation_id", "skill_id", "relation")),
    ):
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise InvalidInputError(
                name, [Problem(name, c, "column missing from the header") for c in missing]
            )
    occupations = tuple(
        Occupation(
            id=row["occupation_id"],
            label=row["label"],
            description=row["description"],
            code=row.get("esco_code") or None,
            alt_labels=_labels(row.get("alt_labels", "")),
        )
        for row in _records(occupations_df)
    )
    groups, broader = _esco_hierarchy(folder, set(skills_df["skill_id"]))
    skills = tuple(
        CareerSkill(
            id=row["skill_id"],
            label=row["label"],
            description=row["description"],
            alt_labels=_labels(row.get("alt_labels", "")),
            kind=row.get("skill_type", ""),
            broader=tuple(broader.get(row["skill_id"], ())),
        )
        for row in _records(skills_df)
    )
    known_occupations = {o.id for o in occupations}
    known_skills = {s.id for s in skills}
    requirements: list[Requirement] = []
    skipped = 0
    problems: list[Problem] = []
    for line, (occupation_id, skill_id, relation) in enumerate(
        zip(links_df.occupation_id, links_df.skill_id, links_df.relation, strict=True), start=2
    ):
        if occupation_id not in known_occupations or skill_id not in known_skills:
            skipped += 1
            continue
        if relation not in ("essential", "optional"):
            problems.append(
                Problem(
                    f"occupation_skill line {line}",
                    "relation",
                    f"{relation!r} is not essential or optional",
                )
            )
            continue
        requirements.append(Requirement(occupation_id, skill_id, essential=relation == "essential"))
    if problems:
        raise InvalidInputError(str(folder), problems)
    taxonomy = Taxonomy(
        id=taxonomy_id,
        title=title or f"ESCO ({folder.name})",
        occupations=occupations,
        skills=skills,
        requirements=tuple(requirements),
        source="esco",
        groups=groups,
    )
    return TaxonomyRead(taxonomy=taxonomy, skipped=skipped)


def _esco_hierarchy(
    folder: Path, skill_ids: set[str]
) -> tuple[tuple[SkillGroup, ...], dict[str, list[str]]]:
    """Skill groups and each concept's broader concepts, from ``skill_groups`` and
    ``skill_broader`` when present (links to unknown concepts are left out)."""
    names = [n for n in ("skill_groups", "skill_broader") if any(folder.glob(f"{n}.tsv*"))]
    if len(names) < 2:
        return (), {}
    groups_df = _read_tsv(_esco_file(folder, "skill_groups"))
    links_df = _read_tsv(_esco_file(folder, "skill_broader"))
    known = skill_ids | set(groups_df["group_id"])
    broader: dict[str, list[str]] = {}
    for concept, up in zip(links_df["concept_id"], links_df["broader_id"], strict=True):
        if concept in known and up in known and concept != up:
            broader.setdefault(concept, []).append(up)
    groups = tuple(
        SkillGroup(
            id=row["group_id"],
            label=row["label"],
            code=row.get("code", ""),
            broader=tuple(broader.get(row["group_id"], ())),
        )
        for row in _records(groups_df)
    )
    return groups, broader


def read_generic_csv(
    source: Path | IO[str],
    *,
    taxonomy_id: str,
    title: str = "",
    essential_at: float = 0.5,
) -> Taxonomy:
    """Read the generic (occupation, skill, importance) CSV; see the module docstring."""
    if not 0.0 <= essential_at <= 1.0:  # also refuses NaN
        raise ValidationError("essential_at", f"must be in [0, 1], got {essential_at}")
    name = str(source) if isinstance(source, Path) else "CSV"
    if isinstance(source, Path):
        text = io.StringIO(read_utf8(source), newline="")
        return _generic_rows(csv.DictReader(text), name, taxonomy_id, title, essential_at)
    return _generic_rows(csv.DictReader(source), name, taxonomy_id, title, essential_at)


def _generic_rows(
    reader: csv.DictReader[str], name: str, taxonomy_id: str, title: str, essential_at: float
) -> Taxonomy:
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
        rows = list(_stripped(reader))
    except csv.Error as exc:
        where = f"{name} line {reader.line_num}"
        raise InvalidInputError(name, [Problem(where, "(row)", f"not valid CSV: {exc}")]) from None
    missing = [c for c in GENERIC_REQUIRED if c not in header]
    if missing:
        raise InvalidInputError(
            name, [Problem(f"{name} header", c, "required column is missing") for c in missing]
        )
    occupations: dict[str, Occupation] = {}
    skills: dict[str, CareerSkill] = {}
    requirements: dict[tuple[str, str], Requirement] = {}
    problems: list[Problem] = []
    for line, (raw, extra) in enumerate(rows, start=2):
        where = f"{name} line {line}"
        if extra:
            problems.append(Problem(where, "(row)", MORE_CELLS))
            continue
        nul = [column for column, value in raw.items() if "\x00" in value]
        if nul:
            problems += [Problem(where, column, "contains a NUL character") for column in nul]
            continue
        occupation, skill = raw.get("occupation", ""), raw.get("skill", "")
        if not occupation:
            problems.append(Problem(where, "occupation", "empty"))
        if not skill:
            problems.append(Problem(where, "skill", "empty"))
        essential = _essential(raw.get("importance", ""), essential_at)
        if isinstance(essential, str):
            problems.append(Problem(where, "importance", essential))
        if not occupation or not skill or isinstance(essential, str):
            continue
        oid = raw.get("occupation_id") or occupation.lower()
        sid = raw.get("skill_id") or skill.lower()
        occupations.setdefault(
            oid,
            Occupation(id=oid, label=occupation, description=raw.get("occupation_description", "")),
        )
        skills.setdefault(
            sid, CareerSkill(id=sid, label=skill, description=raw.get("skill_description", ""))
        )
        if (oid, sid) in requirements:
            problems.append(
                Problem(where, "skill", f"{skill!r} is listed twice for {occupation!r}")
            )
            continue
        requirements[(oid, sid)] = Requirement(
            oid, sid, essential=essential[0], importance=essential[1]
        )
    if problems:
        raise InvalidInputError(name, problems)
    if not requirements:
        raise InvalidInputError(name, [Problem(name, "rows", "no (occupation, skill) rows")])
    return Taxonomy(
        id=taxonomy_id,
        title=title or taxonomy_id,
        occupations=tuple(occupations.values()),
        skills=tuple(skills.values()),
        requirements=tuple(requirements.values()),
        source="csv",
    )


def _stripped(
    rows: Iterable[dict[str | None, str | list[str] | None]],
) -> Iterable[tuple[dict[str, str], bool]]:
    """Each row's cells, stripped, and whether it had cells beyond the header (which
    ``csv.DictReader`` keeps as a list under the key None)."""
    for row in rows:
        extra = row.pop(None, None) is not None
        yield {(k or "").strip(): str(v or "").strip() for k, v in row.items()}, extra


def _essential(value: str, essential_at: float) -> tuple[bool, float | None] | str:
    """(essential, importance) or the reason the value is not an importance."""
    lowered = value.lower()
    if lowered in ("essential", "optional"):
        return lowered == "essential", None
    try:
        number = float(value)
    except ValueError:
        return f"{value!r} is not essential, optional or a number in [0, 1]"
    if not 0.0 <= number <= 1.0:
        return f"{number} is outside [0, 1]"
    return number >= essential_at, number
