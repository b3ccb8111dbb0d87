"""The careers commands, in-process, against a SQLite file (lexical alignment)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from masterypath.cli import app

FIXTURES = Path(__file__).parents[1] / "fixtures"


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MASTERYPATH_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("MASTERYPATH_EMBEDDINGS", "0")
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(args))
        return result.exit_code, result.output

    assert invoke("import-framework", str(FIXTURES / "careers_programme.yaml"))[0] == 0
    return invoke


def test_careers_commands_end_to_end(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, output = run(
        "careers", "import", str(FIXTURES / "careers_mini.csv"), "--id", "mini", "--json"
    )
    assert code == 0, output
    assert json.loads(output) | {} == {
        "id": "mini",
        "occupations": 3,
        "skills": 6,
        "requirements": 10,
        "essential": 7,
        "encoder": None,
        "replaced": False,
        "skipped": 0,
    }
    code, output = run("careers", "align", "--taxonomy", "mini", "--top", "2", "--json")
    assert code == 0 and json.loads(output)["method"] == "lexical", output
    code, output = run(
        "careers", "suggestions", "--taxonomy", "mini", "--competency", "recover", "--json"
    )
    assert json.loads(output)[0]["skill_id"] == "backup"
    for competency, skill in (("select", "sql"), ("recover", "backup")):
        code, output = run(
            "careers",
            "confirm",
            competency,
            skill,
            "--taxonomy",
            "mini",
            "--by",
            "ed1",
            "--match",
            "exactMatchOf",
        )
        assert code == 0 and "confirmed by ed1" in output, output
    code, output = run("careers", "reject", "normalise", "sql", "--taxonomy", "mini", "--by", "ed1")
    assert code == 0, output
    html, csv = tmp_path / "dba.html", tmp_path / "dba.csv"
    code, output = run(
        "careers",
        "report",
        "dba",
        "--taxonomy",
        "mini",
        "--html",
        str(html),
        "--csv",
        str(csv),
        "--json",
    )
    report = json.loads(output)
    assert report["missing_essential"] == ["dbdesign"]
    assert report["missing_optional"] == ["python", "customer"]
    assert "<svg" in html.read_text()
    assert csv.read_text().splitlines()[0] == "skill_id,skill,essential,covered,recover,select"
    code, output = run("careers", "programme", "--taxonomy", "mini", "--json")
    assert [r["occupation_id"] for r in json.loads(output)] == ["dba", "developer"]
    code, output = run("careers", "goal", "ana", "dba", "--taxonomy", "mini", "--json")
    assert json.loads(output)["goals"] == ["select", "recover"]
    code, output = run("plan", "ana", "--json")
    assert code == 0 and json.loads(output)["steps"][0]["competency_id"] == "select", output
    code, output = run("careers", "export-case", "--taxonomy", "mini")
    kinds = [a["associationType"] for a in json.loads(output)["CFAssociations"]]
    assert kinds.count("exactMatchOf") == 2
    code, output = run("careers", "occupations", "--taxonomy", "mini", "develop", "--json")
    assert json.loads(output) == [{"id": "developer", "label": "software developer", "code": ""}]
    code, output = run("careers", "list", "--json")
    assert [t["id"] for t in json.loads(output)] == ["mini"]


def test_careers_import_bad_csv_names_line_and_field(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.csv"
    bad.write_text("occupation,skill,importance\nanalyst,,essential\n")
    code, output = run("careers", "import", str(bad), "--json")
    assert code == 2
    problems = json.loads(output)["problems"]
    assert problems == [{"location": f"{bad} line 2", "field": "skill", "reason": "empty"}]
    code, output = run("careers", "report", "dba", "--taxonomy", "nope")
    assert code == 2 and "taxonomy 'nope' not found" in output
    # NaN passed every comparison, so no importance counted as essential
    good = tmp_path / "good.csv"
    good.write_text("occupation,skill,importance\nanalyst,sql,0.9\n")
    for odd in ("nan", "1.5"):
        code, output = run("careers", "import", str(good), "--essential-at", odd, "--json")
        assert code == 2, output
        assert json.loads(output)["message"] == f"essential_at: must be in [0, 1], got {float(odd)}"


def test_feedback_command_judges_an_answer(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rubric = str(FIXTURES / "circuits_rubric.json")
    code, output = run(
        "feedback",
        "--rubric",
        rubric,
        "--answer",
        "There is a closed path from the battery through the bulb and back.",
        "--json",
    )
    assert code == 0, output
    judged = {j["criterion_id"]: j["level_id"] for j in json.loads(output)["judgements"]}
    assert judged == {"path": "met", "terminals": "missing"}
    assert run("rubrics", "import", rubric)[0] == 0
    code, output = run(
        "feedback", "--rubric", "circuits", "--answer", "It is connected to the battery."
    )
    assert code == 0 and "Next step" in output
    code, output = run("feedback", "--rubric", "nope", "--answer", "x")
    assert code == 2 and "rubric 'nope' not found" in output
