"""The map and grid endpoints behind the pages (both backends)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from masterypath.domain.access import Role
from masterypath.domain.evidence import BinaryOutcome, Evidence
from masterypath.interop.loader import load_framework_file
from masterypath.services.context import ServiceContext
from masterypath.services.evidence import EvidenceService
from masterypath.services.frameworks import FrameworkService
from masterypath.services.mastery import MasteryService
from tests.conftest import advance_clock, api_app, login

FIXTURES = Path(__file__).parents[1] / "fixtures"
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def course_with_answers(
    database: ServiceContext,
    learners: tuple[str, ...],
    *,
    cohort: tuple[str, ...],
    answers: int = 5,
    right: Callable[[int], bool] = lambda n: True,
) -> TestClient:
    """A client of the fixture course with ``answers`` answers on ``select`` from each
    learner (answer n right when ``right(n)``), an admin and an educator "ed" of cohort
    "A" (``cohort``)."""
    FrameworkService(database).save(
        load_framework_file(FIXTURES / "careers_programme.yaml").framework
    )
    EvidenceService(database).record_many(
        [
            Evidence.create(
                learner_id=lr,
                competency_ids=("select",),
                item_id="q-select",
                outcome=BinaryOutcome(right(n)),
                timestamp=T0 + timedelta(minutes=n),
            )
            for lr in learners
            for n in range(answers)
        ]
    )
    client, accounts = api_app(database)
    accounts.create_user("admin", "admin-password", Role.ADMIN)
    ed = accounts.create_user("ed", "ed-password", Role.EDUCATOR)
    accounts.create_cohort("A", "A", by="t")
    for learner in cohort:
        accounts.enrol("A", learner, by="t")
    accounts.assign_educator("A", ed, by="t")
    return client


def test_grid_shows_the_callers_learners_with_stored_states_and_logs_each(
    database: ServiceContext,
) -> None:
    client = course_with_answers(
        database, ("a1", "a2", "b1"), cohort=("a1", "a2"), right=lambda n: n % 3 != 0
    )

    grid = client.get(
        "/api/v1/frameworks/dbcourse/grid", headers=login(client, "ed", "ed-password")
    ).json()
    assert [c["id"] for c in grid["competencies"]] == [
        "module-sql",
        "select",
        "normalise",
        "recover",
    ]
    assert [r["id"] for r in grid["learners"]] == ["a1", "a2"]  # not b1: another cohort
    progress = {p.competency_id: p for p in MasteryService(database).progress("a1", "dbcourse")}
    select = grid["learners"][0]["cells"][1]
    assert select[0] == progress["select"].decision.model_status.value
    estimate = progress["select"].decision.explanation.estimate
    assert estimate is not None and select[1] == round(estimate, 3)
    assert select[3] == 5 and grid["learners"][0]["cells"][2] is None  # no evidence on normalise
    admin = login(client, "admin", "admin-password")
    everyone = client.get("/api/v1/frameworks/dbcourse/grid", headers=admin).json()
    assert [r["id"] for r in everyone["learners"]] == ["a1", "a2", "b1"]
    advance_clock(database, minutes=5)  # a read repeated within 5 minutes is not logged again
    cohort = client.get(
        "/api/v1/frameworks/dbcourse/grid", params={"cohort_id": "A"}, headers=admin
    ).json()
    assert [r["id"] for r in cohort["learners"]] == ["a1", "a2"]
    log = client.get("/api/v1/learners/a1/access-log", headers=admin).json()
    assert [r["what"] for r in log] == ["GET /api/v1/frameworks/dbcourse/grid"] * 3


def test_map_layers_respect_every_prerequisite(database: ServiceContext) -> None:
    FrameworkService(database).save(
        load_framework_file(FIXTURES / "careers_programme.yaml").framework
    )
    client, accounts = api_app(database)
    accounts.create_user("admin", "admin-password", Role.ADMIN)
    body = client.get(
        "/api/v1/frameworks/dbcourse/map", headers=login(client, "admin", "admin-password")
    ).json()
    layer = {n["id"]: n["layer"] for n in body["nodes"]}
    assert layer == {"module-sql": 0, "select": 0, "normalise": 1, "recover": 2}
    assert all(layer[a] < layer[b] for a, b in body["edges"])


def test_the_grid_as_csv_for_a_spreadsheet(database: ServiceContext) -> None:
    learners = ("a1", "=SUM(A1:A9)")  # an id from another system that reads as a formula
    client = course_with_answers(database, learners, cohort=learners, answers=4)
    headers = login(client, "ed", "ed-password")

    response = client.get("/api/v1/frameworks/dbcourse/grid.csv", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="dbcourse-grid.csv"'
    assert response.content.startswith("\ufeff".encode())  # spreadsheets read UTF-8 by it
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == [
        "learner_id",
        "mastered",
        "Working with relational databases (module-sql)",
        "Write SQL queries (select)",
        "Normalise a schema (normalise)",
        "Back up and restore (recover)",
    ]
    grid = client.get("/api/v1/frameworks/dbcourse/grid", headers=headers).json()
    shown = {
        r["id"]: [
            "locked" if i in r["locked"] else c[0] if c else "not_started"
            for i, c in enumerate(r["cells"])
        ]
        for r in grid["learners"]
    }
    # the formula starts with a quote (a spreadsheet shows it, never runs it); the cells
    # are the grid's statuses: recover waits for normalise, which no one has practised
    assert [r[0] for r in rows[1:]] == ["'=SUM(A1:A9)", "a1"]
    for row, learner in zip(rows[1:], ["=SUM(A1:A9)", "a1"], strict=True):
        assert row[2:] == shown[learner] and row[5] == "locked"
        assert row[1] == str(shown[learner].count("mastered"))
    log = client.get(
        "/api/v1/learners/a1/access-log", headers=login(client, "admin", "admin-password")
    ).json()
    assert "GET /api/v1/frameworks/dbcourse/grid.csv" in [r["what"] for r in log]
