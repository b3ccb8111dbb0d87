"""The xAPI State resource: documents, JSON merge, concurrency, ids, deletes, identity,
validation, consent and erasure (both backends)."""

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
from masterypath.store.tables import XapiStateRow
from tests.conftest import FixedClock, admin_client

V = {"X-Experience-API-Version": "2.0.0"}
PATH = "/xapi/activities/state"
COURSE = "https://lms.example/courses/sql-101"
KIM = json.dumps(
    {"objectType": "Agent", "account": {"homePage": "https://lms.example", "name": "kim"}}
)
REG_1 = "3f2a1c00-0000-4000-8000-000000000001"
REG_2 = "3f2a1c00-0000-4000-8000-000000000002"


def where(state_id: str | None = None, agent: str = KIM, **more: str) -> dict[str, str]:
    params = {"activityId": COURSE, "agent": agent, **more}
    if state_id is not None:
        params["stateId"] = state_id
    return params


def sha1_tag(content: bytes) -> str:
    return '"' + hashlib.sha1(content).hexdigest() + '"'


@pytest.fixture
def client(database: ServiceContext) -> TestClient:
    return admin_client(database)


def put(client: TestClient, state_id: str, body: Any, **headers: str) -> Any:
    return client.put(PATH, params=where(state_id), json=body, headers={**V, **headers})


def test_a_document_is_stored_as_sent_and_read_back_with_its_etag(
    client: TestClient, database: ServiceContext
) -> None:
    sent = b"\x00slide 12\xff"  # any bytes, any type
    stored = client.put(
        PATH,
        params=where("bookmark"),
        content=sent,
        headers={**V, "Content-Type": "application/octet-stream"},
    )
    assert stored.status_code == 204 and stored.headers["ETag"] == sha1_tag(sent)
    got = client.get(PATH, params=where("bookmark"), headers=V)
    assert got.status_code == 200 and got.content == sent
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["ETag"] == sha1_tag(sent)
    clock = database.clock
    assert isinstance(clock, FixedClock)
    assert parsedate_to_datetime(got.headers["Last-Modified"]) == clock.now
    assert got.headers["x-experience-api-version"] == "2.0.0"
    head = client.head(PATH, params=where("bookmark"), headers=V)
    assert (
        head.status_code == 200 and head.content == b"" and head.headers["ETag"] == sha1_tag(sent)
    )
    # another state id, registration or agent is another document
    assert client.get(PATH, params=where("other"), headers=V).status_code == 404
    assert (
        client.get(PATH, params=where("bookmark", registration=REG_1), headers=V).status_code == 404
    )
    ana = json.dumps({"account": {"homePage": "https://lms.example", "name": "ana"}})
    assert client.get(PATH, params=where("bookmark", agent=ana), headers=V).status_code == 404


def test_a_post_merges_top_level_properties_as_xapi_shows(client: TestClient) -> None:
    # the specification's own example (xAPI 1.0.3 part three, 2.2)
    assert put(client, "vars", {"x": "foo", "y": "bar"}).status_code == 204
    merged = client.post(PATH, params=where("vars"), json={"x": "bash", "z": "faz"}, headers=V)
    assert merged.status_code == 204
    got = client.get(PATH, params=where("vars"), headers=V)
    assert got.json() == {"x": "bash", "y": "bar", "z": "faz"}
    assert merged.headers["ETag"] == got.headers["ETag"] == sha1_tag(got.content)
    # only the top level: a nested object is replaced whole
    assert put(client, "deep", {"a": {"b": 1, "c": 2}}).status_code == 204
    client.post(PATH, params=where("deep"), json={"a": {"b": 5}}, headers=V)
    assert client.get(PATH, params=where("deep"), headers=V).json() == {"a": {"b": 5}}
    # a POST to no document stores it
    assert client.post(PATH, params=where("new"), json={"n": 1}, headers=V).status_code == 204
    assert client.get(PATH, params=where("new"), headers=V).json() == {"n": 1}


def test_a_post_that_cannot_merge_is_a_400_and_changes_nothing(client: TestClient) -> None:
    put(client, "vars", {"x": 1})
    before = client.get(PATH, params=where("vars"), headers=V)
    for body, kind in (
        (b"[1, 2]", "application/json"),
        (b"x=2", "text/plain"),
        (b"{", "application/json"),
    ):
        refused = client.post(
            PATH, params=where("vars"), content=body, headers={**V, "Content-Type": kind}
        )
        assert refused.status_code == 400, body
    after = client.get(PATH, params=where("vars"), headers=V)
    assert after.content == before.content and after.headers["ETag"] == before.headers["ETag"]
    # nor into a stored document that is not JSON
    client.put(
        PATH, params=where("text"), content=b"abc", headers={**V, "Content-Type": "text/plain"}
    )
    refused = client.post(PATH, params=where("text"), json={"x": 1}, headers=V)
    assert refused.status_code == 400 and "PUT" in refused.json()["message"]
    assert client.get(PATH, params=where("text"), headers=V).content == b"abc"
    # a PUT that says JSON must be JSON
    bad = client.put(
        PATH,
        params=where("bad"),
        content=b"{'x': 1}",
        headers={**V, "Content-Type": "application/json"},
    )
    assert bad.status_code == 400 and bad.json()["problems"][0]["field"] == "body"
    assert client.get(PATH, params=where("bad"), headers=V).status_code == 404


def test_conditional_writes_refuse_a_stale_or_unexpected_document(client: TestClient) -> None:
    first = put(client, "s", {"v": 1}).headers["ETag"]
    second = put(client, "s", {"v": 2}).headers["ETag"]  # the State resource needs no header
    assert first != second
    stale = put(client, "s", {"v": 3}, **{"If-Match": first})
    assert stale.status_code == 412 and stale.json()["error"] == "precondition_failed"
    assert second in stale.json()["message"]
    assert client.get(PATH, params=where("s"), headers=V).json() == {"v": 2}
    assert put(client, "s", {"v": 3}, **{"If-Match": f'"nope", {second}'}).status_code == 204
    assert put(client, "s", {"v": 4}, **{"If-None-Match": "*"}).status_code == 412
    assert put(client, "fresh", {"v": 1}, **{"If-None-Match": "*"}).status_code == 204
    assert put(client, "absent", {"v": 1}, **{"If-Match": "*"}).status_code == 412
    assert client.get(PATH, params=where("absent"), headers=V).status_code == 404
    stale_post = client.post(
        PATH, params=where("s"), json={"w": 1}, headers={**V, "If-Match": first}
    )
    assert stale_post.status_code == 412
    stale_delete = client.delete(PATH, params=where("s"), headers={**V, "If-Match": first})
    assert stale_delete.status_code == 412
    assert client.get(PATH, params=where("s"), headers=V).json() == {"v": 3}


def test_ids_since_and_deletes_by_registration(
    client: TestClient, database: ServiceContext
) -> None:
    clock = database.clock
    assert isinstance(clock, FixedClock)
    put(client, "a", {"n": 1})
    client.put(PATH, params=where("b", registration=REG_1), json={"n": 2}, headers=V)
    start = clock.now
    clock.advance(minutes=5)
    client.put(PATH, params=where("c", registration=REG_2.upper()), json={"n": 3}, headers=V)

    def ids(**more: str) -> Any:
        answer = client.get(PATH, params=where(**more), headers=V)
        assert answer.status_code == 200 and answer.headers["ETag"] == sha1_tag(answer.content)
        return answer

    every = ids()
    assert every.json() == ["a", "b", "c"]  # every registration when none is named
    assert parsedate_to_datetime(every.headers["Last-Modified"]) == clock.now
    assert ids(registration=REG_1).json() == ["b"]
    assert ids(registration=REG_2).json() == ["c"]  # a UUID is read in any case
    assert ids(since=start.isoformat()).json() == ["c"]  # exclusive
    assert ids(since=clock.now.isoformat()).json() == []
    assert client.delete(PATH, params=where("a"), headers=V).status_code == 204
    assert client.delete(PATH, params=where("a"), headers=V).status_code == 204  # gone either way
    assert ids().json() == ["b", "c"]
    assert client.delete(PATH, params=where(registration=REG_1), headers=V).status_code == 204
    assert ids().json() == ["c"]
    assert client.delete(PATH, params=where(), headers=V).status_code == 204
    assert ids().json() == [] and "Last-Modified" not in ids().headers


def test_every_way_of_naming_an_agent_finds_the_same_documents_and_no_address_is_stored(
    client: TestClient, database: ServiceContext
) -> None:
    mbox = json.dumps({"mbox": "mailto:kim@school.example"})
    sha = json.dumps({"mbox_sha1sum": hashlib.sha1(b"mailto:kim@school.example").hexdigest()})
    assert (
        client.put(PATH, params=where("s", agent=mbox), json={"k": 1}, headers=V).status_code == 204
    )
    assert client.get(PATH, params=where("s", agent=sha), headers=V).json() == {"k": 1}
    with database.sessions() as session:
        rows = session.scalars(select(XapiStateRow)).all()
    assert [r.learner_id for r in rows] == [
        "sha1:" + hashlib.sha1(b"mailto:kim@school.example").hexdigest()
    ]
    assert all("kim@school" not in str(vars(r)) for r in rows)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"stateID": "s"}, "stateID"),  # a parameter that differs only in case
        ({"stateId": "s", "since": "2026-01-01T00:00:00Z"}, "since"),  # since lists ids only
        ({"stateId": "s", "agent": '{"objectType": "Group", "member": []}'}, "agent"),
        ({"stateId": "s", "agent": "kim"}, "agent"),
        ({"stateId": "s", "registration": "not-a-uuid"}, "registration"),
        ({"stateId": "s", "activityId": "sql-101"}, "activityId"),
    ],
)
def test_bad_parameters_are_a_400_naming_them(
    client: TestClient, params: dict[str, str], field: str
) -> None:
    answer = client.get(PATH, params={**where(), **params}, headers=V)
    assert answer.status_code == 400, answer.text
    assert field in answer.text


def test_the_version_header_is_required(client: TestClient) -> None:
    answer = client.put(PATH, params=where("s"), json={"x": 1})
    assert answer.status_code == 400 and "X-Experience-API-Version" in answer.text
    assert client.get(PATH, params=where("s"), headers=V).status_code == 404


def test_a_minor_without_consent_gets_no_state_stored(client: TestClient) -> None:
    born = date(2026 - 10, 1, 1).isoformat()
    client.post("/api/v1/learners", json={"learner_id": "kim", "birth_date": born})
    refused = put(client, "s", {"x": 1})
    assert refused.status_code == 403 and refused.json()["error"] == "consent_required"
    assert client.get(PATH, params=where("s"), headers=V).status_code == 404
    client.put("/api/v1/learners/kim/guardian-consent", json={"guardian": "Mum"})
    assert put(client, "s", {"x": 1}).status_code == 204


def test_state_is_exported_and_erased_with_the_learner(client: TestClient) -> None:
    put(client, "bookmark", {"slide": 12})
    exported = client.get("/api/v1/learners/kim/export").json()
    [state] = exported["xapi_states"]
    assert state["state_id"] == "bookmark" and state["activity_id"] == COURSE
    assert bytes.fromhex(state["content"]) == b'{"slide":12}'
    assert client.delete("/api/v1/learners/kim").json()["deleted"]["xapi_states"] == 1
    assert client.get(PATH, params=where("bookmark"), headers=V).status_code == 404
