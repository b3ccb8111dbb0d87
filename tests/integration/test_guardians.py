"""Guardian accounts (a parent's, a carer's): they read the records of the learners linked
to them and nothing else; links made and ended by an admin (API and CLI), audit-logged,
exported and erased with the learner; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from masterypath.cli import app as cli
from masterypath.domain.access import Role
from masterypath.domain.evidence import BinaryOutcome, Evidence
from masterypath.interop.loader import load_framework_file
from masterypath.interop.oneroster import parse_roster
from masterypath.services.accounts import AccountService
from masterypath.services.context import ServiceContext
from masterypath.services.evidence import EvidenceService
from masterypath.services.frameworks import FrameworkService
from masterypath.services.roster import RosterService
from tests.conftest import CHEAP_HASHER, api_app, login
from tests.integration.test_roster_sync import sis_settings
from tests.sis_stub import running_sis, user

FIXTURES = Path(__file__).parents[1] / "fixtures"


def course(database: ServiceContext) -> None:
    """The course, and one correct answer of each of two learners."""
    FrameworkService(database).save(
        load_framework_file(FIXTURES / "careers_programme.yaml").framework
    )
    EvidenceService(database).record_many(
        [
            Evidence.create(
                key=f"answer-{learner}",
                learner_id=learner,
                competency_ids=("select",),
                item_id="q-select",
                outcome=BinaryOutcome(True),
                timestamp=datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
            )
            for learner in ("kim", "lee")
        ]
    )


def family(database: ServiceContext) -> tuple[TestClient, AccountService, dict[str, str], str]:
    """The app, its accounts, an admin's headers, and a parent linked to kim (not lee)."""
    course(database)
    client, accounts = api_app(database)
    accounts.create_user("root", "root-password", Role.ADMIN)
    admin = login(client, "root", "root-password")
    made = client.post(
        "/api/v1/users",
        json={"username": "kims-mum", "password": "mum-password", "role": "guardian"},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    parent = made.json()["id"]
    linked = client.put(f"/api/v1/users/{parent}/learners/kim", headers=admin)
    assert linked.status_code == 204, linked.text
    return client, accounts, admin, parent


def test_a_guardian_reads_their_learners_records_and_nothing_else(
    database: ServiceContext,
) -> None:
    client, _, admin, parent = family(database)
    mum = login(client, "kims-mum", "mum-password")
    me = client.get("/auth/me", headers=mum).json()
    assert (me["role"], me["learners"]) == ("guardian", ["kim"])

    progress = client.get(
        "/api/v1/learners/kim/progress", params={"framework_id": "dbcourse"}, headers=mum
    )
    assert progress.status_code == 200, progress.text
    assert any(p["competency_id"] == "select" for p in progress.json())
    found = client.get("/api/v1/evidence", params={"learner_id": "kim"}, headers=mum)
    assert [e["key"] for e in found.json()] == ["answer-kim"]
    plan = client.get("/api/v1/learners/kim/plan", params={"framework_id": "dbcourse"}, headers=mum)
    assert plan.status_code == 200, plan.text
    exported = client.get("/api/v1/learners/kim/export", headers=mum)
    assert exported.status_code == 200 and exported.json()["guardians"][0]["user_id"] == parent

    # another learner's records, and anything but reading, are refused with why
    other = client.get(
        "/api/v1/learners/lee/progress", params={"framework_id": "dbcourse"}, headers=mum
    )
    assert other.status_code == 403
    assert other.json()["message"].endswith("you are not a guardian of learner lee")
    answer = {
        "key": "by-mum",
        "learner_id": "kim",
        "competency_ids": ["select"],
        "outcome": {"type": "binary", "correct": True},
        "timestamp": "2026-11-21T10:00:00+00:00",
    }
    assert client.post("/api/v1/evidence", json=answer, headers=mum).status_code == 403
    assert client.get("/api/v1/alerts", headers=mum).status_code == 403
    assert client.get("/api/v1/frameworks/dbcourse/grid", headers=mum).status_code == 403
    assert client.get("/api/v1/cohorts", headers=mum).json() == []
    assert client.get("/api/v1/evidence", headers=mum).status_code == 403  # all learners

    # every read is in kim's access log under the parent's account
    log = client.get("/api/v1/learners/kim/access-log", headers=admin).json()
    assert {r["actor_name"] for r in log} >= {"kims-mum"}
    assert "GET /api/v1/learners/kim/export" in [r["what"] for r in log]

    # the link ended: the same token no longer reaches kim's records
    assert client.delete(f"/api/v1/users/{parent}/learners/kim", headers=admin).status_code == 204
    after = client.get("/api/v1/evidence", params={"learner_id": "kim"}, headers=mum)
    assert after.status_code == 403
    assert client.get("/auth/me", headers=mum).json()["learners"] == []
    events = [
        (e["action"], e["target"])
        for e in client.get("/api/v1/audit-log", headers=admin).json()
        if "guardian" in e["action"]
    ]
    assert events == [("link_guardian", "kim"), ("unlink_guardian", "kim")]


def test_links_are_checked_listed_and_erased_with_the_learner(database: ServiceContext) -> None:
    client, accounts, admin, parent = family(database)
    again = client.put(f"/api/v1/users/{parent}/learners/kim", headers=admin)
    assert again.status_code == 204  # idempotent
    assert client.put(f"/api/v1/users/{parent}/learners/lee", headers=admin).status_code == 204
    assert client.get(f"/api/v1/users/{parent}/learners", headers=admin).json() == ["kim", "lee"]
    listed = {u["username"]: u for u in client.get("/api/v1/users", headers=admin).json()}
    assert listed["kims-mum"]["learners"] == ["kim", "lee"]
    assert "learners" not in listed["root"]  # only a guardian's account has them

    root = listed["root"]["id"]
    refused = client.put(f"/api/v1/users/{root}/learners/kim", headers=admin)
    assert refused.status_code == 422
    assert refused.json()["message"] == f"user_id: user {root} has the role admin, not guardian"
    blank = client.put(f"/api/v1/users/{parent}/learners/%20", headers=admin)
    assert blank.status_code == 422 and "learner_id" in blank.text
    missing = client.put("/api/v1/users/nobody/learners/kim", headers=admin)
    assert missing.status_code == 404 and "nobody" in missing.text
    assert client.get("/api/v1/users/nobody/learners", headers=admin).status_code == 404
    unlinked = client.delete(f"/api/v1/users/{root}/learners/kim", headers=admin)
    assert unlinked.status_code == 404
    # a guardian's account names no learner of its own
    bad = client.post(
        "/api/v1/users",
        json={"username": "x", "password": "x-password", "role": "guardian", "learner_id": "kim"},
        headers=admin,
    )
    assert bad.status_code == 422 and "learner_id" in bad.text

    # erasing kim takes the link with the rest of kim's records; the account stays
    assert client.delete("/api/v1/learners/kim", headers=admin).status_code == 200
    assert accounts.wards(parent) == ["lee"]
    assert accounts.user_id("kims-mum") == parent


def test_the_cli_makes_and_ends_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASTERYPATH_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    assert CliRunner().invoke(cli, ["init"]).exit_code == 0
    add = ["users", "add", "dad", "--role", "guardian", "--password", "dad-password", "--json"]
    made = CliRunner().invoke(cli, add)
    assert made.exit_code == 0, made.output
    assert json.loads(made.output)["role"] == "guardian"
    linked = CliRunner().invoke(cli, ["users", "guardian", "dad", "ana", "--json"])
    assert linked.exit_code == 0, linked.output
    assert json.loads(linked.output) == {"username": "dad", "learners": ["ana"]}
    assert CliRunner().invoke(cli, ["users", "guardian", "dad", "ben"]).exit_code == 0
    ended = CliRunner().invoke(cli, ["users", "guardian", "dad", "ana", "--remove", "--json"])
    assert json.loads(ended.output) == {"username": "dad", "learners": ["ben"]}
    listed = CliRunner().invoke(cli, ["users", "list", "--json"])
    assert json.loads(listed.output)[0]["learners"] == ["ben"]
    nobody = CliRunner().invoke(cli, ["users", "guardian", "mum", "ana"])
    assert nobody.exit_code != 0 and "mum" in nobody.output


ROSTER = (
    "sourcedId,status,enabledUser,role,username,givenName,familyName,agentSourcedIds\n"
    "s1,,true,student,ana,Ana,Lima,p1\n"
    "s2,,true,student,ben,Ben,Lima,\n"
    "s3,,true,student,cy,Cy,Ng,p2\n"
    'p1,,true,parent,ana-mum,Rosa,Lima,"s1,s2"\n'
    "p2,,true,guardian,,Tom,Ng,\n"
)


def test_a_roster_makes_parents_accounts_and_links_them_to_their_children(
    database: ServiceContext,
) -> None:
    roster = RosterService(database, hasher=CHEAP_HASHER)
    accounts = AccountService(database, hasher=CHEAP_HASHER)
    done = roster.import_roster(parse_roster({"users.csv": ROSTER}), by="cli", accounts=True)
    made = {a.username: a.role for a in done.accounts}
    assert made == {"ana": Role.LEARNER, "ben": Role.LEARNER, "cy": Role.LEARNER,
                    "ana-mum": Role.GUARDIAN}  # fmt: skip
    mum = accounts.user_id("ana-mum")
    assert mum is not None and accounts.wards(mum) == ["s1", "s2"]
    assert done.guardians_linked == 2
    # Tom has no username, so no account: said, not guessed
    assert done.left_out == ["guardian p2 has no account: not linked to s3"]

    # an admin links a learner by hand; the next export no longer pairs Rosa with Ben
    accounts.link_guardian(mum, "s9", by="user:admin")
    changed = ROSTER.replace('"s1,s2"', "s1")
    again = roster.import_roster(parse_roster({"users.csv": changed}), by="cli")
    assert (again.guardians_linked, again.guardians_unlinked) == (0, 1)
    assert accounts.wards(mum) == ["s1", "s9"]  # the admin's link stays
    # a student's agents link too (the parent's record need not name them)
    both = changed.replace("s2,,true,student,ben,Ben,Lima,", "s2,,true,student,ben,Ben,Lima,p1")
    third = roster.import_roster(parse_roster({"users.csv": both}), by="cli")
    assert third.guardians_linked == 1 and accounts.wards(mum) == ["s1", "s2", "s9"]


def test_a_roster_sync_reads_the_agents_of_the_rest_api(database: ServiceContext) -> None:
    with running_sis() as sis:
        sis.records["users"].append(
            user(
                "p1",
                "parent",
                "Rosa",
                "Lima",
                username="rosa",
                agents=[{"sourcedId": "s1", "type": "user"}, {"sourcedId": "s2", "type": "user"}],
            )
        )
        client, accounts = api_app(database, sis_settings(sis))
        accounts.create_user("root", "root-password", Role.ADMIN)
        admin = login(client, "root", "root-password")
        done = client.post("/api/v1/roster/sync", json={"accounts": True}, headers=admin)
    assert done.status_code == 200, done.text
    made = {a["username"]: a for a in done.json()["accounts"]}
    assert made["rosa"]["role"] == "guardian" and done.json()["guardians_linked"] == 2
    rosa = login(client, "rosa", made["rosa"]["password"])
    client.post(
        "/auth/password",
        json={"current_password": made["rosa"]["password"], "new_password": "rosa-password"},
        headers=rosa,
    )
    rosa = login(client, "rosa", "rosa-password")
    assert client.get("/auth/me", headers=rosa).json()["learners"] == ["s1", "s2"]


def test_a_guardian_gives_and_withdraws_consent_for_their_own_child_only(
    database: ServiceContext,
) -> None:
    client, _, admin, parent = family(database)
    for learner in ("kim", "lee"):
        made = client.post(
            "/api/v1/learners",
            json={"learner_id": learner, "name": learner.title(), "birth_date": "2018-03-01"},
            headers=admin,
        )
        assert made.status_code in (200, 201), made.text
    mum = login(client, "kims-mum", "mum-password")
    answer = {
        "key": "kim-late",
        "learner_id": "kim",
        "competency_ids": ["select"],
        "outcome": {"type": "binary", "correct": True},
        "timestamp": "2026-11-22T10:00:00+00:00",
    }
    refused = client.post("/api/v1/evidence", json=answer, headers=admin)
    assert refused.status_code == 403 and refused.json()["error"] == "consent_required"

    given = client.put(
        "/api/v1/learners/kim/guardian-consent", json={"guardian": "Mia Kim"}, headers=mum
    )
    assert given.status_code == 200, given.text
    consent = given.json()["guardian_consent"]
    assert (consent["guardian"], consent["recorded_by"]) == ("Mia Kim", f"user:{parent}")
    assert client.post("/api/v1/evidence", json=answer, headers=admin).status_code == 201
    other = client.put(
        "/api/v1/learners/lee/guardian-consent", json={"guardian": "Mia Kim"}, headers=mum
    )
    assert other.status_code == 403 and "not a guardian of learner lee" in other.text

    assert client.delete("/api/v1/learners/kim/guardian-consent", headers=mum).status_code == 204
    again = client.post("/api/v1/evidence", json=answer | {"key": "kim-later"}, headers=admin)
    assert again.status_code == 403
