"""The mastery commands, in-process, against a SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from masterypath.cli import app

FRAMEWORK = """\
id: arith
title: Arithmetic
competencies:
- id: add
  title: Addition
- id: mul
  title: Multiplication
  prerequisites:
  - add
"""


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MASTERYPATH_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(args))
        return result.exit_code, result.output

    (tmp_path / "arith.yaml").write_text(FRAMEWORK)
    rows = ["user,skill,correct,order"]
    rows += [f"ana,add,1,{n}" for n in range(3)]
    rows += [f"ben,add,{int(n % 3 == 0)},{n}" for n in range(11)]
    (tmp_path / "log.csv").write_text("\n".join(rows) + "\n")
    assert invoke("import-framework", str(tmp_path / "arith.yaml"))[0] == 0
    code, output = invoke(
        "import-evidence",
        str(tmp_path / "log.csv"),
        "--columns",
        "user=user,skill=skill,correct=correct,order=order",
        "--json",
    )
    assert code == 0 and json.loads(output)["stored"] == 14, output
    return invoke


def test_status_explain_and_gate(run) -> None:  # type: ignore[no-untyped-def]
    code, output = run("status", "ana", "--json")
    assert code == 0, output
    rows = {c["competency_id"]: c for c in json.loads(output)["competencies"]}
    assert rows["add"]["status"] == "mastered" and rows["mul"]["unlocked"] is True
    assert rows["add"]["explanation"]["review_due"] is not None
    code, output = run("status", "ana", "--at", "2100-01-01T00:00:00+00:00", "--json")
    rows = {c["competency_id"]: c for c in json.loads(output)["competencies"]}
    assert rows["add"]["status"] == "needs_review"  # the spaced review is long overdue
    assert rows["add"]["explanation"]["rule"] == "review_due"
    code, output = run("explain", "ben", "add", "--json")
    explained = json.loads(output)
    assert code == 0 and len(explained["trail"]) == 11
    assert explained["explanation"]["n_evidence"] == 11
    code, output = run("start", "ben", "--competency", "mul", "--json")
    assert code == 2 and json.loads(output)["error"] == "locked"
    assert "add (needs mastered, is in_progress)" in json.loads(output)["message"]
    code, output = run("plan", "ben", "--goal", "mul", "--json")
    steps = json.loads(output)["steps"]
    # ben is wheel-spinning on add (11 answers, no mastery): the plan switches strategy
    assert code == 0 and [(s["kind"], s["competency_id"]) for s in steps] == [("remediate", "add")]
    assert "another kind of activity" in steps[0]["reason"]
    # the tables name competencies and items by title, with the id the commands take
    code, output = run("status", "ben")
    assert code == 0 and "Multiplic" in output and "locked:" in output
    assert "(mul)" in output and "Addition" in output.split("locked:")[1]  # was "add"
    code, output = run("plan", "ben", "--goal", "mul")
    assert code == 0 and "Addition (add)" in output
    assert "wheel-spinning on Addition" in output and "goals still locked: Multiplication" in output
    code, output = run("status", "ana", "--at", "yesterday")
    assert code == 2 and "--at" in output


def test_grid_as_a_table_json_and_csv(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # ana mastered add (3 right), so mul is open to her; ben is still in progress on add,
    # so mul is locked for him
    code, output = run("grid", "--json")
    assert code == 0, output
    grid = json.loads(output)
    assert [c["id"] for c in grid["competencies"]] == ["add", "mul"]
    rows = {r["id"]: r for r in grid["learners"]}
    assert rows["ana"]["cells"][0][0] == "mastered" and rows["ana"]["locked"] == []
    assert rows["ben"]["cells"][0][0] == "in_progress" and rows["ben"]["locked"] == [1]
    code, output = run("grid")
    assert code == 0 and "locked" in output
    cells = [line.replace("│", " ").split() for line in output.splitlines()]
    counts = {c[0]: c[1:] for c in cells if c and c[0] in ("ana", "ben")}
    # mastered, proficient, in progress, needs review, not started, locked
    assert counts == {"ana": ["1", "0", "0", "0", "1", "0"], "ben": ["0", "0", "1", "0", "0", "1"]}
    code, output = run("grid", "--csv", str(tmp_path / "grid.csv"))
    assert code == 0, output
    assert (tmp_path / "grid.csv").read_text(encoding="utf-8-sig") == (
        "learner_id,mastered,Addition (add),Multiplication (mul)\n"
        "ana,1,mastered,not_started\n"
        "ben,0,in_progress,locked\n"
    )
    assert (tmp_path / "grid.csv").read_bytes().startswith("\ufeff".encode())
    code, output = run("grid", "--csv", "-")
    assert output.splitlines()[2] == "ben,0,in_progress,locked"
    code, output = run("grid", "--cohort", "nope")
    assert code != 0 and "nope" in output
    # a file that cannot be written is named, with why (it was a traceback)
    missing = tmp_path / "no-such-folder" / "grid.csv"
    code, output = run("grid", "--csv", str(missing))
    assert code == 2 and f"{missing}: No such file or directory" in output.replace("\n", "")
    code, output = run("grid", "--csv", str(missing), "--json")
    assert code == 2 and json.loads(output)["error"] == "file"


def test_override_alerts_policy_replay_refit(run) -> None:  # type: ignore[no-untyped-def]
    code, output = run(
        "override",
        "ben",
        "add",
        "--status",
        "mastered",
        "--reason",
        "prior_learning",
        "--by",
        "ms-lee",
        "--json",
    )
    assert code == 0, output
    oid = json.loads(output)["id"]
    assert json.loads(output)["model_status"] == "in_progress"
    assert run("start", "ben", "--competency", "mul")[0] == 0
    code, output = run("overrides", "--json")
    assert [(o["id"], o["educator_name"]) for o in json.loads(output)] == [(oid, "ms-lee")]
    code, output = run("alerts", "--json")
    spinning = [a for a in json.loads(output) if a["kind"] == "wheel_spinning"]
    assert [a["learner_id"] for a in spinning] == ["ben"]
    code, output = run("alerts", "--kind", "wheel_spinning")
    assert code == 0 and "Addition" in output and "(add)" in output  # was the id alone
    assert run("ack-alert", str(spinning[0]["id"]), "--by", "ms-lee")[0] == 0
    code, output = run("alerts", "--kind", "wheel_spinning", "--json")
    assert json.loads(output) == []
    with pytest.MonkeyPatch.context() as wide:  # the table's cells unwrapped
        wide.setenv("COLUMNS", "300")
        code, output = run("alerts", "--kind", "wheel_spinning", "--all")
    assert code == 0 and "acknowledged by ms-lee" in output
    code, output = run("policy", "arith", "--set", '{"min_evidence": 20}', "--json")
    assert code == 0 and json.loads(output)["policy"]["min_evidence"] == 20
    code, output = run("policy", "arith", "--set", '{"min_evidence": "many"}')
    assert code == 2 and "min_evidence" in output
    code, output = run("replay", "arith", "--json")
    replayed = json.loads(output)
    assert code == 0 and replayed["events"] == 14
    assert replayed["statuses"] == {"insufficient_evidence": 1, "mastered": 1}  # ben: override
    code, output = run("refit", "arith", "--json")
    assert code == 0 and json.loads(output)["replay"]["events"] == 14
    assert run("lift-override", str(oid), "--by", "ms-lee")[0] == 0
    code, output = run("lift-override", str(oid), "--by", "ms-lee", "--json")
    assert code == 2 and "already lifted" in json.loads(output)["message"]


def test_simulate_compares_planner_and_fixed_curriculum(run) -> None:  # type: ignore[no-untyped-def]
    code, output = run("simulate", "arith", "--goal", "mul", "--learners", "20", "--json")
    assert code == 0, output
    result = json.loads(output)
    assert result["planner"]["gate_violations"] == 0 and result["scope"] == 2
    assert result["fixed"]["goals_truly_mastered"] >= result["planner"]["goals_truly_mastered"] or (
        result["fixed_per_competency"] == 40
    )
    again = json.loads(run("simulate", "arith", "--goal", "mul", "--learners", "20", "--json")[1])
    assert again == result  # seeded
    code, output = run("simulate", "arith", "--goal", "nope", "--json")
    assert code == 2 and "goals" in output


def test_audit_thresholds_outside_zero_one_exit_2_naming_the_option(run) -> None:  # type: ignore[no-untyped-def]
    # a NaN gap passed every comparison and silently raised no alert at all
    for option, value in (("--mastery-gap", "nan"), ("--calibration-gap", "-0.1")):
        code, output = run("audit", "arith", "--attribute", "group", option, value, "--json")
        assert code == 2, output
        assert json.loads(output)["message"] == f"{option}: must be in [0, 1], got {float(value)}"


def test_counts_and_seeds_out_of_range_exit_2_naming_the_option(run) -> None:  # type: ignore[no-untyped-def]
    # --limit -1 listed every alert on SQLite (LIMIT -1) and was refused by PostgreSQL;
    # a seed or budget beyond INTEGER was stored by SQLite and refused by PostgreSQL
    for args, option in (
        (("alerts", "--limit", "-1"), "--limit"),
        (("placement", "start", "ana", "--seed", str(2**31)), "--seed"),
        (("placement", "start", "ana", "--budget", str(2**31)), "--budget"),
    ):
        code, output = run(*args)
        assert code == 2, output
        assert f"Invalid value for '{option}'" in " ".join(output.replace("│", " ").split())
    code, output = run("placement", "start", "ana", "--seed", str(2**31 - 1), "--json")
    assert code == 0 and json.loads(output)["learner_id"] == "ana", output


def test_attributes_then_audit_report(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    groups = tmp_path / "groups.csv"
    groups.write_text("learner_id,value,consent_by\nana,A,guardian\nben,B,self\n")
    code, output = run("attributes", str(groups), "--attribute", "group", "--json")
    assert code == 0 and json.loads(output) == {"attribute": "group", "stored": 2}, output
    html = tmp_path / "audit.html"
    code, output = run(
        "audit", "arith", "--attribute", "group", "--min-group", "1", "--folds", "2",
        "--no-dif", "--html", str(html), "--json",
    )  # fmt: skip
    assert code == 0, output
    assert "NaN" not in output  # undefined figures are null: the output is strict JSON
    report = json.loads(output)
    assert report["groups"].keys() == {"A", "B"}
    # ana answered 3 of 3 right, ben 4 of 11: the per-group counts come from the ledger
    assert {g: v["learners"] for g, v in report["groups"].items()} == {"A": 1, "B": 1}
    assert "<table" in html.read_text()
