"""CASE 1.1 CFRubric import and export."""

from __future__ import annotations

import copy
import dataclasses
import uuid

import pytest

from masterypath.domain.rubric import Exemplar
from masterypath.errors import InvalidInputError
from masterypath.interop.case import case_identifier
from masterypath.interop.case_rubrics import export_case_rubric, import_case_rubrics
from tests.unit.test_rubric_scoring import CIRCUITS

WHEN = "2026-01-01T00:00:00+00:00"


def test_export_is_case_shaped_and_import_gives_back_the_same_rubric() -> None:
    rubric = dataclasses.replace(
        CIRCUITS, exemplars=(Exemplar("path", "met", "A closed path.", "teacher"),)
    )
    cf = export_case_rubric(rubric, last_change=WHEN, framework_id="circuits-fw")
    uuid.UUID(cf["identifier"])
    assert cf["title"] == "Why does the bulb light?" and cf["lastChangeDateTime"] == WHEN
    path = cf["CFRubricCriteria"][0]
    assert path["category"] == "Closed path" and path["position"] == 1
    assert path["rubricId"] == cf["identifier"]
    assert path["CFItemURI"]["identifier"] == case_identifier("circuits-fw", "closed-circuit")
    levels = path["CFRubricCriterionLevels"]
    assert [(lv["quality"], lv["score"], lv["position"]) for lv in levels] == [
        ("Missing", 0, 1),
        ("Partial", 1, 2),
        ("Met", 2, 3),
    ]
    assert (
        levels[2]["description"] == "Explains that the bulb is in a closed path with the battery."
    )
    assert {lv["rubricCriterionId"] for lv in levels} == {path["identifier"]}
    again = export_case_rubric(rubric, last_change=WHEN, framework_id="circuits-fw")
    assert again == cf  # identifiers are stable
    assert import_case_rubrics(cf, source="cf.json") == [rubric]
    package = {"CFDocument": {}, "CFRubrics": [cf, export_case_rubric(CIRCUITS, last_change=WHEN)]}
    assert len(import_case_rubrics(package, source="package.json")) == 2


def test_a_foreign_rubric_without_extensions_gets_ids_from_its_text_and_levels_by_score() -> None:
    item = str(uuid.uuid4())
    foreign = {
        "identifier": str(uuid.uuid4()),
        "uri": "https://example.org/r",
        "title": "Lab report",
        "lastChangeDateTime": WHEN,
        "CFRubricCriteria": [
            {
                "identifier": str(uuid.uuid4()),
                "category": "Hypothesis",
                "position": 2,
                "CFItemURI": {"title": "Hypothesise", "identifier": item, "uri": "x"},
                "CFRubricCriterionLevels": [
                    {"quality": "Strong", "score": 3, "description": "Testable and justified."},
                    {"quality": "Weak", "score": 1, "description": "Vague."},
                ],
            },
            {
                "identifier": str(uuid.uuid4()),
                "category": "Method",
                "position": 1,
                "CFRubricCriterionLevels": [
                    {"quality": "Missing", "score": 0},
                    {"quality": "Present", "score": 1},
                ],
            },
        ],
    }
    (rubric,) = import_case_rubrics(foreign, source="lab.json")
    assert rubric.id == foreign["identifier"]
    assert [c.id for c in rubric.criteria] == ["method", "hypothesis"]
    hypothesis = rubric.criterion("hypothesis")
    assert [lv.id for lv in hypothesis.levels] == ["weak", "strong"]
    assert hypothesis.levels[1].descriptor == "Testable and justified."
    assert hypothesis.competency_ids == (item,)


def test_bad_rubrics_report_every_problem_and_import_nothing() -> None:
    cf = export_case_rubric(CIRCUITS, last_change=WHEN)
    broken = copy.deepcopy(cf)
    broken["title"] = ""
    broken["CFRubricCriteria"][0]["CFRubricCriterionLevels"][1]["score"] = "high"
    broken["CFRubricCriteria"][1]["CFRubricCriterionLevels"] = [{"score": 1}]
    with pytest.raises(InvalidInputError) as caught:
        import_case_rubrics({"CFRubrics": [cf, broken]}, source="p.json")
    assert [(p.location, p.field) for p in caught.value.problems] == [
        ("CFRubrics[1]", "title"),
        ("CFRubrics[1].CFRubricCriteria[0].CFRubricCriterionLevels[1]", "score"),
        ("CFRubrics[1].CFRubricCriteria[1]", "CFRubricCriterionLevels"),
    ]
    with pytest.raises(InvalidInputError) as empty:
        import_case_rubrics({"title": "x", "CFRubricCriteria": []}, source="e.json")
    assert [p.field for p in empty.value.problems] == ["identifier", "CFRubricCriteria"]
