"""The mastery pipeline end to end on SQLite and PostgreSQL: live projection, gate,
overrides, alerts, policies, refit and replay."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from masterypath.domain.evidence import BinaryOutcome, Evidence, EvidenceKind
from masterypath.domain.framework import Competency, Framework, Item, Prerequisite
from masterypath.domain.policy import MasteryPolicy, Status
from masterypath.errors import LockedError, NotFoundError, ValidationError
from masterypath.services.context import ServiceContext
from masterypath.services.evidence import EvidenceService
from masterypath.services.frameworks import FrameworkService
from masterypath.services.mastery import MasteryService
from masterypath.store.mastery import MasteryRepository
from tests.conftest import admin_client

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FRAMEWORK = Framework(
    id="arith",
    title="Arithmetic",
    competencies=(
        Competency(id="arith", title="Arithmetic"),
        Competency(id="add", title="Addition", parent_id="arith"),
        Competency(
            id="mul",
            title="Multiplication",
            parent_id="arith",
            prerequisites=(Prerequisite("add"),),
        ),
    ),
    items=(Item(id="q-mul", competency_ids=("mul",)),),
)


def answer(n: int, competency: str, correct: bool, learner: str = "ana", **kw: object) -> Evidence:
    return Evidence.create(
        key=f"{learner}-{n}",
        learner_id=learner,
        competency_ids=(competency,),
        outcome=BinaryOutcome(correct),
        timestamp=T + timedelta(minutes=n),
        **kw,  # type: ignore[arg-type]
    )


Setup = tuple[EvidenceService, MasteryService]


@pytest.fixture
def setup(database: ServiceContext) -> Setup:
    FrameworkService(database).save(FRAMEWORK)
    return EvidenceService(database), MasteryService(database)


def statuses(
    mastery: MasteryService, learner: str = "ana", now: datetime | None = None
) -> dict[str, str]:
    return {
        p.competency_id: str(p.decision.status) for p in mastery.progress(learner, "arith", now=now)
    }


def snapshot(database: ServiceContext) -> dict[tuple[str, str], dict[str, object]]:
    with database.sessions() as session:
        states = MasteryRepository(session).load_states(
            "arith", ["ana", "ben", *(f"l{n}" for n in range(7))]
        )
    return {k: {**v.state.to_dict(), "status": str(v.status)} for k, v in states.items()}


def test_live_pipeline_decides_explains_and_unlocks(setup: Setup, database: ServiceContext) -> None:
    evidence, mastery = setup
    assert statuses(mastery, now=T) == {
        "add": "not_started",
        "mul": "not_started",
        "arith": "not_started",
    }
    with pytest.raises(LockedError) as locked:
        mastery.start_activity("ana", "arith", item_id="q-mul")
    assert locked.value.missing == (("add", "mastered", "not_started"),)
    evidence.record_many([answer(n, "add", True) for n in range(2)])
    progress = {p.competency_id: p for p in mastery.progress("ana", "arith", now=T)}
    add = progress["add"].decision.explanation
    # default policy: BKT textbook parameters, min 3 pieces of evidence
    assert progress["add"].decision.status is Status.INSUFFICIENT_EVIDENCE
    assert (add.rule, add.missing.count, add.n_evidence) == ("min_evidence", 1, 2)
    assert add.evidence_keys == ("ana-0", "ana-1")
    assert add.estimate == pytest.approx(0.838, abs=1e-3)  # 0.1 -> 0.4667 -> 0.8380
    assert add.learner_text == (
        "We need 1 more piece of evidence before we can tell whether you have mastered Addition."
    )
    evidence.record(answer(2, "add", True))
    progress = {p.competency_id: p for p in mastery.progress("ana", "arith", now=T)}
    assert progress["add"].decision.status is Status.MASTERED
    assert progress["mul"].unlocked and not progress["mul"].missing_prerequisites
    # each sentence names a competency as the learner knows it: by its title
    assert progress["mul"].decision.explanation.learner_text == (
        "You have not started Multiplication yet."
    )
    assert progress["arith"].decision.explanation.learner_text.startswith(
        "1 of 2 parts of Arithmetic mastered ("
    )
    assert progress["arith"].decision.status is Status.IN_PROGRESS  # parent: mul not started
    assert mastery.start_activity("ana", "arith", item_id="q-mul") == ("mul",)


def test_evidence_on_a_locked_competency_is_kept_and_flagged(
    setup: Setup, database: ServiceContext
) -> None:
    evidence, mastery = setup
    evidence.record(answer(0, "mul", True))
    _, trail = mastery.explain("ana", "arith", "mul", now=T)
    assert [(e.key, e.locked) for e in trail] == [("ana-0", True)]
    evidence.record_many([answer(n, "add", True) for n in range(1, 4)])
    evidence.record(answer(4, "mul", True))
    _, trail = mastery.explain("ana", "arith", "mul", now=T)
    assert [(e.key, e.locked) for e in trail] == [("ana-0", True), ("ana-4", False)]
    assert evidence.count(learner_id="ana") == 5


def test_a_batch_reads_the_states_its_gate_needs_from_earlier_transactions(
    database: ServiceContext,
) -> None:
    # "geo" requires the parent "arith", whose status rolls up from "add" and "mul": a batch
    # on "geo" must load those two states (stored by earlier transactions), though it
    # loads only the states its evidence reads
    geo = Competency(id="geo", title="Geometry", prerequisites=(Prerequisite("arith"),))
    FrameworkService(database).save(
        Framework(id="arith", title="Arithmetic", competencies=(*FRAMEWORK.competencies, geo))
    )
    evidence = EvidenceService(database)
    evidence.record_many([answer(n, "add", True) for n in range(3)])
    evidence.record_many([answer(n, "mul", True) for n in range(3, 6)])
    evidence.record_many([answer(n, "add", True, learner="ben") for n in range(3)])
    results = evidence.record_many([answer(6, "geo", True), answer(3, "geo", True, learner="ben")])
    assert [r.locked for r in results] == [(), ("geo",)]  # ben has not mastered "mul"
    with database.sessions() as session:
        repo = MasteryRepository(session)
        assert set(
            repo.load_states_of("arith", [("ana", "add"), ("ana", "nope"), ("ben", "geo")])
        ) == {
            ("ana", "add"),
            ("ben", "geo"),
        }
        assert repo.load_states_of("arith", []) == {}
        everything = repo.load_states("arith", ["ana", "ben"])
        assert repo.load_states_of("arith", everything) == everything


def test_heads_tell_the_projection_versions_policies_and_overrides(
    setup: Setup, database: ServiceContext
) -> None:
    evidence, mastery = setup
    with database.sessions() as session:
        (head,) = MasteryRepository(session).heads_of(["add", "mul", "unknown"])
        assert MasteryRepository(session).heads_of(["unknown"]) == []
        assert head.stamp == MasteryRepository(session).framework_stamp("arith")
    assert (head.framework_id, head.model_ids, head.has_overrides) == ("arith", {}, False)
    assert head.policies.for_competency("add") == MasteryPolicy()
    strict = MasteryPolicy(min_evidence=5)
    mastery.set_policy("arith", strict, competency_id="add")
    evidence.record_many([answer(n, "add", True) for n in range(4)])
    mastery.refit("arith")
    mastery.override(
        learner_id="ana",
        framework_id="arith",
        competency_id="mul",
        status="mastered",
        reason="demonstrated_elsewhere",
        educator="ms-lee",
    )
    with database.sessions() as session:
        (head,) = MasteryRepository(session).heads_of(["mul"])
    assert head.has_overrides and set(head.model_ids) == {"bkt"}
    assert head.policies.for_competency("add") == strict
    assert head.policies.for_competency("mul") == MasteryPolicy()


def test_replay_rebuilds_exactly_the_live_states(setup: Setup, database: ServiceContext) -> None:
    evidence, mastery = setup
    pattern = [True, False, True, True, False, True, True, True, True, False, True]
    for n, ok in enumerate(pattern):
        evidence.record(answer(n, "add" if n < 6 else "mul", ok))
        evidence.record(answer(n, "add", not ok, learner="ben"))
    live = snapshot(database)
    summary = mastery.replay("arith")
    assert summary.events == 2 * len(pattern) and summary.states == 3
    assert snapshot(database) == live


def test_an_override_wins_until_lifted_and_is_audited(
    setup: Setup, database: ServiceContext
) -> None:
    evidence, mastery = setup
    evidence.record_many([answer(n, "add", n % 2 == 0) for n in range(4)])
    assert statuses(mastery, now=T)["add"] == "in_progress"
    with pytest.raises(ValidationError, match="reason"):
        mastery.override(
            learner_id="ana",
            framework_id="arith",
            competency_id="add",
            status="mastered",
            reason="because",
            educator="ms-lee",
        )
    granted = mastery.override(
        learner_id="ana",
        framework_id="arith",
        competency_id="add",
        status="mastered",
        reason="demonstrated_elsewhere",
        educator="ms-lee",
        note="oral check on 2 March",
    )
    assert granted.model_status is Status.IN_PROGRESS and granted.model_estimate is not None
    evidence.record_many([answer(n, "add", False) for n in range(4, 8)])  # model disagrees
    grid = mastery.grid("arith", ["ana"])  # the statuses the live projection stored
    column = [c["id"] for c in grid["competencies"]].index("add")
    assert grid["learners"][0]["cells"][column][0] == "mastered"
    progress = {p.competency_id: p for p in mastery.progress("ana", "arith", now=T)}
    assert progress["add"].decision.status is Status.MASTERED
    assert progress["add"].decision.model_status is Status.IN_PROGRESS
    assert progress["mul"].unlocked
    assert progress["add"].decision.explanation.learner_text == (
        "Your teacher set Addition to mastered: oral check on 2 March"
    )
    replayed = mastery.replay("arith")  # a replay never undoes an override either
    assert replayed.statuses == {"mastered": 1}
    lifted = mastery.lift_override(granted.id, by="ms-lee", note="re-assess")
    assert lifted.lifted_by == "ms-lee" and not lifted.active
    assert statuses(mastery, now=T)["add"] == "in_progress"
    report = mastery.overrides(framework_id="arith")
    assert [(o.id, o.educator, o.reason.value, o.active) for o in report] == [
        (granted.id, "ms-lee", "demonstrated_elsewhere", False)
    ]
    with pytest.raises(ValidationError, match="already lifted"):
        mastery.lift_override(granted.id, by="ms-lee")


def test_wheel_spinning_raises_one_alert_that_can_be_acknowledged(
    setup: Setup, database: ServiceContext
) -> None:
    evidence, mastery = setup
    evidence.record_many([answer(n, "add", n % 3 == 0) for n in range(12)])
    alerts = mastery.alerts(framework_id="arith")
    kinds = sorted(a.kind for a in alerts)
    assert "wheel_spinning" in kinds
    spin = next(a for a in alerts if a.kind == "wheel_spinning")
    assert spin.evidence_key == "ana-9" and "10 practice opportunities" in spin.message
    mastery.replay("arith")
    assert len(mastery.alerts(framework_id="arith")) == len(alerts)  # not raised twice
    mastery.acknowledge_alert(spin.id, by="ms-lee")
    assert spin.id not in [a.id for a in mastery.alerts(framework_id="arith")]
    with pytest.raises(NotFoundError):
        mastery.acknowledge_alert(99_999, by="ms-lee")


def test_an_alert_whose_reason_went_leaves_the_queue_and_replay_keeps_it_so(
    setup: Setup, database: ServiceContext
) -> None:
    evidence, mastery = setup

    def spinning(learner: str) -> list[object]:
        found = mastery.alerts(learner_id=learner, kind="wheel_spinning", include_acknowledged=True)
        return [(a.evidence_key, a.cleared_by_evidence, a.cleared_reason) for a in found]

    evidence.record_many([answer(n, "add", False) for n in range(10)])
    assert spinning("ana") == [("ana-9", None, None)]
    evidence.record_many([answer(10, "add", True), answer(11, "add", True)])
    assert [a.kind for a in mastery.alerts(learner_id="ana")] == ["wheel_spinning"]
    evidence.record(answer(12, "add", True))  # 0.2286 -> 0.6571 -> 0.9169 -> 0.9842: mastered
    cleared = [("ana-9", "ana-12", "mastered after 13 practice opportunities")]
    assert spinning("ana") == cleared
    assert mastery.alerts(learner_id="ana") == []  # the open queue
    (record,) = mastery.alerts(learner_id="ana", include_acknowledged=True)
    assert record.cleared_at == T + timedelta(minutes=12) and record.acknowledged_at is None
    mastery.replay("arith")
    assert spinning("ana") == cleared
    # the evidence that cleared it voided: not mastered, so the alert is open again
    evidence.void("ana", "ana-12", reason="another learner's answer", by="ms-lee")
    assert spinning("ana") == [("ana-9", None, None)]
    evidence.restore("ana", "ana-12", reason="it was hers", by="ms-lee")
    assert spinning("ana") == cleared

    # raised and cleared in one transaction (an import of a term's answers)
    evidence.record_many([answer(n, "add", n >= 10, learner="ben") for n in range(13)])
    assert spinning("ben") == [("ben-9", "ben-12", "mastered after 13 practice opportunities")]
    # fell, recovered (cleared), fell again: only the second stays open
    evidence.record_many([answer(n, "add", n in (0, 1, 3), learner="cy") for n in range(5)])
    falls = mastery.alerts(learner_id="cy", include_acknowledged=True)
    assert [(a.evidence_key, a.cleared_by_evidence) for a in falls] == [
        ("cy-2", "cy-3"),
        ("cy-4", None),
    ]
    mastery.replay("arith")
    assert mastery.alerts(learner_id="cy", include_acknowledged=True) == falls
    client = admin_client(database)
    assert client.get("/api/v1/alerts", params={"learner_id": "ben"}).json() == []
    listed = client.get(
        "/api/v1/alerts", params={"learner_id": "ben", "include_acknowledged": "true"}
    ).json()
    assert [(a["cleared_by_evidence"], a["cleared_reason"]) for a in listed] == [
        ("ben-12", "mastered after 13 practice opportunities")
    ]


def test_policy_with_required_kinds_and_rollup_rule(setup: Setup, database: ServiceContext) -> None:
    evidence, mastery = setup
    mastery.set_policy(
        "arith",
        MasteryPolicy(
            model="rollup:average",
            proficient_threshold=0.6,
            mastery_threshold=0.8,
            min_evidence=2,
            required_kinds=(EvidenceKind.ASSESSMENT,),
        ),
        competency_id="add",
    )
    evidence.record_many([answer(n, "add", True) for n in range(3)])
    explanation = mastery.explain("ana", "arith", "add", now=T)[0].decision.explanation
    assert (explanation.status, explanation.rule, explanation.missing.kinds) == (
        Status.INSUFFICIENT_EVIDENCE,
        "required_kinds",
        ("assessment",),
    )
    evidence.record(answer(3, "add", False, kind=EvidenceKind.ASSESSMENT))
    explanation = mastery.explain("ana", "arith", "add", now=T)[0].decision.explanation
    assert (explanation.status, explanation.estimate) == (Status.PROFICIENT, 0.75)
    assert explanation.correct_needed == 1  # (3 + 1) / 5 = 0.8


def test_retention_and_expiry_move_mastered_to_needs_review(
    setup: Setup, database: ServiceContext
) -> None:
    evidence, mastery = setup
    evidence.record_many([answer(n, "add", True) for n in range(3)])
    item = mastery.explain("ana", "arith", "add", now=T)[0]
    due = item.decision.explanation.review_due
    assert item.decision.status is Status.MASTERED and due is not None and due > T
    later = mastery.explain("ana", "arith", "add", now=due + timedelta(hours=1))[0]
    assert (later.decision.status, later.decision.explanation.rule) == (
        Status.NEEDS_REVIEW,
        "review_due",
    )
    mastery.set_policy("arith", MasteryPolicy(expires_after=timedelta(days=1), review=False))
    mastery.replay("arith")
    expired = mastery.explain("ana", "arith", "add", now=T + timedelta(days=2))[0]
    assert expired.decision.explanation.rule == "expiry"
    assert expired.decision.status is Status.NEEDS_REVIEW


def test_the_grid_shows_the_status_at_now_as_the_learners_page_does(
    setup: Setup, database: ServiceContext
) -> None:
    # the grid showed the stored status: mastered on the educator's grid while the
    # learner's own page said "needs review" once the review came due
    evidence, mastery = setup
    evidence.record_many([answer(n, "add", True) for n in range(3)])
    due = mastery.explain("ana", "arith", "add", now=T)[0].decision.explanation.review_due
    assert due is not None
    for now in (T, due + timedelta(hours=1)):
        (row,) = mastery.grid("arith", now=now)["learners"]
        page = {
            p.competency_id: p.decision.status.value
            for p in mastery.progress("ana", "arith", now=now)
        }
        order = [c["id"] for c in mastery.grid("arith", now=now)["competencies"]]
        shown = {cid: cell[0] for cid, cell in zip(order, row["cells"], strict=True) if cell}
        assert shown == {cid: page[cid] for cid in shown}, now
        # locked where the learner's page says so (a mastered one shows as mastered)
        locked = {
            p.competency_id
            for p in mastery.progress("ana", "arith", now=now)
            if not p.unlocked and p.decision.status is not Status.MASTERED
        }
        assert {order[i] for i in row["locked"]} == locked, now
    assert shown["add"] == "needs_review"
    # a review due keeps what mastery unlocked; without add, mul is locked
    ana, ben = mastery.grid("arith", ["ana", "ben"], now=now)["learners"]
    assert (ana["locked"], ben["locked"]) == ([], [order.index("mul")])
    # an educator's override still wins over time
    mastery.override(
        learner_id="ana",
        framework_id="arith",
        competency_id="add",
        status="mastered",
        reason="prior_learning",
        educator="user:ed",
    )
    (row,) = mastery.grid("arith", now=due + timedelta(hours=1))["learners"]
    assert row["cells"][order.index("add")][0] == "mastered"
    assert row["locked"] == []


def test_refit_creates_a_model_version_and_replays(setup: Setup, database: ServiceContext) -> None:
    evidence, mastery = setup
    batch = [answer(n, "add", n % 4 != 1, learner=f"l{n % 7}") for n in range(70)]
    evidence.record_many(batch)
    before = snapshot(database)
    result = mastery.refit("arith", model="bkt")
    versions = mastery.model_versions("arith")
    assert [(v["id"], v["name"], v["active"], v["n_rows"]) for v in versions] == [
        (result["model_version"], "bkt", True, 70)
    ]
    assert result["replay"].events == 70
    with database.sessions() as session:
        stored = MasteryRepository(session).load_states("arith", ["l0"])
    assert stored[("l0", "add")].model_version_id == result["model_version"]
    after = snapshot(database)
    assert before.keys() == after.keys()
    # fitted parameters, not the textbook defaults, now drive every estimate
    assert all(before[k]["estimate"] != after[k]["estimate"] for k in before)
    FrameworkService(database).save(
        Framework(id="empty", title="E", competencies=(Competency(id="x", title="X"),))
    )
    with pytest.raises(ValidationError, match="no evidence"):
        mastery.refit("empty")


def test_plan_reviews_then_next_competency_toward_the_goal(
    setup: Setup, database: ServiceContext
) -> None:

    evidence, mastery = setup
    plan = mastery.plan("ana", "arith", goals=("mul",), now=T)
    assert [(s.kind.value, s.competency_id) for s in plan.steps] == [("learn", "add")]
    evidence.record_many([answer(n, "add", True) for n in range(3)])
    plan = mastery.plan("ana", "arith", goals=("mul",), now=T)
    assert [(s.kind.value, s.competency_id, s.item_id) for s in plan.steps] == [
        ("learn", "mul", "q-mul")
    ]
    # BKT defaults: P(L) = prior 0.1 -> P(correct) = 0.1 * 0.9 + 0.9 * 0.2 = 0.27
    assert plan.steps[0].predicted_success == pytest.approx(0.27)
    later = mastery.plan("ana", "arith", goals=("mul",), now=T + timedelta(days=30))
    assert [(s.kind.value, s.competency_id) for s in later.steps] == [
        ("review", "add"),
        ("learn", "mul"),
    ]
    client = admin_client(database)
    got = client.get("/api/v1/learners/ana/plan", params={"framework_id": "arith", "goal": "mul"})
    assert got.status_code == 200 and got.json()["steps"][-1]["competency_id"] == "mul"
    bad = client.get("/api/v1/learners/ana/plan", params={"framework_id": "arith", "goal": "x"})
    assert bad.status_code == 422 and "goals" in bad.text


def test_a_live_transaction_writes_states_trail_and_alerts_together(
    setup: Setup, database: ServiceContext, sql_log: list[str]
) -> None:
    evidence, mastery = setup
    sql_log.clear()
    evidence.record_many([answer(n, "mul", n % 3 == 0) for n in range(12)])
    writes = [
        s
        for s in sql_log
        if s.lstrip().upper().startswith(("INSERT", "WITH"))
        and any(t in s for t in ("mastery_states", "mastery_events", "INTO alerts"))
    ]
    if database.engine.dialect.name == "postgresql":
        # one round trip: states, decision trail and alerts in one statement
        assert len(writes) == 1
        assert all(t in writes[0] for t in ("mastery_states", "mastery_events", "INTO alerts"))
    with database.sessions() as session:
        trail = MasteryRepository(session).trail("arith", "ana", "mul")
    assert [t.key for t in trail] == [f"ana-{n}" for n in range(12)]
    assert all(t.locked for t in trail)  # "add", its prerequisite, has no evidence
    assert all(a.estimate_after == b.estimate_before for a, b in itertools.pairwise(trail))
    kinds = sorted(a.kind for a in mastery.alerts(framework_id="arith"))
    assert "wheel_spinning" in kinds
    progress = {p.competency_id: p for p in mastery.progress("ana", "arith", now=T)}
    assert str(progress["mul"].decision.model_status) == trail[-1].status
    assert progress["mul"].decision.explanation.estimate == trail[-1].estimate_after
