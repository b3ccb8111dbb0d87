"""Career alignment end to end on SQLite and PostgreSQL: service, CLI-free API, CASE export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from masterypath.api.errors import NUL_REASON
from masterypath.domain.careers import (
    CareerSkill,
    Decision,
    MatchKind,
    Occupation,
    Requirement,
    SkillGroup,
    Taxonomy,
)
from masterypath.errors import ConflictError, NotFoundError, ValidationError
from masterypath.interop.loader import load_framework_file
from masterypath.interop.taxonomies import read_generic_csv
from masterypath.interop.text_files import MORE_CELLS
from masterypath.services.careers import CareerService
from masterypath.services.context import ServiceContext
from masterypath.services.frameworks import FrameworkService
from tests.conftest import admin_client

FIXTURES = Path(__file__).parents[1] / "fixtures"
MINI = FIXTURES / "careers_mini.csv"
PROGRAMME = FIXTURES / "careers_programme.yaml"


@pytest.fixture
def careers(database: ServiceContext) -> CareerService:
    FrameworkService(database).save(load_framework_file(PROGRAMME).framework)
    service = CareerService(database)  # lexical: deterministic and fast
    service.import_taxonomy(read_generic_csv(MINI, taxonomy_id="mini"))
    return service


def test_align_suggests_the_expected_skills_and_stores_reasons(careers: CareerService) -> None:
    run = careers.align("dbcourse", "mini", top_k=2)
    assert (run.method, run.targets, run.suggestions, run.new) == ("lexical", 4, 8, 8)
    rows = careers.suggestions("dbcourse", "mini")
    top = {r["competency_id"]: r["skill_id"] for r in rows if r["rank"] == 1}
    assert top == {
        "select": "sql",
        "normalise": "dbdesign",
        "recover": "backup",
        "module-sql": top["module-sql"],
    }
    module = next(r for r in rows if r["competency_id"] == "module-sql")
    assert module["target_kind"] == "module"
    select = next(r for r in rows if r["competency_id"] == "select" and r["rank"] == 1)
    assert "sql" in select["reason"]["words"] and select["decision"] == "suggested"


def test_decisions_persist_and_survive_realignment(
    careers: CareerService, database: ServiceContext
) -> None:
    careers.align("dbcourse", "mini", top_k=2)
    careers.decide(
        "dbcourse",
        "select",
        "mini",
        "sql",
        decision=Decision.CONFIRMED,
        by="ed1",
        match=MatchKind.EXACT,
    )
    careers.decide(
        "dbcourse",
        "normalise",
        "mini",
        "dbdesign",
        decision=Decision.CONFIRMED,
        by="ed1",
        note="schema design",
    )
    rejected = next(
        r for r in careers.suggestions("dbcourse", "mini", competency_id="select") if r["rank"] == 2
    )
    careers.decide(
        "dbcourse",
        "select",
        "mini",
        str(rejected["skill_id"]),
        decision=Decision.REJECTED,
        by="ed2",
    )
    again = careers.align("dbcourse", "mini", top_k=2)
    assert again.new == 0
    fresh = CareerService(ServiceContext(engine=database.engine, sessions=database.sessions))
    confirmed = fresh.suggestions("dbcourse", "mini", decision=Decision.CONFIRMED)
    assert [
        (r["competency_id"], r["skill_id"], r["match"], r["decided_by"]) for r in confirmed
    ] == [
        ("normalise", "dbdesign", "isRelatedTo", "ed1"),
        ("select", "sql", "exactMatchOf", "ed1"),
    ]
    assert confirmed[0]["note"] == "schema design"
    assert [
        r["skill_id"] for r in fresh.suggestions("dbcourse", "mini", decision=Decision.REJECTED)
    ] == [rejected["skill_id"]]


def test_coverage_best_occupations_goal_and_plan(careers: CareerService) -> None:
    careers.decide("dbcourse", "select", "mini", "sql", decision=Decision.CONFIRMED, by="ed")
    careers.decide(
        "dbcourse", "normalise", "mini", "dbdesign", decision=Decision.CONFIRMED, by="ed"
    )
    # an educator may confirm a link the aligner never suggested
    careers.decide("dbcourse", "module-sql", "mini", "python", decision=Decision.CONFIRMED, by="ed")
    report = careers.coverage("dbcourse", "mini", "dba")
    assert [s.skill_id for s in report.missing_essential] == ["backup"]
    assert [s.skill_id for s in report.missing_optional] == ["customer"]
    best = careers.best_occupations("dbcourse", "mini")
    assert [r.occupation_id for r in best] == ["developer", "dba"]
    # a learner id must be one evidence could carry (SQLite stored a 3,000-character one)
    with pytest.raises(ValidationError, match="learner_id: must be at most 1000 characters"):
        careers.set_goal("l" * 1001, "dbcourse", "mini", "dba")
    goals = careers.set_goal("l1", "dbcourse", "mini", "dba")
    assert goals == ("select", "normalise")
    assert careers.goals_for("l1", "dbcourse") == ("select", "normalise")
    assert careers.goals_for("nobody", "dbcourse") == ()


def test_taxonomy_with_hierarchy_round_trips(careers: CareerService) -> None:
    tax = Taxonomy(
        id="tree",
        title="Tree",
        occupations=(
            Occupation(
                id="dev",
                label="developer",
                description="Writes code.",
                code="2512",
                alt_labels=("programmer",),
            ),
        ),
        skills=(
            CareerSkill(
                id="code",
                label="write code",
                description="Write programs.",
                alt_labels=("program",),
                kind="skill/competence",
                broader=("ict",),
            ),
        ),
        groups=(SkillGroup(id="ict", label="ICT skills", code="S5"),),
        requirements=(Requirement("dev", "code", essential=True, importance=0.9),),
        source="esco",
    )
    careers.import_taxonomy(tax)
    assert careers.taxonomy("tree") == tax
    assert careers.coverage("dbcourse", "tree", "dev").skills[0].group == "ICT skills"


def test_import_is_all_or_nothing_and_refuses_silent_overwrite(careers: CareerService) -> None:
    with pytest.raises(ConflictError, match="already exists"):
        careers.import_taxonomy(read_generic_csv(MINI, taxonomy_id="mini"))
    replaced = careers.import_taxonomy(read_generic_csv(MINI, taxonomy_id="mini"), replace=True)
    assert replaced.replaced and replaced.requirements == 10 and replaced.essential == 7
    assert len(careers.taxonomy("mini").skills) == 6
    with pytest.raises(NotFoundError, match="taxonomy 'other'"):
        careers.align("dbcourse", "other")
    with pytest.raises(NotFoundError, match="career skill 'nope'"):
        careers.decide("dbcourse", "select", "mini", "nope", decision=Decision.CONFIRMED, by="e")
    with pytest.raises(ValidationError, match="by"):
        careers.decide("dbcourse", "select", "mini", "sql", decision=Decision.CONFIRMED, by=" ")


@pytest.fixture
def client(careers: CareerService, database: ServiceContext) -> TestClient:
    return admin_client(database)


def test_api_careers_flow(client: TestClient) -> None:
    v1 = "/api/v1"
    csv_text = MINI.read_text().replace("mini", "x")
    created = client.post(
        f"{v1}/taxonomies/api", content=csv_text, headers={"content-type": "text/csv"}
    )
    assert created.status_code == 201 and created.json()["skills"] == 6
    assert [t["id"] for t in client.get(f"{v1}/taxonomies").json()] == ["api", "mini"]
    assert client.get(f"{v1}/taxonomies/mini/occupations", params={"q": "bak"}).json() == [
        {"id": "baker", "label": "baker", "code": ""}
    ]
    run = client.post(f"{v1}/frameworks/dbcourse/alignments/mini", params={"top_k": 3}).json()
    assert run["suggestions"] == 12
    decided = client.put(
        f"{v1}/frameworks/dbcourse/alignments/mini/select/sql",
        json={"decision": "confirmed", "match": "exactMatchOf"},
    )
    assert decided.status_code == 200 and decided.json()["decision"] == "confirmed"
    listed = client.get(
        f"{v1}/frameworks/dbcourse/alignments/mini", params={"decision": "confirmed"}
    ).json()
    assert [(r["competency_id"], r["skill_id"]) for r in listed] == [("select", "sql")]
    cov = client.get(f"{v1}/frameworks/dbcourse/careers/mini/coverage/dba").json()
    assert cov["missing_essential"] == ["dbdesign", "backup"]
    assert cov["essential_share"] == pytest.approx(1 / 3, abs=1e-4)
    matrix = client.get(
        f"{v1}/frameworks/dbcourse/careers/mini/coverage/dba", params={"format": "csv"}
    )
    assert matrix.headers["content-type"].startswith("text/csv")
    assert matrix.text.splitlines()[:2] == [
        "skill_id,skill,essential,covered,select",
        "sql,use query languages,1,1,1",
    ]
    report = client.get(
        f"{v1}/frameworks/dbcourse/careers/mini/coverage/dba", params={"format": "html"}
    )
    assert "<svg" in report.text and "Missing essential skills (2)" in report.text
    assert report.headers["Content-Security-Policy"].startswith("default-src 'none';")
    assert report.headers["X-Frame-Options"] == "DENY"
    best = client.get(f"{v1}/frameworks/dbcourse/careers/mini/occupations").json()
    assert [b["occupation_id"] for b in best] == ["developer", "dba"]
    package: dict[str, Any] = client.get(f"{v1}/frameworks/dbcourse/careers/mini/case").json()
    links = [a for a in package["CFAssociations"] if a["associationType"] == "exactMatchOf"]
    assert len(links) == 1
    assert links[0]["destinationNodeURI"]["uri"] == "urn:masterypath:taxonomy:mini:skill:sql"
    goal = client.put(
        f"{v1}/learners/l1/career-goal",
        json={"framework_id": "dbcourse", "taxonomy_id": "mini", "occupation_id": "developer"},
    )
    assert goal.status_code == 200 and goal.json()["goals"] == ["select"]
    plan = client.get(f"{v1}/learners/l1/plan", params={"framework_id": "dbcourse"}).json()
    assert plan["steps"][0]["competency_id"] == "select"


def test_api_careers_errors(client: TestClient) -> None:
    v1 = "/api/v1"
    bad = client.post(
        f"{v1}/taxonomies/bad",
        content="occupation,skill,importance\na,b,maybe\n",
        headers={"content-type": "text/csv"},
    )
    assert bad.status_code == 422
    assert "line 2: importance" in bad.json()["message"]
    # PostgreSQL refuses NUL in text: named as bad input, not a 500 (found by fuzzing)
    nul = client.post(
        f"{v1}/taxonomies/nul",
        content="occupation,skill,importance\na\x00b,c,1\n",
        headers={"content-type": "text/csv"},
    )
    assert nul.status_code == 422
    assert nul.json()["problems"] == [{"location": "body", "field": "line 2", "reason": NUL_REASON}]
    # a carriage return in an unquoted cell ends the row, as CSV files mean it (was a 500)
    cr = client.post(
        f"{v1}/taxonomies/cr",
        content="occupation,skill,importance\na\rb,c,1\n",
        headers={"content-type": "text/csv"},
    )
    assert cr.status_code == 422 and "line 2: skill" in cr.json()["message"]
    # a row with cells beyond the header was a 500 (found by fuzzing as an educator)
    extra = client.post(
        f"{v1}/taxonomies/extra",
        content="occupation,skill,importance\nanalyst,sql,0.9\nanalyst,sql, joins,0.9\n",
        headers={"content-type": "text/csv"},
    )
    assert extra.status_code == 422
    assert extra.json()["problems"] == [
        {"location": "CSV line 3", "field": "(row)", "reason": MORE_CELLS}
    ]
    assert client.get(f"{v1}/taxonomies/nul/occupations").status_code == 404
    assert client.get(f"{v1}/frameworks/dbcourse/careers/mini/coverage/nope").status_code == 404
    assert (
        client.get(f"{v1}/learners/l9/career-goal", params={"framework_id": "dbcourse"}).status_code
        == 404
    )
    wrong = client.put(
        f"{v1}/frameworks/dbcourse/alignments/mini/select/sql",
        json={"decision": "maybe"},
    )
    assert wrong.status_code == 422
    assert (
        client.post(
            f"{v1}/taxonomies/mini", content=MINI.read_text(), headers={"content-type": "text/csv"}
        ).status_code
        == 409
    )
