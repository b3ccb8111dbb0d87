"""The xAPI Agent Profile and Activity Profile resources, and the Agents and Activities
lookups: conditional writes (409 without a condition over a stored profile), merges, id
lists, deletes, identity, consent and erasure (both backends)."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from masterypath.services.context import ServiceContext
from masterypath.store.tables import XapiAgentProfileRow
from tests.conftest import FixedClock, admin_client

V = {"X-Experience-API-Version": "1.0.3"}
AGENTS, ACTIVITIES = "/xapi/agents/profile", "/xapi/activities/profile"
KIM = json.dumps(
    {"objectType": "Agent", "account": {"homePage": "https://lms.example", "name": "kim"}}
)
COURSE = "https://lms.example/courses/sql-101"


def sha1_tag(content: bytes) -> str:
    return '"' + hashlib.sha1(content).hexdigest() + '"'


@pytest.fixture
def client(database: ServiceContext) -> TestClient:
    return admin_client(database)


@pytest.mark.parametrize(
    ("path", "place"),
    [(AGENTS, {"agent": KIM}), (ACTIVITIES, {"activityId": COURSE})],
    ids=["agent", "activity"],
)
def test_a_profile_is_written_under_conditions_read_listed_and_deleted(
    client: TestClient, database: ServiceContext, path: str, place: dict[str, str]
) -> None:
    clock = database.clock
    assert isinstance(clock, FixedClock)

    def at(profile: str | None = None, **more: str) -> dict[str, str]:
        return {**place, **({} if profile is None else {"profileId": profile}), **more}

    def put(profile: str, body: Any, **headers: str) -> Any:
        return client.put(path, params=at(profile), json=body, headers={**V, **headers})

    created = put("prefs", {"language": "en", "audio": True})
    assert created.status_code == 204
    first = created.headers["ETag"]
    # over a stored profile a PUT must say what it expects
    blind = put("prefs", {"language": "fr"})
    assert blind.status_code == 409 and "If-Match" in blind.json()["message"]
    assert put("prefs", {"language": "fr"}, **{"If-None-Match": "*"}).status_code == 412
    replaced = put("prefs", {"language": "fr"}, **{"If-Match": first})
    assert replaced.status_code == 204
    assert put("prefs", {"language": "de"}, **{"If-Match": first}).status_code == 412  # stale
    got = client.get(path, params=at("prefs"), headers=V)
    assert got.json() == {"language": "fr"} and got.headers["ETag"] == sha1_tag(got.content)
    assert parsedate_to_datetime(got.headers["Last-Modified"]) == clock.now
    # a POST merges top-level properties
    merged = client.post(path, params=at("prefs"), json={"audio": False}, headers=V)
    assert merged.status_code == 204
    assert client.get(path, params=at("prefs"), headers=V).json() == {
        "language": "fr",
        "audio": False,
    }
    # ids, since (exclusive)
    start = clock.now
    clock.advance(minutes=1)
    assert put("later", {"x": 1}).status_code == 204
    ids = client.get(path, params=at(), headers=V)
    assert ids.json() == ["later", "prefs"] and ids.headers["ETag"] == sha1_tag(ids.content)
    assert client.get(path, params=at(since=start.isoformat()), headers=V).json() == ["later"]
    # deletes: a stale If-Match is refused; a missing profile is gone either way
    stale = client.delete(path, params=at("later"), headers={**V, "If-Match": first})
    assert stale.status_code == 412
    assert client.delete(path, params=at("later"), headers=V).status_code == 204
    assert client.get(path, params=at("later"), headers=V).status_code == 404
    assert client.delete(path, params=at("later"), headers=V).status_code == 204
    assert client.get(path, params=at(), headers=V).json() == ["prefs"]
    # a parameter that is not this resource's is refused, never ignored
    for bad in ({"profileID": "prefs"}, {"stateId": "x"}, {"since": "x"}):
        assert client.get(path, params={**at(), **bad}, headers=V).status_code == 400


def test_an_agents_profiles_are_the_learners_and_go_with_them(
    client: TestClient, database: ServiceContext
) -> None:
    mbox = json.dumps({"mbox": "mailto:kim@school.example"})
    sha = json.dumps({"mbox_sha1sum": hashlib.sha1(b"mailto:kim@school.example").hexdigest()})
    put = client.put(AGENTS, params={"agent": mbox, "profileId": "p"}, json={"k": 1}, headers=V)
    assert put.status_code == 204
    assert client.get(AGENTS, params={"agent": sha, "profileId": "p"}, headers=V).json() == {"k": 1}
    with database.sessions() as session:
        [row] = session.scalars(select(XapiAgentProfileRow)).all()
    assert "kim@school" not in str(vars(row)) and row.learner_id.startswith("sha1:")
    # activity profiles are nobody's: erasing a learner leaves them
    client.put(ACTIVITIES, params={"activityId": COURSE, "profileId": "p"}, json={}, headers=V)
    learner = row.learner_id
    exported = client.get(f"/api/v1/learners/{learner}/export").json()
    assert [p["profile_id"] for p in exported["xapi_agent_profiles"]] == ["p"]
    assert (
        client.delete(f"/api/v1/learners/{learner}").json()["deleted"]["xapi_agent_profiles"] == 1
    )
    assert client.get(AGENTS, params={"agent": sha, "profileId": "p"}, headers=V).status_code == 404
    kept = client.get(ACTIVITIES, params={"activityId": COURSE, "profileId": "p"}, headers=V)
    assert kept.status_code == 200


def test_a_minors_agent_profile_waits_for_consent(client: TestClient) -> None:
    client.post(
        "/api/v1/learners", json={"learner_id": "kim", "birth_date": date(2016, 1, 1).isoformat()}
    )
    refused = client.put(AGENTS, params={"agent": KIM, "profileId": "p"}, json={}, headers=V)
    assert refused.status_code == 403 and refused.json()["error"] == "consent_required"
    assert client.get(AGENTS, params={"agent": KIM}, headers=V).json() == []


def test_the_agents_and_activities_lookups(client: TestClient) -> None:
    agent = {"objectType": "Agent", "name": "Kim", "mbox": "mailto:kim@school.example"}
    person = client.get("/xapi/agents", params={"agent": json.dumps(agent)}, headers=V)
    assert person.status_code == 200
    assert person.json() == {
        "objectType": "Person",
        "name": ["Kim"],
        "mbox": ["mailto:kim@school.example"],
    }
    activity = client.get("/xapi/activities", params={"activityId": COURSE}, headers=V)
    assert activity.json() == {"objectType": "Activity", "id": COURSE}
    group = json.dumps({"objectType": "Group", "member": []})
    assert client.get("/xapi/agents", params={"agent": group}, headers=V).status_code == 400
    bad = client.get("/xapi/activities", params={"activityId": "sql 101"}, headers=V)
    assert bad.status_code == 400 and "activityId" in bad.text
    assert client.get("/xapi/activities", params={"activityId": COURSE}).status_code == 400
