"""The command line, in-process, against a SQLite file and the real data files."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from masterypath.cli import app, demo_keys
from masterypath.domain.access import Role
from masterypath.interop.lti_tool_key import ToolKey
from masterypath.interop.text_files import MORE_CELLS
from masterypath.services.accounts import AccountService
from masterypath.services.context import ServiceContext
from masterypath.services.privacy import PrivacyService
from masterypath.settings import Settings
from tests.conftest import data_file

CASE = Path(__file__).parents[1] / "fixtures" / "case_fractions.json"
RUBRIC = Path(__file__).parents[1] / "fixtures" / "circuits_rubric.json"


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MASTERYPATH_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(args))
        return result.exit_code, result.output

    return invoke


def test_init_and_show_empty(run) -> None:  # type: ignore[no-untyped-def]
    code, output = run("init", "--json")
    assert code == 0 and json.loads(output)["schema"] == "up to date"
    code, output = run("show-framework", "--json")
    assert code == 0 and json.loads(output) == []


def test_import_show_export_round_trip(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, output = run("import-framework", str(CASE), "--json")
    assert code == 0, output
    fid = json.loads(output)["id"]
    code, output = run("show-framework", fid, "--json")
    shown = json.loads(output)
    assert len(shown["competencies"]) == 4 and shown["topological_order"][0].endswith("a1")
    for fmt in ("case", "csv", "yaml"):
        target = tmp_path / f"out.{fmt}"
        code, output = run("export-framework", "--format", fmt, "--output", str(target))
        assert code == 0, output
    code, output = run("import-framework", str(tmp_path / "out.case"), "--replace", "--json")
    assert code == 0 and json.loads(output)["replaced"] is True
    code, output = run("show-framework", fid, "--json")
    assert json.loads(output) == shown


def test_bad_file_exits_2_naming_line_and_field(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.csv"
    bad.write_text("id,title,prerequisites\na,A,b\n")
    code, output = run("import-framework", str(bad))
    assert code == 2
    assert "unknown competency id(s) referenced: a.prerequisites -> 'b'" in output
    code, output = run("import-framework", str(tmp_path / "missing.yaml"), "--json")
    assert code == 2 and json.loads(output)["problems"][0]["reason"] == "no such file"


def test_a_cohort_is_created_whole_or_not_at_all(run) -> None:  # type: ignore[no-untyped-def]
    assert run("users", "add", "ann", "--role", "learner", "--learner", "a1",
               "--password", "a-long-password")[0] == 0  # fmt: skip
    assert run("users", "add", "ted", "--role", "educator", "--password", "a-long-password")[0] == 0
    # an unknown user, then a user who is not an educator: nothing is stored either time
    # (the cohort used to be created, with its learners, before the educators failed)
    for who, said in (("nobody", "no user 'nobody'"), ("ann", "is a learner, not an educator")):
        code, output = run("cohorts", "create", "c1", "--learner", "a1", "--educator", who)
        assert code == 2 and said in " ".join(output.split()), output
    code, output = run("cohorts", "create", "c1", "--learner", "a1", "--educator", "ted")
    assert code == 0 and "cohort c1: 1 learners, 1 educators" in output
    code, output = run("cohorts", "create", "c2", "--learner", "a1", "--learner", "a1", "--json")
    assert code == 0 and json.loads(output) == {"id": "c2", "learners": ["a1"], "educators": []}


def test_account_commands_answer_json(run) -> None:  # type: ignore[no-untyped-def]
    # every command that reports something has --json, these included
    assert run("users", "add", "ted", "--role", "educator", "--password", "a-long-password")[0] == 0
    code, output = run("users", "password", "ted", "--password", "another-password", "--json")
    assert code == 0 and json.loads(output) == {
        "username": "ted",
        "tokens_revoked": True,
        "must_change_password": False,
    }
    code, output = run("learners", "add", "l9", "--birth-date", "2016-05-01", "--json")
    assert code == 0 and json.loads(output) == {"learner_id": "l9", "stored": True}
    code, output = run("learners", "consent", "l9", "--guardian", "Mum", "--json")
    assert code == 0 and json.loads(output) == {"learner_id": "l9", "guardian": "Mum"}
    code, output = run(
        "api-keys", "create", "lms", "--scope", "evidence:write", "--expires-in-days", "30",
        "--json",
    )  # fmt: skip
    issued = json.loads(output)
    key_id, expires = issued["id"], datetime.fromisoformat(issued["expires_at"])
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)
    code, output = run("api-keys", "revoke", key_id, "--json")
    assert code == 0 and json.loads(output) == {"id": key_id, "revoked": True}
    code, output = run(
        "learners", "embed", "school/9", "--framework", "sql", "--minutes", "5",
        "--base-url", "https://lms.example/mp/", "--json",
    )  # fmt: skip
    link = json.loads(output)
    assert code == 0 and link["url"] == (
        f"https://lms.example/mp/embed/learner/school%2F9?framework=sql#token={link['token']}"
    )
    expires = datetime.fromisoformat(link["expires_at"])
    assert timedelta(minutes=4) < expires - datetime.now(UTC) <= timedelta(minutes=5)
    code, output = run("learners", "embed-links", "school/9", "--json")
    assert json.loads(output) == [
        {
            "id": link["id"],
            "created_by": "cli",
            "created_by_name": "cli",
            "created_at": json.loads(output)[0]["created_at"],
            "expires_at": link["expires_at"],
        }
    ]
    code, output = run("learners", "embed-links", "school/9")
    assert code == 0 and link["id"] in output and link["token"] not in output
    code, output = run("learners", "revoke-embed", "school/9", link["id"], "--json")
    assert code == 0 and json.loads(output) == {
        "learner_id": "school/9",
        "id": link["id"],
        "revoked": True,
    }
    code, output = run("learners", "embed-links", "school/9", "--json")
    assert json.loads(output) == []
    code, output = run("learners", "revoke-embed", "school/9", link["id"])
    assert code == 2 and "not found" in output.lower()
    code, output = run("learners", "embed", "l9", "--minutes", "0")
    assert code == 2 and "minutes: must be from 1 to 1440" in " ".join(output.split())
    # a birth date that is not a date is a named bad value (a traceback before)
    code, output = run("learners", "add", "l9", "--birth-date", "2020-13-45")
    assert code == 2 and "month must be in 1..12" in output and "Traceback" not in output


def test_a_bad_setting_exits_2_naming_the_variable(  # type: ignore[no-untyped-def]
    run, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a pydantic traceback before
    monkeypatch.setenv("MASTERYPATH_MAX_BODY_BYTES", "ten")
    monkeypatch.setenv("MASTERYPATH_EMBEDDINGS", "maybe")
    for command in (("show-framework",), ("serve", "--port", "1")):
        code, output = run(*command)
        assert code == 2 and "Traceback" not in output, output
        said = " ".join(output.split())  # rich wraps long lines
        assert "MASTERYPATH_MAX_BODY_BYTES: Input should be a valid integer" in said
        assert "MASTERYPATH_EMBEDDINGS: Input should be a valid boolean" in said
    monkeypatch.setenv("MASTERYPATH_MAX_BODY_BYTES", "0")
    monkeypatch.delenv("MASTERYPATH_EMBEDDINGS")
    code, output = run("show-framework")
    assert code == 2 and "greater than or equal to 1" in output


@pytest.mark.parametrize(
    "command",
    [
        ("rubrics", "import"),
        ("careers", "import"),
        ("attributes", "--attribute", "cohort"),
        ("feedback", "--answer", "a", "--rubric"),
    ],
)
def test_files_that_are_not_utf8_or_not_an_object_exit_2_naming_the_file(  # type: ignore[no-untyped-def]
    run, tmp_path: Path, command: tuple[str, ...]
) -> None:
    # each was a Python traceback before (found by feeding the importers bad files)
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"learner_id,value,consent_by\nl1,caf\xe9,guardian\n")
    code, output = run(*command, str(latin))
    assert code == 2, output
    assert "line 2: FILE: not UTF-8 text (byte 0xe9)" in output and "Traceback" not in output
    if command[0] in ("rubrics", "feedback"):
        listed = tmp_path / "list.json"
        listed.write_text("[1, 2]")
        code, output = run(*command, str(listed))
        assert code == 2 and "rubric: must be a JSON object, got list" in output


@pytest.mark.parametrize(
    ("command", "suffix"),
    [(("rubrics", "import"), ".json"), (("import-framework",), ".json")],
)
def test_json_files_with_nan_or_infinity_exit_2_naming_line_and_field(  # type: ignore[no-untyped-def]
    run, tmp_path: Path, command: tuple[str, ...], suffix: str
) -> None:
    # Python's json read them, and PostgreSQL then refused the stored JSON (a traceback)
    if command[0] == "rubrics":
        text = RUBRIC.read_text().replace('"points": 1,', '"points": Infinity,', 1)
        field = "criteria.0.levels.1.points"
    else:
        text = CASE.read_text().replace('"CFDocument": {', '"CFDocument": {"weight": NaN,', 1)
        field = "CFDocument.weight"
    assert "Infinity" in text or "NaN" in text
    bad = tmp_path / f"bad{suffix}"
    bad.write_text(text)
    code, output = run(*command, str(bad))
    assert code == 2, output
    flat = " ".join(output.split())
    assert f"{field}: is NaN, Infinity or beyond a double's range" in flat, flat
    assert "line " in flat and "Traceback" not in output


def test_import_evidence_counts(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "log.csv"
    log.write_text("user_id,skill_name,correct,order_id\nu1,add,1,1\nu1,add,x,2\nu2,mul,0,1\n")
    code, output = run("import-evidence", str(log), "--columns", "pybkt", "--json")
    assert code == 2
    assert json.loads(output)["problems"] == [
        {"location": "line 3", "field": "correct", "reason": "must be 0 or 1, got 'x'"}
    ]
    code, output = run(
        "import-evidence", str(log), "--columns", "pybkt", "--skip-bad-rows", "--json"
    )
    counts = json.loads(output)
    assert (counts["rows"], counts["stored"], counts["duplicate"], counts["rejected"]) == (
        3,
        2,
        0,
        1,
    )
    code, output = run("import-evidence", str(log), "--columns", "pybkt", "--skip-bad-rows")
    text = " ".join(output.split())  # rich wraps long lines
    assert code == 0 and "3 rows: 0 stored, 2 duplicate, 1 rejected" in text


def test_junyi_graph_with_named_repairs(run) -> None:  # type: ignore[no-untyped-def]
    path = str(data_file("graphs/Junyi-Prerequisites.json.gz"))
    code, output = run("import-framework", path, "--split-joined-ids", "--json")
    assert code == 2 and len(json.loads(output)["problems"]) == 3
    code, output = run(
        "import-framework",
        path,
        "--split-joined-ids",
        "--json",
        "--drop-edge",
        "proportions_1->proportions_1",
        "--drop-edge",
        "number_sense_length_l1->number_sense_length_l1",
        "--drop-edge",
        "simplifying_radicals->adding_and_subtracting_radicals",
    )
    assert code == 0, output
    result = json.loads(output)
    assert (result["competencies"], result["prerequisites"]) == (835, 978)
    assert len(result["notes"]) == 169 + 3 + 1


def test_demo_loads_a_course_without_serving(run) -> None:  # type: ignore[no-untyped-def]
    code, output = run("demo", "--no-serve", "--learners", "5", "--json")
    assert code == 0, output
    first = json.loads(output)
    assert first["framework"] == "dbe-kt22" and first["competencies"] == 19
    assert first["stored"] == first["evidence"] > 0
    roles = {login["username"]: login["role"] for login in first["logins"]}
    assert roles == {
        "admin": "admin",
        "teacher": "educator",
        "learner": "learner",
        "parent": "guardian",
    }
    code, output = run("demo", "--no-serve", "--learners", "5", "--json")
    again = json.loads(output)
    # the same course, watched a moment later: nothing conflicts, nothing is lost
    assert again["start"] == first["start"] and again["duplicate"] == first["evidence"]


def test_a_new_demo_course_begins_five_weeks_ago(run) -> None:  # type: ignore[no-untyped-def]
    before = datetime.now(UTC).date()
    code, output = run("demo", "--no-serve", "--learners", "2", "--json")
    after = datetime.now(UTC).date()
    assert code == 0, output
    start = date.fromisoformat(json.loads(output)["start"])
    assert before - timedelta(weeks=5) <= start <= after - timedelta(weeks=5)


def test_the_demo_keeps_its_start_and_refuses_another(run) -> None:  # type: ignore[no-untyped-def]
    # long enough ago that every simulated learner has stopped: loading again adds nothing
    code, output = run("demo", "--no-serve", "--learners", "3", "--start", "2026-01-05", "--json")
    assert code == 0, output
    first = json.loads(output)
    assert first["start"] == "2026-01-05" and first["stored"] == first["evidence"] > 0
    code, output = run("demo", "--no-serve", "--learners", "3", "--json")
    again = json.loads(output)
    assert (again["start"], again["stored"], again["duplicate"]) == (
        "2026-01-05",
        0,
        first["evidence"],
    )
    code, output = run("demo", "--no-serve", "--learners", "3", "--start", "2026-10-01")
    assert code == 2
    assert "--start '2026-10-01'" in output and "began on 2026-01-05" in " ".join(output.split())


def test_help_reflows_docstrings_and_keeps_every_word() -> None:
    """Help text reads as paragraphs at the terminal's width, not the docstring's line breaks."""
    runner = CliRunner()
    main = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert main.exit_code == 0
    assert "takes --json. Exit codes: 0 success" in main.output
    fit = runner.invoke(app, ["kt", "fit", "--help"], env={"COLUMNS": "200"})
    assert fit.exit_code == 0
    assert "rollup:METHOD" in " ".join(fit.output.replace("│", " ").split())


def test_csv_rows_with_more_cells_than_the_header_exit_2_naming_the_line(  # type: ignore[no-untyped-def]
    run, tmp_path: Path
) -> None:
    # an unquoted comma shifted the values: "Smith" stored as the value, " Jr." as consent
    rows = tmp_path / "attributes.csv"
    rows.write_text("learner_id,value,consent_by\nl1,A,guardian\nl2,Smith, Jr.,guardian\n")
    code, output = run("attributes", str(rows), "--attribute", "family", "--json")
    assert code == 2, output
    assert json.loads(output)["problems"] == [
        {"location": "line 3", "field": "(row)", "reason": MORE_CELLS}
    ]
    taxonomy = tmp_path / "careers.csv"
    taxonomy.write_text("occupation,skill,importance\nanalyst,sql, joins,0.9\n")
    code, output = run("careers", "import", str(taxonomy), "--json")
    assert code == 2 and json.loads(output)["problems"][0]["reason"] == MORE_CELLS, output


def test_learners_access_log_pages_and_names_the_reader(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert run("init")[0] == 0
    context = ServiceContext.from_settings(
        Settings(database_url=f"sqlite:///{tmp_path / 'cli.db'}")
    )
    ted = AccountService(context).create_user("ted", "a-long-password", Role.EDUCATOR)
    privacy = PrivacyService(context)  # no window here: every read is a row
    for n in range(3):
        privacy.log_access(f"user:{ted}", "read_learner", f"GET /p{n}", "l9")
    privacy.log_access("key:x", "read_learner", "GET /other", "l8")  # another learner's
    context.engine.dispose()
    code, output = run("learners", "access-log", "l9", "--limit", "2", "--offset", "1", "--json")
    rows = json.loads(output)
    assert code == 0 and [(r["what"], r["actor_name"]) for r in rows] == [
        ("GET /p1", "ted"),
        ("GET /p2", "ted"),
    ]
    code, output = run("learners", "access-log", "l9")
    assert code == 0 and output.count("ted") == 3 and "GET /p0" in output
    code, output = run("learners", "access-log", "l9", "--limit", "0")
    assert code == 2 and "--limit" in output


def test_the_demo_server_signs_badges_and_lti_answers_with_keys_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("BADGE_KEY_FILE", "BADGE_ISSUER_URL", "BADGE_ISSUER_NAME", "LTI_KEY_FILE"):
        monkeypatch.setenv(f"MASTERYPATH_{name}", "")  # restored after the test: demo_keys
        monkeypatch.delenv(f"MASTERYPATH_{name}")  # sets them
    said = demo_keys("http://127.0.0.1:8000/")
    assert said == [
        "badges for mastered competencies are signed with var/demo-badge-key.pem (demo only)",
        "LTI 1.3: grades back and deep linking are signed with var/demo-lti-key.pem (demo only)",
    ]
    settings = Settings.from_environment()
    assert settings.badge_issuer_url == "http://127.0.0.1:8000/"
    key = ToolKey.from_settings(settings)
    assert key is not None and key.key_set()["keys"][0]["kid"] == key.kid
    made = (tmp_path / "var/demo-lti-key.pem").read_bytes()
    assert demo_keys("http://127.0.0.1:8000/") == []  # set now: kept as they are
    monkeypatch.delenv("MASTERYPATH_LTI_KEY_FILE")
    assert len(demo_keys("http://127.0.0.1:8000/")) == 1
    assert (tmp_path / "var/demo-lti-key.pem").read_bytes() == made  # the same key, kept
