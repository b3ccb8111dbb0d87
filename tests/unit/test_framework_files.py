from __future__ import annotations

import pytest

from masterypath.domain.careers import CoverageReport, CoveredSkill
from masterypath.domain.framework import Competency, Framework, Prerequisite, UnlockStatus
from masterypath.errors import CycleError, InvalidInputError
from masterypath.interop.career_reports import coverage_matrix_csv
from masterypath.interop.framework_files import (
    detect_format,
    read_framework_csv,
    read_framework_yaml,
    write_framework_csv,
    write_framework_yaml,
)

CSV = """id,title,description,parent,prerequisites
arith,Arithmetic,,,
add,Addition,Add whole numbers,arith,
mul,Multiplication,,arith,add
div,Division,,arith,mul; add:proficient
"""

YAML = """
id: arith
title: Arithmetic
competencies:
  - {id: add, title: Addition}
  - id: mul
    title: Multiplication
    prerequisites: [add]
  - id: div
    title: Division
    prerequisites: [mul, {id: add, requires: proficient}]
items:
  - {id: q1, competencies: [add, mul], title: "3 x (2 + 1)", difficulty: 0.4}
"""


def test_csv_golden() -> None:
    fw = read_framework_csv(CSV, source="f.csv", framework_id="arith", title="Arithmetic").framework
    assert fw.ids == ("arith", "add", "mul", "div")
    assert fw.competency("add").description == "Add whole numbers"
    assert fw.competency("div").parent_id == "arith"
    assert fw.edges() == (
        ("add", "mul", UnlockStatus.MASTERED),
        ("mul", "div", UnlockStatus.MASTERED),
        ("add", "div", UnlockStatus.PROFICIENT),
    )


def test_csv_and_yaml_round_trip() -> None:
    fw = read_framework_csv(CSV, source="f.csv", framework_id="arith", title="Arithmetic").framework
    again = read_framework_csv(
        write_framework_csv(fw), source="x", framework_id="arith", title="Arithmetic"
    ).framework
    assert again == fw
    y = read_framework_yaml(YAML, source="f.yaml").framework
    assert y.items[0].competency_ids == ("add", "mul") and y.items[0].difficulty == 0.4
    assert read_framework_yaml(write_framework_yaml(y), source="x").framework == y


def test_an_item_difficulty_that_is_not_finite_is_named() -> None:
    # YAML reads .nan and .inf as floats: they were stored and reached the planner
    for odd in (".nan", ".inf", "-.inf"):
        with pytest.raises(InvalidInputError) as exc:
            read_framework_yaml(YAML.replace("difficulty: 0.4", f"difficulty: {odd}"), source="f")
        assert [(p.location, p.field) for p in exc.value.problems] == [("items[0]", "difficulty")]


def test_csv_bad_rows_are_named_by_line() -> None:
    bad = "id,title,prerequisites\na,A,\n,NoId,\nb,,a\nc,C,a:sometimes\n"
    with pytest.raises(InvalidInputError) as exc:
        read_framework_csv(bad, source="bad.csv", framework_id="f", title="F")
    found = {(p.location, p.field) for p in exc.value.problems}
    assert found == {("line 3", "id"), ("line 4", "title"), ("line 5", "prerequisites")}


def test_csv_that_the_csv_module_refuses_is_named_not_raised() -> None:
    # a bare carriage return in a cell was a csv.Error traceback; it ends the row, as in
    # the files it comes from, and the short row is named
    with pytest.raises(InvalidInputError) as exc:
        read_framework_csv("id,title\na,A\rB\n", source="cr.csv", framework_id="f", title="F")
    assert [(p.location, p.field) for p in exc.value.problems] == [("line 3", "title")]
    huge = "id,title\na," + "x" * 200_000 + "\n"  # over the csv module's field limit
    with pytest.raises(InvalidInputError, match="not valid CSV: field larger than field limit"):
        read_framework_csv(huge, source="big.csv", framework_id="f", title="F")


def test_csv_unknown_column_is_named() -> None:
    with pytest.raises(InvalidInputError, match="unknown column"):
        read_framework_csv("id,title,prereqs\na,A,\n", source="x.csv", framework_id="f", title="F")


def test_yaml_cycle_and_unknown_reference() -> None:
    cyclic = (
        "id: f\ntitle: F\ncompetencies:\n  - {id: a, title: A, prerequisites: [b]}\n"
        "  - {id: b, title: B, prerequisites: [a]}\n"
    )
    with pytest.raises(CycleError, match="a -> b -> a"):
        read_framework_yaml(cyclic, source="c.yaml")
    with pytest.raises(InvalidInputError, match=r"competencies\[0\]: colour: unknown field"):
        read_framework_yaml(
            "id: f\ntitle: F\ncompetencies:\n  - {id: a, title: A, colour: red}\n", source="x.yaml"
        )
    with pytest.raises(InvalidInputError, match="line 2"):
        read_framework_yaml("id: f\n  title: [unclosed\n", source="broken.yaml")


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        ('{"CFDocument": {}, "CFItems": []}', "case"),
        ('{"directed": true, "nodes": [], "links": []}', "node-link"),
        ("<?xml version='1.0'?><graphml xmlns='x'></graphml>", "graphml"),
        ("id,title\na,A\n", "csv"),
        ("id: f\ntitle: F\ncompetencies: []\n", "yaml"),
    ],
)
def test_format_is_detected_from_content(text: str, fmt: str) -> None:
    assert detect_format(text) == fmt


def test_undetectable_and_malformed_json() -> None:
    with pytest.raises(InvalidInputError, match="pass --format"):
        detect_format("hello world")
    with pytest.raises(InvalidInputError, match="line 1 column"):
        detect_format('{"CFDocument": ')


def test_csv_cells_that_a_spreadsheet_would_run_are_quoted_and_read_back() -> None:
    # a CASE title such as "=HYPERLINK(...)" ran as a formula in the teacher's spreadsheet
    fw = Framework(
        id="f",
        title="F",
        competencies=(
            Competency(id="a", title='=HYPERLINK("http://x")', description="-1 and up"),
            Competency(
                id="b",
                title="@here",
                description="+2",
                code="-B1",
                prerequisites=(Prerequisite("a"),),
            ),
        ),
    )
    text = write_framework_csv(fw)
    assert text.splitlines()[1:] == [
        'a,"\'=HYPERLINK(""http://x"")",\'-1 and up,,,',
        "b,'@here,'+2,,a,'-B1",
    ]
    again = read_framework_csv(text, source="x", framework_id="f", title="F").framework
    assert again == fw
    # a quote a person typed before other text is theirs, and kept
    kept = read_framework_csv("id,title\nq,'quoted\n", source="x", framework_id="f", title="F")
    assert kept.framework.competency("q").title == "'quoted"


def test_the_career_coverage_matrix_quotes_formula_text() -> None:
    report = CoverageReport("o", "O", (CoveredSkill("-s1", "=cmd|' /C calc'!A0", True, ("c1",)),))
    assert coverage_matrix_csv(report, ["c1", "+c2"]).splitlines() == [
        "skill_id,skill,essential,covered,c1,'+c2",
        "'-s1,'=cmd|' /C calc'!A0,1,1,1,0",
    ]
