"""1EdTech CASE 1.1 rubrics: import and export ``CFRubric`` objects.

Mapping (documented in the README):

- ``CFRubric`` -> the rubric (``title``; ``description`` is not used by masterypath).
- ``CFRubricCriteria`` -> criteria, in ``position`` order; ``category`` is the title;
  ``CFItemURI`` names the competency the criterion assesses (its ``identifier``, the id a
  framework imported from CASE gives that competency).
- ``CFRubricCriterionLevels`` -> levels, lowest ``score`` first; ``quality`` is the label,
  ``description`` the descriptor, ``score`` the points.

CASE has no place for reference answers and exemplars, nor for ids that are not UUIDs:
those travel in ``extensions.masterypath`` (as in :mod:`masterypath.interop.case`), so
export -> import gives the same rubric. A CASE rubric from elsewhere imports without them:
ids come from the text (``category``/``quality``), else from the position.

>>> from masterypath.domain.rubric import Criterion, Level, Rubric
>>> rubric = Rubric(id="essay", title="Essay", criteria=(Criterion(id="thesis",
...     title="Thesis", competency_ids=("argue",), levels=(
...         Level("none", "None", 0, "No thesis."), Level("clear", "Clear", 2, "A clear claim."),
...     )),))
>>> cf = export_case_rubric(rubric, last_change="2026-01-01T00:00:00+00:00", framework_id="w")
>>> [lv["quality"] for lv in cf["CFRubricCriteria"][0]["CFRubricCriterionLevels"]]
['None', 'Clear']
>>> import_case_rubrics(cf, source="cf.json") == [rubric]
True
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from masterypath.domain.rubric import Criterion, Exemplar, Level, Rubric
from masterypath.errors import InvalidInputError, Problem, ValidationError
from masterypath.interop.case import EXTENSION, NAMESPACE, case_identifier, is_uuid


def _uuid(kind: str, *parts: str) -> str:
    own = parts[-1]
    return own if is_uuid(own) else str(uuid.uuid5(NAMESPACE, ":".join((kind, *parts))))


def export_case_rubric(
    rubric: Rubric, *, last_change: str, framework_id: str | None = None
) -> dict[str, Any]:
    """One ``CFRubric``. With ``framework_id``, each criterion's first competency becomes
    its ``CFItemURI`` (the identifier the framework's own CASE export gives it)."""
    rubric_uuid = _uuid("rubric", rubric.id)
    criteria = []
    for position, criterion in enumerate(rubric.criteria, start=1):
        criterion_uuid = _uuid("criterion", rubric.id, criterion.id)
        levels = []
        for rank, level in enumerate(criterion.levels, start=1):
            level_uuid = _uuid("level", rubric.id, criterion.id, level.id)
            levels.append(
                {
                    "identifier": level_uuid,
                    "uri": f"urn:uuid:{level_uuid}",
                    "description": level.descriptor,
                    "quality": level.label,
                    "score": level.points,
                    "position": rank,
                    "rubricCriterionId": criterion_uuid,
                    "lastChangeDateTime": last_change,
                    "extensions": {
                        EXTENSION: {"id": level.id, "references": list(level.references)}
                    },
                }
            )
        item: dict[str, Any] = {
            "identifier": criterion_uuid,
            "uri": f"urn:uuid:{criterion_uuid}",
            "category": criterion.title,
            "position": position,
            "rubricId": rubric_uuid,
            "lastChangeDateTime": last_change,
            "CFRubricCriterionLevels": levels,
            "extensions": {
                EXTENSION: {"id": criterion.id, "competency_ids": list(criterion.competency_ids)}
            },
        }
        if framework_id is not None and criterion.competency_ids:
            target = case_identifier(framework_id, criterion.competency_ids[0])
            item["CFItemURI"] = {
                "title": criterion.competency_ids[0],
                "identifier": target,
                "uri": f"urn:uuid:{target}",
            }
        criteria.append(item)
    return {
        "identifier": rubric_uuid,
        "uri": f"urn:uuid:{rubric_uuid}",
        "title": rubric.title,
        "lastChangeDateTime": last_change,
        "CFRubricCriteria": criteria,
        "extensions": {
            EXTENSION: {
                "id": rubric.id,
                "exemplars": [
                    {
                        "criterion_id": e.criterion_id,
                        "level_id": e.level_id,
                        "text": e.text,
                        "source": e.source,
                    }
                    for e in rubric.exemplars
                ],
            }
        },
    }


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _own(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    extensions = obj.get("extensions")
    found = extensions.get(EXTENSION) if isinstance(extensions, Mapping) else None
    return found if isinstance(found, Mapping) else {}


def _position(obj: Mapping[str, Any], default: int) -> float:
    value = obj.get("position")
    return float(value) if isinstance(value, int | float) else float(default)


def import_case_rubrics(document: Mapping[str, Any], *, source: str) -> list[Rubric]:
    """The rubrics of a ``CFRubric`` object or of a ``CFPackage``'s ``CFRubrics``; every
    problem is reported at once (location, field, reason) and nothing is returned."""
    if "CFRubrics" in document:
        raw = document["CFRubrics"]
        if not isinstance(raw, list):
            raise InvalidInputError(source, [Problem(source, "CFRubrics", "must be a list")])
        items = [(f"CFRubrics[{n}]", r) for n, r in enumerate(raw)]
    else:
        items = [("CFRubric", document)]
    problems: list[Problem] = []
    rubrics = []
    for where, item in items:
        if not isinstance(item, Mapping):
            problems.append(Problem(where, "CFRubric", "must be an object"))
            continue
        try:
            rubric = _rubric(item, where, problems)
        except ValidationError as exc:
            problems.append(Problem(where, exc.field, str(exc)))
            continue
        if rubric is not None:
            rubrics.append(rubric)
    if problems:
        raise InvalidInputError(source, problems)
    return rubrics


def _rubric(item: Mapping[str, Any], where: str, problems: list[Problem]) -> Rubric | None:
    before = len(problems)
    own = _own(item)
    rubric_id = str(own.get("id") or item.get("identifier") or "")
    if not rubric_id:
        problems.append(Problem(where, "identifier", "missing"))
    title = str(item.get("title") or "")
    if not title:
        problems.append(Problem(where, "title", "missing"))
    raw_criteria = item.get("CFRubricCriteria")
    if not isinstance(raw_criteria, list) or not raw_criteria:
        problems.append(Problem(where, "CFRubricCriteria", "must be a non-empty list"))
        raw_criteria = []
    criteria = []
    ordered = sorted(
        enumerate(raw_criteria),
        key=lambda p: _position(p[1], p[0] + 1) if isinstance(p[1], Mapping) else p[0] + 1,
    )
    for n, raw in ordered:
        at = f"{where}.CFRubricCriteria[{n}]"
        if not isinstance(raw, Mapping):
            problems.append(Problem(at, "CFRubricCriterion", "must be an object"))
            continue
        criterion = _criterion(raw, n, at, problems)
        if criterion is not None:
            criteria.append(criterion)
    exemplars = []
    for k, e in enumerate(own.get("exemplars", ())):
        fields = ("criterion_id", "level_id", "text")
        if not isinstance(e, Mapping) or any(not isinstance(e.get(f), str) for f in fields):
            problems.append(
                Problem(
                    f"{where}.extensions.{EXTENSION}.exemplars[{k}]",
                    "exemplar",
                    "needs criterion_id, level_id and text strings",
                )
            )
            continue
        exemplars.append(
            Exemplar(e["criterion_id"], e["level_id"], e["text"], str(e.get("source", "educator")))
        )
    if len(problems) > before:
        return None
    return Rubric(id=rubric_id, title=title, criteria=tuple(criteria), exemplars=tuple(exemplars))


def _criterion(
    raw: Mapping[str, Any], n: int, at: str, problems: list[Problem]
) -> Criterion | None:
    own = _own(raw)
    title = str(raw.get("category") or raw.get("description") or "")
    if not title:
        problems.append(Problem(at, "category", "missing (and no description)"))
        return None
    criterion_id = str(own.get("id") or _slug(title) or f"criterion-{n + 1}")
    competencies = own.get("competency_ids")
    if not isinstance(competencies, list):
        target = raw.get("CFItemURI")
        competencies = (
            [str(target["identifier"])]
            if isinstance(target, Mapping) and target.get("identifier")
            else []
        )
    raw_levels = raw.get("CFRubricCriterionLevels")
    if not isinstance(raw_levels, list) or len(raw_levels) < 2:
        problems.append(Problem(at, "CFRubricCriterionLevels", "needs at least two levels"))
        return None
    levels = []
    for k, level in enumerate(raw_levels):
        here = f"{at}.CFRubricCriterionLevels[{k}]"
        if not isinstance(level, Mapping):
            problems.append(Problem(here, "CFRubricCriterionLevel", "must be an object"))
            continue
        score = level.get("score")
        if not isinstance(score, int | float) or isinstance(score, bool):
            problems.append(Problem(here, "score", f"must be a number, got {score!r}"))
            continue
        label = str(level.get("quality") or level.get("description") or f"Level {k + 1}")
        mine = _own(level)
        levels.append(
            (
                float(score),
                _position(level, k + 1),
                Level(
                    id=str(mine.get("id") or _slug(label) or f"level-{k + 1}"),
                    label=label,
                    points=float(score),
                    descriptor=str(level.get("description") or ""),
                    references=tuple(str(r) for r in mine.get("references", ())),
                ),
            )
        )
    if len(levels) != len(raw_levels):
        return None
    return Criterion(
        id=criterion_id,
        title=title,
        levels=tuple(lv for *_, lv in sorted(levels, key=lambda t: (t[0], t[1]))),
        competency_ids=tuple(str(c) for c in competencies),
    )
