"""An account changes its own password (``POST /auth/password``), and first passwords (a
roster's, or an admin's ``temporary`` one) say so at login, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from masterypath.cli import app
from masterypath.domain.access import Role, Scope
from masterypath.interop.oneroster import parse_roster
from masterypath.services.context import ServiceContext
from masterypath.services.privacy import PrivacyService
from masterypath.services.roster import RosterService
from tests.conftest import CHEAP_HASHER, api_app, login


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_an_account_changes_its_own_password(database: ServiceContext) -> None:
    client, accounts = api_app(database)
    accounts.create_user("kim", "kim-first-1", Role.EDUCATOR)
    first = login(client, "kim", "kim-first-1")
    other_device = login(client, "kim", "kim-first-1")

    def change(headers: dict[str, str], current: str, new: str) -> tuple[int, dict[str, object]]:
        answer = client.post(
            "/auth/password",
            json={"current_password": current, "new_password": new},
            headers=headers,
        )
        return answer.status_code, answer.json()

    status, body = change(first, "wrong-password", "kim-second-2")
    assert status == 422 and body["message"] == "current_password: is not the account's password"
    status, body = change(first, "kim-first-1", "short")
    assert status == 422 and body["message"] == "new_password: must be at least 8 characters"
    status, body = change(first, "kim-first-1", "kim-first-1")
    assert status == 422 and "must differ from the current password" in str(body["message"])
    status, body = change(first, "kim-first-1", "kim-second-2")
    assert status == 200 and body["must_change_password"] is False
    # every token of the account is revoked, on every device; the answer is a new one
    assert client.get("/auth/me", headers=first).status_code == 401
    assert client.get("/auth/me", headers=other_device).status_code == 401
    assert client.get("/auth/me", headers=bearer(str(body["token"]))).status_code == 200
    assert (
        client.post("/auth/login", json={"username": "kim", "password": "kim-first-1"}).status_code
        == 401
    )
    login(client, "kim", "kim-second-2")
    audited = [e["action"] for e in PrivacyService(database).audit_log()]
    assert audited.count("change_password") == 1
    # without a login, or with an API key: no password to change
    assert (
        client.post(
            "/auth/password", json={"current_password": "a", "new_password": "b" * 8}
        ).status_code
        == 401
    )
    key = accounts.create_api_key("lms", [Scope.EVIDENCE_WRITE], by="test").key
    status, body = change(bearer(key), "x", "y" * 8)
    assert status == 403 and "own login" in str(body["message"])


def test_wrong_current_passwords_are_throttled_as_logins_are(database: ServiceContext) -> None:
    client, accounts = api_app(database)
    accounts.create_user("kim", "kim-first-1", Role.EDUCATOR)
    headers = login(client, "kim", "kim-first-1")
    wrong = {"current_password": "guess-guess", "new_password": "kim-second-2"}
    codes = [
        client.post("/auth/password", json=wrong, headers=headers).status_code for _ in range(6)
    ]
    assert codes == [422] * 5 + [429]
    right = {"current_password": "kim-first-1", "new_password": "kim-second-2"}
    refused = client.post("/auth/password", json=right, headers=headers)
    assert refused.status_code == 429 and "Retry-After" in refused.headers


def test_first_passwords_say_so_until_changed(database: ServiceContext) -> None:
    client, accounts = api_app(database)
    roster = parse_roster(
        {"users.csv": "sourcedId,role,username,givenName,familyName\ns1,student,ana,Ana,Lima\n"}
    )
    made = RosterService(database, hasher=CHEAP_HASHER).import_roster(
        roster, by="test", accounts=True
    )
    password = made.accounts[0].password
    issued = client.post("/auth/login", json={"username": "ana", "password": password}).json()
    assert issued["must_change_password"] is True
    assert accounts.users()[0]["must_change_password"] is True
    # until it is changed, the login may do nothing else
    own = client.get("/api/v1/learners/s1/export", headers=bearer(issued["token"]))
    assert own.status_code == 403 and "change the first password first" in own.json()["message"]
    assert client.get("/auth/me", headers=bearer(issued["token"])).status_code == 200
    changed = client.post(
        "/auth/password",
        json={"current_password": password, "new_password": "ana-own-password"},
        headers=bearer(issued["token"]),
    )
    assert changed.status_code == 200 and changed.json()["must_change_password"] is False
    own = client.get("/api/v1/learners/s1/export", headers=bearer(changed.json()["token"]))
    assert own.status_code == 200
    again = client.post("/auth/login", json={"username": "ana", "password": "ana-own-password"})
    assert again.json()["must_change_password"] is False
    # an admin's temporary password for a forgotten one is a first password again
    accounts.set_password("ana", "temporary-1", by="admin", temporary=True)
    again = client.post("/auth/login", json={"username": "ana", "password": "temporary-1"})
    assert again.json()["must_change_password"] is True
    accounts.set_password("ana", "permanent-1", by="admin")
    again = client.post("/auth/login", json={"username": "ana", "password": "permanent-1"})
    assert again.json()["must_change_password"] is False


def test_the_commands_set_a_temporary_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MASTERYPATH_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    runner = CliRunner()
    made = runner.invoke(
        app,
        ["users", "add", "lee", "--role", "educator", "--temporary", "--json"],
        input="first-pass-1\nfirst-pass-1\n",
    )
    assert made.exit_code == 0, made.output
    assert '"must_change_password": true' in made.output
    listed = runner.invoke(app, ["users", "list"])
    assert "yes" in listed.output.split("lee")[1].splitlines()[0]
    reset = runner.invoke(
        app, ["users", "password", "lee", "--json"], input="second-pass-2\nsecond-pass-2\n"
    )
    assert reset.exit_code == 0 and '"must_change_password": false' in reset.output


def test_an_admin_gives_first_passwords(database: ServiceContext) -> None:
    client, accounts = api_app(database)
    accounts.create_user("root", "root-password", Role.ADMIN)
    admin = login(client, "root", "root-password")
    made = client.post("/api/v1/users", json={"username": "lee", "role": "educator"}, headers=admin)
    assert made.status_code == 201, made.text
    first = made.json()
    assert first["must_change_password"] is True and len(first["password"]) == 16
    issued = client.post("/auth/login", json={"username": "lee", "password": first["password"]})
    assert issued.json()["must_change_password"] is True
    lee = bearer(issued.json()["token"])
    # lee forgot it: the admin gives a new first password; lee's logins end
    reset = client.post(f"/api/v1/users/{first['id']}/first-password", headers=admin)
    assert reset.status_code == 200 and reset.json()["username"] == "lee"
    assert reset.json()["password"] != first["password"]
    assert client.get("/auth/me", headers=lee).status_code == 401
    again = client.post(
        "/auth/login", json={"username": "lee", "password": reset.json()["password"]}
    )
    assert again.json()["must_change_password"] is True
    missing = client.post("/api/v1/users/nobody/first-password", headers=admin)
    assert missing.status_code == 404
    # a password given is kept as it is, and is the account's own unless temporary
    given = {"username": "kim", "role": "educator", "password": "kims-own-password"}
    kept = client.post("/api/v1/users", json=given, headers=admin).json()
    assert "password" not in kept and kept["must_change_password"] is False


def test_migration_0025_keeps_every_login_and_cohort(database: ServiceContext) -> None:
    # a first version copied the users table on SQLite, and dropping the old one (foreign
    # keys on) deleted every token and cohort educator that named an account
    from alembic import command

    from masterypath.store.database import alembic_config, upgrade

    client, accounts = api_app(database)
    teacher = accounts.create_user("lee", "lee-password", Role.EDUCATOR)
    accounts.create_cohort("c1", "Class", by="test", educators=[teacher])
    headers = login(client, "lee", "lee-password")
    command.downgrade(alembic_config(database.engine), "0024")
    upgrade(database.engine)
    assert client.get("/auth/me", headers=headers).status_code == 200
    assert [c["id"] for c in client.get("/api/v1/cohorts", headers=headers).json()] == ["c1"]
    assert accounts.users()[0]["must_change_password"] is False
