"""Authentication (tokens, keys, expiry, revocation, rate limit), privacy (consent gate,
export, erasure, access log), and faults (413, 400, 503), on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import String, Text, select

from masterypath.api.app import create_app
from masterypath.api.errors import NUL_REASON
from masterypath.domain.access import Role, Scope
from masterypath.errors import ConfigurationError
from masterypath.interop.loader import load_framework_file
from masterypath.services.accounts import AccountService, LoginThrottle, digest
from masterypath.services.context import ServiceContext
from masterypath.services.frameworks import FrameworkService
from masterypath.services.mastery import MasteryService
from masterypath.services.privacy import PrivacyService
from masterypath.settings import Settings
from masterypath.store.tables import (
    Base,
    EmbedTokenRow,
    LtiAccountRow,
    LtiGradeLinkRow,
    TokenRow,
    UserRow,
)
from tests.conftest import (
    CHEAP_HASHER,
    FixedClock,
    admin_client,
    advance_clock,
    api_app,
    login,
)
from tests.lti_platform import REGISTRATION

FIXTURES = Path(__file__).parents[1] / "fixtures"


def evidence(learner: str, key: str, correct: bool = True) -> dict[str, Any]:
    return {
        "key": key,
        "learner_id": learner,
        "competency_ids": ["select"],
        "item_id": "q-select",
        "outcome": {"type": "binary", "correct": correct},
        "timestamp": "2026-11-02T10:00:00+00:00",
    }


@pytest.fixture
def admin(database: ServiceContext) -> TestClient:
    FrameworkService(database).save(
        load_framework_file(FIXTURES / "careers_programme.yaml").framework
    )
    return admin_client(database)


# -- authentication -------------------------------------------------------------------------
def test_login_logout_and_wrong_credentials(database: ServiceContext) -> None:
    client, accounts = api_app(database)
    accounts.create_user("ana", "correct-horse", Role.EDUCATOR)
    assert client.get("/api/v1/frameworks").status_code == 401
    wrong = client.post("/auth/login", json={"username": "ana", "password": "wrong-horse"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "unauthenticated"
    assert (
        client.post("/auth/login", json={"username": "nobody", "password": "x"}).status_code == 401
    )
    headers = login(client, "ana", "correct-horse")
    me = client.get("/auth/me", headers=headers).json()
    assert me["role"] == "educator" and me["subject"].startswith("user:")
    assert client.get("/api/v1/frameworks", headers=headers).status_code == 200
    assert client.post("/auth/logout", headers=headers).status_code == 204
    revoked = client.get("/api/v1/frameworks", headers=headers)
    assert revoked.status_code == 401 and "revoked" in revoked.json()["message"]
    assert revoked.headers["www-authenticate"] == "Bearer"
    bogus = client.get("/api/v1/frameworks", headers={"Authorization": "Bearer mpt_nope"})
    assert bogus.status_code == 401


def test_password_hashes_are_argon2_and_never_returned(database: ServiceContext) -> None:
    client, accounts = api_app(database)
    accounts.create_user("root", "root-password", Role.ADMIN)
    from masterypath.store.tables import UserRow

    with database.sessions() as session:
        stored = session.scalars(select(UserRow.password_hash)).one()
    assert stored.startswith("$argon2id$") and "root-password" not in stored
    listed = client.get("/api/v1/users", headers=login(client, "root", "root-password")).json()
    assert "password_hash" not in listed[0] and listed[0]["username"] == "root"


def test_tokens_expire(database: ServiceContext) -> None:
    clock = database.clock
    assert isinstance(clock, FixedClock)
    client, accounts = api_app(database)
    accounts.token_ttl = timedelta(hours=1)
    accounts.create_user("ana", "correct-horse", Role.ADMIN)
    headers = login(client, "ana", "correct-horse")
    clock.advance(minutes=59)
    assert client.get("/api/v1/frameworks", headers=headers).status_code == 200
    clock.advance(minutes=2)
    expired = client.get("/api/v1/frameworks", headers=headers)
    assert expired.status_code == 401 and "expired" in expired.json()["message"]


def test_login_is_rate_limited(database: ServiceContext) -> None:
    now = [0.0]
    client, accounts = api_app(database)
    accounts.throttle = LoginThrottle(attempts=3, window=60, monotonic=lambda: now[0])
    accounts.create_user("ana", "correct-horse", Role.ADMIN)
    for _ in range(3):
        bad = client.post("/auth/login", json={"username": "ana", "password": "guess-guess"})
        assert bad.status_code == 401
    limited = client.post("/auth/login", json={"username": "ana", "password": "correct-horse"})
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    now[0] = 61.0
    assert (
        client.post(
            "/auth/login", json={"username": "ana", "password": "correct-horse"}
        ).status_code
        == 200
    )


def test_api_keys_are_scoped_hashed_expiring_and_revocable(database: ServiceContext) -> None:
    clock = database.clock
    assert isinstance(clock, FixedClock)
    client, accounts = api_app(database)
    accounts.create_user("root", "root-password", Role.ADMIN)
    admin = login(client, "root", "root-password")
    created = client.post(
        "/api/v1/api-keys",
        json={
            "name": "lms",
            "scopes": ["frameworks:read"],
            "expires_at": (clock.now + timedelta(days=1)).isoformat(),
        },
        headers=admin,
    ).json()
    key = {"Authorization": f"Bearer {created['key']}"}
    assert client.get("/api/v1/frameworks", headers=key).status_code == 200
    # an expiry already past, or one whose UTC time is beyond datetime (a 500 before)
    for expires_at in (clock.now.isoformat(), "9999-12-31T23:59:59-14:00"):
        refused = client.post(
            "/api/v1/api-keys",
            json={"name": "x", "scopes": ["frameworks:read"], "expires_at": expires_at},
            headers=admin,
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["problems"][0]["field"] == "expires_at"
    denied = client.post("/api/v1/evidence", json=evidence("l1", "k1"), headers=key)
    assert denied.status_code == 403 and "scopes" in denied.json()["message"]
    listed = client.get("/api/v1/api-keys", headers=admin).json()
    assert "key" not in listed[0] and created["key"] not in str(listed)
    clock.advance(days=2)
    assert client.get("/api/v1/frameworks", headers=key).status_code == 401
    admin = login(client, "root", "root-password")  # the old token expired too
    fresh = accounts.create_api_key("lms2", [Scope.FRAMEWORKS_READ], by="t")
    assert (
        client.get(
            "/api/v1/frameworks", headers={"Authorization": f"Bearer {fresh.key}"}
        ).status_code
        == 200
    )
    assert client.delete(f"/api/v1/api-keys/{fresh.id}", headers=admin).status_code == 204
    assert (
        client.get(
            "/api/v1/frameworks", headers={"Authorization": f"Bearer {fresh.key}"}
        ).status_code
        == 401
    )


def test_account_validation_names_the_field(database: ServiceContext) -> None:
    accounts = AccountService(database, hasher=CHEAP_HASHER)
    with pytest.raises(Exception, match="learner_id"):
        accounts.create_user("kid", "long-password", Role.LEARNER)
    with pytest.raises(Exception, match="password"):
        accounts.create_user("kid", "short", Role.EDUCATOR)
    accounts.create_user("kid", "long-password", Role.EDUCATOR)
    with pytest.raises(Exception, match="username 'kid'"):
        accounts.create_user("kid", "long-password", Role.EDUCATOR)


# -- privacy ----------------------------------------------------------------------------------
def test_minor_needs_guardian_consent_before_evidence(admin: TestClient) -> None:
    born = date(2026 - 10, 1, 1).isoformat()  # 10 years old at the test clock
    assert admin.post("/api/v1/learners", json={"learner_id": "kid", "birth_date": born}).json()[
        "under_13"
    ]
    refused = admin.post("/api/v1/evidence", json=evidence("kid", "k1"))
    assert refused.status_code == 403
    body = refused.json()
    assert (
        body["error"] == "consent_required"
        and "kid" in body["message"]
        and "guardian" in body["message"]
    )
    batch = admin.post(
        "/api/v1/evidence/batch", json=[evidence("adult", "k2"), evidence("kid", "k3")]
    )
    assert batch.status_code == 403
    assert (
        admin.get("/api/v1/evidence", params={"learner_id": "adult"}).json() == []
    )  # nothing half-stored
    assert (
        admin.put("/api/v1/learners/kid/guardian-consent", json={"guardian": "Mum"}).status_code
        == 200
    )
    assert admin.post("/api/v1/evidence", json=evidence("kid", "k1")).status_code == 201
    assert admin.delete("/api/v1/learners/kid/guardian-consent").status_code == 204
    assert admin.post("/api/v1/evidence", json=evidence("kid", "k4")).status_code == 403


def every_text_value(database: ServiceContext) -> list[str]:
    """Every string stored in any column of any table (to prove nothing personal remains)."""
    found: list[str] = []
    with database.sessions() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)):
                for column, value in zip(table.columns, row, strict=True):
                    text = isinstance(column.type, String | Text) and value is not None
                    if text or isinstance(value, dict | list):
                        found.append(str(value))
    return found


def launched_from_a_learning_platform(
    admin: TestClient, database: ServiceContext, learner_id: str, username: str
) -> None:
    """What a launch from an LTI platform keeps: which platform user the learner's account
    is (``s-<learner>``), and where their grade goes."""
    assert admin.post("/api/v1/lti/platforms", json=REGISTRATION).status_code == 201
    now = database.clock()
    with database.sessions.begin() as session:
        user = session.scalars(select(UserRow).where(UserRow.username == username)).one()
        subject = f"s-{learner_id}"
        session.add(
            LtiAccountRow(
                platform_id="lms",
                subject=subject,
                role=user.role,
                user_id=user.id,
                created_at=now,
            )
        )
        session.add(
            LtiGradeLinkRow(
                platform_id="lms",
                resource_link_id="week-1",
                learner_id=learner_id,
                subject=subject,
                lineitem="https://lms.example/items/1",
                framework_id="dbcourse",
                created_at=now,
            )
        )


def test_export_contains_everything_and_erasure_leaves_nothing_personal(
    admin: TestClient, database: ServiceContext
) -> None:
    personal = {
        "name": "Zoë Quantum-Smith",
        "email": "zoe.qs@example.org",
        "birth_date": "2001-02-03",
    }
    assert admin.post("/api/v1/learners", json={"learner_id": "zq", **personal}).status_code == 201
    for n in range(3):
        assert (
            admin.post("/api/v1/evidence", json=evidence("zq", f"zq-{n}", n != 1)).status_code
            == 201
        )
    admin.post("/api/v1/cohorts", json={"id": "c1", "title": "Class"})
    admin.put("/api/v1/cohorts/c1/learners/zq")
    admin.put("/api/v1/learners/zq/attributes/cohort", json={"value": "a", "consent_by": "zq"})
    admin.post(
        "/api/v1/learners/zq/overrides",
        json={
            "framework_id": "dbcourse",
            "competency_id": "normalise",
            "status": "mastered",
            "reason": "prior_learning",
        },
    )
    admin.post(
        "/api/v1/users",
        json={
            "username": "zq-login",
            "password": "zq-password",
            "role": "learner",
            "learner_id": "zq",
        },
    )
    placement = admin.post(
        "/api/v1/learners/zq/placements", json={"framework_id": "dbcourse", "budget": 2}
    )
    assert placement.status_code == 201
    admin.get("/api/v1/learners/zq/progress", params={"framework_id": "dbcourse"})  # logged read
    link = admin.post("/api/v1/learners/zq/embed-links", json={})
    assert link.status_code == 201
    launched_from_a_learning_platform(admin, database, "zq", "zq-login")
    parent = admin.post(
        "/api/v1/users", json={"username": "zq-mum", "role": "guardian", "password": "mum-pass1"}
    ).json()["id"]
    assert admin.put(f"/api/v1/users/{parent}/learners/zq").status_code == 204
    export = admin.get("/api/v1/learners/zq/export").json()
    assert [g["user_id"] for g in export["guardians"]] == [parent]
    assert export["accounts"][0]["lti_launches_from"] == [{"platform_id": "lms", "subject": "s-zq"}]
    assert export["lti_grade_links"][0]["lineitem"] == "https://lms.example/items/1"
    assert (
        export["profile"]["name"] == personal["name"]
        and export["profile"]["email"] == personal["email"]
    )
    assert export["profile"]["birth_date"] == personal["birth_date"]
    assert sorted(e["key"] for e in export["evidence"]) == ["zq-0", "zq-1", "zq-2"]
    assert all(e["competency_ids"] == ["select"] for e in export["evidence"])
    assert {s["competency_id"] for s in export["mastery_states"]} == {"select"}
    assert len(export["mastery_events"]) >= 3
    assert export["overrides"][0]["reason"] == "prior_learning"
    assert export["group_attributes"][0]["value"] == "a"
    assert export["cohorts"] == [{"cohort_id": "c1", "learner_id": "zq"}]
    assert [a["username"] for a in export["accounts"]] == ["zq-login"]
    assert any(r["what"].endswith("/learners/zq/progress") for r in export["access_log"])
    # every table that holds a learner_id is exported, with every one of zq's rows
    sections = {
        "learner_profiles": "profile",
        "guardian_consents": "guardian_consent",
        "guardianships": "guardians",
        "cohort_members": "cohorts",
        "evidence": "evidence",
        "xapi_statements": "xapi_statements",
        "mastery_states": "mastery_states",
        "mastery_events": "mastery_events",
        "overrides": "overrides",
        "alerts": "alerts",
        "group_attributes": "group_attributes",
        "career_goals": "career_goals",
        "access_log": "access_log",
        "users": "accounts",
        "submissions": "submissions",
        "reviews": "reviews",
        "placements": "placements",
        "embed_tokens": "embed_tokens",
        "badges": "badges",
        "evidence_voids": "evidence_voids",
        "xapi_states": "xapi_states",
        "xapi_agent_profiles": "xapi_agent_profiles",
        "xapi_statement_agents": "xapi_statement_agents",
        "lti_grade_links": "lti_grade_links",
    }
    with database.sessions() as session:
        for table in Base.metadata.sorted_tables:
            if "learner_id" not in table.columns or table.name == "learners":
                continue
            assert table.name in sections, f"{table.name} holds learner data but is not exported"
            rows = session.execute(select(table).where(table.c.learner_id == "zq")).all()
            section = export[sections[table.name]]
            exported_rows = [section] if isinstance(section, dict) else section or []
            assert len(exported_rows) == len(rows), table.name
    erased = admin.delete("/api/v1/learners/zq").json()["deleted"]
    assert erased["evidence"] == 3 and erased["profile"] == 1 and erased["accounts"] == 1
    assert erased["placements"] == 1 and erased["embed_tokens"] == 1
    assert erased["lti_grade_links"] == 1
    assert erased["guardians"] == 1  # the link; the parent's account is not zq's data
    assert admin.get(f"/api/v1/users/{parent}/learners").json() == []
    embed = {"Authorization": f"Bearer {link.json()['token']}"}
    assert admin.get("/api/v1/frameworks", headers=embed).status_code == 401  # gone with zq
    remaining = " ".join(every_text_value(database))
    for value in personal.values():
        assert value not in remaining
    assert "s-zq" not in remaining  # nor which platform user they were
    assert admin.get("/api/v1/evidence", params={"learner_id": "zq"}).json() == []
    assert admin.get("/api/v1/learners/zq/export").status_code == 404
    tombstone = [e for e in admin.get("/api/v1/audit-log").json() if e["action"] == "erase_learner"]
    assert tombstone[0]["target"] == "zq" and tombstone[0]["detail"]["counts"]["evidence"] == 3
    assert (
        admin.post(
            "/auth/login", json={"username": "zq-login", "password": "zq-password"}
        ).status_code
        == 401
    )


def test_every_read_of_a_learner_is_logged(admin: TestClient, database: ServiceContext) -> None:
    admin.post("/api/v1/learners", json={"learner_id": "l1", "name": "Lee"})
    admin.get("/api/v1/learners/l1")
    admin.get("/api/v1/learners/l1/progress", params={"framework_id": "dbcourse"})
    admin.get("/api/v1/evidence", params={"learner_id": "l1"})
    log = admin.get("/api/v1/learners/l1/access-log").json()
    assert [r["what"] for r in log] == [
        "GET /api/v1/learners/l1",
        "GET /api/v1/learners/l1/progress",
        "GET /api/v1/evidence",
    ]
    assert all(r["actor"].startswith("user:") and r["at"] for r in log)
    assert {r["actor_name"] for r in log} == {"admin"}  # who, by username
    # paged, oldest first: past the first rows the latest are still there to read
    page = admin.get("/api/v1/learners/l1/access-log", params={"limit": 2, "offset": 1}).json()
    assert [r["what"] for r in page] == [r["what"] for r in log[1:3]]
    refused = admin.get("/api/v1/learners/l1/access-log", params={"offset": -1})
    assert refused.status_code == 422 and refused.json()["problems"][0]["field"] == "offset"


def test_a_read_repeated_within_the_window_is_logged_once(database: ServiceContext) -> None:
    # a page polling every second: one access-log row per account, endpoint and learner per
    # window (5 minutes by default), not 3,600 an hour that bury every other access
    clock = database.clock
    assert isinstance(clock, FixedClock)
    admin = admin_client(database)
    FrameworkService(database).save(
        load_framework_file(FIXTURES / "careers_programme.yaml").framework
    )
    for learner in ("l1", "l2"):
        assert admin.post("/api/v1/evidence", json=evidence(learner, learner)).status_code < 300
    accounts = AccountService(database, hasher=CHEAP_HASHER)
    accounts.create_user("ms-li", "ms-li-password", Role.ADMIN)
    other = login(admin, "ms-li", "ms-li-password")
    progress = "/api/v1/learners/l1/progress"
    for _ in range(30):  # 30 polls in 4 minutes 50 seconds
        admin.get(progress, params={"framework_id": "dbcourse"})
        admin.get("/api/v1/frameworks/dbcourse/grid")
        clock.advance(seconds=10)
    admin.get(progress, params={"framework_id": "dbcourse"}, headers=other)  # another reader
    clock.advance(seconds=10)  # 5 minutes after the first: logged again
    admin.get(progress, params={"framework_id": "dbcourse"})

    def log(learner: str) -> list[tuple[str, str]]:
        rows = admin.get(f"/api/v1/learners/{learner}/access-log").json()
        return [(r["what"].rsplit("/", 1)[1], r["actor"]) for r in rows]

    me, li = log("l1")[0][1], log("l1")[2][1]
    assert li != me
    assert log("l1") == [("progress", me), ("grid", me), ("progress", li), ("progress", me)]
    assert log("l2") == [("grid", me)]
    # a window of 0: every read is a row
    every, _ = api_app(database, Settings(embeddings=False, access_log_window=0))
    for _ in range(3):
        every.get(
            "/api/v1/learners/l2/progress", params={"framework_id": "dbcourse"}, headers=other
        )
    assert [w for w, _ in log("l2")] == ["grid", "progress", "progress", "progress"]


def test_two_server_processes_log_a_repeated_read_once_per_window(
    database: ServiceContext,
) -> None:
    # two processes (`serve --workers 2`) take turns answering the same page's polls
    first, second = (
        PrivacyService(database, access_log_window=timedelta(minutes=5)) for _ in range(2)
    )
    poll = ("user:ed", "read_learner", "GET /api/v1/learners/l1/progress")
    for n in range(10):  # every 20 seconds for 3 minutes 20 seconds, each in turn
        (first if n % 2 == 0 else second).log_access(*poll, "l1")
        advance_clock(database, seconds=20)
    second.log_access(*poll, "l1", "l2")  # another learner on the same page
    assert [r["learner_id"] for r in first.access_log("l1")] == ["l1"]
    assert len(second.access_log("l2")) == 1
    advance_clock(database, minutes=2)  # 5 minutes 20 seconds after the first row
    for process in (second, first):
        process.log_access(*poll, "l1")
    assert [r["at"] for r in first.access_log("l1")] == [
        "2026-11-23T09:00:00+00:00",
        "2026-11-23T09:05:20+00:00",
    ]


# -- faults -----------------------------------------------------------------------------------
def test_oversized_and_malformed_bodies_are_client_errors(database: ServiceContext) -> None:
    client = admin_client(database, Settings(embeddings=False, max_body_bytes=2000))
    big = client.post(
        "/api/v1/evidence/batch",
        content=b"[" + b" " * 5000 + b"]",
        headers={"content-type": "application/json"},
    )
    assert big.status_code == 413 and big.json()["error"] == "too_large"
    malformed = client.post(
        "/api/v1/evidence", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert malformed.status_code in (400, 422) and "Traceback" not in malformed.text
    wrong_type = client.post(
        "/api/v1/evidence", json={**evidence("l1", "k"), "competency_ids": "select"}
    )
    assert wrong_type.status_code == 422 and "competency_ids" in wrong_type.json()["message"]
    # the framework's own errors have the same shape as ours (fuzzing with schema-violating
    # data found FastAPI's {"detail": ...} for a body that is not UTF-8)
    not_utf8 = client.post(
        "/auth/login", content=b"\xff", headers={"content-type": "application/json"}
    )
    assert not_utf8.status_code == 400 and not_utf8.json()["error"] == "bad_request"
    unknown = client.get("/api/v1/nothing-here")
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
    wrong_method = client.delete("/health")
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "GET"
    assert wrong_method.json()["error"] == "method_not_allowed"


def test_a_nul_character_anywhere_is_a_422_that_names_the_field(database: ServiceContext) -> None:
    # PostgreSQL refuses NUL in text; free-text fields (a rubric's titles, a query's
    # title) reached it and answered 500 before the app refused NUL at its edge
    client = admin_client(database)
    rubric = json.loads((FIXTURES / "circuits_rubric.json").read_text())
    bad = json.loads(json.dumps(rubric))
    bad["criteria"][1]["levels"][0]["descriptor"] += "\x00"
    refused = client.post("/api/v1/rubrics", json=bad)
    assert refused.status_code == 422
    assert refused.json()["problems"] == [
        {"location": "body", "field": "criteria.1.levels.0.descriptor", "reason": NUL_REASON}
    ]
    assert client.get(f"/api/v1/rubrics/{rubric['id']}").status_code == 404  # nothing stored
    query = client.post(
        "/api/v1/taxonomies/t",
        params={"title": "a\x00"},
        content="occupation,skill,importance\na,b,1\n",
        headers={"content-type": "text/csv"},
    )
    assert query.status_code == 422 and query.json()["message"] == f"title: {NUL_REASON}"
    path = client.get("/api/v1/learners/a%00b/progress", params={"framework_id": "f"})
    assert path.status_code == 422 and path.json()["problems"][0]["location"] == "path"
    # text that merely looks like one is not a NUL: a JSON-escaped backslash, a %25
    ok = client.post("/api/v1/rubrics", json={**rubric, "title": "see \\u0000 and 100%00"})
    assert ok.status_code == 201, ok.text


def test_ids_beyond_a_database_integer_are_422_not_500(database: ServiceContext) -> None:
    # found by fuzzing: 2**31 passed the old bound and overflowed PostgreSQL's INTEGER
    client = admin_client(database)
    assert client.post("/api/v1/alerts/2147483648/acknowledge").status_code == 422
    assert client.post("/api/v1/alerts/2147483647/acknowledge").status_code == 404
    assert client.delete("/api/v1/learners/l1/overrides/2147483648").status_code == 422
    assert client.put("/api/v1/reviews/2147483648/c1", json={}).status_code == 422
    too_big = client.post(
        "/api/v1/learners/l1/placements", json={"framework_id": "f", "seed": 2**31}
    )
    assert too_big.status_code == 422 and "seed" in too_big.json()["message"]


def test_database_down_is_a_retryable_503(database: ServiceContext) -> None:
    dead = ServiceContext.from_settings(
        Settings(database_url="postgresql://postgres@127.0.0.1:1/none"), clock=database.clock
    )
    # the real app, pointed at a PostgreSQL port where no server listens
    down, _ = api_app(dead)
    response = down.get("/api/v1/frameworks", headers={"Authorization": "Bearer mpt_anything"})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1" and response.json()["error"] == "unavailable"
    dead.engine.dispose()


def test_a_cached_credential_is_still_checked_and_expires_on_time(
    database: ServiceContext,
) -> None:
    # with the credential cache on (as in production), writes are decided on the event
    # loop without the database: scopes, cohorts and expiry must hold all the same
    FrameworkService(database).save(
        load_framework_file(FIXTURES / "careers_programme.yaml").framework
    )
    clock = database.clock
    assert isinstance(clock, FixedClock)
    accounts = AccountService(database, hasher=CHEAP_HASHER, cache_seconds=3600.0)
    client = TestClient(create_app(Settings(embeddings=False), context=database, accounts=accounts))
    reader = accounts.create_api_key(
        "catalogue", [Scope.FRAMEWORKS_READ], by="t", expires_at=clock.now + timedelta(days=1)
    )
    writer = accounts.create_api_key("lms", [Scope.EVIDENCE_WRITE], by="t")
    read_key = {"Authorization": f"Bearer {reader.key}"}
    write_key = {"Authorization": f"Bearer {writer.key}"}
    assert client.get("/api/v1/frameworks", headers=read_key).status_code == 200
    for _ in range(2):  # the second answer comes from the cache
        denied = client.post("/api/v1/evidence", json=evidence("l1", "k1"), headers=read_key)
        assert denied.status_code == 403 and "scopes" in denied.json()["message"]
        assert client.get("/api/v1/frameworks", headers=write_key).status_code == 403
    assert client.post("/api/v1/evidence", json=evidence("l1", "k1"), headers=write_key).json()[
        "stored"
    ]
    assert not client.post("/api/v1/evidence", json=evidence("l1", "k1"), headers=write_key).json()[
        "stored"
    ]
    teacher = accounts.create_user("teacher", "teacher-password", Role.EDUCATOR)
    accounts.create_cohort("c1", "Cohort 1", by="t")
    accounts.enrol("c1", "l2", by="t")
    accounts.assign_educator("c1", teacher, by="t")
    as_teacher = login(client, "teacher", "teacher-password")
    for _ in range(2):
        mine = client.post("/api/v1/evidence", json=evidence("l2", "k2"), headers=as_teacher)
        assert mine.status_code in (200, 201)
        other = client.post("/api/v1/evidence", json=evidence("l3", "k3"), headers=as_teacher)
        assert other.status_code == 403
    clock.advance(days=2)  # the reader's key expired: the cache must not outlive it
    assert client.get("/api/v1/frameworks", headers=read_key).status_code == 401


def test_an_embed_link_shows_one_learner_read_only_until_it_expires(
    database: ServiceContext,
) -> None:
    FrameworkService(database).save(
        load_framework_file(FIXTURES / "careers_programme.yaml").framework
    )
    client, accounts = api_app(database)
    key = accounts.create_api_key("lms", [Scope.LEARNERS_READ], by="test").key
    lms = {"Authorization": f"Bearer {key}"}
    made = client.post(
        "/api/v1/learners/kim/embed-links",
        json={"framework_id": "dbcourse", "minutes": 30},
        headers=lms,
    )
    assert made.status_code == 201, made.text
    link = made.json()
    token = link["token"]
    listed = client.get("/api/v1/learners/kim/embed-links", headers=lms).json()
    assert [(x["id"], x["created_by_name"]) for x in listed] == [(link["id"], "key lms")]
    assert link["url"] == f"http://testserver/embed/learner/kim?framework=dbcourse#token={token}"
    clock = database.clock
    assert isinstance(clock, FixedClock)
    assert link["expires_at"] == (clock.now + timedelta(minutes=30)).isoformat()
    embed = {"Authorization": f"Bearer {token}"}
    progress = "/api/v1/learners/{}/progress"
    assert (
        client.get(
            progress.format("kim"), params={"framework_id": "dbcourse"}, headers=embed
        ).status_code
        == 200
    )
    other = client.get(progress.format("ana"), params={"framework_id": "dbcourse"}, headers=embed)
    assert other.status_code == 403 and "one learner" in other.json()["message"]
    # read only: no evidence, no new link to outlive this one
    posted = client.post("/api/v1/evidence", json=evidence("kim", "e1"), headers=embed)
    assert posted.status_code == 403
    renewed = client.post("/api/v1/learners/kim/embed-links", json={}, headers=embed)
    assert renewed.status_code == 403
    # the page the link opens, without navigation
    page = client.get("/embed/learner/kim", params={"framework": "dbcourse"})
    assert page.status_code == 200 and 'data-embed="1"' in page.text and "Log out" not in page.text
    # made to be framed by an LMS, as the app's own pages (and their forms) are not
    assert (
        "X-Frame-Options" not in page.headers and page.headers["Referrer-Policy"] == "no-referrer"
    )
    # own script, style sheet and API only: nothing inline runs, on any page
    app_policy = (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "form-action 'self'"
    )
    assert page.headers["Content-Security-Policy"] == app_policy
    for app_page in ("/login", "/app/educator", "/app/learner/kim", "/"):
        answer = client.get(app_page)
        assert answer.headers["X-Frame-Options"] == "DENY", app_page
        policy = answer.headers["Content-Security-Policy"]
        if app_page == "/":  # a document: styles itself, no script at all
            assert policy.startswith("default-src 'none'; style-src 'unsafe-inline';")
        else:
            assert policy == app_policy + "; frame-ancestors 'none'", app_page
        assert answer.headers["X-Content-Type-Options"] == "nosniff", app_page
    # minutes out of range are named; the token is stored hashed only, and audited
    too_long = client.post("/api/v1/learners/kim/embed-links", json={"minutes": 1441}, headers=lms)
    assert too_long.status_code == 422 and too_long.json()["problems"][0]["field"] == "minutes"
    assert token not in " ".join(every_text_value(database))
    accounts.create_user("root", "root-password", Role.ADMIN)
    audit = client.get("/api/v1/audit-log", headers=login(client, "root", "root-password"))
    made_by = [e for e in audit.json() if e["action"] == "create_embed_token"]
    assert len(made_by) == 1 and made_by[0]["target"] == "kim"
    assert made_by[0]["actor"].startswith("key:")  # the LMS's key made it
    clock.advance(minutes=31)
    expired = client.get(progress.format("kim"), params={"framework_id": "dbcourse"}, headers=embed)
    assert expired.status_code == 401 and "expired" in expired.json()["message"]
    assert client.get("/api/v1/learners/kim/embed-links", headers=lms).json() == []


def test_an_embed_link_is_listed_and_revoked_before_it_expires(database: ServiceContext) -> None:
    FrameworkService(database).save(
        load_framework_file(FIXTURES / "careers_programme.yaml").framework
    )
    client, accounts = api_app(database, cache_seconds=60.0)
    key = accounts.create_api_key("lms", [Scope.LEARNERS_READ], by="test").key
    lms = {"Authorization": f"Bearer {key}"}
    links = "/api/v1/learners/{}/embed-links"
    kept, shared = (
        client.post(links.format("kim"), json={"minutes": m}, headers=lms).json() for m in (5, 60)
    )
    other = client.post(links.format("ana"), json={}, headers=lms).json()
    assert kept["id"] == hashlib.sha256(kept["token"].encode()).hexdigest()[:16]
    listed = client.get(links.format("kim"), headers=lms).json()
    clock = database.clock
    assert isinstance(clock, FixedClock)
    assert listed == [
        {
            "id": link["id"],
            "created_by": listed[0]["created_by"],
            "created_by_name": "key lms",
            "created_at": clock.now.isoformat(),
            "expires_at": (clock.now + timedelta(minutes=m)).isoformat(),
        }
        for link, m in ((kept, 5), (shared, 60))
    ]
    assert listed[0]["created_by"].startswith("key:")
    assert shared["token"] not in str(listed)
    progress = {"framework_id": "dbcourse"}
    bearer = {"Authorization": f"Bearer {shared['token']}"}
    assert (
        client.get("/api/v1/learners/kim/progress", headers=bearer, params=progress).status_code
        == 200
    )
    # one learner's link id does not reach another learner's links
    across = client.delete(f"{links.format('kim')}/{other['id']}", headers=lms)
    assert across.status_code == 404
    assert client.delete(f"{links.format('kim')}/{shared['id']}", headers=lms).status_code == 204
    # at once, though the token was resolved a moment ago (and cached)
    gone = client.get("/api/v1/learners/kim/progress", headers=bearer, params=progress)
    assert gone.status_code == 401 and "revoked" in gone.json()["message"]
    assert [link["id"] for link in client.get(links.format("kim"), headers=lms).json()] == [
        kept["id"]
    ]
    again = client.delete(f"{links.format('kim')}/{shared['id']}", headers=lms)
    assert again.status_code == 404
    bad = client.delete(f"{links.format('kim')}/ABC%25", headers=lms)
    assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "link_id"
    # a viewer may not revoke or list, not even its own link
    viewer = {"Authorization": f"Bearer {kept['token']}"}
    assert client.get(links.format("kim"), headers=viewer).status_code == 403
    assert client.delete(f"{links.format('kim')}/{kept['id']}", headers=viewer).status_code == 403
    accounts.create_user("root", "root-password", Role.ADMIN)
    audit = client.get("/api/v1/audit-log", headers=login(client, "root", "root-password"))
    revoked = [e for e in audit.json() if e["action"] == "revoke_embed_token"]
    assert [(e["target"], e["detail"]["link"]) for e in revoked] == [("kim", shared["id"])]


def test_only_the_named_sites_may_frame_an_embed_page(
    database: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(
        embeddings=False, embed_origins="https://lms.school.org/, HTTPS://*.school.org:8443"
    )
    client, _ = api_app(database, settings)
    page = client.get("/embed/learner/kim")
    assert page.headers["Content-Security-Policy"].endswith(
        "; frame-ancestors https://lms.school.org https://*.school.org:8443"
    )
    assert "X-Frame-Options" not in page.headers
    for app_page in ("/login", "/app/educator", "/app/learner/kim"):  # still none for these
        answer = client.get(app_page)
        assert answer.headers["Content-Security-Policy"].endswith("; frame-ancestors 'none'")
        assert answer.headers["X-Frame-Options"] == "DENY"
    # a value that is not a list of origins stops the server, naming the variable and entry
    monkeypatch.setenv("MASTERYPATH_EMBED_ORIGINS", "https://lms.school.org lms.school.org")
    with pytest.raises(ConfigurationError, match=r"MASTERYPATH_EMBED_ORIGINS.*'lms\.school\.org'"):
        Settings.from_environment()
    for bad in ("https://lms.school.org/path", "ftp://lms.school.org", "https://*", "'self'"):
        monkeypatch.setenv("MASTERYPATH_EMBED_ORIGINS", bad)
        with pytest.raises(ConfigurationError, match="is not an origin"):
            Settings.from_environment()


def test_expired_credentials_go_when_new_ones_come(database: ServiceContext) -> None:
    """An expired login token or embed link can do nothing; it is not kept either."""
    clock = database.clock
    assert isinstance(clock, FixedClock)
    accounts = AccountService(database, hasher=CHEAP_HASHER, token_ttl=timedelta(hours=1))
    accounts.create_user("ana", "ana-password", Role.LEARNER, learner_id="ana")
    accounts.login("ana", "ana-password")  # expires after an hour
    accounts.create_embed_token("ana", by="test", minutes=5)
    accounts.create_embed_token("kim", by="test", minutes=5)
    clock.advance(minutes=30)
    second = accounts.login("ana", "ana-password")  # the first still works: both kept
    clock.advance(minutes=45)
    third = accounts.login("ana", "ana-password")
    fresh = accounts.create_embed_token("ana", by="test", minutes=5)

    def stored(table: type[Base], column: str) -> list[str]:
        with database.sessions() as session:
            return sorted(session.scalars(select(getattr(table, column))).all())

    kept = {digest(t.token) for t in (second, third)}
    assert stored(TokenRow, "token_hash") == sorted(kept)  # the first, expired, is gone
    # ana's expired link went with her new one; kim's stays until kim gets a new one
    assert stored(EmbedTokenRow, "learner_id") == ["ana", "kim"]
    assert digest(fresh.token) in stored(EmbedTokenRow, "token_hash")


def test_the_override_trail_names_educators_by_username(
    admin: TestClient, database: ServiceContext
) -> None:
    # the trail stored the account's id ("user:42da35c7-..."), which the pages showed as is
    made = admin.post(
        "/api/v1/learners/kim/overrides",
        json={
            "framework_id": "dbcourse",
            "competency_id": "select",
            "status": "mastered",
            "reason": "prior_learning",
        },
    )
    assert made.status_code == 201, made.text
    assert made.json()["educator"].startswith("user:")  # the stable id stays the record
    # the explanation said "Override by user:42da35c7-... (prior_learning) sets mastered"
    shown = admin.get("/api/v1/learners/kim/progress/select", params={"framework_id": "dbcourse"})
    assert shown.json()["explanation"]["educator_text"].startswith(
        "Override by admin (prior learning) sets mastered; the model says not started."
    )
    assert admin.delete(f"/api/v1/learners/kim/overrides/{made.json()['id']}").status_code == 200
    MasteryService(database).override(  # from the command line: a name given as it is
        learner_id="kim",
        framework_id="dbcourse",
        competency_id="normalise",
        status="mastered",
        reason="prior_learning",
        educator="ms-lee",
    )
    trail = admin.get("/api/v1/learners/kim/overrides").json()
    assert sorted((o["educator_name"], o["lifted_by_name"]) for o in trail) == [
        ("admin", "admin"),
        ("ms-lee", None),
    ]
