"""Disabling an account (``PATCH /api/v1/users/{id}``, ``masterypath users disable``) and
the roster disabling the accounts of users it marks disabled or gone, on SQLite and
PostgreSQL."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from masterypath.cli import app
from masterypath.domain.access import Role
from masterypath.errors import AuthenticationError, ConflictError
from masterypath.interop.oneroster import parse_roster
from masterypath.services.accounts import AccountService
from masterypath.services.context import ServiceContext
from masterypath.services.roster import RosterService
from tests.conftest import CHEAP_HASHER, api_app, login
from tests.integration.test_roster import USERS, export


def test_a_disabled_account_cannot_log_in_and_its_tokens_end_at_once(
    database: ServiceContext,
) -> None:
    client, accounts = api_app(database)
    root = accounts.create_user("root", "root-password", Role.ADMIN)
    lee = accounts.create_user("lee", "lee-password", Role.EDUCATOR)
    admin = login(client, "root", "root-password")
    lees = login(client, "lee", "lee-password")
    assert client.get("/auth/me", headers=lees).status_code == 200

    done = client.patch(f"/api/v1/users/{lee}", json={"disabled": True}, headers=admin)
    assert done.status_code == 200, done.text
    assert (done.json()["disabled"], done.json()["disabled_by"]) == (True, f"user:{root}")
    assert client.get("/auth/me", headers=lees).status_code == 401  # its token is revoked
    refused = client.post("/auth/login", json={"username": "lee", "password": "lee-password"})
    assert refused.status_code == 401
    # who knows the password is told why; a guess learns only that it is wrong
    assert refused.json()["error"] == "account_disabled"
    assert refused.json()["message"] == (
        f"this account was disabled at 2026-11-23T09:00:00+00:00 by user:{root}; "
        "an admin can enable it again"
    )
    guessed = client.post("/auth/login", json={"username": "lee", "password": "a-guess-123"})
    assert guessed.json()["message"] == "wrong username or password"
    listed = {u["username"]: u for u in client.get("/api/v1/users", headers=admin).json()}
    assert listed["lee"]["disabled"] is True and listed["root"]["disabled"] is False

    enabled = client.patch(f"/api/v1/users/{lee}", json={"disabled": False}, headers=admin)
    assert (enabled.json()["disabled"], enabled.json()["disabled_by"]) == (False, None)
    assert login(client, "lee", "lee-password")  # logs in again

    own = client.patch(f"/api/v1/users/{root}", json={"disabled": True}, headers=admin)
    assert own.status_code == 422 and "cannot disable itself" in own.json()["message"]
    missing = client.patch("/api/v1/users/nobody", json={"disabled": True}, headers=admin)
    assert missing.status_code == 404
    unsaid = client.patch(f"/api/v1/users/{lee}", json={}, headers=admin)
    assert unsaid.status_code == 422
    with pytest.raises(ConflictError, match="last enabled admin"):  # nobody could undo it
        accounts.set_disabled(root, True, by="cli")
    second = accounts.create_user("ada", "ada-password", Role.ADMIN)
    assert accounts.set_disabled(root, True, by=f"user:{second}")["disabled"] is True


def test_the_cli_disables_and_enables_an_account(
    database: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts = AccountService(database, hasher=CHEAP_HASHER)
    accounts.create_user("lee", "lee-password", Role.EDUCATOR)
    url = database.engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("MASTERYPATH_DATABASE_URL", url)
    done = CliRunner().invoke(app, ["users", "disable", "lee", "--json"])
    assert done.exit_code == 0, done.output
    assert (json.loads(done.output)["disabled"], json.loads(done.output)["disabled_by"]) == (
        True,
        "cli",
    )
    listed = CliRunner().invoke(app, ["users", "list"], env={"COLUMNS": "200"})
    assert "by cli" in listed.output
    done = CliRunner().invoke(app, ["users", "enable", "lee"])
    assert done.exit_code == 0 and "lee enabled" in done.output
    assert accounts.login("lee", "lee-password").token
    missing = CliRunner().invoke(app, ["users", "disable", "nobody"])
    assert missing.exit_code != 0 and "nobody" in missing.output


def test_the_roster_disables_the_accounts_of_users_it_marks_disabled_or_gone(
    database: ServiceContext,
) -> None:
    roster = RosterService(database, hasher=CHEAP_HASHER)
    made = roster.import_roster(parse_roster(export()), by="test", accounts=True)
    password = {a.username: a.password for a in made.accounts}
    accounts = AccountService(database, hasher=CHEAP_HASHER)
    ben = accounts.login("ben", password["ben"])
    mei = accounts.login("mei.lee", password["mei.lee"])

    # ben is disabled in the school's system, Ms Lee has left
    users = USERS.replace("s2,,true", "s2,,false").replace("t1,,true", "t1,tobedeleted,true")
    done = roster.import_roster(parse_roster(export(users_csv=users)), by="test").to_dict()
    assert (done["accounts_disabled"], done["accounts_enabled"]) == (2, 0)
    listed = {u["username"]: u for u in accounts.users()}
    assert listed["ben"]["disabled_by"] == listed["mei.lee"]["disabled_by"] == "roster"
    assert listed["ana.lima"]["disabled"] is False
    for issued in (ben, mei):  # their logins ended
        with pytest.raises(AuthenticationError, match=r"revoked|disabled"):
            accounts.authenticate(issued.token)
    again = roster.import_roster(parse_roster(export(users_csv=users)), by="test").to_dict()
    assert (again["accounts_disabled"], again["accounts_enabled"]) == (0, 0)

    # ben is enabled again there, and here; an account an admin disabled stays so
    accounts.set_disabled(listed["ana.lima"]["id"], True, by="cli")  # type: ignore[arg-type]
    back = roster.import_roster(parse_roster(export()), by="test").to_dict()
    assert (back["accounts_disabled"], back["accounts_enabled"]) == (0, 2)
    listed = {u["username"]: u for u in accounts.users()}
    assert not listed["ben"]["disabled"] and not listed["mei.lee"]["disabled"]
    assert listed["ana.lima"]["disabled_by"] == "cli"
    assert accounts.login("ben", password["ben"]).token
