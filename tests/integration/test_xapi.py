"""xAPI statements in: validation, mapping, idempotency, conflicts, GET, PUT (both backends)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from masterypath.cli import app as cli_app
from masterypath.domain.access import Scope
from masterypath.errors import ConflictError
from masterypath.interop.loader import load_framework_file
from masterypath.services.context import ServiceContext
from masterypath.services.evidence import EvidenceService
from masterypath.services.frameworks import FrameworkService
from masterypath.services.group_commit import GroupCommitter
from masterypath.services.mastery import MasteryService
from masterypath.services.xapi import XapiService
from tests.conftest import FixedClock, admin_client, advance_clock, api_app

FIXTURES = Path(__file__).parents[1] / "fixtures"
V = {"X-Experience-API-Version": "1.0.3"}


def statement(n: int, learner: str = "stu-1", **changes: Any) -> dict[str, Any]:
    s: dict[str, Any] = {
        "id": f"3f2a1c00-0000-4000-8000-{n:012d}",
        "actor": {
            "objectType": "Agent",
            "account": {"homePage": "https://lms.example", "name": learner},
        },
        "verb": {"id": "http://adlnet.gov/expapi/verbs/answered", "display": {"en-US": "answered"}},
        "object": {"objectType": "Activity", "id": "https://lms.example/activities/q-select"},
        "result": {"success": True},
        "timestamp": "2026-11-02T10:00:00Z",
    }
    s.update(changes)
    return s


def save_one_item(
    database: ServiceContext, framework_id: str, competency_id: str, item_id: str
) -> None:
    """Save a framework of one competency with one item (an item added after answers
    about it were stored)."""
    from masterypath.domain.framework import Competency, Framework, Item

    FrameworkService(database).save(
        Framework(
            id=framework_id,
            title=framework_id.title(),
            competencies=(Competency(competency_id, competency_id.title()),),
            items=(Item(id=item_id, competency_ids=(competency_id,)),),
        )
    )


@pytest.fixture
def client(database: ServiceContext) -> TestClient:
    FrameworkService(database).save(
        load_framework_file(FIXTURES / "careers_programme.yaml").framework
    )
    return admin_client(database)


def test_statements_become_evidence_idempotently(client: TestClient) -> None:
    one = client.post("/xapi/statements", json=statement(1), headers=V)
    assert one.status_code == 200 and one.json() == [statement(1)["id"]]
    assert one.headers["x-experience-api-version"] == "1.0.3"
    listed = client.post(
        "/xapi/statements",
        json=[statement(2, result={"score": {"scaled": 0.25}}), statement(1)],  # 1 is a re-post
        headers=V,
    )
    assert listed.status_code == 200
    ledger = client.get("/api/v1/evidence", params={"learner_id": "stu-1"}).json()
    assert [(e["key"], e["item_id"], e["competency_ids"], e["outcome"]) for e in ledger] == [
        (f"xapi:{statement(1)['id']}", "q-select", ["select"], {"type": "binary", "correct": True}),
        (f"xapi:{statement(2)['id']}", "q-select", ["select"], {"type": "score", "value": 0.25}),
    ]
    stored = client.get("/xapi/statements", params={"statementId": statement(2)["id"]}, headers=V)
    assert stored.status_code == 200 and stored.json()["result"]["score"]["scaled"] == 0.25
    assert "stored" in stored.json()
    recent = client.get("/xapi/statements", headers=V).json()
    assert len(recent["statements"]) == 2 and recent["more"] == ""


def test_an_item_imported_a_moment_ago_is_known_at_once(
    client: TestClient, database: ServiceContext
) -> None:
    assert client.post("/xapi/statements", json=statement(1), headers=V).status_code == 200
    # the item map is kept for a second between checks; an unknown activity re-reads it
    save_one_item(database, "geo", "angles", "q-angle")
    activity = {"objectType": "Activity", "id": "https://lms.example/activities/q-angle"}
    posted = client.post("/xapi/statements", json=statement(2, object=activity), headers=V)
    assert posted.status_code == 200, posted.text
    ledger = client.get("/api/v1/evidence", params={"learner_id": "stu-1"}).json()
    assert [e["competency_ids"] for e in ledger] == [["select"], ["angles"]]
    # an answer about an activity no framework has is stored, and is no evidence
    unknown = {"objectType": "Activity", "id": "https://lms.example/activities/q-none"}
    kept = client.post("/xapi/statements", json=statement(3, object=unknown), headers=V)
    assert kept.status_code == 200, kept.text
    assert len(client.get("/api/v1/evidence", params={"learner_id": "stu-1"}).json()) == 2


def test_conflicting_repost_is_409_and_stores_nothing(client: TestClient) -> None:
    client.post("/xapi/statements", json=statement(1), headers=V)
    changed = statement(1, result={"success": False})
    clash = client.post("/xapi/statements", json=[statement(3), changed], headers=V)
    assert clash.status_code == 409 and statement(1)["id"] in clash.json()["message"]
    assert len(client.get("/api/v1/evidence", params={"learner_id": "stu-1"}).json()) == 1


def test_a_repost_that_differs_only_where_xapi_allows_is_no_conflict(
    client: TestClient, database: ServiceContext
) -> None:
    """xAPI 2.3.1: a timestamp in another time zone, a verb's display in another
    language, an activity's definition, a Group's members in another order are the same
    statement (200, nothing stored again); a different result is a 409."""
    team = {"objectType": "Group", "member": [account("ana"), account("cy")]}
    sent = [
        statement(1),
        statement(2, actor=team, result={"success": True}),
    ]
    assert client.post("/xapi/statements", json=sent, headers=V).status_code == 200
    again = [
        statement(
            1,
            timestamp="2026-11-02T11:00:00+01:00",
            verb={"id": sent[0]["verb"]["id"], "display": {"fr-FR": "a répondu"}},
            object={**sent[0]["object"], "definition": {"name": {"en": "Select"}}},
        ),
        statement(2, actor={**team, "member": team["member"][::-1]}, result={"success": True}),
    ]
    for s in again:
        assert client.post("/xapi/statements", json=s, headers=V).status_code == 200, s["id"]
        kept = client.get("/xapi/statements", params={"statementId": s["id"]}, headers=V)
        assert kept.json()["timestamp"] == "2026-11-02T10:00:00Z"  # the first, as stored
    with database.sessions() as session:
        from sqlalchemy import func, select

        from masterypath.store.tables import EvidenceRow, XapiStatementRow

        assert session.scalar(select(func.count()).select_from(XapiStatementRow)) == 2
        assert session.scalar(select(func.count()).select_from(EvidenceRow)) == 1
    changed = statement(1, timestamp="2026-11-02T11:00:00+01:00", result={"success": False})
    assert client.post("/xapi/statements", json=changed, headers=V).status_code == 409


def test_put_stores_under_the_given_id(client: TestClient) -> None:
    s = statement(7)
    del s["id"]
    put = client.put(
        "/xapi/statements", params={"statementId": statement(7)["id"]}, json=s, headers=V
    )
    assert put.status_code == 204
    other = client.put(
        "/xapi/statements", params={"statementId": statement(8)["id"]}, json=statement(9), headers=V
    )
    assert other.status_code == 400 and "statementId" in other.json()["message"]
    # a statement that no voiding statement names is not found as a voided one
    sid = statement(7)["id"]
    voided = client.get("/xapi/statements", params={"voidedStatementId": sid}, headers=V)
    assert voided.status_code == 404 and voided.json()["error"] == "not_found"
    both = {"statementId": sid, "voidedStatementId": sid}
    assert client.get("/xapi/statements", params=both, headers=V).status_code == 400
    assert client.get("/xapi/statements", params={"statementId": sid}, headers=V).status_code == 200


def test_version_header_and_invalid_statements_are_named(client: TestClient) -> None:
    missing = client.post("/xapi/statements", json=statement(1))
    assert missing.status_code == 400 and "X-Experience-API-Version" in missing.json()["message"]
    assert (
        client.post(
            "/xapi/statements", json=statement(1), headers={"X-Experience-API-Version": "0.9"}
        ).status_code
        == 400
    )
    bad = client.post(
        "/xapi/statements",
        json=[
            statement(1, verb={"id": "not an iri"}),
            statement(2, object={"id": "https://x/unknown"}),  # valid: stored, no evidence
            statement(3, result={}),
        ],
        headers=V,
    )
    assert bad.status_code == 400
    fields = [(p["location"], p["field"]) for p in bad.json()["problems"]]
    assert fields == [
        ("statements[0]", "verb.id"),
        ("statements[2]", "result"),
    ]
    assert client.get("/xapi/statements", headers=V).json()["statements"] == []
    assert client.get("/api/v1/evidence", params={"learner_id": "stu-1"}).json() == []
    # nested deeper than Python's parser can recurse: a RecursionError (500) before
    deep = client.post("/xapi/statements", content="[" * 100_000 + "]" * 100_000, headers=V)
    assert deep.status_code == 400 and "not JSON: depth limit exceeded" in deep.json()["message"]
    # and what only a lax parser reads deep inside is named at the edge (api.errors.InputGuard)
    nan = client.post("/xapi/statements", content="[" * 500 + "NaN" + "]" * 500, headers=V)
    assert nan.status_code == 400 and nan.json()["problems"][0]["field"] == ".".join(["0"] * 500)


def test_xapi_2_statement_and_email_actors_are_pseudonymised(client: TestClient) -> None:
    s = statement(
        5, actor={"objectType": "Agent", "mbox": "mailto:kim@example.org"}, version="2.0.0"
    )
    assert (
        client.post(
            "/xapi/statements", json=s, headers={"X-Experience-API-Version": "2.0.0"}
        ).status_code
        == 200
    )
    learner = "sha1:" + hashlib.sha1(b"mailto:kim@example.org").hexdigest()
    ledger = client.get("/api/v1/evidence", params={"learner_id": learner}).json()
    assert len(ledger) == 1 and "kim@example.org" not in str(ledger)
    stored = client.get("/xapi/statements", params={"statementId": s["id"]}, headers=V).json()
    assert "kim@example.org" not in str(stored)
    assert stored["actor"]["mbox_sha1sum"] == learner.removeprefix("sha1:")
    # a re-post of the same statement (with its address) is still recognised
    again = client.post("/xapi/statements", json=s, headers={"X-Experience-API-Version": "2.0.0"})
    assert again.status_code == 200
    assert again.headers["x-experience-api-version"] == "2.0.0"  # the version asked in
    # nor anyone else's address: an instructor, a team, an Agent object, a SubStatement's
    addresses = [f"mailto:{who}@school.example" for who in ("ms-li", "t1", "t2", "obj", "sub")]
    agent = [{"objectType": "Agent", "mbox": a} for a in addresses]
    others = [
        statement(
            6,
            verb={"id": "http://adlnet.gov/expapi/verbs/mentored"},
            object=agent[3],
            context={
                "instructor": agent[0],
                "team": {"objectType": "Group", "name": "Team", "member": agent[1:3]},
            },
        ),
        statement(
            7,
            verb={"id": "http://adlnet.gov/expapi/verbs/asked"},
            object={
                "objectType": "SubStatement",
                "actor": agent[4],
                "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"},
                "object": {"objectType": "Activity", "id": "https://lms.example/q"},
            },
        ),
    ]
    for s in others:
        s.pop("result")
    posted = client.post("/xapi/statements", json=others, headers=V)
    assert posted.status_code == 200, posted.text
    kept = client.get("/xapi/statements", params={"ascending": "true"}, headers=V)
    assert "@school.example" not in kept.text and len(kept.json()["statements"]) == 3
    instructor = kept.json()["statements"][1]["context"]["instructor"]
    assert instructor["mbox_sha1sum"] == hashlib.sha1(addresses[0].encode()).hexdigest()
    assert client.post("/xapi/statements", json=others, headers=V).status_code == 200  # re-post


def test_migration_0016_takes_the_addresses_out_of_statements_stored_before_it(
    client: TestClient, database: ServiceContext
) -> None:
    from alembic import command
    from sqlalchemy import insert, select

    from masterypath.store.database import alembic_config, upgrade
    from masterypath.store.tables import XapiStatementRow

    teacher = "mailto:ms-li@school.example"
    named = statement(
        8,
        verb={"id": "http://adlnet.gov/expapi/verbs/mentored"},
        object={"objectType": "Agent", "mbox": "mailto:pat@school.example"},
        context={"instructor": {"mbox": teacher}},
    )
    named.pop("result")
    plain = statement(9)
    assert client.post("/xapi/statements", json=plain, headers=V).status_code == 200
    command.downgrade(alembic_config(database.engine), "0015")
    # stored as before 0016: only the actor kept no address, and the digest said so
    with database.sessions.begin() as session:  # the columns of revision 0015 alone
        session.execute(
            insert(XapiStatementRow).values(
                id=named["id"],
                content_hash=hashlib.sha256(
                    json.dumps(named, sort_keys=True, separators=(",", ":")).encode()
                ).hexdigest(),
                statement={**named, "stored": "2026-11-02T10:00:00+00:00"},
                learner_id="stu-1",
                evidence_key=None,
                stored_at=datetime.fromisoformat("2026-11-02T10:00:00+00:00"),
            )
        )
    with database.sessions() as session:
        digest = select(XapiStatementRow.content_hash).where(XapiStatementRow.id == plain["id"])
        plain_hash = session.scalar(digest)
    upgrade(database.engine)
    kept = client.get("/xapi/statements", params={"statementId": named["id"]}, headers=V)
    assert "@school.example" not in kept.text
    assert kept.json()["context"]["instructor"] == {
        "mbox_sha1sum": hashlib.sha1(teacher.encode()).hexdigest()
    }
    assert kept.json()["stored"] == "2026-11-02T10:00:00+00:00"  # nothing else changed
    # the same statement posted again is recognised (it was a conflict before 0016)
    assert client.post("/xapi/statements", json=named, headers=V).status_code == 200
    changed = {**named, "verb": {"id": "http://adlnet.gov/expapi/verbs/asked"}}
    assert client.post("/xapi/statements", json=changed, headers=V).status_code == 409
    with database.sessions() as session:
        assert session.get(XapiStatementRow, plain["id"]).content_hash == plain_hash  # type: ignore[union-attr]


def test_reads_of_a_learners_statements_and_documents_go_into_their_access_log(
    client: TestClient, database: ServiceContext
) -> None:
    def logged(learner: str) -> list[tuple[str, str]]:
        log = client.get(f"/api/v1/learners/{learner}/access-log").json()
        return [(r["action"], r["what"]) for r in log]

    posted = [statement(1, "ana"), statement(2, "ben"), statement(3, "ana")]
    assert client.post("/xapi/statements", json=posted, headers=V).status_code == 200
    assert logged("ana") == logged("ben") == []  # writing is no read
    ana = json.dumps({"account": {"homePage": "https://lms.example", "name": "ana"}})
    read = ("read_xapi", "GET /xapi/statements")
    client.get("/xapi/statements", params={"agent": ana}, headers=V)
    assert logged("ana") == [read] and logged("ben") == []
    client.get("/xapi/statements", params={"statementId": posted[1]["id"]}, headers=V)
    assert logged("ben") == [read]
    # a page names each of its learners once; a page without them names no one (a read
    # repeated within the access-log window, 5 minutes, is not logged again)
    advance_clock(database, minutes=5)
    client.get("/xapi/statements", headers=V)
    assert logged("ana") == [read, read] and logged("ben") == [read, read]
    client.get("/xapi/statements", params={"verb": "https://example.org/none"}, headers=V)
    assert len(logged("ana")) == 2
    # the learner's documents: a State, an Agent Profile (an Activity Profile is no one's)
    state = {"activityId": "https://lms.example/c", "agent": ana, "stateId": "s"}
    client.put("/xapi/activities/state", params=state, json={"slide": 3}, headers=V)
    client.get("/xapi/activities/state", params=state, headers=V)
    profile = {"agent": ana, "profileId": "p"}
    client.put("/xapi/agents/profile", params=profile, json={"k": 1}, headers=V)
    client.get("/xapi/agents/profile", params={"agent": ana}, headers=V)
    assert logged("ana")[2:] == [
        ("read_xapi", "GET /xapi/activities/state"),
        ("read_xapi", "GET /xapi/agents/profile"),
    ]


def account(name: str) -> dict[str, Any]:
    return {"objectType": "Agent", "account": {"homePage": "https://lms.example", "name": name}}


def test_the_agent_filter_finds_the_actor_the_object_and_group_members_and_related_agents_the_rest(
    client: TestClient,
) -> None:
    dee = {"objectType": "Agent", "mbox": "mailto:dee@school.example"}
    activity = {"objectType": "Activity", "id": "https://lms.example/activities/q-select"}
    mentored = {"id": "http://adlnet.gov/expapi/verbs/mentored"}
    posted = [
        statement(1, "ana"),
        statement(2, "ms-li", verb=mentored, object=account("ben")),
        statement(
            3,
            actor={
                "objectType": "Group",
                "account": {"homePage": "https://lms.example", "name": "team-a"},
                "member": [account("ana"), account("cy")],
            },
        ),
        statement(
            4,
            "ben",
            context={
                "instructor": account("ms-li"),
                "team": {"objectType": "Group", "member": [dee]},
            },
        ),
        statement(
            5,
            "cy",
            verb={"id": "http://adlnet.gov/expapi/verbs/asked"},
            object={
                "objectType": "SubStatement",
                "actor": account("ana"),
                "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"},
                "object": activity,
            },
        ),
        statement(
            6,
            actor=dee,
            object={
                **activity,
                # an agent inside an activity's definition stands nowhere xAPI looks
                "definition": {"extensions": {"https://x.example/by": account("ana")}},
            },
        ),
    ]
    for s in posted[1:3] + posted[4:5]:
        s.pop("result")
    assert client.post("/xapi/statements", json=posted, headers=V).status_code == 200

    def found(agent: dict[str, Any], **more: str) -> list[int]:
        got = client.get(
            "/xapi/statements",
            params={"agent": json.dumps(agent), "ascending": "true", **more},
            headers=V,
        )
        assert got.status_code == 200, got.text
        return [int(s["id"][-12:]) for s in got.json()["statements"]]

    related = {"related_agents": "true"}
    assert found(account("ana")) == [1, 3]  # the actor, a member of the actor
    assert found(account("ana"), **related) == [1, 3, 5]  # and a SubStatement's actor
    assert found(account("ben")) == [2, 4]  # the object, the actor
    assert found(account("ms-li")) == [2]
    assert found(account("ms-li"), **related) == [2, 4]  # and the instructor
    sha = {"mbox_sha1sum": hashlib.sha1(b"mailto:dee@school.example").hexdigest()}
    assert found(dee) == found(sha) == [6]
    assert found(dee, **related) == [4, 6]  # a member of the team
    assert found({"objectType": "Group", "account": account("team-a")["account"]}) == [3]
    authority = client.get("/xapi/statements", headers=V).json()["statements"][0]["authority"]
    assert found(authority) == []
    assert found(authority, **related) == [1, 2, 3, 4, 5, 6]  # who sent them
    # with other filters, and without an agent related_agents changes nothing
    assert found(account("ana"), verb="http://adlnet.gov/expapi/verbs/asked", **related) == [5]
    everyone = client.get("/xapi/statements", params=related, headers=V).json()["statements"]
    assert len(everyone) == 6
    # erasing a learner takes them out of the statements of others that name them, where
    # the index finds them (an object) and where only reading every statement does (cy's
    # SubStatement); those statements stay their actors'
    before = {s["id"]: s for s in client.get("/xapi/statements", headers=V).json()["statements"]}
    erased = client.delete("/api/v1/learners/ben").json()["deleted"]
    assert erased["xapi_statements"] == 1 and erased["xapi_statements_redacted"] == 1
    assert client.delete("/api/v1/learners/ana").json()["deleted"]["xapi_statements_redacted"] == 2
    assert found(account("ben")) == found(account("ana")) == []
    assert found(account("ben"), **related) == found(account("ana"), **related) == []
    assert found(account("ms-li")) == [2] and found(account("cy"), **related) == [3, 5]
    after = {s["id"]: s for s in client.get("/xapi/statements", headers=V).json()["statements"]}
    assert sorted(after) == sorted(set(before) - {posted[0]["id"], posted[3]["id"]})
    assert after[posted[1]["id"]]["object"]["name"] == "(erased)"
    assert after[posted[4]["id"]]["object"]["actor"]["name"] == "(erased)"
    assert after.pop(posted[5]["id"]) == before[posted[5]["id"]]  # ana in a definition
    assert '"ana"' not in json.dumps(after) and '"ben"' not in json.dumps(after)


def related_statements() -> list[dict[str, Any]]:
    """Statements that name learners where only ``related_agents`` looks: an instructor,
    a team's member, a SubStatement's actor and instructor, a StatementRef to one of
    them."""
    asked = {"id": "http://adlnet.gov/expapi/verbs/asked"}
    posted = [
        statement(1, "ben", context={"instructor": account("ms-li")}),
        statement(
            2,
            "cy",
            verb=asked,
            object={
                "objectType": "SubStatement",
                "actor": account("ana"),
                "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"},
                "object": {"objectType": "Activity", "id": "https://lms.example/q"},
                "context": {"instructor": account("dee")},
            },
            context={"team": {"objectType": "Group", "member": [account("eve")]}},
        ),
        statement(
            3,
            "fay",
            verb={"id": "http://adlnet.gov/expapi/verbs/commented"},
            object={"objectType": "StatementRef", "id": statement(1)["id"]},
        ),
    ]
    for s in posted[1:]:
        s.pop("result")
    return posted


def found_by(client: TestClient, name: str, **more: str) -> list[int]:
    params = {"agent": json.dumps(account(name)), "ascending": "true", **more}
    got = client.get("/xapi/statements", params=params, headers=V)
    assert got.status_code == 200, got.text
    return [int(s["id"][-12:]) for s in got.json()["statements"]]


def test_related_agents_follows_statement_refs_and_is_read_by_index(
    client: TestClient, database: ServiceContext
) -> None:
    from sqlalchemy import select

    from masterypath.store.tables import XapiStatementAgentRow, XapiStatementRow

    assert client.post("/xapi/statements", json=related_statements(), headers=V).status_code == 200
    related = {"related_agents": "true"}
    # fay's comment refers to the statement ms-li is the instructor of (xAPI 2.1.3)
    assert found_by(client, "ms-li", **related) == [1, 3]
    assert found_by(client, "ms-li") == []  # the agent filter does not look there
    assert [found_by(client, n, **related) for n in ("ana", "dee", "eve")] == [[2], [2], [2]]
    assert [found_by(client, n) for n in ("ana", "dee", "eve")] == [[], [], []]
    with database.sessions() as session:
        rows = session.execute(
            select(XapiStatementAgentRow.learner_id, XapiStatementAgentRow.related_only)
        ).all()
        authorities = set(session.scalars(select(XapiStatementRow.authority_id)))
    # every one of them by index: nothing is left for a query to read statements for
    assert sorted(rows) == [("ana", True), ("dee", True), ("eve", True), ("ms-li", True)]
    assert len(authorities) == 1 and None not in authorities
    sender = str(authorities.pop())
    assert found_by(client, sender) == []
    assert found_by(client, sender, **related) == [1, 2, 3]


def test_migration_0023_indexes_the_related_agents_of_statements_stored_before_it(
    client: TestClient, database: ServiceContext
) -> None:
    from alembic import command

    from masterypath.store.database import alembic_config, upgrade

    assert client.post("/xapi/statements", json=related_statements(), headers=V).status_code == 200
    names = ("ms-li", "ana", "dee", "eve", "ben", "fay")
    related = {"related_agents": "true"}
    before = [(found_by(client, n), found_by(client, n, **related)) for n in names]
    assert before[0] == ([], [1, 3])
    command.downgrade(alembic_config(database.engine), "0022")
    upgrade(database.engine)
    assert [(found_by(client, n), found_by(client, n, **related)) for n in names] == before
    # and an erasure finds them there too
    assert (
        client.delete("/api/v1/learners/ms-li").json()["deleted"]["xapi_statements_redacted"] == 1
    )
    assert found_by(client, "ms-li", **related) == []


def test_migration_0017_indexes_the_learners_named_in_statements_stored_before_it(
    client: TestClient, database: ServiceContext
) -> None:
    from alembic import command

    from masterypath.store.database import alembic_config, upgrade

    group = {**account("team-a"), "objectType": "Group", "member": [account("ana"), account("cy")]}
    mentored = {"id": "http://adlnet.gov/expapi/verbs/mentored"}
    posted = [
        statement(1, "ms-li", verb=mentored, object=account("ben")),
        statement(2, actor=group),
        statement(3, "ana"),
    ]
    posted[0].pop("result")
    assert client.post("/xapi/statements", json=posted, headers=V).status_code == 200

    def found(name: str) -> list[int]:
        params = {"agent": json.dumps(account(name)), "ascending": "true"}
        got = client.get("/xapi/statements", params=params, headers=V).json()["statements"]
        return [int(s["id"][-12:]) for s in got]

    before = [found(n) for n in ("ana", "ben", "cy", "ms-li")]
    assert before == [[2, 3], [1], [2], [1]]
    command.downgrade(alembic_config(database.engine), "0016")
    upgrade(database.engine)
    assert [found(n) for n in ("ana", "ben", "cy", "ms-li")] == before


def test_an_anonymous_groups_statement_is_its_members_and_goes_with_each_of_them(
    client: TestClient, database: ServiceContext
) -> None:
    dee = {"objectType": "Agent", "mbox": "mailto:dee@school.example"}
    team = {"objectType": "Group", "name": "Team", "member": [account("ana"), dee]}
    answered = statement(1, actor=team)
    # it was a 400 (no identifier); xAPI 2.4.2.2 lets a Group be identified by members
    assert client.post("/xapi/statements", json=answered, headers=V).status_code == 200
    assert client.get("/api/v1/evidence").json() == []  # an answer of no one learner

    def found(agent: dict[str, Any]) -> list[str]:
        params = {"agent": json.dumps(agent)}
        return [
            s["id"]
            for s in client.get("/xapi/statements", params=params, headers=V).json()["statements"]
        ]

    by_ana = found(account("ana"))
    advance_clock(database, minutes=5)  # past the access-log window: a read logged again
    assert by_ana == found(dee) == [answered["id"]]
    # each read of it (by ana's filter, by dee's) is in each member's access log
    log = client.get("/api/v1/learners/ana/access-log").json()
    assert [(r["action"], r["what"]) for r in log] == [("read_xapi", "GET /xapi/statements")] * 2
    stored = client.get("/xapi/statements", params={"statementId": answered["id"]}, headers=V)
    assert "dee@school" not in stored.text
    # a member without an identifier is still refused, naming the actor
    unnamed = statement(2, actor={"objectType": "Group", "member": [{"name": "Someone"}]})
    refused = client.post("/xapi/statements", json=unnamed, headers=V)
    assert refused.status_code == 400
    assert refused.json()["problems"][0]["field"].startswith("actor")
    # a minor named by a statement (a member, an object, a team) waits for consent, as their
    # own do
    client.post("/api/v1/learners", json={"learner_id": "kid", "birth_date": "2016-01-01"})
    with_kid = statement(3, actor={**team, "member": [account("ana"), account("kid")]})
    about_kid = statement(
        4, "ms-li", verb={"id": "http://adlnet.gov/expapi/verbs/mentored"}, object=account("kid")
    )
    about_kid.pop("result")
    in_kids_team = statement(5, "ana", context={"team": {**team, "member": [account("kid")]}})
    for sent in (with_kid, about_kid, in_kids_team):
        refused = client.post("/xapi/statements", json=sent, headers=V)
        assert refused.status_code == 403 and refused.json()["error"] == "consent_required"
    assert found(account("kid")) == [] and found(account("ms-li")) == []  # nothing stored
    # each member's export holds it; erasing a member takes them out of it, for the others
    dee_id = "sha1:" + hashlib.sha1(dee["mbox"].encode()).hexdigest()
    exported = client.get(f"/api/v1/learners/{dee_id}/export").json()
    assert [s["id"] for s in exported["xapi_statements_naming"]] == [answered["id"]]
    erased = client.delete("/api/v1/learners/ana").json()["deleted"]
    assert erased["xapi_statements_redacted"] == 1
    assert found(dee) == [answered["id"]] and found(account("ana")) == []
    kept = client.get("/xapi/statements", params={"statementId": answered["id"]}, headers=V)
    assert kept.json()["actor"]["member"] == [
        {"objectType": "Agent", "name": "(erased)", "mbox_sha1sum": "0" * 40},
        {"objectType": "Agent", "mbox_sha1sum": dee_id.removeprefix("sha1:")},
    ]
    # and the statement as it is now is what a re-post of it is compared with
    again = {**kept.json(), "id": answered["id"]}
    again.pop("stored"), again.pop("authority")
    assert client.post("/xapi/statements", json=again, headers=V).status_code == 200
    assert client.post("/xapi/statements", json=answered, headers=V).status_code == 409


def test_migration_0018_takes_learners_erased_before_it_out_of_others_statements(
    client: TestClient, database: ServiceContext
) -> None:
    from alembic import command

    from masterypath.store.database import alembic_config, upgrade
    from masterypath.store.tables import AuditLogRow

    clock = database.clock
    assert isinstance(clock, FixedClock)
    mentored = {"id": "http://adlnet.gov/expapi/verbs/mentored"}
    about_ben = statement(1, "ms-li", verb=mentored, object=account("ben"))
    team = {**account("team-a"), "objectType": "Group", "member": [account("ben"), account("cy")]}
    with_ben = statement(2, actor=team)
    later = statement(3, "ms-li", verb=mentored, object=account("ben"))
    for sent in (about_ben, later):
        sent.pop("result")
    assert client.post("/xapi/statements", json=[about_ben, with_ben], headers=V).status_code == 200
    erased_at = clock.now + timedelta(hours=1)
    clock.advance(hours=2)
    assert client.post("/xapi/statements", json=later, headers=V).status_code == 200
    # an erasure before 0017: ben's own statements went, others' kept naming him
    command.downgrade(alembic_config(database.engine), "0016")
    with database.sessions.begin() as session:
        session.add(AuditLogRow(at=erased_at, actor="user:1", action="erase_learner", target="ben"))
    upgrade(database.engine)

    def stored(sent: dict[str, Any]) -> dict[str, Any]:
        params = {"statementId": sent["id"]}
        return dict(client.get("/xapi/statements", params=params, headers=V).json())

    assert stored(about_ben)["object"]["name"] == "(erased)"
    assert stored(with_ben)["actor"]["member"][0]["name"] == "(erased)"
    assert stored(later)["object"] == account("ben")  # stored after the erasure: kept
    params = {"agent": json.dumps(account("ben"))}
    listed = client.get("/xapi/statements", params=params, headers=V).json()["statements"]
    assert [s["id"] for s in listed] == [later["id"]]
    cy = client.get("/xapi/statements", params={"agent": json.dumps(account("cy"))}, headers=V)
    assert [s["id"] for s in cy.json()["statements"]] == [with_ben["id"]]
    # what is stored now is what a re-post is compared with
    again = {k: v for k, v in stored(about_ben).items() if k not in ("stored", "authority")}
    assert client.post("/xapi/statements", json=again, headers=V).status_code == 200


def test_statements_are_answered_exact_as_ids_or_canonical_in_the_language_asked(
    client: TestClient,
) -> None:
    question = {
        "objectType": "Activity",
        "id": "https://lms.example/activities/q-select",
        "definition": {
            "name": {"en-US": "Select", "fr-FR": "Sélection"},
            "description": {"en-US": "Pick rows", "fr": "Choisir des lignes"},
            "interactionType": "choice",
            "choices": [{"id": "a", "description": {"en-US": "All", "fr-FR": "Tout"}}],
        },
    }
    course = {"id": "https://lms.example/courses/sql-101", "definition": {"name": {"de": "SQL"}}}
    sent = statement(
        1,
        actor={**account("ana"), "name": "Ana"},
        verb={
            "id": "http://adlnet.gov/expapi/verbs/answered",
            "display": {"en-US": "answered", "fr-FR": "a répondu"},
        },
        object=question,
        context={"contextActivities": {"parent": [course]}},
    )
    assert client.post("/xapi/statements", json=sent, headers=V).status_code == 200

    def one(form: str, **headers: str) -> dict[str, Any]:
        listed = client.get("/xapi/statements", params={"format": form}, headers={**V, **headers})
        single = client.get(
            "/xapi/statements",
            params={"format": form, "statementId": sent["id"]},
            headers={**V, **headers},
        )
        assert listed.status_code == single.status_code == 200
        assert listed.json()["statements"] == [single.json()]
        return dict(single.json())

    exact = one("exact")
    assert {k: v for k, v in exact.items() if k not in ("stored", "authority")} == sent | {
        "version": "1.0.0"  # what the LRS sets (xAPI 2.4.10)
    }
    ids = one("ids")
    assert ids["actor"] == account("ana")  # the name goes, the account stays
    assert ids["verb"] == {"id": sent["verb"]["id"]}
    assert ids["object"] == {"objectType": "Activity", "id": question["id"]}
    assert ids["context"]["contextActivities"]["parent"] == [{"id": course["id"]}]
    assert ids["result"] == sent["result"] and ids["timestamp"] == sent["timestamp"]
    french = one("canonical", **{"Accept-Language": "de-CH, fr;q=0.9, en;q=0.5"})
    assert french["actor"] == exact["actor"]  # agents as stored
    assert french["verb"]["display"] == {"fr-FR": "a répondu"}
    definition = french["object"]["definition"]
    assert definition["name"] == {"fr-FR": "Sélection"}
    assert definition["description"] == {"fr": "Choisir des lignes"}
    assert definition["choices"] == [{"id": "a", "description": {"fr-FR": "Tout"}}]
    assert definition["interactionType"] == "choice"
    # de-CH finds the course's "de"; a reader who asks for nothing gets the first language
    assert french["context"]["contextActivities"]["parent"][0]["definition"]["name"] == {
        "de": "SQL"
    }
    assert one("canonical")["verb"]["display"] == {"en-US": "answered"}
    refused = client.get("/xapi/statements", params={"format": "pretty"}, headers=V)
    assert refused.status_code == 400 and refused.json()["problems"][0]["field"] == "format"


def test_remap_reads_the_stored_answers_a_page_at_a_time_and_loses_none(
    client: TestClient, database: ServiceContext
) -> None:
    quiz = {"objectType": "Activity", "id": "https://vendor.example/quiz/1/q-paged"}
    sent = [statement(n, learner=f"stu-{n % 3}", object=quiz) for n in range(1, 8)]
    assert client.post("/xapi/statements", json=sent, headers=V).status_code == 200
    save_one_item(database, "paged", "paged", "q-paged")
    # pages of two split learners' answers across pages: each learner still gets all
    counts = XapiService(database).remap(page_size=2)
    assert counts == {"answers_read": 7, "became_evidence": 7, "learners_skipped": 0}
    for learner in ("stu-0", "stu-1", "stu-2"):
        ledger = client.get("/api/v1/evidence", params={"learner_id": learner}).json()
        assert [e["key"] for e in ledger] == [
            f"xapi:{s['id']}" for s in sent if s["actor"]["account"]["name"] == learner
        ]
    assert XapiService(database).remap(page_size=2)["answers_read"] == 0


def group_committed_xapi(database: ServiceContext, *, statements: int) -> XapiService:
    """The xAPI service over the careers fixture, with a group committer that commits once
    ``statements`` pieces of evidence wait (and never sooner)."""
    FrameworkService(database).save(
        load_framework_file(FIXTURES / "careers_programme.yaml").framework
    )
    committer = GroupCommitter(
        EvidenceService(database), max_batch=statements, max_wait=30.0, quiet=30.0
    )
    return XapiService(database, committer=committer)


def test_group_committed_statements_share_one_lookup_and_a_conflict_stays_alone(
    database: ServiceContext, sql_log: list[str]
) -> None:
    import threading

    # the committer waits for three callers, so the three posts share one transaction
    xapi = group_committed_xapi(database, statements=3)

    def lookups() -> list[str]:
        return [sql.lstrip().split()[0].upper() for sql in sql_log if "xapi_statements" in sql]

    def post_together(statements: list[dict[str, Any]]) -> list[Any]:
        out: list[Any] = [None] * len(statements)

        def post(n: int) -> None:
            try:
                out[n] = xapi.record([statements[n]])[1][0].stored
            except ConflictError as exc:
                out[n] = exc

        threads = [threading.Thread(target=post, args=(n,)) for n in range(len(statements))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        return out

    sql_log.clear()
    assert post_together([statement(1), statement(2), statement(3)]) == [True] * 3
    # one insert for the three, not one each; nothing to read back for new ids
    assert lookups() == ["INSERT"]
    changed = statement(1, result={"success": False})
    answers = post_together([statement(4), statement(2), changed])
    # statement 1 with other content conflicts: the shared transaction is retried one by
    # one, so 4 is stored, 2 is a re-post, and only 1 is refused
    assert answers[:2] == [True, False]
    assert isinstance(answers[2], ConflictError)
    stored = EvidenceService(database).find(learner_id="stu-1")
    assert sorted(e.key for e in stored) == sorted(
        f"xapi:{statement(n)['id']}" for n in (1, 2, 3, 4)
    )


def test_lists_of_statements_share_group_transactions_and_stay_all_or_nothing(
    database: ServiceContext, sql_log: list[str]
) -> None:
    import asyncio

    # the committer waits for four statements: two lists of two share one transaction
    xapi = group_committed_xapi(database, statements=4)

    async def post_together(*lists: list[dict[str, Any]]) -> list[Any]:
        async def post(statements: list[dict[str, Any]]) -> Any:
            try:
                return (await xapi.record_async(statements))[0]
            except ConflictError as exc:
                return exc

        return list(await asyncio.gather(*(post(s) for s in lists)))

    sql_log.clear()
    first, second = [statement(1), statement(2)], [statement(3), statement(4)]
    answers = asyncio.run(post_together(first, second))
    assert answers == [[s["id"] for s in first], [s["id"] for s in second]]
    inserts = [sql for sql in sql_log if sql.lstrip().upper().startswith("INSERT INTO XAPI")]
    assert len(inserts) == 1  # one transaction's insert for both lists
    # a list holding a changed statement 1 is refused whole; the other list is stored
    changed = [statement(5), statement(1, result={"success": False})]
    refused, stored = asyncio.run(post_together(changed, [statement(6), statement(7)]))
    assert isinstance(refused, ConflictError) and stored == [statement(n)["id"] for n in (6, 7)]
    keys = {e.key for e in EvidenceService(database).find(learner_id="stu-1")}
    assert keys == {f"xapi:{statement(n)['id']}" for n in (1, 2, 3, 4, 6, 7)}


def test_get_filters_by_agent_and_stored_time_and_pages_without_gaps(
    database: ServiceContext, client: TestClient
) -> None:
    # since, until, agent and ascending were ignored (every call answered the newest 100),
    # and `more` was always empty, so a client could not page past the first `limit`
    clock = database.clock
    assert isinstance(clock, FixedClock)
    start, ids = clock.now, []
    for n in range(5):  # stored one minute apart: start, start + 1 min, ..., start + 4 min
        posted = client.post("/xapi/statements", json=statement(n, f"stu-{n % 2}"), headers=V)
        ids.append(posted.json()[0])
        clock.advance(minutes=1)

    def found(**params: str) -> list[str]:
        answer = client.get("/xapi/statements", params=params, headers=V)
        assert answer.status_code == 200, answer.text
        return [s["id"] for s in answer.json()["statements"]]

    assert found() == ids[::-1]  # newest first
    answer = client.get("/xapi/statements", headers=V)
    assert answer.headers["X-Experience-API-Consistent-Through"] == clock.now.isoformat()
    since, until = start.isoformat(), (start + timedelta(minutes=3)).isoformat()
    assert found(since=since, until=until, ascending="true") == ids[1:4]  # (since, until]
    agent = {"objectType": "Agent", "account": {"homePage": "https://lms.example", "name": "stu-1"}}
    assert found(agent=json.dumps(agent)) == [ids[3], ids[1]]
    assert found(since="9999-12-31T23:59:59-14:00") == []  # beyond any stored time
    # pages of two walk every statement once, in order, following `more`
    seen, url = [], "/xapi/statements?limit=2&ascending=true"
    while url:
        page = client.get(url, headers=V).json()
        seen += [s["id"] for s in page["statements"]]
        url = page["more"]
    assert seen == ids
    # what this LRS does not filter by is refused, never ignored
    for params in (
        {"related_agents": "maybe"},
        {"format": "pretty"},
        {"cursor": "not-a-cursor"},
        {"verb": "answered"},  # not an IRI
        {"activity": "q select"},
        {"registration": "not-a-uuid"},
    ):
        refused = client.get("/xapi/statements", params=params, headers=V)
        assert refused.status_code == 400 and refused.json()["problems"][0]["field"] in params
    odd_agent = client.get("/xapi/statements", params={"agent": '{"name": "x"}'}, headers=V)
    assert odd_agent.status_code == 400 and "agent" in odd_agent.json()["message"]


def test_about_is_open_and_every_xapi_answer_follows_xapi_conventions(client: TestClient) -> None:
    # /xapi/about was a 404; errors were 422 (not a code xAPI has) without the version
    # header; unknown or miscased parameters were ignored; HEAD was a 405
    anyone = TestClient(client.app)
    for version in ({}, {"X-Experience-API-Version": "0.9"}):  # no version check here
        about = anyone.get("/xapi/about", headers=version)
        assert about.status_code == 200 and about.json() == {"version": ["1.0.3", "2.0.0"]}
        assert about.headers["x-experience-api-version"] == "1.0.3"
    head = anyone.head("/xapi/about")
    assert head.status_code == 200 and head.content == b""
    assert anyone.get("/xapi/statements", headers=V).headers["x-experience-api-version"] == "1.0.3"

    posted = client.post("/xapi/statements", json=statement(1), headers=V)
    sid = posted.json()[0]
    assert "x-experience-api-consistent-through" in posted.headers  # on every answer
    one = client.get("/xapi/statements", params={"statementId": sid}, headers=V)
    stored = datetime.fromisoformat(one.json()["stored"])
    assert parsedate_to_datetime(one.headers["last-modified"]) == stored.replace(microsecond=0)
    head = client.head("/xapi/statements", params={"statementId": sid}, headers=V)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["last-modified"] == one.headers["last-modified"]
    assert "x-experience-api-consistent-through" in head.headers
    every = client.get("/xapi/statements", params={"limit": "0"}, headers=V)  # 0: the most
    assert every.status_code == 200 and [s["id"] for s in every.json()["statements"]] == [sid]

    def refused(answer: Any, field: str, location: str) -> None:
        assert answer.status_code == 400, answer.text
        assert answer.headers["x-experience-api-version"] == "1.0.3"
        assert (
            answer.json()["problems"][0]["location"],
            answer.json()["problems"][0]["field"],
        ) == (
            location,
            field,
        )

    refused(
        client.get("/xapi/statements", params={"statementID": sid}, headers=V),
        "statementID",
        "query",
    )
    # ?method= on a JSON body is no alternate request: refused, not stored as a POST
    posted = client.post("/xapi/statements", params={"method": "PUT"}, json=statement(2), headers=V)
    refused(posted, "Content-Type", "alternate request")
    extra = {"statementId": statement(3)["id"], "agent": "{}"}
    refused(
        client.put("/xapi/statements", params=extra, json=statement(3), headers=V), "agent", "query"
    )
    assert client.get("/api/v1/evidence", params={"learner_id": "stu-1"}).json()[1:] == []
    one_and_filter = {"statementId": sid, "limit": "5"}  # one statement takes no filter
    refused(client.get("/xapi/statements", params=one_and_filter, headers=V), "limit", "query")
    twice = client.post("/xapi/statements", json=[statement(5), statement(5)], headers=V)
    refused(twice, "id", "statements[1]")  # was a 409, as if it clashed with a stored one
    missing = client.post("/xapi/statements", json=statement(4))
    refused(missing, "X-Experience-API-Version", "header")
    lax = client.post("/xapi/statements", content=b'{"result": {"score": {"raw": NaN}}}', headers=V)
    refused(lax, "result.score.raw", "body")  # InputGuard's answer, outside the routes
    # the rest of the API keeps 422
    other = client.post("/api/v1/evidence", json={"key": "k"})
    assert other.status_code == 422 and "x-experience-api-version" not in other.headers
    paths = client.get("/openapi.json").json()["paths"]
    assert "422" not in paths["/xapi/statements"]["get"]["responses"]
    assert "400" in paths["/xapi/statements"]["post"]["responses"]
    assert "422" in paths["/api/v1/evidence"]["post"]["responses"]


def test_the_lrs_records_who_sent_a_statement_as_its_authority(client: TestClient) -> None:
    # authority was stored as the sender wrote it (or not at all): xAPI 2.4.9 has the LRS
    # set it from the credentials, whatever a statement claims
    claimed = {"objectType": "Agent", "mbox": "mailto:head@school.example"}
    client.post("/xapi/statements", json=statement(1, authority=claimed), headers=V)
    client.post("/xapi/statements", json=statement(2), headers=V)
    stored = client.get("/xapi/statements", headers=V).json()["statements"]
    admin = client.get("/api/v1/users").json()
    subject = next(f"user:{u['id']}" for u in admin if u["username"] == "admin")
    sent_by = {
        "objectType": "Agent",
        "account": {"homePage": "http://testserver/", "name": subject},
    }
    assert [s["authority"] for s in stored] == [sent_by, sent_by]
    assert "head@school.example" not in str(stored)
    # a re-post is still the same statement (authority is not part of its content)
    assert client.post("/xapi/statements", json=statement(1), headers=V).status_code == 200


def test_get_filters_by_verb_activity_and_registration_and_follows_statement_refs(
    client: TestClient,
) -> None:
    completed = {"id": "http://adlnet.gov/expapi/verbs/completed"}
    join = {"objectType": "Activity", "id": "https://lms.example/activities/q-normalise"}
    registration = "3F2A1C00-0000-4000-8000-00000000000A"
    sent = [
        statement(1, context={"registration": registration}),
        statement(2),
        statement(3, verb=completed),
        statement(4, object=join, context={"registration": registration.lower()}),
    ]
    ids = [s["id"] for s in sent]
    for s in sent:  # one at a time: newest first is 4, 3, 2, 1
        assert client.post("/xapi/statements", json=s, headers=V).status_code == 200
    # a voiding statement targets statement 2: it meets a filter when statement 2 does
    void = voiding(1, ids[1])
    assert client.post("/xapi/statements", json=void, headers=V).status_code == 200

    def found(**params: str) -> list[str]:
        answer = client.get("/xapi/statements", params=params, headers=V)
        assert answer.status_code == 200, answer.text
        return [s["id"] for s in answer.json()["statements"]]

    answered = "http://adlnet.gov/expapi/verbs/answered"
    select = "https://lms.example/activities/q-select"
    assert found(verb=answered) == [void["id"], ids[3], ids[0]]  # 2 is voided: left out
    assert found(verb=completed["id"]) == [ids[2]]
    assert found(verb="http://adlnet.gov/expapi/verbs/voided") == [void["id"]]
    assert found(activity=select) == [void["id"], ids[2], ids[0]]
    assert found(activity=select, verb=answered) == [void["id"], ids[0]]
    assert found(registration=registration) == [ids[3], ids[0]]  # either case
    assert found(registration=registration, verb=completed["id"]) == []
    agent = {"account": {"homePage": "https://lms.example", "name": "stu-1"}}
    assert found(agent=json.dumps(agent), activity=join["id"]) == [ids[3]]
    # the rule applies however long the chain: a reply to a comment on statement 4
    commented = {"id": "http://adlnet.gov/expapi/verbs/commented"}
    comment = statement(5, verb=commented, object={"objectType": "StatementRef", "id": ids[3]})
    reply = statement(6, verb=commented, object={"objectType": "StatementRef", "id": comment["id"]})
    for s in (comment, reply):
        s.pop("result")
        assert client.post("/xapi/statements", json=s, headers=V).status_code == 200
    assert found(registration=registration) == [reply["id"], comment["id"], ids[3], ids[0]]
    assert found(activity=join["id"], verb=answered) == [reply["id"], comment["id"], ids[3]]
    assert found(verb=commented["id"]) == [reply["id"], comment["id"]]


def test_every_valid_statement_is_stored_and_only_answers_about_items_are_evidence(
    client: TestClient, database: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # content sends more than answers (launched, initialized, progressed, terminated, a
    # comment on a statement): a batch holding any of them was refused whole with a 400
    course = {"objectType": "Activity", "id": "https://lms.example/courses/sql-101"}
    quiz = {"objectType": "Activity", "id": "https://vendor.example/quiz/42/question-3"}

    def verb(name: str) -> dict[str, str]:
        return {"id": f"http://adlnet.gov/expapi/verbs/{name}"}

    sent = [
        statement(1, verb=verb("launched"), object=course, result=None),
        statement(2),  # an answer about the known item q-select: evidence
        statement(3, object=quiz),  # an answer about an activity no framework has
        statement(4, object=quiz, learner="stu-2", result={"score": {"scaled": 0.5}}),
        statement(5, verb=verb("completed"), object=course, result={"completion": True}),
        statement(
            6,
            verb=verb("commented"),
            object={"objectType": "StatementRef", "id": statement(2)["id"]},
            result={"response": "well done"},
        ),
        # an anonymous Group's answer is no one learner's: not listed, never evidence
        statement(7, object=quiz, actor={"objectType": "Group", "member": [account("stu-3")]}),
    ]
    for s in sent:
        if s.get("result") is None:
            s.pop("result")
    posted = client.post("/xapi/statements", json=sent, headers=V)
    assert posted.status_code == 200, posted.text
    stored = client.get("/xapi/statements", params={"ascending": "true"}, headers=V).json()
    assert [s["id"] for s in stored["statements"]] == [s["id"] for s in sent]
    ledger = client.get("/api/v1/evidence", params={"learner_id": "stu-1"}).json()
    assert [e["key"] for e in ledger] == [f"xapi:{statement(2)['id']}"]
    assert client.get("/api/v1/evidence", params={"learner_id": "stu-2"}).json() == []
    # re-posting is a no-op, as for answers; the same id with other content is a 409
    assert client.post("/xapi/statements", json=sent[0], headers=V).status_code == 200
    changed = {**sent[0], "verb": verb("initialized")}
    assert client.post("/xapi/statements", json=changed, headers=V).status_code == 409
    # the answers that became no evidence are listed by activity, to map them to items
    clock = database.clock
    assert isinstance(clock, FixedClock)
    unmapped = client.get("/api/v1/xapi/unmapped-activities").json()
    assert unmapped == [
        {"activity": quiz["id"], "answers": 2, "learners": 2, "last_stored": clock.now.isoformat()}
    ]
    monkeypatch.setenv(
        "MASTERYPATH_DATABASE_URL", database.engine.url.render_as_string(hide_password=False)
    )
    listed = CliRunner().invoke(cli_app, ["xapi-unmapped", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [(a["activity"], a["answers"]) for a in json.loads(listed.output)] == [(quiz["id"], 2)]
    # the quiz's question becomes an item: the answers stored become evidence, once
    save_one_item(database, "quiz", "joins", "question-3")
    remapped = CliRunner().invoke(cli_app, ["xapi-remap", "--json"])
    assert remapped.exit_code == 0, remapped.output
    counts = json.loads(remapped.output)
    assert counts["became_evidence"] == 2 and counts["learners_skipped"] == 0
    ledger = client.get("/api/v1/evidence", params={"learner_id": "stu-2"}).json()
    assert [(e["key"], e["item_id"], e["outcome"]["type"]) for e in ledger] == [
        (f"xapi:{sent[3]['id']}", "question-3", "score")
    ]
    assert ledger[0]["timestamp"].startswith(sent[3]["timestamp"].removesuffix("Z"))
    again = CliRunner().invoke(cli_app, ["xapi-remap", "--json"])
    assert json.loads(again.output)["became_evidence"] == 0
    assert client.get("/api/v1/xapi/unmapped-activities").json() == []
    # a statement that is no evidence can be voided: it leaves lists, evidence is untouched
    void = voiding(1, sent[0]["id"])
    assert client.post("/xapi/statements", json=void, headers=V).status_code == 200
    listed = client.get("/xapi/statements", params={"ascending": "true"}, headers=V).json()
    assert sent[0]["id"] not in [s["id"] for s in listed["statements"]]
    assert len(client.get("/api/v1/evidence", params={"learner_id": "stu-1"}).json()) == 2


def test_a_minors_statements_wait_for_consent_even_when_they_are_not_evidence(
    client: TestClient, database: ServiceContext
) -> None:
    client.post("/api/v1/learners", json={"learner_id": "kid", "birth_date": "2016-01-01"})
    launched = statement(
        1,
        learner="kid",
        verb={"id": "http://adlnet.gov/expapi/verbs/launched"},
        object={"objectType": "Activity", "id": "https://lms.example/courses/sql-101"},
    )
    launched.pop("result")
    refused = client.post("/xapi/statements", json=[statement(2), launched], headers=V)
    assert refused.status_code == 403 and refused.json()["error"] == "consent_required"
    assert client.get("/xapi/statements", headers=V).json()["statements"] == []  # not half
    assert client.get("/api/v1/evidence", params={"learner_id": "stu-1"}).json() == []
    client.put("/api/v1/learners/kid/guardian-consent", json={"guardian": "Mum"})
    assert client.post("/xapi/statements", json=launched, headers=V).status_code == 200
    # an answer kept as a statement does not become evidence once consent is withdrawn
    quiz = {"objectType": "Activity", "id": "https://vendor.example/quiz/1/q-later"}
    answer = statement(3, learner="kid", object=quiz)
    assert client.post("/xapi/statements", json=answer, headers=V).status_code == 200
    assert client.delete("/api/v1/learners/kid/guardian-consent").status_code == 204
    save_one_item(database, "later", "later", "q-later")
    counts = XapiService(database).remap()
    assert counts == {"answers_read": 1, "became_evidence": 0, "learners_skipped": 1}
    assert client.get("/api/v1/evidence", params={"learner_id": "kid"}).json() == []


def test_related_activities_finds_an_activity_in_context_and_substatements(
    client: TestClient,
) -> None:
    course = "https://lms.example/courses/sql-101"
    other = "https://lms.example/courses/other"
    in_definition = {
        "objectType": "Activity",
        "id": "https://lms.example/activities/q-select",
        "definition": {"extensions": {"https://lms.example/x": {"id": course}}},
    }
    sent = [
        statement(1, context={"contextActivities": {"parent": [{"id": course}]}}),
        statement(2, context={"contextActivities": {"grouping": [{"id": other}, {"id": course}]}}),
        statement(3, object={"objectType": "Activity", "id": course}),
        statement(4, object=in_definition),  # an id inside a definition is no activity's
        statement(
            5,
            object={
                "objectType": "SubStatement",
                "actor": {"account": {"homePage": "https://lms.example", "name": "stu-1"}},
                "verb": {"id": "http://adlnet.gov/expapi/verbs/attempted"},
                "object": {"id": course},
            },
        ),
        statement(6, context={"contextActivities": {"category": [{"id": other}]}}),
        statement(7, context={"contextActivities": {"other": {"id": course}}}),  # not a list
    ]
    for s in sent:
        posted = client.post("/xapi/statements", json=s, headers=V)
        assert posted.status_code == 200, posted.text

    def found(**params: str) -> list[int]:
        answer = client.get("/xapi/statements", params={**params, "ascending": "true"}, headers=V)
        assert answer.status_code == 200, answer.text
        ids = [s["id"] for s in sent]
        return [ids.index(s["id"]) + 1 for s in answer.json()["statements"]]

    assert found(activity=course) == [3]
    assert found(activity=course, related_activities="true") == [1, 2, 3, 5, 7]
    assert found(activity=other, related_activities="true") == [2, 6]
    assert found(activity=course, related_activities="false") == [3]


def voiding(n: int, target: str, **changes: Any) -> dict[str, Any]:
    s: dict[str, Any] = {
        "id": f"9f2a1c00-0000-4000-8000-{n:012d}",
        "actor": {
            "objectType": "Agent",
            "account": {"homePage": "https://lms.example", "name": "teacher-1"},
        },
        "verb": {"id": "http://adlnet.gov/expapi/verbs/voided", "display": {"en-US": "voided"}},
        "object": {"objectType": "StatementRef", "id": target},
    }
    s.update(changes)
    return s


def test_a_voiding_statement_is_found_by_its_actor_and_its_authority(
    client: TestClient, database: ServiceContext
) -> None:
    """A voiding statement is kept under the voided statement's learner; its own actor (a
    teacher) is found by the ``agent`` filter, and its authority by ``related_agents``,
    also for one stored before migration 0023."""
    from alembic import command

    from masterypath.store.database import alembic_config, upgrade

    target = statement(1)["id"]
    assert client.post("/xapi/statements", json=statement(1), headers=V).status_code == 200
    void = voiding(1, target)
    assert client.post("/xapi/statements", json=void, headers=V).status_code == 200
    authority = client.get("/xapi/statements", headers=V).json()["statements"][0]["authority"]

    def found(agent: dict[str, Any], **more: str) -> list[str]:
        params = {"agent": json.dumps(agent), **more}
        got = client.get("/xapi/statements", params=params, headers=V).json()
        return [s["id"] for s in got["statements"]]

    def everyone() -> list[list[str]]:
        related = {"related_agents": "true"}
        return [
            found(void["actor"]),
            found(void["actor"], **related),
            found(authority),
            found(authority, **related),
            found(account("stu-1")),
        ]

    expected = [[void["id"]], [void["id"]], [], [void["id"]], [void["id"]]]
    assert everyone() == expected  # the voided statement itself is left out of lists
    command.downgrade(alembic_config(database.engine), "0022")
    upgrade(database.engine)
    assert everyone() == expected


def test_a_voiding_statement_voids_a_statement_and_its_evidence(
    client: TestClient, database: ServiceContext
) -> None:
    ids = [statement(n)["id"] for n in range(1, 5)]
    assert client.post("/xapi/statements", json=[statement(n) for n in range(1, 5)], headers=V)

    def evidence_counts() -> dict[str, int]:
        progress = MasteryService(database).progress("stu-1", "dbcourse")
        return {p.competency_id: p.decision.explanation.n_evidence for p in progress}

    before = evidence_counts()
    posted = client.post("/xapi/statements", json=voiding(1, ids[0]), headers=V)
    assert posted.status_code == 200, posted.text
    assert posted.json() == [voiding(1, ids[0])["id"]]
    # idempotent; the same id voiding another statement is a conflict
    assert client.post("/xapi/statements", json=voiding(1, ids[0]), headers=V).status_code == 200
    assert client.post("/xapi/statements", json=voiding(1, ids[1]), headers=V).status_code == 409
    # the voided statement is found by voidedStatementId only, and left out of lists
    one = {"statementId": ids[0]}
    assert client.get("/xapi/statements", params=one, headers=V).status_code == 404
    found = client.get("/xapi/statements", params={"voidedStatementId": ids[0]}, headers=V)
    assert found.status_code == 200 and found.json()["id"] == ids[0]
    not_voided = client.get("/xapi/statements", params={"voidedStatementId": ids[1]}, headers=V)
    assert not_voided.status_code == 404
    listed = [s["id"] for s in client.get("/xapi/statements", headers=V).json()["statements"]]
    assert sorted(listed) == sorted([voiding(1, ids[0])["id"], *ids[1:]])
    # its evidence is voided, and the learner's states rebuilt without it
    voids = client.get("/api/v1/learners/stu-1/evidence-voids").json()
    assert [(v["key"], v["reason"]) for v in voids] == [
        (f"xapi:{ids[0]}", f"voided by xAPI statement {voiding(1, ids[0])['id']}")
    ]
    assert evidence_counts()["select"] == before["select"] - 1
    # refused, each naming why, and nothing stored
    cases = [
        (voiding(2, "00000000-0000-4000-8000-000000000000"), "no statement with this id"),
        (voiding(3, voiding(1, ids[0])["id"]), "cannot be voided"),
        (voiding(4, ids[1], object={"objectType": "Activity", "id": "https://x.a/1"}), "Ref"),
        ([voiding(5, ids[1]), statement(6)], "request of their own"),
    ]
    for body, reason in cases:
        refused = client.post("/xapi/statements", json=body, headers=V)
        assert refused.status_code == 400 and reason in refused.text, refused.text
    assert len(client.get("/api/v1/learners/stu-1/evidence-voids").json()) == 1


def test_only_who_may_write_a_learners_statements_may_void_them(database: ServiceContext) -> None:
    FrameworkService(database).save(
        load_framework_file(FIXTURES / "careers_programme.yaml").framework
    )
    client, accounts = api_app(database)
    writer = accounts.create_api_key("lms", [Scope.XAPI_WRITE], by="test").key
    lms = {"Authorization": f"Bearer {writer}", **V}
    assert client.post("/xapi/statements", json=statement(1), headers=lms).status_code == 200
    reader = accounts.create_api_key("reader", [Scope.XAPI_READ], by="test").key
    refused = client.post(
        "/xapi/statements",
        json=voiding(1, statement(1)["id"]),
        headers={"Authorization": f"Bearer {reader}", **V},
    )
    assert refused.status_code == 403
    done = client.post("/xapi/statements", json=voiding(1, statement(1)["id"]), headers=lms)
    assert done.status_code == 200


def test_the_agent_filter_follows_statement_refs_to_its_statements_however_long_the_chain(
    client: TestClient, database: ServiceContext
) -> None:
    """xAPI 2.1.3: a statement whose object is a StatementRef meets ``agent`` when the
    statement it targets does, recursively; a voided statement is left out, the
    voiding statement (which targets it) is not. Migration 0020 finds the references of
    the statements stored before it."""
    from alembic import command

    from masterypath.store.database import alembic_config, upgrade

    commented = {"id": "http://adlnet.gov/expapi/verbs/commented"}
    answer = statement(1, "kim")
    comment = statement(
        2, "ms-li", verb=commented, object={"objectType": "StatementRef", "id": answer["id"]}
    )
    reply = statement(
        3, "ana", verb=commented, object={"objectType": "StatementRef", "id": comment["id"]}
    )
    other = statement(4, "ana")
    for s in (comment, reply):
        s.pop("result")
    posted = [answer, comment, reply, other]
    assert client.post("/xapi/statements", json=posted, headers=V).status_code == 200

    def found(name: str) -> list[int]:
        params = {"agent": json.dumps(account(name)), "ascending": "true"}
        got = client.get("/xapi/statements", params=params, headers=V).json()["statements"]
        return [int(s["id"][-12:]) for s in got]

    assert [found(n) for n in ("kim", "ms-li", "ana")] == [[1, 2, 3], [2, 3], [3, 4]]
    command.downgrade(alembic_config(database.engine), "0019")
    upgrade(database.engine)
    assert [found(n) for n in ("kim", "ms-li", "ana")] == [[1, 2, 3], [2, 3], [3, 4]]

    void = voiding(1, answer["id"])
    assert client.post("/xapi/statements", json=void, headers=V).status_code == 200
    kim = client.get("/xapi/statements", params={"agent": json.dumps(account("kim"))}, headers=V)
    assert [s["id"] for s in kim.json()["statements"]] == [void["id"], reply["id"], comment["id"]]


def test_a_statement_without_a_version_is_stored_with_its_requests(
    client: TestClient, database: ServiceContext
) -> None:
    """xAPI 2.4.10: one that came without a version is answered with 1.0.0 (2.0.0 if it
    came in a 2.0 request), one with a version keeps it; the version the LRS sets is no
    part of the digest (a re-post is still recognised). Migration 0022 gives 1.0.0 to
    the statements stored before without one."""
    from alembic import command
    from sqlalchemy import update

    from masterypath.store.database import alembic_config, upgrade
    from masterypath.store.tables import XapiStatementRow

    old, plain, newer, kept = (
        statement(1),
        statement(2),
        statement(3),
        statement(4, version="1.0.1"),
    )
    assert client.post("/xapi/statements", json=[old, plain, kept], headers=V).status_code == 200
    v2 = {"X-Experience-API-Version": "2.0.0"}
    assert client.post("/xapi/statements", json=newer, headers=v2).status_code == 200

    def version(s: dict[str, Any]) -> str:
        got = client.get("/xapi/statements", params={"statementId": s["id"]}, headers=V)
        return str(got.json()["version"])

    assert [version(s) for s in (plain, newer, kept)] == ["1.0.0", "2.0.0", "1.0.1"]
    for s, headers in ((plain, v2), (newer, V)):  # a re-post in the other version: no conflict
        assert client.post("/xapi/statements", json=s, headers=headers).status_code == 200
    # one stored before this release, without a version
    command.downgrade(alembic_config(database.engine), "0021")
    with database.sessions.begin() as session:
        stored = {k: v for k, v in old.items() if k != "version"} | {
            "stored": "2026-11-02T10:00:00+00:00"
        }
        session.execute(
            update(XapiStatementRow)
            .where(XapiStatementRow.id == old["id"])
            .values(statement=stored)
        )
    upgrade(database.engine)
    assert version(old) == "1.0.0"
    assert client.post("/xapi/statements", json=old, headers=V).status_code == 200
