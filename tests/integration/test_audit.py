"""The fairness audit on a simulated cohort with known truth, through the real pipeline
(SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from masterypath.domain.evidence import BinaryOutcome, Evidence
from masterypath.domain.framework import Competency, Framework
from masterypath.errors import ValidationError
from masterypath.interop.audit_report import render_audit_html
from masterypath.services.audit import AuditService, AuditThresholds
from masterypath.services.context import ServiceContext
from masterypath.services.evidence import EvidenceService
from masterypath.services.frameworks import FrameworkService
from masterypath.services.mastery import MasteryService
from tests.conftest import admin_client

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BIASED = "i03"  # 2 logits harder for group B than its ability explains


def cohort(database: ServiceContext) -> dict[str, str]:
    FrameworkService(database).save(
        Framework(
            id="f",
            title="F",
            competencies=tuple(Competency(id=f"c{k}", title=f"C{k}") for k in range(3)),
        )
    )
    rng = np.random.default_rng(7)
    difficulty = rng.normal(0, 1, 12)
    groups = {
        **{f"a{n}": "A" for n in range(150)},
        **{f"b{n}": "B" for n in range(150)},
        **{f"c{n}": "C" for n in range(5)},
    }
    batch = []
    for learner, group in groups.items():
        theta = rng.normal(0, 1)
        for i in range(12):
            b = difficulty[i] + (2.0 if group == "B" and i == 3 else 0.0)
            correct = rng.random() < 1 / (1 + np.exp(-(theta - b)))
            batch.append(
                Evidence.create(
                    key=f"{learner}-{i}",
                    learner_id=learner,
                    competency_ids=(f"c{i % 3}",),
                    outcome=BinaryOutcome(bool(correct)),
                    timestamp=T + timedelta(minutes=i),
                    item_id=f"i{i:02d}",
                )
            )
    EvidenceService(database).record_many(batch)
    return groups


def test_attributes_need_consent_and_small_groups_are_suppressed(database: ServiceContext) -> None:
    groups = cohort(database)
    audit = AuditService(database)
    consent = {k: "guardian" for k in groups}
    with pytest.raises(ValidationError) as err:
        audit.set_attributes("cohort", groups, consent_by={**consent, "a0": ""})
    assert err.value.field == "consent_by"
    assert audit.groups("cohort") == {}  # nothing stored half-way
    # PostgreSQL refuses NUL in text: a named bad input on both databases, not a 500
    with pytest.raises(ValidationError) as err:
        audit.set_attributes("cohort", {**groups, "a1": "A\x00"}, consent_by=consent)
    assert err.value.field == "value of learner 'a1'"
    assert audit.groups("cohort") == {}
    assert audit.set_attributes("cohort", groups, consent_by=consent) == len(groups)
    report = audit.run("f", "cohort", min_group=20, folds=3)
    assert sorted(report["groups"]) == ["A", "B"] and report["suppressed_groups"] == ["C"]
    assert all("C" not in row for row in report["per_competency"].values())
    a = report["groups"]["A"]
    assert a["learners"] == 150 and 0 <= a["mastery_rate"]["low"] <= a["mastery_rate"]["value"]
    assert a["model"]["auc"]["low"] <= a["model"]["auc"]["value"] <= a["model"]["auc"]["high"]
    flagged = {d["item"] for d in report["dif"] if d["flagged"]}
    assert BIASED in flagged and len(flagged) <= 2  # the planted item, at most one false alarm
    biased = next(d for d in report["dif"] if d["item"] == BIASED)
    assert biased["ets"] == "C" and biased["mh_delta"] < -1.5 and biased["focal"] == "B"
    kinds = {a.kind for a in MasteryService(database).alerts(framework_id="f")}
    assert "audit_item_dif" in kinds
    html = render_audit_html(report)
    assert BIASED in html and "<svg" in html and "suppressed" in html
    # withdrawing consent removes the attribute: the learner is no longer audited
    assert audit.withdraw("cohort", ["a0", "a1"]) == 2
    assert len(audit.groups("cohort")) == len(groups) - 2


def open_audit_alerts(database: ServiceContext) -> dict[tuple[str, str], int]:
    alerts = MasteryService(database).alerts(framework_id="f")
    return {(a.kind, a.competency_id): a.id for a in alerts if a.kind.startswith("audit_")}


def test_a_later_audit_keeps_one_alert_per_finding_and_clears_what_it_no_longer_finds(
    database: ServiceContext,
) -> None:
    groups = cohort(database)
    audit = AuditService(database)
    audit.set_attributes("cohort", groups, consent_by=dict.fromkeys(groups, "self"))
    # any gap at all raises an alert (among pairs with a piece of evidence: four each here)
    eager = AuditThresholds(mastery_rate_gap=0.0, evidence_floor=1)
    usual = AuditThresholds(evidence_floor=1)
    first = audit.run("f", "cohort", folds=3, thresholds=eager)
    raised = open_audit_alerts(database)
    assert {("audit_mastery_gap", ""), ("audit_item_dif", BIASED)} <= set(raised)
    assert first["alerts_cleared"] == []
    # the same findings again: no second alert for any of them
    again = audit.run("f", "cohort", folds=3, thresholds=eager)
    assert len(again["alerts"]) == len(first["alerts"])
    assert open_audit_alerts(database) == raised and again["alerts_cleared"] == []

    # a run that tests no item says nothing of the item's bias: its alert stays; the
    # mastery gap is under the usual 10%: that alert clears
    gap = again["gaps"]["mastery_rate_given_evidence"]["gap"]
    assert gap < 0.10
    no_items = audit.run("f", "cohort", folds=3, dif=False, thresholds=usual)
    assert no_items["alerts_cleared"] == [
        {
            "kind": "audit_mastery_gap",
            "subject": "",
            "reason": f"a later audit finds a mastery-rate gap of {gap:.1%}, under 10%",
        }
    ]
    still = open_audit_alerts(database)
    assert ("audit_mastery_gap", "") not in still and ("audit_item_dif", BIASED) in still

    # groups drawn at random: the item no longer differs between them, and its alert clears
    rng = np.random.default_rng(3)
    drawn = {k: ("A" if rng.random() < 0.5 else "B") if v != "C" else v for k, v in groups.items()}
    audit.set_attributes("cohort", drawn, consent_by=dict.fromkeys(drawn, "self"))
    later = audit.run("f", "cohort", folds=3, thresholds=usual)
    assert {
        "kind": "audit_item_dif",
        "subject": BIASED,
        "reason": f"a later audit no longer flags item {BIASED}",
    } in later["alerts_cleared"]
    assert ("audit_item_dif", BIASED) not in open_audit_alerts(database)
    closed = {
        a.id: a
        for a in MasteryService(database).alerts(framework_id="f", include_acknowledged=True)
    }
    item_alert = closed[raised[("audit_item_dif", BIASED)]]
    assert item_alert.cleared_reason == f"a later audit no longer flags item {BIASED}"
    assert (item_alert.cleared_by_evidence or "").startswith("audit:")
    # a replay of the learners' states leaves the audits' clearings alone
    MasteryService(database).replay("f")
    assert ("audit_item_dif", BIASED) not in open_audit_alerts(database)


def test_model_card_reports_overall_and_per_group_quality(database: ServiceContext) -> None:
    groups = cohort(database)
    audit = AuditService(database)
    audit.set_attributes("cohort", groups, consent_by={k: "self" for k in groups})
    with pytest.raises(ValidationError, match="refit"):
        audit.model_card("f")
    MasteryService(database).refit("f")
    card = audit.model_card("f", attribute="cohort", folds=3)
    assert card["model"] == "bkt" and card["training_data"]["learners"] == len(groups)
    assert 0.5 < card["evaluation"]["auc"] < 1.0
    assert card["per_group"]["C"] == {"suppressed": True}
    assert set(card["per_group"]["A"]) == {"auc", "ece"}
    assert card["known_limits"]


def test_audit_over_http(database: ServiceContext) -> None:

    groups = cohort(database)
    client = admin_client(database)
    url = "/api/v1/learners/a0/attributes/cohort"
    refused = client.put(url, json={"value": "A"})
    assert refused.status_code == 422 and "consent_by" in refused.text
    nul = client.put(url, json={"value": "A\x00", "consent_by": "guardian"})
    assert nul.status_code == 422 and "value" in nul.json()["message"]
    for learner, group in groups.items():
        put = client.put(
            f"/api/v1/learners/{learner}/attributes/cohort",
            json={"value": group, "consent_by": "guardian"},
        )
        assert put.status_code == 200, put.text
    report = client.get("/api/v1/frameworks/f/audit", params={"attribute": "cohort", "dif": False})
    assert report.status_code == 200 and report.json()["suppressed_groups"] == ["C"]
    page = client.get(
        "/api/v1/frameworks/f/audit", params={"attribute": "cohort", "dif": False, "format": "html"}
    )
    assert page.headers["content-type"].startswith("text/html") and "<svg" in page.text
    # a report runs no script at all, whatever a group's name or a title holds
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'; style-src")
    assert client.get("/api/v1/frameworks/f/audit", params={"attribute": "none"}).status_code == 422
    assert client.delete(url).status_code == 204 and client.delete(url).status_code == 404
    explained = client.get("/how-it-works")
    assert "How your progress is decided" in explained.text
    assert "script-src" not in explained.headers["Content-Security-Policy"]
    assert explained.headers["Content-Security-Policy"].startswith("default-src 'none';")
