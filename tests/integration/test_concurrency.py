"""Writers at the same moment, on each backend: the same evidence is stored exactly once,
and no read-modify-write loses another writer's update."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from masterypath.domain.evidence import BinaryOutcome, Evidence
from masterypath.services.context import ServiceContext
from masterypath.services.evidence import EvidenceService, RecordResult


@pytest.fixture
def store(database: ServiceContext) -> ServiceContext:
    """An empty database on each backend: SQLite has no row locks, so it needs its own
    way to keep writers from losing each other's updates, tested here the same way."""
    return database


def _at_once(
    workers: int, work: Callable[[int], object], *, timeout: float = 60
) -> list[BaseException]:
    """Run ``work(0..workers-1)`` in threads released together; the errors they raised."""
    start = threading.Barrier(workers)
    errors: list[BaseException] = []

    def run(w: int) -> None:
        start.wait()
        try:
            work(w)
        except BaseException as exc:  # pragma: no cover - reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    return errors


@pytest.mark.parametrize("batch_size", [1, 500])
def test_concurrent_writers_store_each_key_exactly_once(
    store: ServiceContext, batch_size: int
) -> None:
    batch = [
        Evidence.create(
            key=f"race:{n}",
            learner_id="l1",
            competency_ids=("add",),
            outcome=BinaryOutcome(True),
            timestamp=datetime(2026, 1, 1, tzinfo=UTC),
            sequence=n,
        )
        for n in range(batch_size)
    ]
    results: list[list[RecordResult]] = []
    # each thread gets its own connection from the pool
    errors = _at_once(2, lambda _: results.append(EvidenceService(store).record_many(batch)))
    assert errors == []
    assert EvidenceService(store).count() == batch_size
    stored_by = [sum(r.stored for r in result) for result in results]
    assert sum(stored_by) == batch_size  # every key stored by exactly one of the writers


def test_concurrent_writers_of_one_learner_lose_no_update(store: ServiceContext) -> None:
    """N writers ingest different evidence for the same learner at once; the per-learner
    lock serialises them, so the final state is what sequential ingestion of the ledger
    (a replay) gives, and every event is counted once."""
    from masterypath.domain.framework import Competency, Framework, Prerequisite
    from masterypath.services.frameworks import FrameworkService
    from masterypath.services.mastery import MasteryService
    from masterypath.store.mastery import MasteryRepository

    FrameworkService(store).save(
        Framework(
            id="race",
            title="Race",
            competencies=(
                Competency(id="add", title="Add"),
                Competency(id="mul", title="Mul", prerequisites=(Prerequisite("add"),)),
            ),
        )
    )
    writers, per_writer = 6, 8

    def writer(w: int) -> None:
        service = EvidenceService(store)
        for n in range(per_writer):
            service.record(
                Evidence.create(
                    key=f"w{w}-{n}",
                    learner_id="l1",
                    competency_ids=("add", "mul") if n % 3 == 0 else ("add",),
                    outcome=BinaryOutcome((w + n) % 4 != 0),
                    timestamp=datetime(2026, 1, 1, tzinfo=UTC),
                    sequence=n,
                )
            )

    assert _at_once(writers, writer, timeout=120) == []

    def snapshot() -> dict[tuple[str, str], dict[str, object]]:
        with store.sessions() as session:
            states = MasteryRepository(session).load_states("race", ["l1"])
        return {k: {**v.state.to_dict(), "status": str(v.status)} for k, v in states.items()}

    live = snapshot()
    assert live[("l1", "add")]["n_evidence"] == writers * per_writer
    assert live[("l1", "mul")]["n_evidence"] == writers * 3
    summary = MasteryService(store).replay("race")
    assert summary.events == writers * per_writer
    assert snapshot() == live


def test_versions_sent_at_once_are_all_kept_and_reviews_lose_no_exemplar(
    store: ServiceContext,
) -> None:
    """A learner's versions sent at the same moment each get their own number (two read
    the same last version and the unique index refused one: a 500); two educators'
    corrections of one rubric at once both become exemplars (the last write won)."""
    from masterypath.domain.scoring import SimilarityScorer
    from masterypath.services.feedback import FeedbackService
    from tests.unit.test_rubric_scoring import CIRCUITS, GOOD, WEAK

    feedback = FeedbackService(store, SimilarityScorer())
    feedback.save_rubric(CIRCUITS)
    texts = [GOOD, WEAK] * 4
    submitted: list[dict[str, object]] = []
    errors = _at_once(8, lambda w: submitted.append(feedback.submit("kim", "circuits", texts[w])))
    assert errors == []
    assert sorted(int(str(s["version"])) for s in submitted) == list(range(1, 9))
    history = feedback.history("kim", "circuits")
    assert [v["version"] for v in history["versions"]] == list(range(1, 9))
    before = len(feedback.rubric("circuits").exemplars)
    ids = [int(str(s["id"])) for s in submitted[:6]]
    errors = _at_once(6, lambda w: feedback.review(ids[w], "path", "met", by=f"user:ed{w}"))
    assert errors == []
    assert len(feedback.rubric("circuits").exemplars) == before + 6


def test_policies_set_at_once_leave_one_row_and_no_error(store: ServiceContext) -> None:
    # a delete and an insert let two writers both insert: the primary key refused one
    from masterypath.domain.framework import Competency, Framework
    from masterypath.domain.policy import MasteryPolicy
    from masterypath.services.frameworks import FrameworkService
    from masterypath.services.mastery import MasteryService

    FrameworkService(store).save(
        Framework(id="race", title="Race", competencies=(Competency(id="add", title="Add"),))
    )
    mastery = MasteryService(store)
    thresholds = [0.9 + w / 100 for w in range(6)]
    errors = _at_once(
        6,
        lambda w: mastery.set_policy(
            "race", MasteryPolicy(mastery_threshold=thresholds[w]), competency_id="add"
        ),
    )
    assert errors == []
    assert mastery.policies("race").for_competency("add").mastery_threshold in thresholds


def test_one_learners_attribute_set_at_once_leaves_one_value(store: ServiceContext) -> None:
    # both writers deleted nothing and inserted: the primary key refused one (a 500)
    from masterypath.services.audit import AuditService

    audit = AuditService(store)
    values = ["A", "B", "C", "D"]
    errors = _at_once(
        4,
        lambda w: audit.set_attributes("group", {"ana": values[w]}, consent_by={"ana": "self"}),
    )
    assert errors == []
    assert audit.groups("group") in ({"ana": v} for v in values)


def test_a_first_career_goal_chosen_twice_at_once_is_kept_once(store: ServiceContext) -> None:
    # both found no goal and inserted one: the primary key refused the second (a 500)
    from masterypath.interop.loader import load_framework_file
    from masterypath.interop.taxonomies import read_generic_csv
    from masterypath.services.careers import CareerService
    from masterypath.services.frameworks import FrameworkService

    fixtures = Path(__file__).parents[1] / "fixtures"
    FrameworkService(store).save(load_framework_file(fixtures / "careers_programme.yaml").framework)
    careers = CareerService(store)
    careers.import_taxonomy(read_generic_csv(fixtures / "careers_mini.csv", taxonomy_id="mini"))
    occupations = ["dba", "developer", "dba", "developer"]
    errors = _at_once(4, lambda w: careers.set_goal("l1", "dbcourse", "mini", occupations[w]))
    assert errors == []
    goal = careers.goal("l1", "dbcourse")
    assert goal is not None and goal["occupation_id"] in occupations
    # two educators confirming a link never suggested, at once: one link, no error
    from masterypath.domain.careers import Decision

    errors = _at_once(
        4,
        lambda w: careers.decide(
            "dbcourse", "select", "mini", "python", decision=Decision.CONFIRMED, by=f"ed{w}"
        ),
    )
    assert errors == []
    links = [r for r in careers.suggestions("dbcourse", "mini") if r["skill_id"] == "python"]
    assert [(r["competency_id"], r["decision"]) for r in links] == [("select", "confirmed")]


def test_a_learners_profile_consent_and_enrolment_written_at_once_are_kept_once(
    store: ServiceContext,
) -> None:
    # each found no row and inserted one: the primary key refused the others (500s)
    from masterypath.services.accounts import AccountService
    from masterypath.services.privacy import PrivacyService

    privacy, accounts = PrivacyService(store), AccountService(store)
    names = ["Ana", "Ann", "Anna", "Anne"]
    errors = _at_once(
        4, lambda w: privacy.create_learner(learner_id="ana", name=names[w], by="lms")
    )
    assert errors == [] and privacy.profile("ana")["name"] in names
    errors = _at_once(4, lambda w: privacy.record_consent("ana", names[w], by="lms"))
    consent = privacy.profile("ana")["guardian_consent"]
    assert errors == [] and consent is not None and consent["guardian"] in names
    accounts.create_cohort("c1", "Class", by="t")
    assert _at_once(4, lambda w: accounts.enrol("c1", "ana", by="lms")) == []
    assert accounts.cohort_members("c1") == {"ana"}


def test_one_id_created_at_once_is_stored_once_and_the_others_are_told_409(
    store: ServiceContext,
) -> None:
    # both passed the "is it free" check; the primary key refused the others' inserts, a
    # database error (a 500) where a moment later the check answers 409
    from masterypath.domain.scoring import SimilarityScorer
    from masterypath.errors import ConflictError
    from masterypath.interop.loader import load_framework_file
    from masterypath.interop.taxonomies import read_generic_csv
    from masterypath.services.careers import CareerService
    from masterypath.services.feedback import FeedbackService
    from masterypath.services.frameworks import FrameworkService
    from tests.unit.test_rubric_scoring import CIRCUITS

    fixtures = Path(__file__).parents[1] / "fixtures"
    framework = load_framework_file(fixtures / "careers_programme.yaml").framework
    taxonomy = read_generic_csv(fixtures / "careers_mini.csv", taxonomy_id="mini")
    feedback = FeedbackService(store, SimilarityScorer())
    creators: list[Callable[[int], object]] = [
        lambda _: FrameworkService(store).save(framework),
        lambda _: CareerService(store).import_taxonomy(taxonomy),
        lambda _: feedback.save_rubric(CIRCUITS),
    ]
    for create in creators:
        errors = _at_once(4, create)
        assert len(errors) == 3, errors  # one of the four created it
        assert all(isinstance(e, ConflictError) for e in errors), errors


def test_a_void_or_replay_while_the_learner_posts_loses_no_update(store: ServiceContext) -> None:
    """Voiding and a replay rebuild the learner's states while writers post for the same
    learner: the learner lock orders them, so the states end as a replay of the ledger
    (without the voided evidence) gives them."""
    from masterypath.domain.framework import Competency, Framework
    from masterypath.services.frameworks import FrameworkService
    from masterypath.services.mastery import MasteryService
    from masterypath.store.mastery import MasteryRepository

    FrameworkService(store).save(
        Framework(id="race", title="Race", competencies=(Competency(id="add", title="Add"),))
    )

    def answer(key: str, n: int, correct: bool) -> Evidence:
        return Evidence.create(
            key=key,
            learner_id="l1",
            competency_ids=("add",),
            outcome=BinaryOutcome(correct),
            timestamp=datetime(2026, 1, 1, tzinfo=UTC),
            sequence=n,
        )

    EvidenceService(store).record_many([answer(f"old-{n}", n, n % 2 == 0) for n in range(10)])
    writers, per_writer, voided = 4, 6, 5

    def work(w: int) -> None:
        service = EvidenceService(store)
        if w == writers:
            for n in range(voided):
                service.void("l1", f"old-{n}", reason="a test post", by="test")
            return
        if w == writers + 1:  # a whole replay at the same time, as an admin may start one
            MasteryService(store).replay("race")
            return
        for n in range(per_writer):
            service.record(answer(f"w{w}-{n}", 100 + n, (w + n) % 3 != 0))

    assert _at_once(writers + 2, work, timeout=120) == []

    def snapshot() -> dict[tuple[str, str], dict[str, object]]:
        with store.sessions() as session:
            states = MasteryRepository(session).load_states("race", ["l1"])
        return {k: {**v.state.to_dict(), "status": str(v.status)} for k, v in states.items()}

    live = snapshot()
    assert live[("l1", "add")]["n_evidence"] == 10 - voided + writers * per_writer
    MasteryService(store).replay("race")
    assert snapshot() == live


def test_xapi_state_writes_at_once_lose_no_merge_and_one_conditional_write_wins(
    store: ServiceContext,
) -> None:
    import json

    from masterypath.errors import PreconditionFailedError
    from masterypath.services.xapi_document_store import Conditions
    from masterypath.services.xapi_state import StateContext, XapiStateService

    states = XapiStateService(store)
    where = StateContext("kim", "https://lms.example/courses/sql-101")
    kind = "application/json"
    # the first write of a new document, four at once: one row, no error
    assert _at_once(4, lambda w: states.put(where, "s", b'{"base": 0}', kind)) == []
    # merges at once: each adds its own property, none is lost
    errors = _at_once(6, lambda w: states.post(where, "s", json.dumps({f"w{w}": w}).encode(), kind))
    assert errors == []
    merged = json.loads(states.get(where, "s").content)
    assert merged == {"base": 0, **{f"w{w}": w for w in range(6)}}
    # writers that all read the same ETag: exactly one write applies, the others are told
    read = states.get(where, "s").etag
    errors = _at_once(
        4,
        lambda w: states.put(
            where, "s", json.dumps({"winner": w}).encode(), kind, Conditions(read)
        ),
    )
    assert len(errors) == 3 and all(isinstance(e, PreconditionFailedError) for e in errors)
    assert set(json.loads(states.get(where, "s").content)) == {"winner"}


def test_activity_profile_writes_at_once_lose_no_merge_and_create_once(
    store: ServiceContext,
) -> None:
    # no learner to lock: the row lock and the insert that does nothing on a conflict
    import json

    from masterypath.errors import PreconditionFailedError
    from masterypath.services.xapi_document_store import Conditions
    from masterypath.services.xapi_profiles import XapiProfileService, activity_profile_slot

    profiles = XapiProfileService(store)
    slot = activity_profile_slot("https://lms.example/courses/sql-101", "settings")
    kind = "application/json"
    only_if_absent = Conditions(if_none_match="*")
    errors = _at_once(
        4, lambda w: profiles.put(slot, json.dumps({"by": w}).encode(), kind, only_if_absent)
    )
    assert len(errors) == 3 and all(isinstance(e, PreconditionFailedError) for e in errors)
    errors = _at_once(6, lambda w: profiles.post(slot, json.dumps({f"w{w}": w}).encode(), kind))
    assert errors == []
    merged = json.loads(profiles.get(slot).content)
    assert set(merged) == {"by", *(f"w{w}" for w in range(6))}


def test_one_piece_voided_or_restored_at_once_is_done_once_and_the_others_told(
    store: ServiceContext,
) -> None:
    from masterypath.domain.framework import Competency, Framework
    from masterypath.errors import ConflictError
    from masterypath.services.frameworks import FrameworkService

    FrameworkService(store).save(
        Framework(id="race", title="Race", competencies=(Competency(id="add", title="Add"),))
    )
    evidence = EvidenceService(store)
    evidence.record(
        Evidence.create(
            key="k",
            learner_id="l1",
            competency_ids=("add",),
            outcome=BinaryOutcome(True),
            timestamp=datetime(2026, 1, 1, tzinfo=UTC),
        )
    )
    for change in (evidence.void, evidence.restore):
        errors = _at_once(4, functools.partial(_change_by, change))
        assert len(errors) == 3, errors
        assert all(isinstance(e, ConflictError) for e in errors), errors
    assert evidence.voids("l1") == []


def _change_by(change: Callable[..., object], w: int) -> object:
    return change("l1", "k", reason="r", by=f"ed{w}")


def test_two_voiding_statements_of_one_statement_at_once_both_stand(store: ServiceContext) -> None:
    from masterypath.domain.framework import Competency, Framework, Item
    from masterypath.services.frameworks import FrameworkService
    from masterypath.services.xapi import XapiService

    FrameworkService(store).save(
        Framework(
            id="race",
            title="Race",
            competencies=(Competency(id="add", title="Add"),),
            items=(Item(id="q-add", competency_ids=("add",)),),
        )
    )
    xapi = XapiService(store)
    actor = {"account": {"homePage": "https://lms.example", "name": "l1"}}
    target = "3f2a1c00-0000-4000-8000-000000000001"
    answer = {
        "id": target,
        "actor": actor,
        "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"},
        "object": {"id": "https://lms.example/activities/q-add"},
        "result": {"success": True},
    }
    xapi.record([answer])

    def voiding(w: int) -> object:
        statement = {
            "id": f"9f2a1c00-0000-4000-8000-00000000000{w}",
            "actor": actor,
            "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
            "object": {"objectType": "StatementRef", "id": target},
        }
        return xapi.void([statement], authority=None, by=f"ed{w}")

    assert _at_once(3, voiding) == []
    assert [v.key for v in EvidenceService(store).voids("l1")] == [f"xapi:{target}"]


def test_answers_to_one_placement_at_once_are_all_kept(store: ServiceContext) -> None:
    """Two answers to one placement session at the same moment: both are kept (on SQLite
    both read the answers before either wrote, and the second write dropped the first's
    answer, in most of such races)."""
    from masterypath.services.frameworks import FrameworkService
    from masterypath.services.placement import PlacementService
    from tests.integration.test_placement import MATHS

    FrameworkService(store).save(MATHS)
    placements = PlacementService(store)
    probes = ("count", "shapes", "add")
    for learner in ("ana", "ben", "cat", "dan", "eve", "fay", "gus", "hal"):
        placement_id = int(placements.start(learner, "maths", by="user:ed", budget=7)["id"])
        answer = functools.partial(_answer_probe, placements, placement_id, probes)
        assert _at_once(3, answer) == []
        answers = placements.get(placement_id)["answers"]
        assert sorted(a["competency_id"] for a in answers) == sorted(probes)


def _answer_probe(placements: Any, placement_id: int, probes: tuple[str, ...], w: int) -> object:
    return placements.answer(placement_id, probes[w], True)


def test_on_sqlite_a_row_lock_takes_the_write_lock_and_a_plain_read_does_not(
    tmp_path: Path,
) -> None:
    import sqlite3

    from masterypath.settings import Settings
    from masterypath.store.database import upgrade
    from masterypath.store.tables import LearnerRow

    path = tmp_path / "locks.db"
    context = ServiceContext.from_settings(Settings(database_url=f"sqlite:///{path}"))
    upgrade(context.engine)
    other = sqlite3.connect(path, timeout=0, isolation_level=None)

    def other_can_write() -> bool:
        try:
            other.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            return "locked" not in str(exc)  # any other error fails the test
        other.execute("ROLLBACK")
        return True

    try:
        with context.sessions.begin() as session:
            session.add(LearnerRow(id="kim", created_at=datetime(2026, 1, 1, tzinfo=UTC)))
        with context.sessions() as session:
            assert session.get(LearnerRow, "kim") is not None
            assert other_can_write()  # reads go on beside writers
        with context.sessions.begin() as session:
            assert session.get(LearnerRow, "kim", with_for_update=True) is not None
            assert not other_can_write()  # held until this transaction ends
        assert other_can_write()
    finally:
        other.close()
        context.engine.dispose()


class _Pause:
    """Holds the thread named ``who`` right after it sends a statement that ``at`` picks
    (an ``after_cursor_execute`` listener), until :attr:`release` is set."""

    def __init__(self, who: str, at: Callable[[str], bool]) -> None:
        self.who, self.at = who, at
        self.reached, self.release = threading.Event(), threading.Event()

    def __call__(self, _conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        mine = threading.current_thread().name == self.who
        if mine and not self.reached.is_set() and self.at(sql):
            self.reached.set()
            self.release.wait(60)


def _until_a_transaction_waits_for_a_lock(context: ServiceContext) -> None:
    """Return once some transaction of this database waits for a lock (PostgreSQL)."""
    import time

    from sqlalchemy import text

    waiting = text(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE NOT l.granted AND a.datname = current_database()"
    )
    for _ in range(3000):
        with context.engine.connect() as conn:
            if conn.execute(waiting).scalar_one():
                return
        time.sleep(0.01)
    raise AssertionError("no transaction came to wait for a lock")


def _interleave(
    context: ServiceContext, pause: _Pause, first: Callable[[], object], then: Callable[[], object]
) -> list[BaseException]:
    """Run ``first`` in the thread ``pause`` holds, up to the pause, then ``then`` until it
    waits for a lock, then let both finish; their errors."""
    errors: list[BaseException] = []

    def run(work: Callable[[], object]) -> None:
        try:
            work()
        except BaseException as exc:  # pragma: no cover - reported by the caller
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(first,), name=pause.who),
        threading.Thread(target=run, args=(then,), name="then"),
    ]
    threads[0].start()
    assert pause.reached.wait(60)
    threads[1].start()
    _until_a_transaction_waits_for_a_lock(context)
    pause.release.set()
    for thread in threads:
        thread.join(60)
    return errors


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
@pytest.mark.parametrize("first", ["post", "erasure"])
def test_an_erasure_and_a_post_of_the_same_bytes_interleaved_both_succeed(
    store: ServiceContext, first: str
) -> None:
    """The two orders in which an erasure (deleting bytes no statement carries) and a post
    (linking a statement to the same bytes) can meet on PostgreSQL, forced: the post's
    link is written before the erasure looks (the erasure's delete failed on the link's
    foreign key), or the erasure has found the bytes unlinked before the post comes (the
    post saw them stored, went on, and its link failed once they were deleted). SQLite
    runs one writer at a time."""
    import hashlib

    from sqlalchemy import event, select

    from masterypath.interop.xapi_multipart import AttachmentData
    from masterypath.services.privacy import PrivacyService
    from masterypath.services.xapi import XapiService
    from masterypath.store.tables import XapiAttachmentRow, XapiStatementAttachmentRow
    from tests.integration.test_xapi_attachments import attachment, statement

    essay = b"the same essay, handed in twice"
    sha2 = hashlib.sha256(essay).hexdigest()
    bytes_ = {sha2: AttachmentData(sha2, essay, "text/plain")}
    xapi, privacy = XapiService(store), PrivacyService(store)
    xapi.record([statement(1, "gone", attachments=[attachment(essay)])], attachments=bytes_)

    def post() -> object:
        stays = statement(2, "stays", attachments=[attachment(essay)])
        return xapi.record([stays], attachments=bytes_)

    def erase() -> object:
        return privacy.erase("gone", by="dpo")

    if first == "post":  # paused with its link written
        pause = _Pause("post", lambda sql: "INTO xapi_statement_attachments" in sql)
        order = (post, erase)
    else:  # paused once it has found the bytes unlinked
        pause = _Pause("erasure", lambda sql: "FROM xapi_attachments" in sql)
        order = (erase, post)
    event.listen(store.engine, "after_cursor_execute", pause)
    try:
        assert _interleave(store, pause, *order) == []
    finally:
        event.remove(store.engine, "after_cursor_execute", pause)
    with store.sessions() as session:
        links = session.execute(select(XapiStatementAttachmentRow.statement_id)).scalars()
        assert list(links) == [statement(2)["id"]]
        assert session.scalars(select(XapiAttachmentRow.content)).all() == [essay]
