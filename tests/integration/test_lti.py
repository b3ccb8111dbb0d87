"""LTI 1.3 launches end to end over the real app and database (SQLite and PostgreSQL), from
a platform whose key set is served over real HTTP (``tests/lti_platform.py``)."""

from __future__ import annotations

import html
import json
import re
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2 as httpx
import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from masterypath.cli import app
from masterypath.demo import load_demo_framework
from masterypath.domain.lti import (
    AGS_ENDPOINT,
    CONTEXT,
    CUSTOM,
    DEEP_LINKING_REQUEST,
    DEPLOYMENT,
    DL_CONTENT_ITEMS,
    DL_DATA,
    DL_SETTINGS,
    LINEITEM_SCOPE,
    LIS,
    LIS_ROLES,
    MEMBERS_SCOPE,
    MEMBERSHIP,
    MESSAGE_TYPE,
    NAMES_ROLES,
    RESOURCE_LINK,
    ROLE_SCOPE_MENTOR,
    ROLES,
    SCORE_SCOPE,
    VERSION,
)
from masterypath.errors import ConfigurationError
from masterypath.interop import vc_jwt
from masterypath.services.context import ServiceContext
from masterypath.services.frameworks import FrameworkService
from masterypath.settings import Settings
from masterypath.store.tables import (
    CohortEducatorRow,
    CohortMemberRow,
    CohortRow,
    LearnerProfileRow,
    LtiAccountRow,
    LtiGradeLinkRow,
    UserRow,
)
from tests.conftest import admin_client, advance_clock, api_app, login
from tests.lti_platform import CLIENT_ID, INSTRUCTOR, LEARNER, Platform, new_key, running_platform

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


@pytest.fixture(scope="module")
def platform() -> Iterator[Platform]:
    with running_platform() as running:
        yield running


@pytest.fixture
def client(database: ServiceContext, platform: Platform) -> TestClient:
    """An admin's client with ``platform`` registered; launches use its cookies."""
    admin = admin_client(database)
    platform.user = {"sub": "user-1", ROLES: [LEARNER]}
    response = admin.post("/api/v1/lti/platforms", json=platform.registration())
    assert response.status_code == 201, response.text
    return admin


def begin(client: TestClient, platform: Platform, **params: str) -> tuple[str, str]:
    """The login initiation: the state and nonce the tool sent to the platform."""
    response = client.get(
        "/lti/login",
        params={
            "iss": platform.issuer,
            "login_hint": "user-1",
            "target_link_uri": "http://testserver/app/educator",
            "client_id": CLIENT_ID,
        }
        | params,
        follow_redirects=False,
    )
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == platform.auth_login_url
    asked = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert asked["redirect_uri"] == "http://testserver/lti/launch"
    assert (asked["response_mode"], asked["client_id"]) == ("form_post", CLIENT_ID)
    assert client.cookies.get("mp_lti_state") == asked["state"]
    return asked["state"], asked["nonce"]


def launch(
    client: TestClient, database: ServiceContext, platform: Platform, **claims: Any
) -> httpx.Response:
    state, nonce = begin(client, platform)
    token = platform.id_token(nonce=nonce, now=database.clock().timestamp(), **claims)
    return client.post("/lti/launch", data={"id_token": token, "state": state})


def landed(response: httpx.Response) -> dict[str, str]:
    """The launch page's data: the token it keeps, the role and the page it opens."""
    assert response.status_code == 200, response.text
    return {
        k: html.unescape(v)
        for k, v in re.findall(r'data-(token|role|home)="([^"]*)"', response.text)
    }


def message(response: httpx.Response) -> str:
    found = re.search(r'id="lti-message"[^>]*>([^<]*)<', response.text)
    assert found, response.text
    return html.unescape(found.group(1))


def me(client: TestClient, token: str) -> dict[str, Any]:
    answer = client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result | {"id": result["subject"].removeprefix("user:")}


def count_users(database: ServiceContext) -> int:
    with database.sessions() as session:
        return session.scalar(select(func.count()).select_from(UserRow)) or 0


def test_a_learners_first_launch_makes_their_account_and_cohort_and_logs_them_in(
    database: ServiceContext, client: TestClient, platform: Platform
) -> None:
    page = landed(launch(client, database, platform, **{CUSTOM: {"framework": "sql"}}))
    who = me(client, page["token"])
    assert who["role"] == "learner" and page["role"] == "learner"
    learner = who["learner_id"]
    assert learner.startswith("lti-")
    assert page["home"] == f"/app/learner/{learner}?framework=sql"
    with database.sessions() as session:
        profile = session.get(LearnerProfileRow, learner)
        assert profile is not None and profile.name == "Ada Lovelace"
        assert session.get(CohortMemberRow, ("moodle:course-42", learner)) is not None
        account = session.scalars(select(UserRow).where(UserRow.learner_id == learner)).one()
        assert account.username == "moodle:user-1"
    cohorts = client.get("/api/v1/cohorts").json()
    assert {"id": "moodle:course-42", "title": "Algebra 1"}.items() <= cohorts[0].items()
    # no password opens the account
    assert (
        client.post(
            "/auth/login", json={"username": "moodle:user-1", "password": "!lti"}
        ).status_code
        == 401
    )

    # the next launch is the same account, and makes nothing new
    users = count_users(database)
    again = landed(launch(client, database, platform))
    assert me(client, again["token"])["learner_id"] == learner
    assert count_users(database) == users


def test_an_educator_launched_into_the_course_reads_its_learners(
    database: ServiceContext, client: TestClient, platform: Platform
) -> None:
    learner = me(client, landed(launch(client, database, platform))["token"])["learner_id"]
    platform.user = {"sub": "teacher-9", ROLES: [INSTRUCTOR, LEARNER]}
    page = landed(launch(client, database, platform))
    assert page["role"] == "educator"
    assert page["home"] == "/app/educator?cohort=moodle%3Acourse-42"
    teacher = {"Authorization": f"Bearer {page['token']}"}
    progress = client.get(f"/api/v1/learners/{learner}", headers=teacher)
    assert progress.status_code == 200, progress.text
    with database.sessions() as session:
        user_id = me(client, page["token"])["id"]
        assert session.get(CohortEducatorRow, ("moodle:course-42", user_id)) is not None
    # an educator of another course may not
    platform.user = {"sub": "teacher-10", ROLES: [INSTRUCTOR]}
    other = landed(launch(client, database, platform, **{CONTEXT: {"id": "course-7"}}))
    refused = client.get(
        f"/api/v1/learners/{learner}", headers={"Authorization": f"Bearer {other['token']}"}
    )
    assert refused.status_code == 403


def test_one_platform_user_who_learns_and_teaches_gets_an_account_for_each_role(
    database: ServiceContext, client: TestClient, platform: Platform
) -> None:
    # a teacher who first took a training course as a student, then teaches Algebra 1
    platform.user = {"sub": "user-1", ROLES: [LEARNER]}
    training = {CONTEXT: {"id": "training", "title": "Teaching with the tool"}}
    student = landed(launch(client, database, platform, **training))
    as_student = me(client, student["token"])
    assert student["role"] == "learner"
    classmate = {"sub": "user-2", ROLES: [LEARNER]}
    platform.user = classmate
    landed(launch(client, database, platform))  # a learner of Algebra 1 (course-42)
    platform.user = {"sub": "user-1", ROLES: [INSTRUCTOR]}
    page = landed(launch(client, database, platform))
    assert page["role"] == "educator"
    assert page["home"] == "/app/educator?cohort=moodle%3Acourse-42"
    teacher = me(client, page["token"])
    assert teacher["id"] != as_student["id"] and teacher["learner_id"] is None
    with database.sessions() as session:
        accounts = {
            u.username: u.role
            for u in session.scalars(select(UserRow).where(UserRow.username.like("moodle:%")))
        }
        assert session.get(CohortEducatorRow, ("moodle:course-42", teacher["id"])) is not None
    assert accounts == {
        "moodle:user-1": "learner",
        "moodle:user-1+educator": "educator",
        "moodle:user-2": "learner",
    }
    headers = {"Authorization": f"Bearer {page['token']}"}
    cohorts = client.get("/api/v1/cohorts", headers=headers).json()
    assert [c["id"] for c in cohorts] == ["moodle:course-42"]  # not the training course
    # each role launches as its own account again, and nothing new is made
    users = count_users(database)
    assert me(client, landed(launch(client, database, platform))["token"]) == teacher
    platform.user = {"sub": "user-1", ROLES: [LEARNER]}
    again = landed(launch(client, database, platform, **training))
    assert me(client, again["token"])["learner_id"] == as_student["learner_id"]
    assert count_users(database) == users


def test_a_parent_observing_in_the_platform_follows_their_childs_records(
    database: ServiceContext, client: TestClient, platform: Platform
) -> None:
    # the child has launched; a classmate has too; a sibling never has
    child = me(client, landed(launch(client, database, platform))["token"])["learner_id"]
    platform.user = {"sub": "user-2", ROLES: [LEARNER]}
    classmate = me(client, landed(launch(client, database, platform))["token"])["learner_id"]
    # a Canvas observer: the Mentor role, and whom it observes
    platform.user = {
        "sub": "parent-5",
        ROLES: [MEMBERSHIP + "Mentor"],
        ROLE_SCOPE_MENTOR: ["user-1", "user-3"],
    }
    page = landed(launch(client, database, platform))
    assert (page["role"], page["home"]) == ("guardian", "/app/guardian")
    parent = {"Authorization": f"Bearer {page['token']}"}
    assert client.get("/auth/me", headers=parent).json()["learners"] == [child]
    assert client.get(f"/api/v1/learners/{child}", headers=parent).status_code == 200
    refused = client.get(f"/api/v1/learners/{classmate}", headers=parent)
    assert refused.status_code == 403 and "not a guardian" in refused.text
    with database.sessions() as session:
        cohort = session.get(CohortMemberRow, ("moodle:course-42", child))
        assert cohort is not None  # the child's membership, not the parent's
        account = session.scalars(select(UserRow).where(UserRow.username == "moodle:parent-5"))
        assert account.one().role == "guardian"
    # the sibling launches; the parent's next launch follows them too
    platform.user = {"sub": "user-3", ROLES: [LEARNER]}
    sibling = me(client, landed(launch(client, database, platform))["token"])["learner_id"]
    platform.user = {
        "sub": "parent-5",
        ROLES: [MEMBERSHIP + "Mentor"],
        ROLE_SCOPE_MENTOR: ["user-3"],
    }
    again = landed(launch(client, database, platform))
    assert me(client, again["token"])["learners"] == sorted([child, sibling])
    linked = [
        (e["actor"], e["target"])
        for e in client.get("/api/v1/audit-log").json()
        if e["action"] == "link_guardian"
    ]
    assert linked == [("lti:moodle", child), ("lti:moodle", sibling)]
    # a mentee list that is not one is named
    platform.user = {"sub": "parent-5", ROLES: [MEMBERSHIP + "Mentor"], ROLE_SCOPE_MENTOR: "user-3"}
    wrong = launch(client, database, platform)
    assert wrong.status_code == 422 and ROLE_SCOPE_MENTOR in message(wrong)


def test_migration_0034_keeps_each_link_under_its_accounts_role(
    database: ServiceContext, client: TestClient, platform: Platform
) -> None:
    from alembic import command

    from masterypath.store.database import alembic_config, upgrade

    learner = me(client, landed(launch(client, database, platform))["token"])
    platform.user = {"sub": "teacher-9", ROLES: [INSTRUCTOR]}
    teacher = me(client, landed(launch(client, database, platform))["token"])
    advance_clock(database, minutes=1)
    platform.user = {"sub": "user-1", ROLES: [INSTRUCTOR]}
    second = me(client, landed(launch(client, database, platform))["token"])
    # down: one link per platform user, their first; up: each under its account's role
    command.downgrade(alembic_config(database.engine), "0033")
    upgrade(database.engine)
    with database.sessions() as session:
        links = {(r.subject, r.role, r.user_id) for r in session.scalars(select(LtiAccountRow))}
    assert links == {
        ("user-1", "learner", learner["id"]),
        ("teacher-9", "educator", teacher["id"]),
    }
    # the launches find them; the link the downgrade dropped is made anew, its account's
    # username being taken by the one it left
    platform.user = {"sub": "teacher-9", ROLES: [INSTRUCTOR]}
    assert me(client, landed(launch(client, database, platform))["token"]) == teacher
    platform.user = {"sub": "user-1", ROLES: [INSTRUCTOR]}
    anew = me(client, landed(launch(client, database, platform))["token"])
    assert anew["id"] != second["id"]
    with database.sessions() as session:
        made = session.get(UserRow, anew["id"])
        assert made is not None and made.username == "moodle:user-1+educator-2"


def test_a_roster_learner_launches_as_their_own_account_into_their_class(
    database: ServiceContext, client: TestClient, platform: Platform
) -> None:
    made = client.post(
        "/api/v1/users",
        json={
            "username": "sam",
            "password": "sam-password",
            "role": "learner",
            "learner_id": "s-17",
        },
    )
    assert made.status_code == 201, made.text
    assert client.post("/api/v1/cohorts", json={"id": "class-3", "title": "3B"}).status_code == 201
    platform.user = {"sub": "user-77", ROLES: [LEARNER]}
    lis = {"person_sourcedid": "s-17", "course_section_sourcedid": "class-3"}
    page = landed(launch(client, database, platform, **{LIS: lis}))
    who = me(client, page["token"])
    assert (who["id"], who["learner_id"]) == (made.json()["id"], "s-17")
    with database.sessions() as session:
        assert session.get(CohortMemberRow, ("class-3", "s-17")) is not None
        assert session.get(CohortRow, "moodle:course-42") is None


@pytest.mark.parametrize(
    ("change", "status", "says"),
    [
        ({"nonce": "another"}, 422, "nonce: is not the one this tool sent"),
        ({"aud": "another-client"}, 401, "Audience doesn't match"),
        ({"iss": "https://evil.example"}, 401, "Invalid issuer"),
        ({"exp": 1}, 401, "has expired"),
        ({DEPLOYMENT: "d9"}, 422, "'d9' is not a deployment"),
        ({ROLES: [LIS_ROLES + "system/person#Administrator"]}, 403, "none of the launch's roles"),
        ({VERSION: "1.1"}, 422, "must be 1.3.0"),
        ({"key": "another"}, 401, "Signature verification failed"),
    ],
)
def test_a_launch_that_is_not_right_is_refused_and_makes_nothing(
    database: ServiceContext,
    client: TestClient,
    platform: Platform,
    change: dict[str, Any],
    status: int,
    says: str,
) -> None:
    users = count_users(database)
    state, nonce = begin(client, platform)
    claims = {"nonce": nonce} | change
    if claims.pop("key", None):
        claims["key"] = new_key()
    token = platform.id_token(now=database.clock().timestamp(), **claims)
    response = client.post("/lti/launch", data={"id_token": token, "state": state})
    assert response.status_code == status, response.text
    assert says in message(response)
    assert 'data-token="mp' not in response.text
    assert count_users(database) == users


def test_a_state_is_used_once_bound_to_its_browser_and_expires(
    database: ServiceContext, client: TestClient, platform: Platform
) -> None:
    state, nonce = begin(client, platform)
    token = platform.id_token(nonce=nonce, now=database.clock().timestamp())
    # another browser (without the cookie) posting the same launch is refused
    stranger = TestClient(client.app)
    refused = stranger.post("/lti/launch", data={"id_token": token, "state": state})
    assert refused.status_code == 401 and "this browser did not begin" in message(refused)
    assert landed(client.post("/lti/launch", data={"id_token": token, "state": state}))["token"]
    client.cookies.clear()
    client.cookies.set("mp_lti_state", state)
    replay = client.post("/lti/launch", data={"id_token": token, "state": state})
    assert replay.status_code == 401 and "unknown, used" in message(replay)
    client.cookies.clear()

    state, nonce = begin(client, platform)
    advance_clock(database, minutes=10)
    late = client.post(
        "/lti/launch",
        data={
            "id_token": platform.id_token(nonce=nonce, now=database.clock().timestamp()),
            "state": state,
        },
    )
    assert late.status_code == 401 and "older than 10 minutes" in message(late)


def test_a_disabled_account_cannot_launch(
    database: ServiceContext, client: TestClient, platform: Platform
) -> None:
    who = me(client, landed(launch(client, database, platform))["token"])
    with database.sessions.begin() as session:
        account = session.get(UserRow, who["id"])
        assert account is not None
        account.disabled_at = database.clock()
    refused = launch(client, database, platform)
    assert refused.status_code == 403 and "is disabled" in message(refused)


def test_login_initiation_names_what_is_wrong(
    database: ServiceContext, client: TestClient, platform: Platform
) -> None:
    def initiate(method: str = "GET", **fields: str) -> httpx.Response:
        sent = {
            "iss": platform.issuer,
            "login_hint": "u",
            "target_link_uri": "http://testserver/app",
        }
        sent = {k: v for k, v in (sent | fields).items() if v}
        where = {"data": sent} if method == "POST" else {"params": sent}
        return client.request(method, "/lti/login", **where, follow_redirects=False)  # type: ignore[arg-type]

    missing = initiate(login_hint="", target_link_uri="")
    assert missing.status_code == 422
    assert "login_hint" in missing.text and "target_link_uri" in missing.text
    unknown = initiate(iss="https://other.example")
    assert unknown.status_code == 404 and "https://other.example" in message(unknown)
    elsewhere = initiate(target_link_uri="https://evil.example/x")
    assert elsewhere.status_code == 422 and "target_link_uri" in message(elsewhere)
    # the platform may post its login initiation as a form, as Moodle does
    assert initiate("POST").status_code == 302


def test_platforms_are_registered_checked_listed_and_removed(
    database: ServiceContext, client: TestClient, platform: Platform
) -> None:
    listed = client.get("/api/v1/lti/platforms").json()
    assert [p["id"] for p in listed] == ["moodle"]
    assert listed[0]["deployment_ids"] == ["deployment-1"]
    again = client.post("/api/v1/lti/platforms", json=platform.registration())
    assert again.status_code == 409
    twin = client.post("/api/v1/lti/platforms", json=platform.registration("other"))
    assert twin.status_code == 409  # the same issuer and client id
    bad = platform.registration("Bad Id") | {"key_set_url": "http://lms.example/keys"}
    refused = client.post("/api/v1/lti/platforms", json=bad)
    assert refused.status_code == 422
    fields = {p["field"] for p in refused.json()["problems"]}
    assert fields == {"id", "key_set_url"}
    landed(launch(client, database, platform))
    assert client.delete("/api/v1/lti/platforms/moodle").status_code == 204
    assert client.delete("/api/v1/lti/platforms/moodle").status_code == 404
    gone = client.get(
        "/lti/login",
        params={
            "iss": platform.issuer,
            "login_hint": "u",
            "target_link_uri": "http://testserver/app",
        },
    )
    assert gone.status_code == 404
    assert count_users(database) == 2  # the admin and the launched learner stay


def test_erasing_a_launched_learner_forgets_which_platform_user_they_were(
    database: ServiceContext, client: TestClient, platform: Platform
) -> None:
    learner = me(client, landed(launch(client, database, platform))["token"])["learner_id"]
    exported = client.get(f"/api/v1/learners/{learner}/export").json()
    assert exported["accounts"][0]["lti_launches_from"] == [
        {"platform_id": "moodle", "subject": "user-1"}
    ]
    erased = client.delete(f"/api/v1/learners/{learner}")
    assert erased.status_code == 200, erased.text
    assert erased.json()["deleted"]["accounts"] == 1
    # the same platform user launching again is a new learner, not the erased one
    page = landed(launch(client, database, platform))
    assert me(client, page["token"])["learner_id"] == learner  # same pseudonym, new records
    with database.sessions() as session:
        profile = session.get(LearnerProfileRow, learner)
        assert profile is not None and profile.name == "Ada Lovelace"


def test_the_pages_may_be_framed_by_the_registered_platforms_only(
    database: ServiceContext, platform: Platform
) -> None:
    admin = admin_client(database)
    alone = admin.get("/app/educator")
    assert alone.headers["X-Frame-Options"] == "DENY"
    assert alone.headers["Content-Security-Policy"].endswith("frame-ancestors 'none'")
    assert admin.post("/api/v1/lti/platforms", json=platform.registration()).status_code == 201
    for path in ("/app/educator", "/app/learner/l1", "/login", "/app/framework/f"):
        framed = admin.get(path)
        assert "X-Frame-Options" not in framed.headers, path
        policy = framed.headers["Content-Security-Policy"]
        assert policy.endswith(f"; frame-ancestors {platform.issuer}"), policy
    # the launch page too: a platform shows the launched tool inside its course page
    page = launch(admin, database, platform)
    assert page.headers["Content-Security-Policy"].endswith(f"frame-ancestors {platform.issuer}")
    assert admin.delete("/api/v1/lti/platforms/moodle").status_code == 204
    assert admin.get("/app/educator").headers["X-Frame-Options"] == "DENY"


GRADES: dict[str, Any] = {
    AGS_ENDPOINT: {
        "scope": [SCORE_SCOPE, "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"],
        "lineitems": "https://ignored.example/lineitems",
    },
    CUSTOM: {"framework": "dbe-kt22"},
}


@pytest.fixture
def graded(
    database: ServiceContext, platform: Platform, tmp_path: Path, badge_key_file: Path
) -> Iterator[TestClient]:
    """An admin's client of a server with a tool key (the platform knows its public half)
    and the demo course, ``platform`` registered with its token URL."""
    settings = Settings(embeddings=False, lti_key_file=str(badge_key_file))
    admin = admin_client(database, settings)
    FrameworkService(database).save(load_demo_framework())
    platform.user = {"sub": "user-1", ROLES: [LEARNER]}
    platform.tool_key = vc_jwt.read_public_key(badge_key_file)
    platform.clock = lambda: database.clock().timestamp()
    platform.scores.clear()
    platform.line_items.clear()
    platform.columns_made = 0
    platform.deleted.clear()
    platform.refuse_scores = False
    platform.members = []
    assert admin.post("/api/v1/lti/platforms", json=platform.registration()).status_code == 201
    yield admin
    platform.tool_key, platform.clock = None, time.time


def master(client: TestClient, learner: str, competency: str) -> None:
    body = {
        "framework_id": "dbe-kt22",
        "competency_id": competency,
        "status": "mastered",
        "reason": "prior_learning",
    }
    made = client.post(f"/api/v1/learners/{learner}/overrides", json=body)
    assert made.status_code == 201, made.text


def test_a_learners_score_goes_back_to_the_platforms_gradebook_when_it_changes(
    database: ServiceContext, graded: TestClient, platform: Platform
) -> None:
    link = {RESOURCE_LINK: {"id": "link-1"}}
    grades = GRADES | {AGS_ENDPOINT: GRADES[AGS_ENDPOINT] | {"lineitem": platform.lineitem(7)}}
    learner = me(graded, landed(launch(graded, database, platform, **grades, **link))["token"])[
        "learner_id"
    ]
    framework = load_demo_framework()
    first, second = framework.topological_order()[:2]
    master(graded, learner, first)

    sent = graded.post("/api/v1/lti/grades")
    assert sent.status_code == 200, sent.text
    assert sent.json() == {"sent": 1, "unchanged": 0, "skipped": [], "failed": []}
    path, score = platform.scores[-1]
    assert path == "/lineitems/7/lineitem/scores"
    assert (score["userId"], score["scoreGiven"], score["scoreMaximum"]) == ("user-1", 1, 19)
    assert score["comment"] == f"1 of 19 competencies of {framework.title} mastered"
    assert (score["activityProgress"], score["gradingProgress"]) == ("InProgress", "Pending")
    assert score["timestamp"] == database.clock().isoformat()

    # nothing changed: nothing sent; one more mastered: sent again
    assert graded.post("/api/v1/lti/grades").json()["unchanged"] == 1
    assert len(platform.scores) == 1
    master(graded, learner, second)
    assert graded.post("/api/v1/lti/grades").json()["sent"] == 1
    assert platform.scores[-1][1]["scoreGiven"] == 2


def test_a_refused_score_is_said_and_sent_at_the_next_run(
    database: ServiceContext, graded: TestClient, platform: Platform
) -> None:
    grades = GRADES | {AGS_ENDPOINT: GRADES[AGS_ENDPOINT] | {"lineitem": platform.lineitem(1)}}
    landed(launch(graded, database, platform, **grades, **{RESOURCE_LINK: {"id": "l"}}))
    platform.refuse_scores = True
    report = graded.post("/api/v1/lti/grades").json()
    assert report["sent"] == 0 and len(report["failed"]) == 1
    assert "/lineitems/1/lineitem/scores: 503" in report["failed"][0]
    platform.refuse_scores = False
    assert graded.post("/api/v1/lti/grades").json()["sent"] == 1
    assert platform.scores[-1][1]["scoreGiven"] == 0


def test_links_without_a_framework_or_a_grade_scope_send_nothing(
    database: ServiceContext, graded: TestClient, platform: Platform
) -> None:
    no_scope = {AGS_ENDPOINT: {"scope": [], "lineitem": platform.lineitem(2)}}
    landed(launch(graded, database, platform, **no_scope, **{RESOURCE_LINK: {"id": "a"}}))
    no_framework = {AGS_ENDPOINT: GRADES[AGS_ENDPOINT] | {"lineitem": platform.lineitem(3)}}
    landed(launch(graded, database, platform, **no_framework, **{RESOURCE_LINK: {"id": "b"}}))
    report = graded.post("/api/v1/lti/grades").json()
    assert report["sent"] == 0 and platform.scores == []
    assert len(report["skipped"]) == 1 and "names no framework" in report["skipped"][0]


def test_grades_need_the_tool_key_and_the_key_set_publishes_its_public_half(
    database: ServiceContext, graded: TestClient, platform: Platform, badge_key_file: Path
) -> None:
    keys = graded.get("/lti/jwks").json()["keys"]
    public = vc_jwt.public_jwk(vc_jwt.read_public_key(badge_key_file))
    assert len(keys) == 1 and {k: keys[0][k] for k in ("kty", "n", "e")} == public
    assert "d" not in keys[0] and keys[0]["kid"] == vc_jwt.thumbprint(public)
    keyless = api_app(database)[0]  # another server, without MASTERYPATH_LTI_KEY_FILE
    keyless.headers.update(login(keyless, "admin", "admin-password"))
    assert keyless.get("/lti/jwks").json() == {"keys": []}
    refused = keyless.post("/api/v1/lti/grades")
    assert refused.status_code == 503 and "MASTERYPATH_LTI_KEY_FILE" in refused.text
    assert graded.post("/api/v1/lti/grades", params={"platform": "nowhere"}).status_code == 404


def test_the_commands_register_platforms_make_the_key_and_send_grades(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, platform: Platform
) -> None:
    database_url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("MASTERYPATH_DATABASE_URL", database_url)
    runner = CliRunner()
    key = tmp_path / "tool-key.pem"
    made = runner.invoke(app, ["lti", "key", str(key), "--json"])
    assert made.exit_code == 0, made.output
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert json.loads(made.output)["kid"] == vc_jwt.thumbprint(
        vc_jwt.public_jwk(vc_jwt.read_public_key(key))
    )
    again = runner.invoke(app, ["lti", "key", str(key)])
    assert again.exit_code == 2 and "never overwritten" in again.output

    options = platform.registration()
    add = ["lti", "add", "moodle", "--issuer", options["issuer"], "--client-id", CLIENT_ID]
    add += ["--auth-login-url", options["auth_login_url"], "--key-set-url", platform.key_set_url]
    add += ["--deployment", "deployment-1", "--deployment", "2", "--token-url", platform.token_url]
    assert runner.invoke(app, [*add, "--json"]).exit_code == 0
    listed = json.loads(runner.invoke(app, ["lti", "list", "--json"]).output)
    assert listed[0]["deployment_ids"] == ["deployment-1", "2"]
    assert listed[0]["token_url"] == platform.token_url
    twice = runner.invoke(app, add)
    assert twice.exit_code != 0 and "is registered already" in twice.output
    bad = runner.invoke(app, ["lti", "add", "x y", *add[3:]])
    assert bad.exit_code == 2 and "id: must be" in bad.output.replace("\n", " ")
    update = ["lti", "update", "moodle", "--title", "Moodle 4.5", "--token-url", ""]
    update += ["--service-origin", "https://school.instructure.com", "--json"]
    updated = runner.invoke(app, update)
    assert updated.exit_code == 0, updated.output
    assert json.loads(updated.output)["service_origins"] == ["https://school.instructure.com"]
    listed = json.loads(runner.invoke(app, ["lti", "list", "--json"]).output)
    assert (listed[0]["title"], listed[0]["token_url"]) == ("Moodle 4.5", None)
    emptied = runner.invoke(app, ["lti", "update", "moodle", "--service-origin", ""])
    assert emptied.exit_code == 0 and "updated moodle: service_origins" in emptied.output
    link = runner.invoke(app, ["lti", "registration-link", "--hours", "2", "--json"])
    assert link.exit_code == 0, link.output
    made = json.loads(link.output)
    assert made["url"] is None  # no MASTERYPATH_PUBLIC_URL: the path, on this server
    assert re.fullmatch(r"/lti/register/mpr_[\w-]{32}", made["path"])
    monkeypatch.setenv("MASTERYPATH_PUBLIC_URL", "https://mastery.school.org")
    shown = runner.invoke(app, ["lti", "registration-link"])
    assert shown.exit_code == 0
    assert re.match(r"https://mastery\.school\.org/lti/register/mpr_", shown.output)
    monkeypatch.delenv("MASTERYPATH_PUBLIC_URL")
    too_long = runner.invoke(app, ["lti", "registration-link", "--hours", "200"])
    assert too_long.exit_code == 2 and "hours" in too_long.output
    nothing = runner.invoke(app, ["lti", "update", "moodle"])
    assert nothing.exit_code == 2 and "name at least one field" in nothing.output
    assert runner.invoke(app, [*update[:3], "--token-url", platform.token_url]).exit_code == 0

    # without a key, sending grades says which setting is missing
    for command in ("send-grades", "sync-members"):
        no_key = runner.invoke(app, ["lti", command])
        assert no_key.exit_code != 0 and "MASTERYPATH_LTI_KEY_FILE" in no_key.output
    monkeypatch.setenv("MASTERYPATH_LTI_KEY_FILE", str(key))
    sent = runner.invoke(app, ["lti", "send-grades", "--json"])
    assert sent.exit_code == 0, sent.output
    assert json.loads(sent.output) == {"sent": 0, "unchanged": 0, "skipped": [], "failed": []}
    read = runner.invoke(app, ["lti", "sync-members", "--platform", "moodle"])
    assert read.exit_code == 0 and "courses 0, members 0" in read.output
    assert runner.invoke(app, ["lti", "remove", "moodle"]).exit_code == 0
    assert "no platform is registered" in runner.invoke(app, ["lti", "list"]).output


@pytest.mark.parametrize(
    "state", ["", "short", "é" * 43, "a\x00" * 20, "x" * 65, "../../etc/passwd-and-more-text"]
)
def test_a_state_that_this_tool_never_made_is_refused_before_any_lookup(
    client: TestClient, state: str
) -> None:
    client.cookies.set("mp_lti_state", "a" * 43)
    refused = client.post("/lti/launch", data={"id_token": "x", "state": state})
    assert refused.status_code == 401 and "this browser did not begin" in message(refused)


def test_login_fields_with_control_characters_are_named_not_a_crash(
    client: TestClient, platform: Platform
) -> None:
    fields = {
        "iss": platform.issuer,
        "login_hint": "u\x01",
        "target_link_uri": "http://testserver/",
    }
    refused = client.get("/lti/login", params=fields, follow_redirects=False)
    assert refused.status_code == 422 and "login_hint" in message(refused)
    posted = client.post(
        "/lti/login", data=fields | {"login_hint": "u", "lti_message_hint": "\x7f"}
    )
    assert posted.status_code == 422 and "lti_message_hint" in message(posted)


def deep_linking(platform: Platform, **settings: Any) -> dict[str, Any]:
    """The claims of a deep-linking launch (an instructor adding the tool to a course)."""
    wanted = {
        "deep_link_return_url": f"{platform.issuer}/deep-link-return?course=42",
        "accept_types": ["ltiResourceLink", "link"],
        "data": "opaque-42",
    }
    return {MESSAGE_TYPE: DEEP_LINKING_REQUEST, DL_SETTINGS: wanted | settings}


def test_an_instructor_adding_the_tool_picks_the_framework_the_link_opens(
    database: ServiceContext, graded: TestClient, platform: Platform, badge_key_file: Path
) -> None:
    platform.user = {"sub": "teacher-9", ROLES: [INSTRUCTOR]}
    users = count_users(database)
    page = launch(graded, database, platform, **deep_linking(platform))
    assert page.status_code == 200, page.text
    policy = page.headers["Content-Security-Policy"]
    assert f"form-action 'self' {platform.issuer};" in policy
    forms = re.findall(
        r'<form method="post" action="([^"]*)" class="panel">'
        r'<input type="hidden" name="JWT" value="([^"]*)"><button[^>]*>([^<]*)</button>',
        page.text,
    )
    framework = load_demo_framework()
    assert [(html.unescape(a), t) for a, _, t in forms] == [
        (f"{platform.issuer}/deep-link-return?course=42", f"Link {framework.title}")
    ]
    answer = jwt.decode(
        html.unescape(forms[0][1]),
        vc_jwt.read_public_key(badge_key_file),
        algorithms=["RS256"],
        audience=platform.issuer,
        options={"verify_exp": False, "verify_iat": False},
    )
    assert answer["iss"] == CLIENT_ID and answer[MESSAGE_TYPE] == "LtiDeepLinkingResponse"
    assert answer[DEPLOYMENT] == "deployment-1" and answer[DL_DATA] == "opaque-42"
    assert answer["exp"] - answer["iat"] == 600 and answer["iat"] == int(
        database.clock().timestamp()
    )
    assert answer[DL_CONTENT_ITEMS] == [
        {
            "type": "ltiResourceLink",
            "title": framework.title,
            "url": "http://testserver/lti/launch",
            "custom": {"framework": framework.id},
            "lineItem": {"scoreMaximum": 19, "label": framework.title, "resourceId": framework.id},
        }
    ]
    assert count_users(database) == users  # choosing a link logs nobody in


@pytest.mark.parametrize(
    ("who", "settings", "status", "says"),
    [
        ([LEARNER], {}, 403, "only a course's instructors add links"),
        ([INSTRUCTOR], {"accept_types": ["link"]}, 422, "must accept ltiResourceLink"),
        ([INSTRUCTOR], {"deep_link_return_url": "javascript:alert(1)"}, 422, "http(s) URL"),
    ],
)
def test_a_deep_linking_launch_that_cannot_be_answered_says_why(
    database: ServiceContext,
    graded: TestClient,
    platform: Platform,
    who: list[str],
    settings: dict[str, Any],
    status: int,
    says: str,
) -> None:
    platform.user = {"sub": "someone", ROLES: who}
    refused = launch(graded, database, platform, **deep_linking(platform, **settings))
    assert refused.status_code == status and says in message(refused)


def test_deep_linking_needs_the_tool_key(
    database: ServiceContext, client: TestClient, platform: Platform
) -> None:
    platform.user = {"sub": "teacher-9", ROLES: [INSTRUCTOR]}
    refused = launch(client, database, platform, **deep_linking(platform))
    assert refused.status_code == 503 and "MASTERYPATH_LTI_KEY_FILE" in message(refused)


def test_a_courses_members_get_their_accounts_and_cohort_before_they_launch(
    database: ServiceContext, graded: TestClient, platform: Platform
) -> None:
    sam = {"username": "sam", "password": "sam-password", "role": "learner", "learner_id": "s-17"}
    assert graded.post("/api/v1/users", json=sam).status_code == 201  # from the roster
    service = {
        "context_memberships_url": platform.memberships_url("course-42"),
        "service_versions": ["2.0"],
    }
    platform.user = {"sub": "teacher-9", ROLES: [INSTRUCTOR], NAMES_ROLES: service}
    teacher = {"Authorization": f"Bearer {landed(launch(graded, database, platform))['token']}"}
    platform.members = [
        {"user_id": "teacher-9", "roles": [INSTRUCTOR], "status": "Active"},
        {"user_id": "user-5", "roles": [LEARNER], "name": "Bo Li", "status": "Active"},
        {"user_id": "user-6", "roles": ["Learner"], "lis_person_sourcedid": "s-17"},
        {"user_id": "parent-1", "roles": [MEMBERSHIP + "Mentor"]},
        {"user_id": "user-7", "roles": [LEARNER], "status": "Inactive"},
    ]  # three pages of two
    report = graded.post("/api/v1/lti/members").json()
    assert report == {
        "courses": 1,
        "members": 3,
        "accounts_linked": 2,
        "removed": 0,
        "skipped": [],
        "failed": [],
    }
    assert platform.scopes[-1] == MEMBERS_SCOPE
    cohort = next(c for c in graded.get("/api/v1/cohorts").json() if c["id"] == "moodle:course-42")
    bo = next(learner for learner in cohort["learners"] if learner != "s-17")
    assert sorted(cohort["learners"]) == sorted(["s-17", bo])
    with database.sessions() as session:
        profile = session.get(LearnerProfileRow, bo)
        assert profile is not None and profile.name == "Bo Li"
    # the teacher sees them before they ever launched
    assert graded.get("/api/v1/learners/s-17", headers=teacher).status_code == 200
    # once Bo is no longer active in the course, Bo leaves its cohort (the account stays)
    platform.members[1]["status"] = "Deleted"
    again = graded.post("/api/v1/lti/members", params={"platform": "moodle"}).json()
    assert (again["members"], again["accounts_linked"], again["removed"]) == (2, 0, 1)
    cohort = next(c for c in graded.get("/api/v1/cohorts").json() if c["id"] == "moodle:course-42")
    assert cohort["learners"] == ["s-17"]
    assert graded.get(f"/api/v1/learners/{bo}", headers=teacher).status_code == 403


def test_members_are_read_only_where_a_launch_offered_them(
    database: ServiceContext, graded: TestClient, platform: Platform
) -> None:
    landed(launch(graded, database, platform))  # no membership service in the launch
    assert graded.post("/api/v1/lti/members").json()["courses"] == 0
    service = {"context_memberships_url": f"{platform.issuer}/nowhere"}
    platform.user = {"sub": "teacher-9", ROLES: [INSTRUCTOR], NAMES_ROLES: service}
    landed(launch(graded, database, platform))
    refused = graded.post("/api/v1/lti/members").json()
    assert refused["courses"] == 0 and "/nowhere: 404" in refused["failed"][0]


def test_behind_a_proxy_every_url_made_names_the_public_address(
    database: ServiceContext, platform: Platform
) -> None:
    public = "https://mastery.school.org:8443"
    admin = admin_client(database, Settings(embeddings=False, public_url=public + "/"))
    admin.base_url = httpx.URL("https://10.0.0.5:8000")  # the proxy forwards here
    platform.user = {"sub": "user-1", ROLES: [LEARNER]}
    assert admin.post("/api/v1/lti/platforms", json=platform.registration()).status_code == 201
    assert admin.get("/api/v1/lti/tool").json() == {
        "tool_url": public,
        "login_url": f"{public}/lti/login",
        "launch_url": f"{public}/lti/launch",
        "key_set_url": f"{public}/lti/jwks",
    }
    asked = {"iss": platform.issuer, "login_hint": "user-1", "client_id": CLIENT_ID}
    inside = admin.get(
        "/lti/login",
        params=asked | {"target_link_uri": "https://10.0.0.5:8000/app/educator"},
        follow_redirects=False,
    )
    assert inside.status_code == 422
    assert "is not a page of this tool" in message(inside)
    started = admin.get(
        "/lti/login",
        params=asked | {"target_link_uri": f"{public}/app/educator"},
        follow_redirects=False,
    )
    assert started.status_code == 302, started.text
    sent = {k: v[0] for k, v in parse_qs(urlsplit(started.headers["location"]).query).items()}
    assert sent["redirect_uri"] == f"{public}/lti/launch"
    cookie = started.headers["set-cookie"].lower()
    assert "secure" in cookie  # the browser speaks https to the proxy
    assert "samesite=none" in cookie
    token = platform.id_token(nonce=sent["nonce"], now=database.clock().timestamp())
    done = admin.post("/lti/launch", data={"id_token": token, "state": sent["state"]})
    assert landed(done)["role"] == "learner"
    link = admin.post("/api/v1/learners/ana/embed-links", json={})
    assert link.status_code == 201, link.text
    assert link.json()["url"].startswith(f"{public}/embed/learner/ana#token=")
    xapi = {"X-Experience-API-Version": "1.0.3"}
    posted = admin.post(
        "/xapi/statements",
        json={
            "actor": {"account": {"homePage": "https://lms.example", "name": "ana"}},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"},
            "object": {"id": "https://lms.example/activities/q-1"},
        },
        headers=xapi,
    )
    assert posted.status_code == 200, posted.text
    stored = admin.get("/xapi/statements", headers=xapi).json()["statements"][0]
    assert stored["authority"]["account"]["homePage"] == f"{public}/"


def test_tool_urls_follow_the_request_without_a_public_address(client: TestClient) -> None:
    assert client.get("/api/v1/lti/tool").json()["launch_url"] == "http://testserver/lti/launch"


@pytest.mark.parametrize(
    "value", ["https://mastery.school.org/app", "https://*.school.org", "a b", "ftp://x.org"]
)
def test_a_public_address_that_is_not_one_origin_is_named(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("MASTERYPATH_PUBLIC_URL", value)
    with pytest.raises(ConfigurationError, match="MASTERYPATH_PUBLIC_URL: Value error"):
        Settings.from_environment()


def test_a_platform_is_changed_in_place_and_its_users_keep_their_accounts(
    database: ServiceContext, client: TestClient, platform: Platform
) -> None:
    first = me(client, landed(launch(client, database, platform))["token"])
    change = {"title": "Moodle 4.5", "deployment_ids": ["deployment-1", "deployment-2"]}
    changed = client.patch("/api/v1/lti/platforms/moodle", json=change)
    assert changed.status_code == 200, changed.text
    assert (changed.json()["title"], changed.json()["deployment_ids"]) == (
        "Moodle 4.5",
        ["deployment-1", "deployment-2"],
    )
    assert client.get("/api/v1/lti/platforms").json()[0]["title"] == "Moodle 4.5"
    again = me(client, landed(launch(client, database, platform))["token"])
    assert again["id"] == first["id"]  # the same account: the link to it was kept
    assert count_users(database) == 2
    # a wrong value is named and changes nothing; the id and required fields stay
    bad = client.patch(
        "/api/v1/lti/platforms/moodle", json={"title": "X", "key_set_url": "ftp://keys"}
    )
    assert bad.status_code == 422
    assert [p["field"] for p in bad.json()["problems"]] == ["key_set_url"]
    assert client.get("/api/v1/lti/platforms").json()[0]["title"] == "Moodle 4.5"
    for body in ({}, {"id": "other"}, {"title": None}, {"service_origins": ["lms.org"]}):
        refused = client.patch("/api/v1/lti/platforms/moodle", json=body)
        assert refused.status_code == 422, body
    assert client.patch("/api/v1/lti/platforms/nowhere", json={"title": "X"}).status_code == 404
    other = platform.registration("other") | {"client_id": "another-client"}
    assert client.post("/api/v1/lti/platforms", json=other).status_code == 201
    twin = client.patch("/api/v1/lti/platforms/other", json={"client_id": CLIENT_ID})
    assert twin.status_code == 409
    with_token = client.patch("/api/v1/lti/platforms/moodle", json={"token_url": None})
    assert with_token.json()["token_url"] is None


def test_the_tool_calls_a_platforms_services_on_its_own_sites_only(
    database: ServiceContext, graded: TestClient, platform: Platform
) -> None:
    # the same test platform, under another name: another site as far as the tool knows
    elsewhere = platform.issuer.replace("127.0.0.1", "localhost")
    lineitem = platform.lineitem(3).replace(platform.issuer, elsewhere)
    grades = GRADES | {AGS_ENDPOINT: GRADES[AGS_ENDPOINT] | {"lineitem": lineitem}}
    landed(launch(graded, database, platform, **grades, **{RESOURCE_LINK: {"id": "l"}}))
    service = {"context_memberships_url": f"{elsewhere}/memberships/course-42"}
    platform.user = {"sub": "teacher-9", ROLES: [INSTRUCTOR], NAMES_ROLES: service}
    landed(launch(graded, database, platform))
    asked = len(platform.scopes)
    refused = graded.post("/api/v1/lti/grades").json()
    assert refused["sent"] == 0
    assert refused["failed"] == [
        f"{refused['failed'][0].split(':')[0]}: line item {lineitem}: not on a site of "
        f"platform moodle (add its site, {elsewhere}, to the platform's service_origins)"
    ]
    unread = graded.post("/api/v1/lti/members").json()
    assert unread["courses"] == 0
    assert f"member list {elsewhere}/memberships/course-42: not on a site" in unread["failed"][0]
    assert platform.scores == []
    assert len(platform.scopes) == asked  # not even an access token was asked for
    # the admin says the platform's services are on that site too: they are called
    allowed = graded.patch(
        "/api/v1/lti/platforms/moodle", json={"service_origins": [elsewhere.upper() + "/"]}
    )
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["service_origins"] == [elsewhere]  # as an origin is written
    # the platform's course pages there may show the tool (Canvas: the school's host)
    policy = graded.get("/app/educator").headers["Content-Security-Policy"]
    assert policy.endswith(f"; frame-ancestors {platform.issuer} {elsewhere}"), policy
    assert graded.post("/api/v1/lti/grades").json()["sent"] == 1
    assert platform.scores[-1][0] == "/lineitems/3/lineitem/scores"
    assert graded.post("/api/v1/lti/members").json()["courses"] == 1


def test_a_link_without_a_column_gets_the_tools_own_made_once_for_all_its_learners(
    database: ServiceContext, graded: TestClient, platform: Platform
) -> None:
    container = f"{platform.issuer}/lineitems"
    may_make = {"scope": [SCORE_SCOPE, LINEITEM_SCOPE], "lineitems": container}
    claims = {AGS_ENDPOINT: may_make, CUSTOM: {"framework": "dbe-kt22"}}
    claims |= {RESOURCE_LINK: {"id": "week-2"}}
    platform.line_items.append(  # a teacher's own column of the same link: not the tool's
        {"id": platform.lineitem(1), "resourceLinkId": "week-2", "label": "Quiz"}
    )
    for subject in ("user-1", "user-2"):
        platform.user = {"sub": subject, ROLES: [LEARNER]}
        landed(launch(graded, database, platform, **claims))
    report = graded.post("/api/v1/lti/grades").json()
    assert report == {"sent": 2, "unchanged": 0, "skipped": [], "failed": []}
    made = platform.line_items[1:]
    assert made == [
        {
            "scoreMaximum": 19,
            "label": load_demo_framework().title,
            "resourceId": "dbe-kt22",
            "resourceLinkId": "week-2",
            "tag": "masterypath",
            "id": platform.lineitem(101),
        }
    ]
    assert [path for path, _ in platform.scores] == ["/lineitems/101/lineitem/scores"] * 2
    assert sorted(score["userId"] for _, score in platform.scores) == ["user-1", "user-2"]
    assert LINEITEM_SCOPE in platform.scopes
    with database.sessions() as session:  # kept: the next run asks the platform no more
        kept = session.scalars(select(LtiGradeLinkRow.lineitem)).all()
    assert kept == [platform.lineitem(101)] * 2
    # a learner's first launch later: the column is found, not made again
    platform.user = {"sub": "user-3", ROLES: [LEARNER]}
    third = me(graded, landed(launch(graded, database, platform, **claims))["token"])
    platform.user = {"sub": "user-1", ROLES: [LEARNER]}
    landed(launch(graded, database, platform, **claims))  # a launch again keeps the column
    again = graded.post("/api/v1/lti/grades").json()
    assert (again["sent"], again["unchanged"], again["failed"]) == (1, 2, [])
    assert len(platform.line_items) == 2
    assert platform.scores[-1] == (
        "/lineitems/101/lineitem/scores",
        platform.scores[-1][1] | {"userId": "user-3"},
    )
    # a teacher deletes the column: the tool says so, then makes it again for everyone
    platform.line_items.pop()
    platform.deleted.add(platform.lineitem(101))
    master(graded, third["learner_id"], load_demo_framework().topological_order()[0])
    gone = graded.post("/api/v1/lti/grades").json()
    assert (gone["sent"], gone["unchanged"]) == (0, 2)
    assert gone["failed"][0].endswith(
        "(the tool's column is gone: it is made again at the next run)"
    )
    made_again = graded.post("/api/v1/lti/grades").json()
    assert (made_again["sent"], made_again["failed"]) == (3, [])
    assert [item["id"] for item in platform.line_items[1:]] == [platform.lineitem(102)]
    assert {path for path, _ in platform.scores[-3:]} == {"/lineitems/102/lineitem/scores"}


def test_a_launch_that_lets_the_tool_send_scores_but_not_make_columns_keeps_no_link(
    database: ServiceContext, graded: TestClient, platform: Platform
) -> None:
    no_make = {"scope": [SCORE_SCOPE], "lineitems": f"{platform.issuer}/lineitems"}
    claims = {AGS_ENDPOINT: no_make, CUSTOM: {"framework": "dbe-kt22"}}
    landed(launch(graded, database, platform, **claims, **{RESOURCE_LINK: {"id": "w"}}))
    report = graded.post("/api/v1/lti/grades").json()
    assert report == {"sent": 0, "unchanged": 0, "skipped": [], "failed": []}
    assert platform.line_items == []


def registration_link(admin: TestClient, **body: Any) -> str:
    made = admin.post("/api/v1/lti/registration-links", json=body or None)
    assert made.status_code == 201, made.text
    return str(made.json()["url"])


def test_a_platform_registers_the_tool_itself_with_a_one_time_link(
    database: ServiceContext, platform: Platform
) -> None:
    admin = admin_client(database)
    platform.registrations.clear()
    link = registration_link(admin)
    assert re.fullmatch(r"http://testserver/lti/register/mpr_[\w-]{32}", link)
    opened = admin.get(
        link,
        params={
            "openid_configuration": platform.configuration_url,
            "registration_token": platform.registration_token,
        },
    )
    assert opened.status_code == 200, opened.text
    assert message(opened) == (
        f"Registered with Moodle (127.0.0.1) as platform 127-0-0-1 (client id {CLIENT_ID}, "
        "deployment deployment-1). Grades back and deep linking need this tool's key first "
        "(MASTERYPATH_LTI_KEY_FILE)."
    )
    assert 'data-done="1"' in opened.text  # its script tells the platform it is done
    [sent] = platform.registrations
    assert sent["initiate_login_uri"] == "http://testserver/lti/login"
    assert sent["redirect_uris"] == ["http://testserver/lti/launch"]
    assert sent["jwks_uri"] == "http://testserver/lti/jwks"
    assert sent["token_endpoint_auth_method"] == "private_key_jwt"
    assert sent["scope"].split() == [SCORE_SCOPE, LINEITEM_SCOPE, MEMBERS_SCOPE]
    tool = sent["https://purl.imsglobal.org/spec/lti-tool-configuration"]
    assert tool["domain"] == "testserver"
    assert [m["type"] for m in tool["messages"]] == [
        "LtiResourceLinkRequest",
        DEEP_LINKING_REQUEST,
    ]
    [registered] = admin.get("/api/v1/lti/platforms").json()
    assert registered == {
        "id": "127-0-0-1",
        "title": "Moodle (127.0.0.1)",
        "issuer": platform.issuer,
        "client_id": CLIENT_ID,
        "auth_login_url": platform.auth_login_url,
        "key_set_url": platform.key_set_url,
        "deployment_ids": ["deployment-1"],
        "token_url": platform.token_url,
        "service_origins": [],
    }
    # launches work at once
    platform.user = {"sub": "user-1", ROLES: [LEARNER]}
    assert landed(launch(admin, database, platform))["role"] == "learner"
    # the link is used up
    again = admin.get(link, params={"openid_configuration": platform.configuration_url})
    assert again.status_code == 401
    assert "unknown, used or expired" in message(again)
    assert len(platform.registrations) == 1


def test_a_registration_that_fails_records_nothing_and_the_link_still_holds(
    database: ServiceContext, platform: Platform
) -> None:
    admin = admin_client(database)
    platform.registrations.clear()
    link = registration_link(admin, hours=1)
    asked = {"openid_configuration": platform.configuration_url}

    def opened(**params: str) -> httpx.Response:
        return admin.get(link, params=params)

    no_params = opened()  # a link preview, say: nothing happens, nothing is used
    assert no_params.status_code == 422
    assert "openid_configuration: is required" in message(no_params)
    assert opened(openid_configuration="file:///etc/passwd").status_code == 422
    platform.configured_issuer = "https://lms.elsewhere.org"
    try:
        other = opened(**asked, registration_token=platform.registration_token)
    finally:
        platform.configured_issuer = None
    assert other.status_code == 422
    assert "issuer: 'https://lms.elsewhere.org' is not on the host" in message(other)
    platform.configured = {"token_endpoint": "http://lms.school.org/token"}  # not https
    try:
        insecure = opened(**asked, registration_token=platform.registration_token)
    finally:
        platform.configured = {}
    assert insecure.status_code == 422
    assert "token_url: must be an https URL" in message(insecure)
    assert opened(**asked, registration_token="a\nb").status_code == 422
    refused = opened(**asked, registration_token="not-the-token")
    assert refused.status_code == 502
    assert f"{platform.issuer}/register: 401" in message(refused)
    assert platform.registrations == []
    assert admin.get("/api/v1/lti/platforms").json() == []
    done = opened(**asked, registration_token=platform.registration_token)
    assert done.status_code == 200, done.text
    # an hour later a new link has expired
    late = registration_link(admin, hours=1)
    advance_clock(database, hours=1)
    expired = admin.get(late, params=asked)
    assert expired.status_code == 401
    for hours in (0, 169):
        bad = admin.post("/api/v1/lti/registration-links", json={"hours": hours})
        assert bad.status_code == 422
    unknown = admin.get("/lti/register/mpr_" + "x" * 32, params=asked)
    assert unknown.status_code == 401


def test_a_platform_registered_without_a_deployment_says_which_to_add(
    database: ServiceContext, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = admin_client(database)
    original = platform.register

    def no_deployment(headers: Any, body: bytes) -> tuple[int, dict[str, Any]]:
        status, answer = original(headers, body)
        tool = "https://purl.imsglobal.org/spec/lti-tool-configuration"
        answer[tool].pop("deployment_id", None)
        return status, answer

    monkeypatch.setattr(platform, "register", no_deployment)
    link = registration_link(admin)
    opened = admin.get(
        link,
        params={
            "openid_configuration": platform.configuration_url,
            "registration_token": platform.registration_token,
        },
    )
    assert "no deployment yet" in message(opened)
    platform.user = {"sub": "user-1", ROLES: [LEARNER]}
    refused = launch(admin, database, platform)
    assert refused.status_code == 422
    assert "'deployment-1' is not a deployment registered" in message(refused)
    assert "masterypath lti update ID --deployment" in message(refused)
    change = {"deployment_ids": ["deployment-1"]}
    assert admin.patch("/api/v1/lti/platforms/127-0-0-1", json=change).status_code == 200
    assert landed(launch(admin, database, platform))["role"] == "learner"


def test_a_flood_of_begun_launches_is_refused_until_they_expire(
    database: ServiceContext,
    client: TestClient,
    platform: Platform,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("masterypath.services.lti.MAX_LOGINS_BEGUN", 3)
    for _ in range(3):
        begin(client, platform)
    asked = {
        "iss": platform.issuer,
        "login_hint": "user-1",
        "target_link_uri": "http://testserver/app/educator",
        "client_id": CLIENT_ID,
    }
    flooded = client.get("/lti/login", params=asked, follow_redirects=False)
    assert flooded.status_code == 429
    assert "too many launches begun from moodle" in message(flooded)
    advance_clock(database, minutes=10, seconds=1)  # the begun ones expire
    state, nonce = begin(client, platform)
    token = platform.id_token(nonce=nonce, now=database.clock().timestamp())
    assert landed(client.post("/lti/launch", data={"id_token": token, "state": state}))["role"]
