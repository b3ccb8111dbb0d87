"""Retention: which learners have been inactive for a number of days, and erasing them
(``PrivacyService.inactive`` / ``erase_if_inactive``, ``GET /api/v1/inactive-learners``,
``masterypath learners inactive | erase-inactive``), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from masterypath.cli import app
from masterypath.domain.access import Role
from masterypath.domain.evidence import BinaryOutcome, Evidence
from masterypath.interop.loader import load_framework_file
from masterypath.services.context import ServiceContext
from masterypath.services.evidence import EvidenceService
from masterypath.services.frameworks import FrameworkService
from masterypath.services.privacy import PrivacyService
from masterypath.settings import Settings
from masterypath.store.database import upgrade
from tests.conftest import FixedClock, advance_clock, api_app, login

FIXTURES = Path(__file__).parents[1] / "fixtures"
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # the test clock's start


def piece(learner: str) -> Evidence:
    return Evidence.create(
        key=f"{learner}-1",
        learner_id=learner,
        competency_ids=("select",),
        outcome=BinaryOutcome(True),
        timestamp=START,
    )


def answer(learner: str, key: str) -> dict[str, Any]:
    return {
        "key": key,
        "learner_id": learner,
        "competency_ids": ["select"],
        "item_id": "q-select",
        "outcome": {"type": "binary", "correct": True},
        "timestamp": "2026-11-02T10:00:00+00:00",  # when it happened; stored "now"
    }


@pytest.fixture
def world(database: ServiceContext) -> tuple[TestClient, TestClient]:
    """An admin's client and the learner cat's: cat's account is made and ana and cat
    answer at the start, ben ten days later, and kim's profile is made twenty days in, when
    cat reads her own progress and the admin reads ana's."""
    FrameworkService(database).save(
        load_framework_file(FIXTURES / "careers_programme.yaml").framework
    )
    client, accounts = api_app(database)
    accounts.create_user("admin", "admin-password", Role.ADMIN)
    accounts.create_user("cat", "cat-password", Role.LEARNER, learner_id="cat")
    evidence = EvidenceService(database)
    evidence.record(piece("ana"))
    evidence.record(piece("cat"))
    advance_clock(database, days=10)
    evidence.record(piece("ben"))
    advance_clock(database, days=10)
    PrivacyService(database).create_learner(learner_id="kim", by="test")
    # tokens last 12 hours: both log in on the day
    admin = TestClient(client.app, headers=login(client, "admin", "admin-password"))
    cat = TestClient(client.app, headers=login(client, "cat", "cat-password"))
    mine = {"framework_id": "dbcourse"}
    assert cat.get("/api/v1/learners/cat/progress", params=mine).status_code == 200
    assert admin.get("/api/v1/learners/ana/progress", params=mine).status_code == 200
    return admin, cat


def test_inactive_learners_by_their_last_activity(
    database: ServiceContext, world: tuple[TestClient, TestClient]
) -> None:
    admin, cat = world
    privacy = PrivacyService(database)
    # twenty days in: ana last did something at the start (the admin's read of her records
    # is not hers), ben ten days in; cat read her own progress today; kim was made today
    assert [(f.learner_id, f.last_activity) for f in privacy.inactive(days=15)] == [("ana", START)]
    assert [(f.learner_id, f.last_activity) for f in privacy.inactive(days=5)] == [
        ("ana", START),
        ("ben", START + timedelta(days=10)),
    ]
    assert privacy.inactive(days=25) == []
    listed = admin.get("/api/v1/inactive-learners", params={"days": 15})
    assert listed.json() == [{"learner_id": "ana", "last_activity": START.isoformat()}]
    for days in ("0", "36501", "x"):
        refused = admin.get("/api/v1/inactive-learners", params={"days": days})
        assert refused.status_code == 422 and "days" in refused.text
    assert cat.get("/api/v1/inactive-learners", params={"days": 15}).status_code == 403
    with pytest.raises(Exception, match="days"):
        privacy.inactive(days=0)


def test_erasing_the_inactive_keeps_one_who_came_back(
    database: ServiceContext, world: tuple[TestClient, TestClient]
) -> None:
    admin, _ = world
    privacy = PrivacyService(database)
    listed = [f.learner_id for f in privacy.inactive(days=5)]
    assert listed == ["ana", "ben"]
    # ben answers again after the list was made: he is kept, with everything of his
    assert admin.post("/api/v1/evidence", json=answer("ben", "ben-2")).status_code == 201
    assert privacy.erase_if_inactive("ben", days=5, by="retention") is None
    assert len(EvidenceService(database).find(learner_id="ben")) == 2
    counts = privacy.erase_if_inactive("ana", days=5, by="retention")
    assert counts is not None and counts["evidence"] == 1 and counts["learner"] == 1
    assert EvidenceService(database).find(learner_id="ana") == []
    assert privacy.erase_if_inactive("ana", days=5, by="retention") is None  # gone already
    tombstone = [e for e in admin.get("/api/v1/audit-log").json() if e["target"] == "ana"]
    assert [(e["action"], e["actor"]) for e in tombstone] == [("erase_learner", "retention")]
    assert tombstone[0]["detail"]["last_activity"] == START.isoformat()
    assert tombstone[0]["detail"]["reason"] == "no activity for 5 days"
    assert [f.learner_id for f in privacy.inactive(days=5)] == []


def test_the_commands_list_and_erase_the_inactive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("MASTERYPATH_DATABASE_URL", url)
    # the commands run on the real clock: ana's answer was stored a year before it
    old = ServiceContext.from_settings(
        Settings(database_url=url), clock=FixedClock(datetime.now(UTC) - timedelta(days=366))
    )
    upgrade(old.engine)
    FrameworkService(old).save(load_framework_file(FIXTURES / "careers_programme.yaml").framework)
    EvidenceService(old).record(piece("ana"))
    old.engine.dispose()
    now = ServiceContext.from_settings(Settings(database_url=url))
    EvidenceService(now).record(piece("ben"))
    now.engine.dispose()
    runner = CliRunner()
    listed = runner.invoke(app, ["learners", "inactive", "--days", "365", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [r["learner_id"] for r in json.loads(listed.output)] == ["ana"]
    table = runner.invoke(app, ["learners", "inactive", "--days", "365"])
    assert table.exit_code == 0 and "ana" in table.output and "ben" not in table.output
    asked = runner.invoke(app, ["learners", "erase-inactive", "--days", "365", "--json"])
    assert asked.exit_code == 2 and "--yes" in asked.output  # nothing erased unasked
    refused = runner.invoke(app, ["learners", "erase-inactive", "--days", "365"], input="n\n")
    assert refused.exit_code != 0 and "Erase everything about 1 learner" in refused.output
    done = runner.invoke(app, ["learners", "erase-inactive", "--days", "365", "--yes", "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output) == {"days": 365, "erased": ["ana"], "kept": []}
    again = runner.invoke(app, ["learners", "inactive", "--days", "365", "--json"])
    assert json.loads(again.output) == []
    assert runner.invoke(app, ["learners", "inactive", "--days", "0"]).exit_code == 2
