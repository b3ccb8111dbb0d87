"""Career taxonomies, coverage reports and career goals (pure domain), and the readers."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from masterypath.domain.careers import (
    CareerSkill,
    Occupation,
    Requirement,
    SkillGroup,
    Taxonomy,
    best_occupations,
    career_goals,
    coverage,
)
from masterypath.errors import InvalidInputError, NotFoundError, ValidationError
from masterypath.interop.taxonomies import read_esco, read_generic_csv
from tests.conftest import DATA

MINI = Path(__file__).parents[1] / "fixtures" / "careers_mini.csv"


@pytest.fixture(scope="module")
def mini() -> Taxonomy:
    return read_generic_csv(MINI, taxonomy_id="mini")


def test_generic_csv_reads_ids_descriptions_and_importance(mini: Taxonomy) -> None:
    assert [o.id for o in mini.occupations] == ["dba", "baker", "developer"]
    assert len(mini.skills) == 6 and len(mini.requirements) == 10
    assert mini.occupation("baker").description == "Bakers make bread and pastries."
    # a skill's description comes from its first row that has one
    assert mini.skill("customer").description == "Give customers advice on products and services."
    by_pair = {(r.occupation_id, r.skill_id): r for r in mini.requirements}
    assert (
        by_pair["dba", "python"].essential is False and by_pair["dba", "python"].importance == 0.3
    )
    assert by_pair["baker", "customer"].essential is True  # 0.6 >= 0.5
    assert (
        by_pair["dba", "customer"].essential is False
        and by_pair["dba", "customer"].importance is None
    )


def test_generic_csv_bad_rows_are_named_and_nothing_is_read() -> None:
    text = (
        "occupation,skill,importance\n"
        "analyst,SQL,essential\n"
        ",charts,optional\n"  # line 3: no occupation
        "analyst,stats,very\n"  # line 4: bad importance
        "analyst,SQL,optional\n"  # line 5: duplicate pair
        "analyst,python,1.5\n"  # line 6: out of range
    )
    with pytest.raises(InvalidInputError) as caught:
        read_generic_csv(io.StringIO(text), taxonomy_id="bad")
    found = [(p.location, p.field) for p in caught.value.problems]
    assert found == [
        ("CSV line 3", "occupation"),
        ("CSV line 4", "importance"),
        ("CSV line 5", "skill"),
        ("CSV line 6", "importance"),
    ]
    assert "'very' is not essential, optional or a number" in str(caught.value)
    assert "1.5 is outside [0, 1]" in str(caught.value)


def test_generic_csv_missing_column_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError) as caught:
        read_generic_csv(io.StringIO("occupation,skill\na,b\n"), taxonomy_id="x")
    assert [(p.field, p.reason) for p in caught.value.problems] == [
        ("importance", "required column is missing")
    ]
    with pytest.raises(InvalidInputError, match="no such file"):
        read_generic_csv(tmp_path / "absent.csv", taxonomy_id="x")


def test_generic_csv_names_nul_characters_and_broken_csv() -> None:
    # a file from the command line: PostgreSQL refuses NUL in text, so it is named here
    with pytest.raises(InvalidInputError) as caught:
        read_generic_csv(io.StringIO("occupation,skill,importance\na\x00,b,1\n"), taxonomy_id="x")
    assert [(p.location, p.field) for p in caught.value.problems] == [("CSV line 2", "occupation")]
    # a stream opened without newline="" meets a carriage return inside a cell
    with pytest.raises(InvalidInputError, match="not valid CSV"):
        read_generic_csv(io.StringIO("occupation,skill,importance\na\rb,c,1\n"), taxonomy_id="x")


def test_esco_import_counts() -> None:
    folder = DATA / "careers" / "esco-v1.1.1"
    if not (folder / "skills.tsv.gz").is_file():
        pytest.skip(f"real data not found: {folder}")
    read = read_esco(folder)
    tax = read.taxonomy
    assert len(tax.occupations) == 3007
    assert len(tax.skills) == 13896
    # 123,855 relations, of which 67 point to occupations not in the released list
    assert read.skipped == 67 and len(tax.requirements) == 123855 - 67
    assert sum(r.essential for r in tax.requirements) == 64891
    kinds = {s.kind for s in tax.skills}
    assert {"skill/competence", "knowledge"} <= kinds
    assert len(tax.groups) == 640
    query = next(s for s in tax.skills if s.label == "use query languages")
    group = tax.skill_group(query.id)
    assert group is not None and (group.code, group.label) == (
        "S5.1.0",
        "programming computer systems",
    )
    dba = next(o for o in tax.occupations if o.label == "database administrator")
    assert dba.code and dba.alt_labels and dba.description.startswith("Database administrators")


def test_taxonomy_validation_names_the_fault() -> None:
    skill = CareerSkill(id="s", label="S")
    job = Occupation(id="o", label="O")
    with pytest.raises(ValidationError, match="duplicate career skill id 's'"):
        Taxonomy(id="t", title="T", occupations=(job,), skills=(skill, skill))
    with pytest.raises(ValidationError, match="unknown skill 'x' required by 'o'"):
        Taxonomy(
            id="t",
            title="T",
            occupations=(job,),
            skills=(skill,),
            requirements=(Requirement("o", "x", essential=True),),
        )
    with pytest.raises(ValidationError, match="requires 's' more than once"):
        Taxonomy(
            id="t",
            title="T",
            occupations=(job,),
            skills=(skill,),
            requirements=(Requirement("o", "s", True), Requirement("o", "s", False)),
        )
    with pytest.raises(ValidationError, match="importance"):
        Requirement("o", "s", essential=True, importance=2.0)
    with pytest.raises(ValidationError, match="label"):
        Taxonomy(id="t", title="T", occupations=(Occupation(id="o", label=" "),), skills=())
    tax = Taxonomy(id="t", title="T", occupations=(job,), skills=(skill,))
    with pytest.raises(NotFoundError, match="occupation 'nope'"):
        tax.required("nope")


def test_coverage_lists_the_missing_skills_exactly(mini: Taxonomy) -> None:
    links = {"sql": ("select",), "dbdesign": ("normalise", "module-sql")}
    report = coverage(mini, "dba", links)
    assert [s.skill_id for s in report.missing_essential] == ["backup"]
    assert [s.skill_id for s in report.missing_optional] == ["python", "customer"]
    assert report.essential_share == pytest.approx(2 / 3)
    assert report.optional_share == 0.0
    covered = {s.skill_id: s.competencies for s in report.skills if s.competencies}
    assert covered == {"sql": ("select",), "dbdesign": ("normalise", "module-sql")}


def test_best_occupations_ranks_by_essential_then_optional_coverage(mini: Taxonomy) -> None:
    links = {"sql": ("select",), "dbdesign": ("normalise",)}
    ranked = best_occupations(mini, links)
    # developer: 1/2 essential, 1/1 optional; dba: 2/3 essential; baker shares nothing
    assert [(r.occupation_id, round(r.essential_share, 3)) for r in ranked] == [
        ("dba", 0.667),
        ("developer", 0.5),
    ]


def test_career_goals_are_the_competencies_of_essential_skills(mini: Taxonomy) -> None:
    links = {"sql": ("select",), "dbdesign": ("normalise",), "python": ("select",)}
    # dba's essential skills in order: sql, dbdesign, backup (python is optional there)
    assert career_goals(mini, "dba", links) == ("select", "normalise")
    assert career_goals(mini, "developer", links) == ("select",)
    assert career_goals(mini, "baker", links) == ()


def test_skill_hierarchy_gives_each_skill_its_nearest_group() -> None:
    tax = Taxonomy(
        id="h",
        title="H",
        occupations=(Occupation(id="dev", label="developer"),),
        skills=(
            CareerSkill(id="code", label="write code", broader=("ict",)),
            CareerSkill(id="python", label="Python", broader=("code",)),
            CareerSkill(id="loner", label="loner"),
        ),
        groups=(
            SkillGroup(id="ict", label="ICT skills", code="S5", broader=("all",)),
            SkillGroup(id="all", label="skills", code="S"),
        ),
        requirements=(Requirement("dev", "python", essential=True),),
    )
    group = tax.skill_group("python")
    assert group is not None and group.label == "ICT skills"  # through the broader skill
    assert tax.skill_group("loner") is None
    assert coverage(tax, "dev", {}).skills[0].group == "ICT skills"
    with pytest.raises(ValidationError, match="'python' has an unknown broader skill or group 'x'"):
        Taxonomy(
            id="h",
            title="H",
            occupations=(),
            skills=(CareerSkill(id="python", label="Python", broader=("x",)),),
        )
