"""Placement sessions through the service, the API and the CLI (both backends): questions
until done, conclusions held for an educator, accepted conclusions stored as ``inferred``
evidence with provenance, rejection, exact replay, and the population prior."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from masterypath.cli import app
from masterypath.domain.evidence import EvidenceKind
from masterypath.domain.framework import Competency, Framework, Prerequisite
from masterypath.domain.placement import PlacementConfig, PlacementPrior, PlacementSession
from masterypath.errors import ConflictError, NotFoundError, ValidationError
from masterypath.interop.framework_files import write_framework_yaml
from masterypath.services.context import ServiceContext
from masterypath.services.evidence import EvidenceService
from masterypath.services.frameworks import FrameworkService
from masterypath.services.placement import MIN_POPULATION, PlacementService
from masterypath.store.tables import MasteryStateRow
from tests.conftest import admin_client

# a chain of six (arithmetic up to algebra) and an unrelated root (geometry)
LADDER = ("count", "add", "multiply", "fractions", "equations", "algebra")
MATHS = Framework(
    id="maths",
    title="Maths",
    competencies=(
        *(
            Competency(
                id=c,
                title=c.title(),
                prerequisites=(Prerequisite(LADDER[i - 1]),) if i else (),
            )
            for i, c in enumerate(LADDER)
        ),
        Competency(id="shapes", title="Shapes"),
    ),
)
KNOWS = {"count", "add", "multiply", "shapes"}


@pytest.fixture
def placements(database: ServiceContext) -> PlacementService:
    FrameworkService(database).save(MATHS)
    return PlacementService(database)


def take(service: PlacementService, placement_id: int, knows: set[str]) -> dict[str, Any]:
    """Answer every question the session asks, truthfully for a learner who knows these."""
    view = service.get(placement_id)
    while view["next_probe"] is not None:
        probe = str(view["next_probe"])
        view = service.answer(placement_id, probe, probe in knows)
    return view


def test_a_session_asks_until_done_and_an_educator_confirms_its_conclusions(
    placements: PlacementService, database: ServiceContext
) -> None:
    started = placements.start("kim", "maths", by="user:ed", budget=5, confidence=0.85)
    assert started["status"] == "open" and started["next_probe"] in MATHS
    assert started["prior_learners"] == 0  # no population yet: the uniform prior
    view = take(placements, started["id"], KNOWS)
    assert view["done"] is True and 1 <= view["asked"] <= 5
    # the service's beliefs are exactly the domain session's after the same answers
    answers = [(a["competency_id"], a["correct"]) for a in view["answers"]]
    replayed = PlacementSession.replay(
        MATHS,
        answers,
        prior=PlacementPrior.uniform(MATHS),
        config=PlacementConfig(budget=5, confidence=0.85),
    )
    assert {c: b["p_known"] for c, b in view["beliefs"].items()} == {
        c: round(p, 4) for c, p in replayed.marginals().items()
    }
    finished = placements.finish(started["id"], by="user:ed")
    assert finished["status"] == "awaiting_confirmation"
    conclusions = finished["conclusions"]
    assert conclusions and all(0.0 <= c["p_known"] <= 1.0 for c in conclusions.values())
    failed = {c for c, ok in answers if not ok}
    assert not any(conclusions[c]["known"] for c in failed if c in conclusions)
    assert EvidenceService(database).find(learner_id="kim") == []  # held, nothing stored
    with pytest.raises(ConflictError):
        placements.answer(started["id"], "add", True)
    done = placements.decide(started["id"], accept=True, by="user:ed", note="looks right")
    assert done["status"] == "recorded" and done["decided_by"] == "user:ed"
    stored = EvidenceService(database).find(learner_id="kim")
    assert sorted(e.key for e in stored) == sorted(done["evidence_keys"])
    assert {e.competency_ids[0]: e.outcome.score == 1.0 for e in stored} == {
        c: v["known"] for c, v in conclusions.items()
    }
    assert all(
        e.kind is EvidenceKind.INFERRED
        and e.source == f"placement:{started['id']}"
        and e.asserted_by == "user:ed"
        for e in stored
    )
    with pytest.raises(ConflictError):
        placements.decide(started["id"], accept=True, by="user:ed")


def test_rejected_conclusions_store_nothing_and_recording_at_once_skips_the_hold(
    placements: PlacementService, database: ServiceContext
) -> None:
    first = placements.start("ana", "maths", by="user:ed", budget=3)
    take(placements, first["id"], KNOWS)
    placements.finish(first["id"], by="user:ed")
    rejected = placements.decide(first["id"], accept=False, by="user:ed", note="guessing")
    assert rejected["status"] == "rejected" and rejected["note"] == "guessing"
    assert EvidenceService(database).find(learner_id="ana") == []
    at_once = PlacementService(database, hold_for_confirmation=False)
    second = at_once.start("ana", "maths", by="user:ana", budget=3)
    take(at_once, second["id"], KNOWS)
    recorded = at_once.finish(second["id"], by="user:ana")
    assert recorded["status"] == "recorded"
    assert len(EvidenceService(database).find(learner_id="ana")) == len(recorded["conclusions"])
    assert [s["status"] for s in at_once.sessions_of("ana")] == ["recorded", "rejected"]


def test_bad_requests_name_what_is_wrong(placements: PlacementService) -> None:
    with pytest.raises(NotFoundError):
        placements.start("kim", "nope", by="x")
    started = placements.start("kim", "maths", by="x", budget=1)
    with pytest.raises(ValidationError) as err:
        placements.finish(started["id"], by="x")  # nothing asked: nothing to conclude
    assert err.value.field == "answers"
    with pytest.raises(ValidationError) as err:
        placements.answer(started["id"], "poetry", True)
    assert err.value.field == "competency_id"
    placements.answer(started["id"], "add", True)
    with pytest.raises(ConflictError):
        placements.answer(started["id"], "count", True)  # the budget is spent
    with pytest.raises(NotFoundError):
        placements.get(started["id"], learner_id="someone-else")
    with pytest.raises(NotFoundError):
        placements.get(10_000)


def test_the_prior_is_fitted_on_the_other_learners_once_there_are_enough(
    placements: PlacementService, database: ServiceContext
) -> None:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    with database.sessions.begin() as session:
        for n in range(MIN_POPULATION):
            mastered = LADDER[: n % 4]  # a quarter know nothing, the rest a prefix
            for cid in MATHS.ids:
                session.add(
                    MasteryStateRow(
                        learner_id=f"p{n}",
                        framework_id="maths",
                        competency_id=cid,
                        model_version_id=None,
                        estimate=None,
                        status="mastered" if cid in mastered else "in_progress",
                        n_evidence=1,
                        state={},
                        updated_at=now,
                    )
                )
    started = placements.start("kim", "maths", by="x")
    assert started["prior_learners"] == MIN_POPULATION
    beliefs = started["beliefs"]
    # nobody in the population knows algebra or shapes; most know counting
    assert beliefs["count"]["p_known"] > 0.6
    assert beliefs["algebra"]["p_known"] < 0.15 and beliefs["shapes"]["p_known"] < 0.15


def test_the_api_runs_a_session_end_to_end(
    placements: PlacementService, database: ServiceContext
) -> None:
    client = admin_client(database)
    made = client.post(
        "/api/v1/learners/kim/placements", json={"framework_id": "maths", "budget": 4}
    )
    assert made.status_code == 201, made.text
    view = made.json()
    base = f"/api/v1/learners/kim/placements/{view['id']}"
    bad = client.post(f"{base}/answers", json={"competency_id": "poetry", "correct": True})
    assert bad.status_code == 422 and "competency_id" in bad.text
    while view["next_probe"] is not None:
        reply = client.post(
            f"{base}/answers",
            json={"competency_id": view["next_probe"], "correct": view["next_probe"] in KNOWS},
        )
        assert reply.status_code == 200
        view = reply.json()
    assert client.post(f"{base}/finish").json()["status"] == "awaiting_confirmation"
    decided = client.post(f"{base}/decision", json={"accept": True})
    assert decided.status_code == 200 and decided.json()["status"] == "recorded"
    assert client.post(f"{base}/decision", json={"accept": True}).status_code == 409
    assert client.get("/api/v1/learners/kim/placements").json()[0]["id"] == view["id"]
    assert client.get(f"/api/v1/learners/ana/placements/{view['id']}").status_code == 404
    invalid = client.post(
        "/api/v1/learners/kim/placements", json={"framework_id": "maths", "confidence": 0.3}
    )
    assert invalid.status_code == 422


def test_the_cli_runs_a_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASTERYPATH_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    runner = CliRunner()
    path = tmp_path / "maths.yaml"
    path.write_text(write_framework_yaml(MATHS))
    assert runner.invoke(app, ["import-framework", str(path)]).exit_code == 0

    def run(*args: str) -> dict[str, object]:
        result = runner.invoke(app, [*args, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.output)  # type: ignore[no-any-return]

    view = run("placement", "start", "kim", "--budget", "3")
    while view["next_probe"] is not None:
        probe = str(view["next_probe"])
        flag = "--correct" if probe in KNOWS else "--wrong"
        view = run("placement", "answer", str(view["id"]), probe, flag)
    assert run("placement", "finish", str(view["id"]))["status"] == "awaiting_confirmation"
    done = run("placement", "decide", str(view["id"]), "--accept", "--by", "user:ed")
    assert done["status"] == "recorded" and done["evidence_keys"]
    assert run("placement", "list", "kim")[0]["status"] == "recorded"  # type: ignore[index]
    shown = runner.invoke(app, ["placement", "show", str(view["id"])])
    assert shown.exit_code == 0 and "recorded" in shown.output
    missing = runner.invoke(app, ["placement", "show", "999", "--json"])
    assert missing.exit_code == 2 and json.loads(missing.output)["error"] == "not_found"
