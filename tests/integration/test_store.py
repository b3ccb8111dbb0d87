"""Storage and services, run on SQLite and on PostgreSQL (see the ``database`` fixture)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert

from masterypath.domain.access import Principal, Role
from masterypath.domain.evidence import (
    BinaryOutcome,
    Evidence,
    EvidenceKind,
    RubricLevel,
    RubricOutcome,
    ScoreOutcome,
)
from masterypath.domain.framework import (
    Competency,
    Framework,
    Item,
    Prerequisite,
    UnlockStatus,
)
from masterypath.errors import ConflictError, InvalidInputError, NotFoundError, ValidationError
from masterypath.interop.evidence_log import ColumnMapping, read_evidence_log
from masterypath.services.accounts import AccountService
from masterypath.services.context import ServiceContext
from masterypath.services.evidence import EvidenceService
from masterypath.services.frameworks import FrameworkService
from masterypath.services.mastery import MasteryService
from masterypath.store.bulk import execute_arrays, kept_cursor
from masterypath.store.database import alembic_config, upgrade
from masterypath.store.mastery import MasteryRepository
from masterypath.store.tables import Base, CohortRow

T = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
FRAMEWORK = Framework(
    id="arith",
    title="Arithmetic",
    description="Whole-number arithmetic",
    competencies=(
        Competency(id="arith", title="Arithmetic"),
        Competency(id="add", title="Addition", parent_id="arith", code="A.1"),
        Competency(
            id="mul",
            title="Multiplication",
            parent_id="arith",
            prerequisites=(Prerequisite("add"),),
        ),
        Competency(
            id="div",
            title="Division",
            parent_id="arith",
            prerequisites=(Prerequisite("mul"), Prerequisite("add", UnlockStatus.PROFICIENT)),
        ),
    ),
    items=(Item(id="q1", competency_ids=("add", "mul"), title="3 x (2 + 1)", difficulty=0.3),),
)

FIXTURES = Path(__file__).parents[1] / "fixtures"


def ev(n: int, **changes: object) -> Evidence:
    fields: dict[str, object] = dict(
        key=f"k{n}",
        learner_id="l1",
        competency_ids=("add",),
        outcome=BinaryOutcome(n % 2 == 0),
        timestamp=T + timedelta(minutes=n),
        sequence=n,
    )
    fields.update(changes)
    return Evidence.create(**fields)  # type: ignore[arg-type]


ADMIN = Principal(subject="user:admin", role=Role.ADMIN)


def test_migrations_match_the_models(database: ServiceContext) -> None:
    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_the_functions_of_migration_0008_go_down_and_up_and_are_planned_once(
    database: ServiceContext,
) -> None:
    FrameworkService(database).save(FRAMEWORK)
    EvidenceService(database).record(ev(1))
    postgresql = database.engine.dialect.name == "postgresql"
    settings = (
        "SELECT proname, proconfig FROM pg_proc WHERE proname IN "
        "('masterypath_framework_heads', 'masterypath_states_of') ORDER BY proname"
    )

    def reads() -> tuple[list[tuple[str, bool]], list[tuple[str, str]]]:
        with database.sessions() as session:
            repo = MasteryRepository(session)
            heads = [(h.framework_id, h.has_overrides) for h in repo.heads_of(["add", "nope"])]
            states = repo.load_states_of("arith", [("l1", "add"), ("l1", "sub"), ("l2", "add")])
            return heads, sorted(states)

    before = reads()
    assert before == ([("arith", False)], [("l1", "add")])
    command.downgrade(alembic_config(database.engine), "0007")
    if postgresql:
        with database.engine.connect() as conn:
            assert conn.exec_driver_sql(settings).all() == []
    upgrade(database.engine)
    if postgresql:
        with database.engine.connect() as conn:
            # planned once per connection: PostgreSQL would otherwise plan them on every run
            generic = ["plan_cache_mode=force_generic_plan"]
            assert conn.exec_driver_sql(settings).all() == [
                ("masterypath_framework_heads", generic),
                ("masterypath_states_of", generic),
            ]
    assert reads() == before


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_a_nul_or_a_huge_number_that_reaches_postgresql_is_a_validation_error(
    database: ServiceContext,
) -> None:
    # the API refuses NUL at its edge (rubrics and frameworks in the domain too); a text
    # that still reaches PostgreSQL, which refuses NUL, is named, not a database error
    accounts = AccountService(database)
    with pytest.raises(ValidationError, match="contains a NUL character") as err:
        accounts.create_cohort("c1", "Class\x00 one", by="t")
    assert err.value.field == "title"
    assert accounts.cohorts(ADMIN) == []  # nothing stored
    accounts.create_cohort("c1", "Class one", by="t")  # the connection is still good
    assert [c["title"] for c in accounts.cohorts(ADMIN)] == ["Class one"]
    # likewise a number beyond INTEGER (`masterypath ack-alert 99999999999`, a traceback)
    with pytest.raises(ValidationError, match="out of range: at most 2147483647") as err:
        MasteryService(database).acknowledge_alert(99_999_999_999, by="t")
    assert err.value.field == "id"
    # and a text beyond its column's length in a bulk (Core) insert, which no session
    # check sees: named by its parameter
    long_id = insert(CohortRow).values(id="c" * 1001, title="t", created_at=datetime.now(UTC))
    with (
        pytest.raises(ValidationError, match="too long: at most 1000 characters") as err,
        database.sessions.begin() as session,
    ):
        session.execute(long_id)
    assert err.value.field == "id"


def test_a_text_longer_than_its_column_is_refused_on_both_stores(
    database: ServiceContext,
) -> None:
    # SQLite stored a 1,001-character cohort id or username whole and PostgreSQL refused
    # it with a database error (a traceback from `masterypath cohorts create`)
    accounts = AccountService(database)
    with pytest.raises(ValidationError) as err:
        accounts.create_cohort("c" * 1001, "Long", by="t")
    assert (err.value.location, err.value.field) == ("cohorts", "id")
    assert err.value.reason == "too long: at most 1000 characters, got 1001"
    with pytest.raises(ValidationError, match="cohorts: id: too long"):
        accounts.create_cohort("c" * 1001, "Long", by="t", learners=["ana"])
    with pytest.raises(ValidationError, match="users: username: too long: at most 200"):
        accounts.create_user("u" * 201, "long-password", Role.EDUCATOR)
    assert accounts.cohorts(ADMIN) == [] and accounts.users() == []
    accounts.create_cohort("c" * 1000, "Longest", by="t")  # at the limit: stored
    assert [c["id"] for c in accounts.cohorts(ADMIN)] == ["c" * 1000]


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_the_functions_answer_as_the_statements_they_replaced(database: ServiceContext) -> None:
    # bench/planned_once.py times the statements of before migration 0008 against its
    # functions (which are PostgreSQL's): both must give the same rows
    from bench.planned_once import HEADS_FUNCTION, HEADS_INLINE, STATES_FUNCTION, STATES_INLINE

    FrameworkService(database).save(FRAMEWORK)
    EvidenceService(database).record_many(
        [ev(n, learner_id=f"l{n % 3}", competency_ids=("add", "mul")) for n in range(9)]
    )
    pairs = [("l0", "add"), ("l1", "mul"), ("l2", "add"), ("l9", "add"), ("l0", "sub")]
    learners, competencies = [p[0] for p in pairs], [p[1] for p in pairs]
    with database.sessions() as session:
        heads = [
            execute_arrays(session, sql, [["add", "nope"]])
            for sql in (HEADS_INLINE, HEADS_FUNCTION)
        ]
        states = [
            sorted(execute_arrays(session, sql, [learners, competencies, framework]))
            for sql, framework in ((STATES_INLINE, ["arith"]), (STATES_FUNCTION, "arith"))
        ]
    assert heads[0] == heads[1] and len(heads[0]) == 1 and heads[0][0][0] == "arith"
    assert states[0] == states[1]
    assert [(r[0], r[1]) for r in states[0]] == [("l0", "add"), ("l1", "mul"), ("l2", "add")]


def test_framework_round_trip(database: ServiceContext) -> None:
    service = FrameworkService(database)
    saved = service.save(FRAMEWORK)
    assert (saved.competencies, saved.prerequisites, saved.items) == (4, 3, 1)
    assert service.get("arith") == FRAMEWORK
    [summary] = service.summaries()
    assert (summary.id, summary.competencies, summary.prerequisites) == ("arith", 4, 3)
    assert summary.imported_at == database.clock()


def test_framework_id_clash_needs_replace(database: ServiceContext) -> None:
    service = FrameworkService(database)
    service.save(FRAMEWORK)
    smaller = Framework(id="arith", title="Smaller", competencies=(Competency("add", "Add"),))
    with pytest.raises(ConflictError, match="already exists; pass --replace"):
        service.save(smaller)
    assert service.get("arith") == FRAMEWORK  # untouched
    assert service.save(smaller, replace=True).replaced
    assert service.get("arith") == smaller
    with pytest.raises(NotFoundError, match="framework 'nope' not found"):
        service.get("nope")


def test_posting_the_same_evidence_twice_stores_it_once(database: ServiceContext) -> None:
    service = EvidenceService(database)
    first = service.record(ev(1))
    again = service.record(ev(1))
    assert (first.stored, again.stored) == (True, False)
    assert service.count() == 1
    unkeyed = Evidence.create(
        learner_id="l2", competency_ids=("mul",), outcome=ScoreOutcome(0.5), timestamp=T
    )
    assert service.record(unkeyed).stored and not service.record(unkeyed).stored
    assert service.count() == 2


def test_same_key_other_content_is_a_conflict_and_the_batch_stores_nothing(
    database: ServiceContext,
) -> None:
    service = EvidenceService(database)
    service.record(ev(1))
    with pytest.raises(ConflictError, match="'k1': already stored with different content"):
        service.record_many([ev(2), ev(1, outcome=BinaryOutcome(True))])
    assert service.count() == 1
    assert [e.key for e in service.find()] == ["k1"]


def test_evidence_reads_back_exactly(database: ServiceContext) -> None:
    service = EvidenceService(database)
    rubric = ev(
        3,
        outcome=RubricOutcome((RubricLevel("thesis", "proficient", 3, 4),)),
        kind=EvidenceKind.PERFORMANCE,
        asserted_by="teacher-7",
        item_id="essay-1",
        competency_ids=("mul", "add"),
        timestamp=datetime(2026, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=2))),
    )
    batch = [ev(1), ev(2, outcome=ScoreOutcome(0.25), source="lms"), rubric]
    service.record_many(batch)
    stored = {e.key: e for e in service.find(learner_id="l1")}
    for original in batch:
        got = stored[original.key]
        assert got.timestamp == original.timestamp  # same instant, read back in UTC
        assert got.to_dict() | {"timestamp": None} == original.to_dict() | {"timestamp": None}
    assert [e.key for e in service.find(competency_id="mul")] == ["k3"]
    assert service.find(learner_id="nobody") == []


def test_log_import_counts_stored_duplicate_and_conflict(database: ServiceContext) -> None:
    service = EvidenceService(database)
    mapping = ColumnMapping.parse("user=u,skill=s,correct=c,order=o")
    text = "u,s,c,o\nl1,add,1,1\nl1,mul,1,1\nl1,add,0,2\nl2,add,1,1\n"
    log = read_evidence_log(text, mapping, source="log", imported_at=T)
    counts = service.import_log(log)
    assert (counts.rows, counts.stored, counts.duplicate, counts.rejected, counts.merged) == (
        4,
        3,
        0,
        0,
        1,
    )
    assert service.find(learner_id="l1")[0].competency_ids == ("add", "mul")
    counts = service.import_log(log)
    assert (counts.stored, counts.duplicate) == (0, 3)
    changed = read_evidence_log(
        text.replace("l1,add,0,2", "l1,add,1,2"), mapping, source="log", imported_at=T
    )
    with pytest.raises(InvalidInputError, match="line 4: key: 'log:l1:2' already stored"):
        service.import_log(changed)
    counts = service.import_log(changed, skip_bad_rows=True)
    assert (counts.stored, counts.duplicate, counts.rejected) == (0, 2, 1)
    assert service.count() == 3


def test_a_rejected_file_stores_nothing(database: ServiceContext) -> None:
    service = EvidenceService(database)
    mapping = ColumnMapping.parse("user=u,skill=s,correct=c,order=o")
    with pytest.raises(InvalidInputError, match="line 3: c: must be 0 or 1"):
        read_evidence_log("u,s,c,o\nl1,add,1,1\nl1,add,2,2\n", mapping, source="x", imported_at=T)
    assert service.count() == 0


def test_a_batch_whose_optional_columns_are_all_empty_reads_back(database: ServiceContext) -> None:
    # on PostgreSQL small batches go in as one array per column: an all-NULL column must
    # still be typed (item, sequence, source, asserted_by and rubric levels are all None)
    service = EvidenceService(database)
    FrameworkService(database).save(FRAMEWORK)
    batch = [ev(n, sequence=None) for n in range(1, 4)]
    assert [r.stored for r in service.record_many(batch)] == [True, True, True]
    stored = {e.key: e for e in service.find(learner_id="l1")}
    assert {k: e.to_dict() for k, e in stored.items()} == {e.key: e.to_dict() for e in batch}


def test_later_batches_replace_a_learners_state_row(database: ServiceContext) -> None:
    from sqlalchemy import func, select

    from masterypath.store.tables import MasteryStateRow

    FrameworkService(database).save(FRAMEWORK)
    service = EvidenceService(database)
    service.record_many([ev(1), ev(2)])
    service.record_many([ev(3), ev(4, competency_ids=("add", "mul"))])
    with database.sessions() as session:
        rows = session.execute(
            select(MasteryStateRow.competency_id, MasteryStateRow.n_evidence)
        ).all()
        assert sorted(rows) == [("add", 4), ("mul", 1)]
        assert session.scalar(select(func.count()).select_from(MasteryStateRow)) == 2


def test_active_model_ids_are_the_newest_active_version_of_each_name(
    database: ServiceContext,
) -> None:
    from masterypath.store.mastery import MasteryRepository

    FrameworkService(database).save(FRAMEWORK)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with database.sessions.begin() as session:
        repo = MasteryRepository(session)
        assert repo.active_model_ids(FRAMEWORK.id) == {}
        repo.add_model_version(FRAMEWORK.id, "bkt", {"v": 1}, n_rows=1, now=now)
        newest_bkt = repo.add_model_version(FRAMEWORK.id, "bkt", {"v": 2}, n_rows=1, now=now)
        logistic = repo.add_model_version(FRAMEWORK.id, "logistic", {"v": 1}, n_rows=1, now=now)
    with database.sessions() as session:
        found = MasteryRepository(session).active_model_ids(FRAMEWORK.id)
        assert found == {"bkt": newest_bkt, "logistic": logistic}
        assert MasteryRepository(session).active_model_ids("other") == {}


def test_a_connection_keeps_one_cursor_per_statement_and_runs_it_again_correctly(
    postgres_context: ServiceContext,
) -> None:
    sql = "SELECT x, y FROM unnest(%b::text[], %b::int[]) AS t(x, y) ORDER BY y"
    with postgres_context.sessions() as session:
        dbapi = session.connection().connection.dbapi_connection
        runs: list[tuple[list[str | None], list[int]]] = [
            (["a", "b"], [2, 1]),
            ([None, "c"], [5, 4]),
            ([], []),  # an empty array (no element to pick a dumper by)
            (["d"], [7]),
        ]
        for x, y in runs:
            text = "".join(list(sql))  # equal text, another string object each time
            got = execute_arrays(session, text, [x, y])
            assert got == sorted(zip(x, y, strict=True), key=lambda r: r[1])
        first, query = kept_cursor(dbapi, "".join(list(sql)))
        assert query is kept_cursor(dbapi, sql)[1]  # one query object: psycopg keeps dumpers
        assert kept_cursor(dbapi, sql)[0] is first
        others = [kept_cursor(dbapi, f"SELECT {n}")[0] for n in range(70)]
        assert first.closed and others[0].closed  # at most 64 kept: the old ones closed
        assert not others[-1].closed
        assert kept_cursor(dbapi, sql)[0] is not first  # a closed one is replaced
        assert execute_arrays(session, sql, [["z"], [1]]) == [("z", 1)]
