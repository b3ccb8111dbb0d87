"""xAPI 1.0.3's alternate request syntax (both backends): a POST with ``method`` and a
form stands for the request it describes, credentials and all."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from masterypath.domain.access import Role
from masterypath.services.context import ServiceContext
from tests.conftest import api_app, login

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
KIM = {"objectType": "Agent", "account": {"homePage": "https://lms.example", "name": "kim"}}


def statement(n: int) -> dict[str, Any]:
    return {
        "id": f"a17e0000-0000-4000-8000-{n:012d}",
        "actor": KIM,
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
        "object": {"objectType": "Activity", "id": "https://lms.example/activities/intro"},
    }


@pytest.fixture
def bare(database: ServiceContext) -> tuple[TestClient, str]:
    """A client without credentials of its own, and an admin's Authorization value."""
    client, accounts = api_app(database)
    accounts.create_user("admin", "admin-password", Role.ADMIN)
    return client, login(client, "admin", "admin-password")["Authorization"]


def alternate(client: TestClient, path: str, method: str, form: dict[str, str]) -> Any:
    return client.post(f"{path}?method={method}", content=urlencode(form), headers=FORM)


def test_statements_and_documents_go_in_and_out_by_the_alternate_syntax(
    bare: tuple[TestClient, str],
) -> None:
    client, authorization = bare
    headers = {"Authorization": authorization, "X-Experience-API-Version": "1.0.3"}
    first, second = statement(1), statement(2)
    put = alternate(
        client,
        "/xapi/statements",
        "PUT",
        {**headers, "statementId": first["id"], "content": json.dumps(first)},
    )
    assert put.status_code == 204, put.text
    posted = alternate(
        client, "/xapi/statements", "POST", {**headers, "content": json.dumps([second])}
    )
    assert posted.status_code == 200, posted.text
    assert posted.json() == [second["id"]]
    # GET with its query in the form (xAPI: when a query string would be too long)
    got = alternate(
        client,
        "/xapi/statements",
        "GET",
        {**headers, "agent": json.dumps(KIM), "ascending": "true"},
    )
    assert got.status_code == 200, got.text
    assert [s["id"] for s in got.json()["statements"]] == [first["id"], second["id"]]
    one = alternate(client, "/xapi/statements", "GET", {**headers, "statementId": first["id"]})
    assert one.json()["id"] == first["id"]
    # a document keeps the content type its form named
    where = {
        "activityId": "https://lms.example/activities/intro",
        "agent": json.dumps(KIM),
        "stateId": "s1",
    }
    stored = alternate(
        client,
        "/xapi/activities/state",
        "PUT",
        {**headers, **where, "Content-Type": "text/plain", "content": "page 3"},
    )
    assert stored.status_code == 204, stored.text
    document = alternate(client, "/xapi/activities/state", "GET", {**headers, **where})
    assert (document.status_code, document.text) == (200, "page 3")
    assert document.headers["content-type"].startswith("text/plain")
    assert (
        alternate(client, "/xapi/activities/state", "DELETE", {**headers, **where}).status_code
        == 204
    )
    assert (
        alternate(client, "/xapi/activities/state", "GET", {**headers, **where}).status_code == 404
    )


def test_an_alternate_request_is_checked_as_the_request_it_stands_for(
    bare: tuple[TestClient, str],
) -> None:
    client, authorization = bare
    headers = {"Authorization": authorization, "X-Experience-API-Version": "1.0.3"}

    def refused(response: Any, status: int = 400) -> str:
        assert response.status_code == status, response.text
        assert response.headers["x-experience-api-version"] == "1.0.3"
        return str(response.json()["message"])

    content = json.dumps(statement(3))
    # its own rules: `method` alone in the query, a form, a method HTTP has, each header once
    extra = client.post(
        "/xapi/statements?method=POST&statementId=x",
        content=urlencode({**headers, "content": content}),
        headers=FORM,
    )
    assert "statementId: the alternate request syntax takes `method` alone" in refused(extra)
    as_json = client.post(
        "/xapi/statements?method=POST",
        content=content,
        headers={"Content-Type": "application/json"},
    )
    assert (
        "Content-Type: the alternate request syntax sends application/x-www-form-urlencoded"
        in refused(as_json)
    )
    assert "'PATCH' is not GET" in refused(
        alternate(client, "/xapi/statements", "patch", {**headers, "content": content})
    )
    twice = client.post(
        "/xapi/statements?method=POST",
        content=urlencode([("content", content), ("content", content), *headers.items()]),
        headers=FORM,
    )
    assert "content: given twice" in refused(twice)
    # then the rules of the request it stands for: credentials, the version, the content
    no_credentials = alternate(
        client,
        "/xapi/statements",
        "POST",
        {"X-Experience-API-Version": "1.0.3", "content": content},
    )
    refused(no_credentials, 401)
    no_version = alternate(
        client, "/xapi/statements", "POST", {"Authorization": authorization, "content": content}
    )
    assert "X-Experience-API-Version" in refused(no_version)
    nul = json.dumps({**statement(4), "result": {"response": "a\u0000b"}})
    assert "contains a NUL character" in refused(
        alternate(client, "/xapi/statements", "POST", {**headers, "content": nul})
    )
    unknown = alternate(client, "/xapi/statements", "GET", {**headers, "statementID": "x"})
    assert "statementID" in refused(unknown)
    # nothing was stored by any of them
    listed = alternate(client, "/xapi/statements", "GET", headers)
    assert listed.json()["statements"] == []


def test_an_alternate_request_over_the_body_limit_is_a_413(database: ServiceContext) -> None:
    from masterypath.settings import Settings

    client, _ = api_app(database, Settings(embeddings=False, max_body_bytes=200))
    form = {"X-Experience-API-Version": "1.0.3", "content": json.dumps(statement(1))}
    response = alternate(client, "/xapi/statements", "POST", form)
    assert response.status_code == 413, response.text
    assert response.headers["x-experience-api-version"] == "1.0.3"
    small = alternate(client, "/xapi/statements", "GET", {"X-Experience-API-Version": "1.0.3"})
    assert small.status_code == 401  # under the limit: read, then refused for no credentials
