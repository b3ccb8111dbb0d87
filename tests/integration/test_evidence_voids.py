"""Voiding evidence recorded in error: the ledger keeps it, and the learner's states are
exactly those of a ledger that never held it (both backends)."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from masterypath.cli import app as cli_app
from masterypath.domain.evidence import BinaryOutcome, Evidence
from masterypath.domain.framework import Competency, Framework, Item, Prerequisite
from masterypath.errors import ConflictError, NotFoundError, ValidationError
from masterypath.services.context import ServiceContext
from masterypath.services.evidence import EvidenceService
from masterypath.services.frameworks import FrameworkService
from masterypath.services.mastery import MasteryService
from masterypath.settings import Settings
from masterypath.store.database import upgrade
from masterypath.store.mastery import MasteryRepository
from tests.conftest import admin_client

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FRAMEWORK = Framework(
    id="sql",
    title="Databases",
    competencies=(
        Competency("select", "SELECT"),
        Competency("join", "Joins", prerequisites=(Prerequisite("select"),)),
    ),
)


def answer(learner: str, n: int, competency: str, correct: bool) -> Evidence:
    return Evidence.create(
        key=f"{learner}-{n}",
        learner_id=learner,
        competency_ids=(competency,),
        outcome=BinaryOutcome(correct),
        timestamp=T + timedelta(minutes=n),
    )


def states(context: ServiceContext, learner: str) -> dict[str, dict[str, Any]]:
    """The learner's stored states, without the learner's id in them (to compare two
    learners): evidence keys are read without the ``LEARNER-`` prefix."""
    with context.sessions() as session:
        stored = MasteryRepository(session).load_states("sql", [learner])
    out = {}
    for (_, cid), s in stored.items():
        state = {k: v for k, v in s.state.to_dict().items() if k != "learner_id"}
        state["recent_evidence"] = [k.removeprefix(f"{learner}-") for k in state["recent_evidence"]]
        out[cid] = state | {"status": str(s.status)}
    return out


def record_with_twin(
    evidence: EvidenceService, learner: str, pattern: list[tuple[str, bool]], voided: set[int]
) -> str:
    """Record ``pattern`` for ``learner``, and for a twin learner all of it but ``voided``
    (the ledger that never held them); the twin's id."""
    twin = f"{learner}-twin"
    evidence.record_many([answer(learner, n, c, ok) for n, (c, ok) in enumerate(pattern)])
    evidence.record_many(
        [answer(twin, n, c, ok) for n, (c, ok) in enumerate(pattern) if n not in voided]
    )
    return twin


def test_voided_evidence_leaves_the_states_of_a_ledger_that_never_held_it(
    database: ServiceContext,
) -> None:
    FrameworkService(database).save(FRAMEWORK)
    evidence, mastery = EvidenceService(database), MasteryService(database)
    # four right answers posted for kim were a test post; her own are mostly wrong
    pattern = [("select", False), ("select", True), ("select", False)] + [("select", True)] * 4
    pattern += [("join", True), ("join", False)]
    twin = record_with_twin(evidence, "kim", pattern, voided={3, 4, 5, 6})
    before = {p.competency_id: p.decision.status for p in mastery.progress("kim", "sql", now=T)}
    assert before["select"] == "mastered"
    for n in (3, 4, 5, 6):
        voided = evidence.void("kim", f"kim-{n}", reason="a test post", by="user:ed")
        assert voided.rebuilt == ("sql",)
    assert states(database, "kim") == states(database, twin)
    after = {p.competency_id: p.decision.status for p in mastery.progress("kim", "sql", now=T)}
    assert after["select"] != "mastered"
    explanation = mastery.progress("kim", "sql", now=T)[0].decision.explanation
    assert not {f"kim-{n}" for n in (3, 4, 5, 6)} & set(explanation.evidence_keys)
    # the ledger keeps it; a whole replay honours the voids
    assert len(evidence.find(learner_id="kim")) == len(pattern)
    mastery.replay("sql")
    assert states(database, "kim") == states(database, twin)
    assert [v.key for v in evidence.voids("kim")] == [f"kim-{n}" for n in (3, 4, 5, 6)]
    # refused, naming why, and nothing stored
    with pytest.raises(ConflictError, match="voided already"):
        evidence.void("kim", "kim-3", reason="again", by="user:ed")
    with pytest.raises(NotFoundError):
        evidence.void("kim", f"{twin}-0", reason="not hers", by="user:ed")
    with pytest.raises(ValidationError, match="reason"):
        evidence.void("kim", "kim-0", reason=" ", by="user:ed")
    assert len(evidence.voids("kim")) == 4


def test_voiding_over_the_api_is_audited_and_an_educators_decision(
    database: ServiceContext,
) -> None:
    FrameworkService(database).save(FRAMEWORK)
    EvidenceService(database).record_many([answer("kim", n, "select", True) for n in range(3)])
    client = admin_client(database)
    url = "/api/v1/learners/kim/evidence-voids"
    made = client.post(url, json={"key": "kim-1", "reason": "posted twice by the LMS"})
    assert made.status_code == 201, made.text
    assert made.json()["rebuilt"] == ["sql"] and made.json()["voided_by"].startswith("user:")
    assert client.post(url, json={"key": "kim-1", "reason": "x"}).status_code == 409
    assert client.post(url, json={"key": "nope", "reason": "x"}).status_code == 404
    blank = client.post(url, json={"key": "kim-2", "reason": ""})
    assert blank.status_code == 422 and blank.json()["problems"][0]["field"] == "reason"
    listed = client.get(url).json()
    assert [(v["key"], v["reason"]) for v in listed] == [("kim-1", "posted twice by the LMS")]
    ledger = client.get("/api/v1/evidence", params={"learner_id": "kim"}).json()
    assert [(e["key"], e["voided"]) for e in ledger] == [
        ("kim-0", False),
        ("kim-1", True),
        ("kim-2", False),
    ]
    newest = client.get("/api/v1/evidence", params={"learner_id": "kim", "newest_first": "true"})
    assert [e["key"] for e in newest.json()] == ["kim-2", "kim-1", "kim-0"]
    audit = client.get("/api/v1/audit-log").json()
    assert [e["detail"]["key"] for e in audit if e["action"] == "void_evidence"] == ["kim-1"]
    export = client.get("/api/v1/learners/kim/export").json()
    assert [v["evidence_key"] for v in export["evidence_voids"]] == ["kim-1"]
    assert client.delete("/api/v1/learners/kim").json()["deleted"]["evidence_voids"] == 1


def test_a_restored_void_leaves_the_states_of_a_ledger_that_was_never_voided(
    database: ServiceContext,
) -> None:
    FrameworkService(database).save(FRAMEWORK)
    evidence, mastery = EvidenceService(database), MasteryService(database)
    pattern = [("select", True)] * 4 + [("join", True), ("join", False), ("join", True)]
    twin = record_with_twin(evidence, "kim", pattern, voided=set())  # the twin keeps all
    before = states(database, "kim")
    assert before == states(database, twin)
    # the educator voided the wrong answers, then saw it
    for n in (1, 5):
        evidence.void("kim", f"kim-{n}", reason="looked like a test post", by="user:ed")
    assert states(database, "kim") != before
    restored = evidence.restore("kim", "kim-1", reason="voided the wrong one", by="user:ed")
    assert restored.rebuilt == ("sql",) and restored.restored_by == "user:ed"
    assert [v.key for v in evidence.voids("kim")] == ["kim-5"]
    evidence.restore("kim", "kim-5", reason="voided the wrong one", by="user:ed")
    assert states(database, "kim") == before == states(database, twin)
    mastery.replay("sql")
    assert states(database, "kim") == before
    # it can be voided again, and restored again
    evidence.void("kim", "kim-1", reason="it was a test post after all", by="user:ed")
    assert [v.key for v in evidence.voids("kim")] == ["kim-1"]
    # refused, naming why, and nothing changed
    with pytest.raises(ConflictError, match="not voided"):
        evidence.restore("kim", "kim-0", reason="x", by="user:ed")
    with pytest.raises(NotFoundError):
        evidence.restore("kim", "nope", reason="x", by="user:ed")
    with pytest.raises(ValidationError, match="reason"):
        evidence.restore("kim", "kim-1", reason="", by="user:ed")
    assert [v.key for v in evidence.voids("kim")] == ["kim-1"]


def test_restoring_over_the_api_and_cli_is_audited_and_xapi_voids_stay(
    database: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = (Item(id="q-select", competency_ids=("select",)),)
    FrameworkService(database).save(dataclasses.replace(FRAMEWORK, items=items))
    EvidenceService(database).record_many([answer("kim", n, "select", True) for n in range(3)])
    client = admin_client(database)
    voids, restorations = (
        "/api/v1/learners/kim/evidence-voids",
        "/api/v1/learners/kim/evidence-restorations",
    )
    client.post(voids, json={"key": "kim-1", "reason": "posted twice by the LMS"})
    made = client.post(restorations, json={"key": "kim-1", "reason": "it was not"})
    assert made.status_code == 200, made.text
    assert made.json()["rebuilt"] == ["sql"] and made.json()["restored_by"].startswith("user:")
    assert client.get(voids).json() == []
    again = client.post(restorations, json={"key": "kim-1", "reason": "x"})
    assert again.status_code == 409 and "not voided" in again.json()["message"]
    assert client.post(restorations, json={"key": "nope", "reason": "x"}).status_code == 404
    audit = client.get("/api/v1/audit-log").json()
    logged = {(e["action"], e["detail"]["reason"]) for e in audit if "evidence" in e["action"]}
    assert logged == {
        ("void_evidence", "posted twice by the LMS"),
        ("restore_evidence", "it was not"),
    }
    # evidence an xAPI voiding statement voided stays voided: xAPI voiding is final
    v = {"X-Experience-API-Version": "1.0.3"}
    target = "3f2a1c00-0000-4000-8000-000000000001"
    statement = {
        "id": target,
        "actor": {"account": {"homePage": "https://lms.example", "name": "kim"}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"},
        "object": {"id": "https://lms.example/activities/q-select"},
        "result": {"success": True},
    }
    assert client.post("/xapi/statements", json=statement, headers=v).status_code == 200
    voiding = {
        "id": "3f2a1c00-0000-4000-8000-000000000002",
        "actor": statement["actor"],
        "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
        "object": {"objectType": "StatementRef", "id": target},
    }
    assert client.post("/xapi/statements", json=voiding, headers=v).status_code == 200
    refused = client.post(restorations, json={"key": f"xapi:{target}", "reason": "x"})
    assert refused.status_code == 409 and "cannot be undone" in refused.json()["message"]
    # the command line, on the same database
    monkeypatch.setenv(
        "MASTERYPATH_DATABASE_URL", database.engine.url.render_as_string(hide_password=False)
    )
    client.post(voids, json={"key": "kim-2", "reason": "a test post"})
    result = CliRunner().invoke(
        cli_app,
        ["restore-evidence", "kim", "kim-2", "--reason", "was hers", "--by", "ed", "--json"],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["rebuilt"] == ["sql"]
    assert [v["key"] for v in client.get(voids).json()] == [f"xapi:{target}"]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceContext]:
    path: Path = tmp_path_factory.mktemp("voids") / "voids.db"
    context = ServiceContext.from_settings(Settings(database_url=f"sqlite:///{path}"))
    upgrade(context.engine)
    FrameworkService(context).save(FRAMEWORK)
    yield context
    context.engine.dispose()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pattern=st.lists(
        st.tuples(st.sampled_from(["select", "join"]), st.booleans()), min_size=1, max_size=12
    ),
    data=st.data(),
)
def test_any_voided_subset_leaves_the_states_of_the_ledger_without_it(
    scratch: ServiceContext, pattern: list[tuple[str, bool]], data: st.DataObject
) -> None:
    """Void any subset, then restore any part of it: the states are those of the ledger
    without what stays voided."""
    voided = data.draw(st.sets(st.integers(0, len(pattern) - 1)))
    restored = data.draw(st.sets(st.sampled_from(sorted(voided)))) if voided else set()
    learner = uuid.uuid4().hex[:8]
    evidence = EvidenceService(scratch)
    twin = record_with_twin(evidence, learner, pattern, voided - restored)
    for n in data.draw(st.permutations(sorted(voided))):
        evidence.void(learner, f"{learner}-{n}", reason="error", by="test")
    for n in data.draw(st.permutations(sorted(restored))):
        evidence.restore(learner, f"{learner}-{n}", reason="not an error", by="test")
    assert states(scratch, learner) == states(scratch, twin)
