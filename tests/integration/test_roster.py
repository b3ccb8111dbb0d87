"""Provisioning from a OneRoster export (``RosterService``, ``masterypath roster import``)
on SQLite and PostgreSQL: profiles, accounts that log in, classes as cohorts, the consent
gate from the birth dates, a second export, and nothing stored when anything is wrong."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from masterypath.cli import app
from masterypath.domain.access import Role
from masterypath.errors import ConflictError, InvalidInputError
from masterypath.interop.loader import load_framework_file
from masterypath.interop.oneroster import parse_roster
from masterypath.services.accounts import AccountService
from masterypath.services.context import ServiceContext
from masterypath.services.frameworks import FrameworkService
from masterypath.services.privacy import PrivacyService
from masterypath.services.roster import RosterService
from masterypath.store.tables import (
    CohortEducatorRow,
    CohortMemberRow,
    CohortRow,
    LearnerProfileRow,
    UserRow,
)
from tests.conftest import CHEAP_HASHER, api_app, login

FIXTURES = Path(__file__).parents[1] / "fixtures"
USERS = (
    "sourcedId,status,enabledUser,role,username,givenName,familyName,email\n"
    "s1,,true,student,ana.lima,Ana,Lima,ana@school.example\n"
    "s2,,true,student,ben,Ben,Okafor,\n"
    "s3,,false,student,cy,Cy,Ng,\n"
    "t1,,true,teacher,mei.lee,Mei,Lee,\n"
    "a1,,true,aide,al,Al,Aide,\n"
)
CLASSES = "sourcedId,title\nc1,Algebra 1\nc2,Geometry\n"
ENROLLMENTS = (
    "sourcedId,status,classSourcedId,userSourcedId,role\n"
    "e1,,c1,s1,student\n"
    "e2,,c1,s2,student\n"
    "e3,,c2,s3,student\n"
    "e4,,c1,t1,teacher\n"
    "e5,,c1,a1,aide\n"
)
DEMOGRAPHICS = "sourcedId,birthDate\ns1,2015-01-10\ns2,2008-03-01\n"  # ana is 11


def export(**changes: str) -> dict[str, str]:
    files = {
        "users.csv": USERS,
        "classes.csv": CLASSES,
        "enrollments.csv": ENROLLMENTS,
        "demographics.csv": DEMOGRAPHICS,
    }
    return files | {name.replace("_", "."): text for name, text in changes.items()}


def counts(context: ServiceContext) -> dict[str, int]:
    with context.sessions() as session:
        return {
            t.__tablename__: session.scalar(select(func.count()).select_from(t)) or 0
            for t in (LearnerProfileRow, UserRow, CohortRow, CohortMemberRow)
        }


def answer(learner: str) -> dict[str, Any]:
    return {
        "learner_id": learner,
        "competency_ids": ["select"],
        "outcome": {"type": "binary", "correct": True},
        "timestamp": "2026-11-02T10:00:00+00:00",
    }


def test_a_roster_becomes_learners_accounts_and_cohorts(database: ServiceContext) -> None:
    FrameworkService(database).save(
        load_framework_file(FIXTURES / "careers_programme.yaml").framework
    )
    roster = RosterService(database, hasher=CHEAP_HASHER)
    done = roster.import_roster(parse_roster(export()), by="test", accounts=True)
    figures = done.to_dict()
    assert figures["learners_added"] == 3 and figures["cohorts_added"] == 2
    assert (figures["members_added"], figures["educators_added"]) == (3, 1)
    # cy is disabled (no account), the aide has no part here
    assert sorted(figures["accounts_created"]) == ["ana.lima", "ben", "mei.lee"]
    assert figures["left_out"] == ["enrollments as aide: not kept"]
    assert "password" not in json.dumps(figures)
    profile = PrivacyService(database).profile("s1")
    assert (profile["name"], profile["email"], profile["under_13"]) == (
        "Ana Lima",
        "ana@school.example",
        True,
    )
    # the accounts log in with their first passwords, as who the roster says they are
    client, _ = api_app(database)
    passwords = {a.username: a.password for a in done.accounts}

    def own_login(username: str) -> dict[str, str]:
        """Logged in, with the first password changed (nothing else is allowed before)."""
        first = login(client, username, passwords[username])
        change = {"current_password": passwords[username], "new_password": username + "-own"}
        changed = client.post("/auth/password", json=change, headers=first)
        assert changed.status_code == 200, changed.text
        return {"Authorization": f"Bearer {changed.json()['token']}"}

    mei = own_login("mei.lee")
    cohorts = client.get("/api/v1/cohorts", headers=mei).json()
    assert [(c["id"], c["title"]) for c in cohorts] == [("c1", "Algebra 1")]
    ana = own_login("ana.lima")
    assert client.get("/api/v1/learners/s1", headers=ana).status_code == 200
    assert client.get("/api/v1/learners/s2", headers=ana).status_code == 403
    # the teacher sees her class's learners, not the other class's
    grid = client.get("/api/v1/frameworks/dbcourse/grid", headers=mei).status_code
    assert grid == 200
    assert client.get("/api/v1/learners/s3", headers=mei).status_code == 403
    # ana is under 13: evidence waits for a guardian's consent, as for any learner
    accounts = AccountService(database, hasher=CHEAP_HASHER)
    accounts.create_user("admin", "admin-password", Role.ADMIN)
    admin = login(client, "admin", "admin-password")
    refused = client.post("/api/v1/evidence", json=answer("s1"), headers=admin)
    assert refused.status_code == 403 and refused.json()["error"] == "consent_required"
    assert client.post("/api/v1/evidence", json=answer("s2"), headers=admin).status_code == 201


def test_the_next_export_changes_what_changed(database: ServiceContext) -> None:
    roster = RosterService(database, hasher=CHEAP_HASHER)
    roster.import_roster(parse_roster(export()), by="test", accounts=True)
    before = counts(database)
    again = roster.import_roster(parse_roster(export()), by="test", accounts=True)
    assert counts(database) == before and again.accounts == []  # nothing twice
    assert again.to_dict()["learners_updated"] == 0
    users = USERS.replace("Ben,Okafor,", "Ben,Okafor-Smith,") + "s4,,true,student,dee,Dee,Bo,\n"
    enrollments = ENROLLMENTS.replace("e2,,c1,s2", "e2,tobedeleted,c1,s2") + "e6,,c2,s4,student\n"
    classes = CLASSES.replace("Geometry", "Geometry (spring)")
    changed = roster.import_roster(
        parse_roster(export(users_csv=users, enrollments_csv=enrollments, classes_csv=classes)),
        by="test",
        accounts=True,
    ).to_dict()
    assert (changed["learners_added"], changed["learners_updated"]) == (1, 1)
    assert (changed["members_added"], changed["members_removed"]) == (1, 1)
    assert changed["cohorts_renamed"] == 1 and changed["accounts_created"] == ["dee"]
    assert AccountService(database).cohort_members("c1") == {"s1"}
    assert AccountService(database).cohort_members("c2") == {"s3", "s4"}
    assert PrivacyService(database).profile("s2")["name"] == "Ben Okafor-Smith"
    # a roster without demographics keeps the birth dates stored
    roster.import_roster(parse_roster({"users.csv": users}), by="test")
    assert PrivacyService(database).profile("s1")["under_13"] is True
    # Algebra 1 ended: nobody sees its learners through it any more; the cohort stays
    ended = export(
        users_csv=users,
        enrollments_csv=enrollments,
        classes_csv=CLASSES.replace("c1,Algebra 1", "c1,Algebra 1,tobedeleted").replace(
            "sourcedId,title", "sourcedId,title,status"
        ),
    )
    AccountService(database).enrol("c1", "by-hand", by="test")  # not in the roster at all
    closed = roster.import_roster(parse_roster(ended), by="test").to_dict()
    assert (closed["members_removed"], closed["educators_removed"]) == (2, 1)
    assert AccountService(database).cohort_members("c1") == set()
    assert AccountService(database).cohort_members("c2") == {"s3", "s4"}
    assert "class c1 marked tobedeleted: its cohort is kept, without its students and " in (
        " ".join(closed["left_out"])
    )
    teacher = AccountService(database).user_id("mei.lee")
    with database.sessions() as session:
        assert (
            session.scalars(
                select(CohortEducatorRow).where(CohortEducatorRow.user_id == teacher)
            ).all()
            == []
        )


def test_a_taken_username_stores_nothing(database: ServiceContext) -> None:
    AccountService(database, hasher=CHEAP_HASHER).create_user("ben", "password-ben", Role.EDUCATOR)
    before = counts(database)
    with pytest.raises(InvalidInputError) as raised:
        RosterService(database, hasher=CHEAP_HASHER).import_roster(
            parse_roster(export()), by="test", accounts=True
        )
    assert [str(p) for p in raised.value.problems] == [
        "users.csv:3: username: 'ben' is taken by another account (educator)"
    ]
    assert counts(database) == before


def test_the_command_imports_and_writes_the_first_passwords(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MASTERYPATH_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    folder = tmp_path / "export"
    folder.mkdir()
    for name, text in export().items():
        (folder / name).write_text(text, encoding="utf-8")
    runner = CliRunner()
    passwords = tmp_path / "first-passwords.csv"
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "users.csv").write_text("sourcedId,role,givenName,familyName\ns1,pupil,A,B\n")
    refused = runner.invoke(app, ["roster", "import", str(broken), "--json"])
    assert refused.exit_code == 2 and "users.csv:2: role: 'pupil'" in refused.output
    result = runner.invoke(
        app, ["roster", "import", str(folder), "--accounts-file", str(passwords), "--json"]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["learners_added"] == 3 and figures["accounts_file"] == str(passwords)
    assert stat.S_IMODE(passwords.stat().st_mode) == 0o600
    rows = passwords.read_text().splitlines()
    assert rows[0] == "username,password,role" and len(rows) == 4
    assert {r.split(",")[0] for r in rows[1:]} == {"ana.lima", "ben", "mei.lee"}
    # an existing file is never overwritten: the passwords in it would be lost
    again = runner.invoke(app, ["roster", "import", str(folder), "--accounts-file", str(passwords)])
    assert again.exit_code == 2 and "exists: name a new file" in again.output
    table = runner.invoke(app, ["roster", "import", str(folder)])
    assert table.exit_code == 0 and "learners added 0" in table.output
    assert "left out: enrollments as aide: not kept" in table.output


def test_the_api_imports_a_roster(database: ServiceContext) -> None:
    client, accounts = api_app(database)
    accounts.create_user("root", "root-password", Role.ADMIN)
    admin = login(client, "root", "root-password")
    broken = {"files": {"users.csv": "sourcedId,role,givenName,familyName\ns1,pupil,A,B\n"}}
    refused = client.post("/api/v1/roster", json=broken, headers=admin)
    assert refused.status_code == 422
    assert refused.json()["problems"][0] == {
        "location": "users.csv:2",
        "field": "role",
        "reason": refused.json()["problems"][0]["reason"],
    }
    assert "'pupil' is not a OneRoster role" in refused.json()["problems"][0]["reason"]
    done = client.post("/api/v1/roster", json={"files": export(), "accounts": True}, headers=admin)
    assert done.status_code == 200, done.text
    answer = done.json()
    assert answer["learners_added"] == 3 and answer["cohorts_added"] == 2
    made = {a["username"]: a for a in answer["accounts"]}
    assert sorted(made) == ["ana.lima", "ben", "mei.lee"] and made["mei.lee"]["role"] == "educator"
    issued = client.post(
        "/auth/login", json={"username": "ben", "password": made["ben"]["password"]}
    )
    assert issued.json()["must_change_password"] is True
    unknown = {"files": {"orgs.csv": "sourcedId\n"}}
    assert client.post("/api/v1/roster", json=unknown, headers=admin).status_code == 422


def test_an_account_made_meanwhile_is_a_conflict_and_nothing_is_stored(
    database: ServiceContext,
) -> None:
    accounts = AccountService(database, hasher=CHEAP_HASHER)

    def meanwhile(done: int, total: int) -> None:  # between the check and the transaction
        if done == total:
            accounts.create_user("ben", "password-ben", Role.EDUCATOR)

    before = counts(database)
    with pytest.raises(ConflictError, match="another writer"):
        RosterService(database, hasher=CHEAP_HASHER).import_roster(
            parse_roster(export()), by="test", accounts=True, progress=meanwhile
        )
    assert counts(database) == before | {"users": before["users"] + 1}  # ben's, no other
