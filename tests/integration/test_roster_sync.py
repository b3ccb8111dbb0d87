"""``masterypath roster sync``: the roster read from a student information system's
OneRoster 1.2 REST service, here a real HTTP server on 127.0.0.1 standing in for one
(with OAuth 2 client credentials and pages of two records)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from masterypath.cli import app
from masterypath.domain.access import Role
from masterypath.services.context import ServiceContext
from masterypath.settings import Settings
from masterypath.store.database import upgrade
from masterypath.store.tables import (
    CohortMemberRow,
    CohortRow,
    LearnerProfileRow,
    RosterReadRow,
    UserRow,
)
from tests.conftest import api_app, login
from tests.sis_stub import CLIENT, Sis, enrollment, running_sis, settings_of


@pytest.fixture
def sis() -> Iterator[Sis]:
    with running_sis() as system:
        yield system


@pytest.fixture
def configured(sis: Sis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ServiceContext:
    url = f"sqlite:///{tmp_path / 'sync.db'}"
    monkeypatch.setenv("MASTERYPATH_DATABASE_URL", url)
    monkeypatch.setenv("MASTERYPATH_ONEROSTER_URL", sis.url)
    monkeypatch.setenv("MASTERYPATH_ONEROSTER_TOKEN_URL", sis.token_url)
    monkeypatch.setenv("MASTERYPATH_ONEROSTER_CLIENT_ID", CLIENT[0])
    monkeypatch.setenv("MASTERYPATH_ONEROSTER_CLIENT_SECRET", CLIENT[1])
    monkeypatch.setattr("masterypath.interop.oneroster_rest.PAGE", 2)
    context = ServiceContext.from_settings(Settings(database_url=url))
    upgrade(context.engine)
    return context


def test_the_roster_is_read_page_by_page_from_the_sis_and_stored(
    configured: ServiceContext, sis: Sis, tmp_path: Path
) -> None:
    passwords = tmp_path / "passwords.csv"
    done = CliRunner().invoke(app, ["roster", "sync", "--accounts-file", str(passwords), "--json"])
    assert done.exit_code == 0, done.output
    figures = json.loads(done.output)
    assert figures["learners_added"] == 3
    assert sis.pages == [
        "users@0",
        "users@2",
        "users@4",  # two full pages, then an empty one
        "classes@0",
        "enrollments@0",
        "enrollments@2",
        "demographics@0",
    ]
    assert "roster-core.readonly" in sis.scopes[0]
    with configured.sessions() as session:
        query = select(LearnerProfileRow.learner_id, LearnerProfileRow.name)
        names = {learner: name for learner, name in session.execute(query)}
        assert names == {"s1": "Ana Lima", "s2": "Ben Okafor", "s3": "Cleo Park"}
        cleo = session.get(LearnerProfileRow, "s3")
        assert cleo is not None and str(cleo.birth_date) == "2016-04-01"
        assert session.get(CohortRow, "c1") is not None
        members = set(session.scalars(select(CohortMemberRow.learner_id)))
        assert members == {"s1", "s2"}
        usernames = set(session.scalars(select(UserRow.username)))
        assert usernames == {"ana", "ben", "ms-lee"}
    assert len(passwords.read_text().splitlines()) == 4
    # the next sync changes what changed: Ben left the class
    sis.records["enrollments"][1]["status"] = "tobedeleted"
    again = CliRunner().invoke(app, ["roster", "sync", "--json"])
    assert again.exit_code == 0, again.output
    with configured.sessions() as session:
        assert set(session.scalars(select(CohortMemberRow.learner_id))) == {"s1"}


def test_after_the_first_read_only_the_changes_are_read(
    configured: ServiceContext, sis: Sis
) -> None:
    sis.dated("2026-12-01T08:00:00Z", last="2026-12-01T08:30:00Z")
    first = CliRunner().invoke(app, ["roster", "sync", "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["changes_since"] is None  # everything, the first time
    # Ben is renamed; Cleo, unchanged herself, joins the class (unchanged too)
    sis.records["users"][1] |= {"givenName": "Benjamin", "dateLastModified": "2026-12-02T09:00Z"}
    sis.records["enrollments"].append(
        enrollment("e4", "c1", "s3", "student") | {"dateLastModified": "2026-12-02T09:30:00Z"}
    )
    sis.pages.clear()
    second = CliRunner().invoke(app, ["roster", "sync", "--json"])
    assert second.exit_code == 0, second.output
    figures = json.loads(second.output)
    since = "2026-12-01T08:30:00Z"  # the latest change the first read stored
    assert sis.pages == [
        f"users@0 since {since}",
        f"classes@0 since {since}",
        f"enrollments@0 since {since}",  # the teacher's (read again: changed at the mark)
        f"enrollments@2 since {since}",  # and Cleo's
        f"demographics@0 since {since}",
        "users/t1",  # the users and the class the changed enrollments name, by id
        "users/s3",
        "classes/c1",
    ]
    assert figures["changes_since"] == since
    assert (figures["learners_updated"], figures["members_added"]) == (1, 1)
    with configured.sessions() as session:
        members = set(session.scalars(select(CohortMemberRow.learner_id)))
        assert members == {"s1", "s2", "s3"}
        ben = session.get(LearnerProfileRow, "s2")
        cleo = session.get(LearnerProfileRow, "s3")
        assert ben is not None and ben.name == "Benjamin Okafor"
        assert cleo is not None and str(cleo.birth_date) == "2016-04-01"  # kept
        mark = session.get(RosterReadRow, sis.url)
        assert mark is not None and mark.modified_through == "2026-12-02T09:30:00Z"
    # nothing changed since: nothing but the empty pages is read
    sis.pages.clear()
    quiet = json.loads(CliRunner().invoke(app, ["roster", "sync", "--json"]).output)
    assert quiet["changes_since"] == "2026-12-02T09:30:00Z" and quiet["members_added"] == 0
    assert sis.pages[-2:] == ["users/s3", "classes/c1"]  # Cleo's enrollment, at the mark
    assert len(sis.pages) == 6
    # --everything reads it all again
    sis.pages.clear()
    whole = CliRunner().invoke(app, ["roster", "sync", "--everything", "--json"])
    assert json.loads(whole.output)["changes_since"] is None
    assert sis.pages[:3] == ["users@0", "users@2", "users@4"]


def test_a_sis_that_refuses_or_sends_a_bad_record_stores_nothing(
    configured: ServiceContext, sis: Sis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MASTERYPATH_ONEROSTER_CLIENT_SECRET", "wrong")
    refused = CliRunner().invoke(app, ["roster", "sync"])
    assert refused.exit_code != 0
    assert "/oauth/token: 401" in " ".join(refused.output.split())
    monkeypatch.setenv("MASTERYPATH_ONEROSTER_CLIENT_SECRET", CLIENT[1])
    sis.records["users"][2]["roles"][0]["role"] = "pupil"
    bad = CliRunner().invoke(app, ["roster", "sync"])
    assert bad.exit_code == 2
    assert "users.csv:4: role: 'pupil' is not a OneRoster role" in " ".join(bad.output.split())
    with configured.sessions() as session:
        assert session.scalars(select(LearnerProfileRow)).first() is None
    monkeypatch.delenv("MASTERYPATH_ONEROSTER_URL")
    unset = CliRunner().invoke(app, ["roster", "sync"])
    assert unset.exit_code == 2
    assert "--url: is required (or MASTERYPATH_ONEROSTER_URL)" in " ".join(unset.output.split())


def sis_settings(sis: Sis, **changes: str) -> Settings:
    return Settings.model_validate({"embeddings": False, **settings_of(sis), **changes})


def test_an_admin_syncs_the_roster_from_the_api(
    database: ServiceContext, sis: Sis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("masterypath.interop.oneroster_rest.PAGE", 2)
    client, accounts = api_app(database, sis_settings(sis))
    accounts.create_user("root", "root-password", Role.ADMIN)
    accounts.create_user("ms-kay", "kay-password", Role.EDUCATOR)
    admin = login(client, "root", "root-password")
    source = client.get("/api/v1/roster/sync", headers=admin)
    assert source.json() == {"configured": True, "url": sis.url}
    teacher = login(client, "ms-kay", "kay-password")
    assert client.post("/api/v1/roster/sync", json={}, headers=teacher).status_code == 403
    assert sis.pages == []  # nothing was read for a refused caller

    done = client.post("/api/v1/roster/sync", json={"accounts": True}, headers=admin)
    assert done.status_code == 200, done.text
    answer = done.json()
    assert answer["learners_added"] == 3 and answer["cohorts_added"] == 1
    assert answer["members_added"] == 2 and answer["educators_added"] == 1
    made = {a["username"]: a for a in answer["accounts"]}
    assert sorted(made) == ["ana", "ben", "ms-lee"] and made["ms-lee"]["role"] == "educator"
    first = {"username": "ana", "password": made["ana"]["password"]}
    assert client.post("/auth/login", json=first).json()["must_change_password"] is True

    sis.records["users"][1]["givenName"] = "Benjamin"  # the next sync: what changed
    again = client.post("/api/v1/roster/sync", json={}, headers=admin).json()
    assert again["learners_added"] == 0 and again["learners_updated"] == 1
    assert again["accounts"] == []
    with database.sessions() as session:
        ben = session.get(LearnerProfileRow, "s2")
        assert ben is not None and ben.name == "Benjamin Okafor"

    # once the system dates its records: the changes only, or everything when asked
    sis.dated("2026-12-01T08:00:00Z", last="2026-12-01T08:30:00Z")
    client.post("/api/v1/roster/sync", json={}, headers=admin)
    changes = client.post("/api/v1/roster/sync", json={}, headers=admin).json()
    assert changes["changes_since"] == "2026-12-01T08:30:00Z"
    whole = client.post("/api/v1/roster/sync", json={"everything": True}, headers=admin)
    assert whole.status_code == 200 and whole.json()["changes_since"] is None

    unknown = client.post("/api/v1/roster/sync", json={"acounts": True}, headers=admin)
    assert unknown.status_code == 422


def test_a_sync_the_server_is_not_set_up_for_or_the_sis_refuses_stores_nothing(
    database: ServiceContext, sis: Sis
) -> None:
    unset, accounts = api_app(database, sis_settings(sis, oneroster_client_secret=""))
    accounts.create_user("root", "root-password", Role.ADMIN)
    admin = login(unset, "root", "root-password")
    assert unset.get("/api/v1/roster/sync", headers=admin).json() == {
        "configured": False,
        "url": None,
    }
    refused = unset.post("/api/v1/roster/sync", json={}, headers=admin)
    assert refused.status_code == 503
    assert "set MASTERYPATH_ONEROSTER_URL, _TOKEN_URL" in refused.json()["message"]
    assert "_AUTH=oauth1 without _TOKEN_URL" in refused.json()["message"]

    wrong, _ = api_app(database, sis_settings(sis, oneroster_client_secret="wrong"))
    answered = wrong.post("/api/v1/roster/sync", json={}, headers=admin)
    assert answered.status_code == 502
    assert f"{sis.token_url}: 401" in answered.json()["message"]

    sis.records["users"][2]["roles"][0]["role"] = "pupil"
    right, _ = api_app(database, sis_settings(sis))
    bad = right.post("/api/v1/roster/sync", json={}, headers=admin)
    assert bad.status_code == 422
    problem = bad.json()["problems"][0]
    assert problem["location"] == "users.csv:4" and problem["field"] == "role"
    with database.sessions() as session:
        assert session.scalars(select(LearnerProfileRow)).first() is None


def test_a_oneroster_1_1_system_is_read_with_signed_requests(
    configured: ServiceContext, sis: Sis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MASTERYPATH_ONEROSTER_AUTH", "oauth1")
    monkeypatch.setenv("MASTERYPATH_ONEROSTER_TOKEN_URL", "")  # 1.1 asks for no token
    done = CliRunner().invoke(app, ["roster", "sync", "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["learners_added"] == 3
    assert sis.scopes == []  # no token was asked for
    assert len(sis.nonces) == len(sis.pages) == 7  # every page signed, each nonce new
    # a read of the changes: its filter and the reads by id signed too
    sis.dated("2026-12-01T08:00:00Z", last="2026-12-01T08:30:00Z")
    assert CliRunner().invoke(app, ["roster", "sync"]).exit_code == 0  # the first dated read
    sis.pages.clear()
    changes = CliRunner().invoke(app, ["roster", "sync", "--json"])
    assert changes.exit_code == 0, changes.output
    assert json.loads(changes.output)["changes_since"] == "2026-12-01T08:30:00Z"
    assert "users/t1" in sis.pages and len(sis.nonces) == 7 + 7 + len(sis.pages)
    monkeypatch.setenv("MASTERYPATH_ONEROSTER_CLIENT_SECRET", "wrong")
    refused = CliRunner().invoke(app, ["roster", "sync"])
    assert refused.exit_code != 0 and "401" in " ".join(refused.output.split())
    wrong = CliRunner().invoke(app, ["roster", "sync", "--auth", "oauth3"])
    assert wrong.exit_code == 2 and "--auth: must be oauth2 or oauth1" in " ".join(
        wrong.output.split()
    )
    monkeypatch.setenv("MASTERYPATH_ONEROSTER_AUTH", "oauth2")  # then the token URL is needed
    unset = CliRunner().invoke(app, ["roster", "sync"])
    assert "--token-url: is required" in " ".join(unset.output.split())
