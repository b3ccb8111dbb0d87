"""Rubric feedback through the service and the API (both backends): versions and their
history, the review queue, an educator's correction becoming an exemplar, final levels as
evidence for the aligned competencies."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from masterypath.domain.rubric import rubric_to_dict
from masterypath.domain.scoring import SimilarityScorer
from masterypath.errors import ConflictError
from masterypath.interop.loader import load_framework_file
from masterypath.nlp.embeddings import nlp_available
from masterypath.services.context import ServiceContext
from masterypath.services.evidence import EvidenceService
from masterypath.services.feedback import FeedbackService
from masterypath.services.frameworks import FrameworkService
from masterypath.services.mastery import MasteryService
from tests.conftest import admin_client
from tests.unit.test_rubric_scoring import CIRCUITS, GOOD, WEAK, RecordingEncoder

FIXTURES = Path(__file__).parents[1] / "fixtures"


@pytest.fixture
def feedback(database: ServiceContext) -> FeedbackService:
    framework = load_framework_file(FIXTURES / "circuits.yaml").framework
    FrameworkService(database).save(framework)
    service = FeedbackService(database, SimilarityScorer(), confidence_floor=0.95)
    service.save_rubric(CIRCUITS)
    return service


def test_versions_history_review_and_evidence(
    feedback: FeedbackService, database: ServiceContext
) -> None:
    first = feedback.submit("kim", "circuits", WEAK)
    assert first["version"] == 1
    levels = {j["criterion_id"]: j["level_id"] for j in first["judgements"]}
    assert levels == {"path": "partial", "terminals": "missing"}
    assert first["feedback"]["gaps"][0].startswith("Closed path: to reach Met")
    second = feedback.submit("kim", "circuits", GOOD)
    assert second["version"] == 2
    history = feedback.history("kim", "circuits")
    assert history["levels"] == {"path": ["partial", "met"], "terminals": ["missing", "met"]}
    # with a confidence floor of 0.95 the unsure judgements wait for an educator
    unsure = {
        (sub["version"], j["criterion_id"])
        for sub in (first, second)
        for j in sub["judgements"]
        if j["confidence"] < 0.95
    }
    assert unsure and {(r["version"], r["criterion_id"]) for r in feedback.reviews()} == unsure
    # an educator corrects one (it need not be in the queue): kept, closed, and an exemplar
    corrected = feedback.review(second["id"], "terminals", "met", by="user:ed")
    terminals = next(j for j in corrected["judgements"] if j["criterion_id"] == "terminals")
    assert (terminals["level_id"], terminals["confidence"], terminals["scorer"]) == (
        "met",
        1.0,
        "educator:user:ed",
    )
    assert any(
        e.text == GOOD and e.level_id == "met" for e in feedback.rubric("circuits").exemplars
    )
    left = {(r["version"], r["criterion_id"]) for r in feedback.reviews()}
    assert left == unsure - {(2, "terminals")}
    keys = feedback.finalize("kim", "circuits")
    assert sorted(keys) == [f"feedback:{second['id']}:path", f"feedback:{second['id']}:terminals"]
    stored = EvidenceService(database).find(learner_id="kim")
    assert sorted(e.key for e in stored) == sorted(keys)
    assert {e.competency_ids for e in stored} == {("closed-circuit",), ("terminals",)}
    assert feedback.finalize("kim", "circuits") == keys  # idempotent
    assert len(EvidenceService(database).find(learner_id="kim")) == 2
    progress = {p.competency_id: p for p in MasteryService(database).progress("kim", "circuits")}
    assert progress["closed-circuit"].decision.explanation.n_evidence == 1
    assert feedback.history("kim", "circuits")["versions"][-1]["final"] is True


def test_api_flow(feedback: FeedbackService, database: ServiceContext) -> None:
    client = admin_client(database)
    assert client.post("/api/v1/rubrics", json=rubric_to_dict(CIRCUITS)).status_code == 409
    assert (
        client.post(
            "/api/v1/rubrics", params={"replace": "true"}, json=rubric_to_dict(CIRCUITS)
        ).status_code
        == 201
    )
    bad = client.post("/api/v1/rubrics", json={"id": "x", "criteria": [{"id": "c", "levels": []}]})
    assert bad.status_code == 422 and "levels" in bad.json()["message"]
    made = client.post(
        "/api/v1/learners/kim/submissions", json={"rubric_id": "circuits", "text": GOOD}
    )
    assert made.status_code == 201
    body = made.json()
    path = next(j for j in body["judgements"] if j["criterion_id"] == "path")
    assert path["level_id"] == "met" and path["support"]
    assert client.get("/api/v1/learners/kim/submissions", params={"rubric_id": "circuits"}).json()[
        "levels"
    ]["path"] == ["met"]
    queue = client.get("/api/v1/reviews").json()
    if queue:
        first = queue[0]
        done = client.put(
            f"/api/v1/reviews/{first['submission_id']}/{first['criterion_id']}",
            json={"level_id": "met"},
        )
        assert done.status_code == 200
    final = client.post("/api/v1/learners/kim/submissions/circuits/final").json()
    assert len(final["evidence_keys"]) == 2
    assert (
        client.post(
            "/api/v1/learners/kim/submissions", json={"rubric_id": "nope", "text": "x"}
        ).status_code
        == 404
    )


def test_case_rubric_import_and_export_over_the_api(
    feedback: FeedbackService, database: ServiceContext
) -> None:
    client = admin_client(database)
    exported = client.get("/api/v1/rubrics/circuits/case", params={"framework_id": "circuits"})
    assert exported.status_code == 200
    cf = exported.json()
    assert [c["category"] for c in cf["CFRubricCriteria"]] == ["Closed path", "Both terminals"]
    assert client.post("/api/v1/rubrics/case", json=cf).status_code == 409
    cf["extensions"]["masterypath"]["id"] = "circuits-copy"
    made = client.post("/api/v1/rubrics/case", json=cf)
    assert made.status_code == 201
    assert made.json() == {"imported": [{"id": "circuits-copy", "criteria": 2}]}
    copy = client.get("/api/v1/rubrics/circuits-copy").json()
    original = client.get("/api/v1/rubrics/circuits").json()
    assert copy == original | {"id": "circuits-copy"}
    bad = client.post("/api/v1/rubrics/case", json={"CFRubrics": [{"title": "x"}]})
    assert bad.status_code == 422
    assert [p["field"] for p in bad.json()["problems"]] == ["identifier", "CFRubricCriteria"]
    assert client.get("/api/v1/rubrics/nope/case").status_code == 404


def test_saving_rubrics_prepares_the_scorer(database: ServiceContext) -> None:
    if not nlp_available():
        pytest.skip("the nlp extra is not installed")
    encoder = RecordingEncoder()
    service = FeedbackService(database, SimilarityScorer(encoder=encoder))
    service.save_rubric(CIRCUITS)
    references = {r for c in CIRCUITS.criteria for lv in c.levels for r in lv.references}
    assert references <= set(encoder.seen)
    encoder.seen.clear()
    with pytest.raises(ConflictError):  # not stored: nothing prepared
        service.save_rubric(CIRCUITS)
    assert encoder.seen == []
    storing_only = FeedbackService(
        database, SimilarityScorer(encoder=encoder), prepare_on_save=False
    )
    storing_only.save_rubric(CIRCUITS, replace=True)
    assert encoder.seen == []


def test_the_latest_feedback_on_a_competency(
    feedback: FeedbackService, database: ServiceContext
) -> None:
    # what the learner page shows under "Feedback" (it said "No rubric feedback yet."
    # whatever the learner had submitted)
    client = admin_client(database)
    url = "/api/v1/learners/kim/feedback"
    assert client.get(url, params={"competency_id": "closed-circuit"}).json() == []
    feedback.submit("kim", "circuits", WEAK)
    second = feedback.submit("kim", "circuits", GOOD)
    feedback.submit("ana", "circuits", WEAK)  # another learner's work is not kim's
    latest = client.get(url, params={"competency_id": "closed-circuit"}).json()
    assert [(w["rubric_id"], w["version"], w["text"]) for w in latest] == [("circuits", 2, GOOD)]
    (work,) = latest
    assert work["rubric_title"] == "Why does the bulb light?"
    path = next(j for j in second["judgements"] if j["criterion_id"] == "path")
    assert work["criteria"] == [  # only the criterion aligned to that competency
        {
            "criterion_id": "path",
            "title": "Closed path",
            "level": "Met",
            "confidence": path["confidence"],
        }
    ]
    assert work["feedback"] == second["feedback"] and work["final"] is False
    assert (
        client.get(url, params={"competency_id": "terminals"}).json()[0]["criteria"][0][
            "criterion_id"
        ]
        == "terminals"
    )
    assert client.get(url, params={"competency_id": "nothing-aligned"}).json() == []
    # the rubric replaced since, without the level judged: its id stands in for the label
    levels = tuple(lv for lv in CIRCUITS.criteria[0].levels if lv.id != "met")
    changed = replace(CIRCUITS, criteria=(replace(CIRCUITS.criteria[0], levels=levels),))
    feedback.save_rubric(changed, replace=True)
    after = client.get(url, params={"competency_id": "closed-circuit"})
    assert after.status_code == 200 and after.json()[0]["criteria"][0]["level"] == "met"
    assert client.get(url).status_code == 422  # competency_id is required
