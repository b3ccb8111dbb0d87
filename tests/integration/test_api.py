"""HTTP API tests (in-process ASGI client), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from masterypath.interop.framework_files import read_framework_yaml
from masterypath.services.context import ServiceContext
from masterypath.services.frameworks import FrameworkService
from masterypath.settings import Settings
from tests.conftest import admin_client, api_app

CASE = Path(__file__).parents[1] / "fixtures" / "case_fractions.json"
EVIDENCE: dict[str, Any] = {
    "key": "lms:attempt:1",
    "learner_id": "l1",
    "competency_ids": ["add"],
    "outcome": {"type": "binary", "correct": True},
    "timestamp": "2026-03-01T10:00:00Z",
    "item_id": "q1",
}


@pytest.fixture
def client(database: ServiceContext) -> TestClient:
    return admin_client(database)


def test_health_and_docs(client: TestClient) -> None:
    assert client.get("/health").json()["status"] == "ok"
    assert client.get("/docs").status_code == 200
    assert "/api/v1/evidence" in client.get("/openapi.json").json()["paths"]
    # the documentation pages load nothing from elsewhere (they took Swagger UI and ReDoc
    # from a CDN, so /docs was blank on a server without internet)
    for page in ("/docs", "/redoc"):
        text = client.get(page).text
        assert re.findall(r'(?:src|href)="(https?:[^"]*)"', text) == [], page
        for asset in re.findall(r'(?:src|href)="(/[^"]+)"', text):
            assert client.get(asset).status_code == 200, asset


def test_the_ingest_posts_are_matched_before_any_included_router(client: TestClient) -> None:
    # route matching walks the routes in order and, in FastAPI 0.165, every route of an
    # included router with its context: the single posts of evidence (half of all writes
    # under load) must be found among the first top-level routes, xAPI statements next
    app: Any = client.app
    routes = app.router.routes
    first_included = next(i for i, r in enumerate(routes) if hasattr(r, "original_router"))
    ingest = [
        i
        for i, r in enumerate(routes)
        if isinstance(r, APIRoute)
        and r.path.startswith("/api/v1/evidence")
        and "POST" in (r.methods or ())
    ]
    assert len(ingest) == 2 and max(ingest) < first_included
    xapi = routes[first_included]
    assert any(getattr(r, "path", "") == "/xapi/statements" for r in xapi.original_router.routes)


def test_fastapi_looks_for_opentelemetry_only_when_the_settings_ask(
    database: ServiceContext,
) -> None:
    # FastAPI 0.165 asks OpenTelemetry for its providers on every request (reading the
    # environment each time) unless its telemetry is off; FastAPI keeps the configuration
    # it was given in ``_telemetry``
    quiet: Any = api_app(database, Settings(embeddings=False))[0].app
    traced: Any = api_app(database, Settings(embeddings=False, opentelemetry=True))[0].app
    switches = ("tracing", "metrics", "logs")
    assert [quiet._telemetry[k] for k in switches] == [False, False, False]
    assert [traced._telemetry[k] for k in switches] == [True, True, True]
    assert not quiet._native_telemetry.enabled()


def test_post_evidence_is_idempotent(client: TestClient) -> None:
    first = client.post("/api/v1/evidence", json=EVIDENCE)
    assert first.status_code == 201
    assert first.json() == {"key": "lms:attempt:1", "stored": True, "locked": []}
    again = client.post("/api/v1/evidence", json=EVIDENCE)
    assert again.status_code == 200 and again.json()["stored"] is False
    batch = client.post("/api/v1/evidence/batch", json=[EVIDENCE])
    assert batch.status_code == 200 and batch.json()[0]["stored"] is False
    # both answers are in the contract (the fuzzer found the 200s undocumented)
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/evidence", "/api/v1/evidence/batch"):
        assert {"200", "201"} <= set(paths[path]["post"]["responses"]), path
    listed = client.get("/api/v1/evidence", params={"learner_id": "l1"}).json()
    assert len(listed) == 1
    assert listed[0]["outcome"] == {"type": "binary", "correct": True}
    assert listed[0]["timestamp"].startswith("2026-03-01T10:00:00")


def test_conflicting_batch_is_409_and_stores_nothing(client: TestClient) -> None:
    client.post("/api/v1/evidence", json=EVIDENCE)
    changed = {**EVIDENCE, "outcome": {"type": "binary", "correct": False}}
    new = {**EVIDENCE, "key": "lms:attempt:2"}
    response = client.post("/api/v1/evidence/batch", json=[new, changed])
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "conflict" and "lms:attempt:1" in body["message"]
    assert len(client.get("/api/v1/evidence").json()) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"timestamp": "2026-03-01T10:00:00"}, "timestamp"),
        ({"outcome": {"type": "score", "value": 1.5}}, "outcome.score.value"),
        ({"outcome": {"type": "binary", "correct": "yes"}}, "outcome.binary.correct"),
        ({"outcome": {"type": "binary", "correct": 1}}, "outcome.binary.correct"),
        ({"competency_ids": []}, "competency_ids"),
        ({"learner_id": "a\x00b"}, "learner_id"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_evidence_names_the_field(
    client: TestClient, change: dict[str, Any], field: str
) -> None:
    response = client.post("/api/v1/evidence", json={**EVIDENCE, **change})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation_error"
    assert field in {p["field"] for p in body["problems"]}
    assert "Traceback" not in response.text
    assert client.get("/api/v1/evidence").json() == []


def test_case_import_and_export_round_trip(client: TestClient) -> None:
    package = json.loads(CASE.read_text())
    created = client.post("/api/v1/frameworks/case", json=package)
    assert created.status_code == 201
    fid = created.json()["id"]
    assert created.json()["notes"] == ["ignored 1 association(s) of type 'exactMatchOf'"]
    again = client.post("/api/v1/frameworks/case", json=package)
    assert again.status_code == 409
    framework = client.get(f"/api/v1/frameworks/{fid}").json()
    assert len(framework["competencies"]) == 4
    exported = client.get(f"/api/v1/frameworks/{fid}/export", params={"format": "case"})
    reimported = client.post(
        "/api/v1/frameworks/case", json=exported.json(), params={"replace": "true"}
    )
    assert reimported.status_code == 201 and reimported.json()["replaced"] is True
    assert client.get(f"/api/v1/frameworks/{fid}").json() == framework
    assert client.get(f"/api/v1/frameworks/{fid}/export", params={"format": "csv"}).text.startswith(
        "id,title,description,parent,prerequisites,code"
    )


def test_bad_case_package_is_422_with_problems(client: TestClient) -> None:
    response = client.post("/api/v1/frameworks/case", json={"CFItems": []})
    assert response.status_code == 422
    assert {
        "location": "package",
        "field": "CFDocument",
        "reason": "missing or not an object",
    } in response.json()["problems"]
    assert client.get("/api/v1/frameworks").json() == []


def test_unknown_framework_is_404(client: TestClient) -> None:
    response = client.get("/api/v1/frameworks/nope")
    assert response.status_code == 404
    assert response.json()["message"] == "framework 'nope' not found"


def test_home_page_lists_frameworks(client: TestClient) -> None:
    client.post("/api/v1/frameworks/case", json=json.loads(CASE.read_text()))
    page = client.get("/")
    assert page.status_code == 200
    assert "Fractions (grade 4, test fixture)" in page.text
    assert "Equivalent fractions" in page.text


def test_batch_errors_name_the_item_index(client: TestClient) -> None:
    bad = {**EVIDENCE, "key": "k2", "timestamp": "2026-03-01T10:00:00"}
    response = client.post("/api/v1/evidence/batch", json=[EVIDENCE, bad])
    assert response.status_code == 422
    assert "1.timestamp" in {p["field"] for p in response.json()["problems"]}
    assert client.get("/api/v1/evidence").json() == []
    ok = client.post("/api/v1/evidence/batch", json=[EVIDENCE, {**EVIDENCE, "key": "k2"}])
    assert ok.status_code == 201 and [r["stored"] for r in ok.json()] == [True, True]


def test_evidence_on_a_locked_competency_is_stored_and_flagged(client: TestClient) -> None:
    assert client.post("/api/v1/frameworks/case", json=json.loads(CASE.read_text())).is_success
    a2, a3 = (f"9b1f2a40-0000-4000-8000-0000000000a{n}" for n in (2, 3))  # a2 precedes a3
    posted = client.post("/api/v1/evidence", json={**EVIDENCE, "competency_ids": [a3, a2]})
    assert posted.status_code == 201
    assert posted.json() == {"key": "lms:attempt:1", "stored": True, "locked": [a3]}
    assert len(client.get("/api/v1/evidence").json()) == 1


def test_ids_holding_a_slash_are_reachable_encoded(database: ServiceContext) -> None:
    # the server decodes %2F before routing: /learners/school%2F42/progress was a 404
    yaml = "id: unit/1\ntitle: Unit\ncompetencies:\n  - {id: a/b, title: A}\n"
    FrameworkService(database).save(read_framework_yaml(yaml, source="t").framework)
    client = admin_client(database)
    posted = client.post(
        "/api/v1/evidence", json={**EVIDENCE, "learner_id": "school/42", "competency_ids": ["a/b"]}
    )
    assert posted.status_code == 201, posted.text
    progress = client.get("/api/v1/learners/school%2F42/progress/a%2fb?framework_id=unit%2F1")
    assert progress.status_code == 200, progress.text
    assert progress.json()["competency_id"] == "a/b"
    assert progress.json()["explanation"]["n_evidence"] == 1
    framework = client.get("/api/v1/frameworks/unit%2F1")
    assert framework.status_code == 200 and framework.json()["id"] == "unit/1"
    page = client.get("/app/learner/school%2F42")
    assert page.status_code == 200 and 'data-learner="school/42"' in page.text
    # an unencoded slash is still a path separator, and no id holds the stand-in character
    assert client.get("/api/v1/learners/school/42/progress").status_code == 404
    stand_in = client.get("/api/v1/learners/x%1Fy/progress?framework_id=unit%2F1")
    assert stand_in.status_code == 422 and stand_in.json()["problems"][0]["location"] == "path"


def test_a_query_parameter_an_endpoint_does_not_take_is_refused(
    database: ServiceContext,
) -> None:
    # ignored before: `learner=` (for learner_id) listed every learner's evidence as if
    # filtered, and a post with a stray parameter was stored
    client = admin_client(database, cache_seconds=60)  # the fast lane takes plain posts
    assert client.post("/api/v1/evidence", json=EVIDENCE).status_code == 201

    def refused(answer: Any, name: str) -> dict[str, Any]:
        assert answer.status_code == 422, answer.text
        problem: dict[str, Any] = answer.json()["problems"][0]
        assert (problem["location"], problem["field"]) == ("query", name)
        return problem

    typo = refused(client.get("/api/v1/evidence", params={"learner": "l1"}), "learner")
    assert (
        "competency_id, learner_id, limit, newest_first, offset" in typo["reason"]
    )  # what it takes
    other = {**EVIDENCE, "key": "lms:attempt:2"}
    refused(client.post("/api/v1/evidence", params={"dry_run": "1"}, json=other), "dry_run")
    refused(client.post("/api/v1/evidence/batch", params={"x": "1"}, json=[other]), "x")
    assert (
        client.get("/api/v1/evidence", params={"learner_id": "l1"}).json()[0]["key"]
        == (EVIDENCE["key"])
    )  # nothing more was stored
    # routes of the included routers, a dependency's parameter, and /auth alike
    progress = "/api/v1/learners/l1/progress"
    refused(client.get(progress, params={"framework": "f"}), "framework")
    refused(client.get("/api/v1/users", params={"role": "admin"}), "role")
    refused(client.post("/auth/login", params={"next": "/"}, json={}), "next")
    # the pages read their own query in the browser: not refused
    assert client.get("/app/educator", params={"framework": "f"}).status_code == 200
