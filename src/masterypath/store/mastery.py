"""Repository of the mastery projection: states, the decision trail, policies, model
versions, overrides and alerts. Never commits; the service owns the transaction."""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Text,
    cast,
    delete,
    func,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.orm import Session

from masterypath.domain.alerts import AUDIT_KINDS, AlertClearing, AlertDraft
from masterypath.domain.overrides import Override, OverrideReason
from masterypath.domain.policy import MasteryPolicy, PolicyBook, Status
from masterypath.domain.progress import CompetencyState, state_from_dict
from masterypath.store.bulk import SMALL_BATCH, execute_arrays, insert_many, postgresql_arrays
from masterypath.store.conditions import dialect_insert, is_postgresql, one_of
from masterypath.store.json_text import from_json_text, to_json_text
from masterypath.store.tables import (
    AlertRow,
    CompetencyRow,
    EvidenceCompetencyRow,
    EvidenceRow,
    EvidenceVoidRow,
    FrameworkRow,
    LearnerRow,
    MasteryEventRow,
    MasteryStateRow,
    ModelVersionRow,
    OverrideRow,
    PolicyRow,
)

CHUNK = 500
"""Ids per ``IN (...)`` list (SQLite's bound-parameter limit is far above, but plans stay small)."""


@dataclass(frozen=True, slots=True)
class LedgerEvent:
    """One ledger row as the pipeline reads it."""

    evidence_id: int
    key: str
    learner_id: str
    competency_ids: tuple[str, ...]
    score: float
    kind: str
    timestamp: datetime
    item_id: str | None


class ParsedStates:
    """The states most recently written or parsed, by their stored JSON text: reading a
    state back (its own next evidence, or as a prerequisite of another competency's)
    costs a dictionary lookup instead of parsing JSON and five timestamps, a tenth of a
    worker's CPU under batched ingestion. States are immutable, so sharing them is safe;
    the text is the key, so a state changed by anyone else is simply not found. Thread
    safe; bounded (least recently used out).

    >>> cache = ParsedStates(size=1)
    >>> cache.put('{"a": 1}', "A"); cache.get('{"a": 1}')
    'A'
    >>> cache.put('{"b": 2}', "B"); cache.get('{"a": 1}') is None  # pushed out
    True
    """

    def __init__(self, *, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, raw: str) -> Any:
        with self._lock:
            found = self._items.get(raw)
            if found is not None:
                self._items.move_to_end(raw)
            return found

    def put(self, raw: str, state: Any) -> None:
        with self._lock:
            self._items[raw] = state
            self._items.move_to_end(raw)
            if len(self._items) > self.size:
                self._items.popitem(last=False)


PARSED_STATES = ParsedStates(size=10_000)
"""This process's cache of parsed states (about 30 MB when full, measured)."""


def parse_state(raw: str) -> CompetencyState:
    """A stored state's JSON text as a state (from :data:`PARSED_STATES` when seen)."""
    state: CompetencyState | None = PARSED_STATES.get(raw)
    if state is None:
        state = state_from_dict(from_json_text(raw))
        PARSED_STATES.put(raw, state)
    return state


class StoredState:
    """A stored state with its status and model version. A state read from the database
    is parsed on first use: a batch loads every state of its learners, and uses a few."""

    __slots__ = ("_raw", "_state", "model_version_id", "status")

    def __init__(
        self,
        state: CompetencyState | None,
        status: Status,
        model_version_id: int | None,
        *,
        raw: str | None = None,
    ) -> None:
        if state is None and raw is None:
            raise ValueError("StoredState needs a state or its stored JSON")
        self._state = state
        self._raw = raw
        self.status = status
        self.model_version_id = model_version_id

    @property
    def state(self) -> CompetencyState:
        if self._state is None:
            assert self._raw is not None
            self._state = parse_state(self._raw)
        return self._state

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StoredState):
            return NotImplemented
        return (self.state, self.status, self.model_version_id) == (
            other.state,
            other.status,
            other.model_version_id,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"StoredState({self.state!r}, {self.status!r}, {self.model_version_id!r})"


@dataclass(frozen=True)
class FrameworkHead:
    """What projecting evidence needs to know of a framework before its states: which
    version of it is stored, its active model versions, its policies, and whether any
    override is active (if none, there is nothing to load)."""

    framework_id: str
    stamp: datetime
    """When it was (last) imported: the key its cached copy is kept under."""
    model_ids: dict[str, int]
    policies: PolicyBook
    has_overrides: bool


def _policy_book(rows: Iterable[tuple[str, dict[str, Any]]]) -> PolicyBook:
    by_id = {cid: MasteryPolicy.from_dict(p) for cid, p in rows}
    default = by_id.pop("", None) or MasteryPolicy()
    return PolicyBook(default, by_id)


@dataclass(frozen=True)
class TrailEntry:
    evidence_id: int
    key: str
    timestamp: datetime
    score: float
    correct: bool | None
    """The answer's correctness for binary evidence; None for scores and rubric levels."""
    kind: str
    item_id: str | None
    estimate_before: float | None
    estimate_after: float | None
    status: str
    locked: bool
    item_title: str = ""
    """The item's title in the framework (empty: no item, or an item without one)."""


@dataclass(frozen=True)
class AlertRecord:
    id: int
    learner_id: str
    framework_id: str
    competency_id: str
    kind: str
    evidence_key: str
    message: str
    suggested_action: str
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    cleared_at: datetime | None = None
    """When later evidence (``cleared_by_evidence``) took the reason away."""
    cleared_by_evidence: str | None = None
    cleared_reason: str | None = None


_STATE_COLUMNS = (
    MasteryStateRow.learner_id,
    MasteryStateRow.competency_id,
    cast(MasteryStateRow.state, Text),  # as text, parsed when used
    MasteryStateRow.status,
    MasteryStateRow.model_version_id,
)
STATUSES = {str(s): s for s in Status}
"""A stored status text as its :class:`Status` (faster than calling the enum)."""
GRID_STATE_FIELDS = ("last_evidence_at", "mastered_at", "review_due", "kinds")
"""What the cohort grid reads of a stored state (besides its columns): what its status at
another time depends on."""


def _add_states(out: dict[tuple[str, str], StoredState], rows: Iterable[Any]) -> None:
    for learner_id, competency_id, state, status, version in rows:
        out[(learner_id, competency_id)] = StoredState(None, STATUSES[status], version, raw=state)


def chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    """``values`` in parts of at most ``CHUNK``, each small enough for one ``IN (...)``."""
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


class MasteryRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._postgresql = is_postgresql(session)

    def _parts(self, ids: Sequence[str]) -> list[Sequence[str]]:
        """``ids`` in one piece for an array parameter (PostgreSQL), else in ``IN``-list
        chunks."""
        return [ids] if self._postgresql else list(chunks(ids))

    def _one_of(self, column: Any, ids: Sequence[str]) -> Any:
        return one_of(column, ids, postgresql=self._postgresql)

    # -- learners --------------------------------------------------------------------------
    def lock_learners(self, learner_ids: Iterable[str], *, now: datetime) -> None:
        """Create missing learner rows and lock them (``FOR UPDATE`` on PostgreSQL; SQLite
        serialises writers anyway) in sorted order, so writers never deadlock."""
        ids = sorted(set(learner_ids))
        if self._postgresql:
            # arrays keep the SQL text the same whatever the batch size, so the driver
            # converts and prepares it once (a list of placeholders is new text each time)
            # one statement inserts the new learners and locks the others (an update that
            # changes no value still locks its row, as FOR UPDATE does), in sorted order;
            # it waits for a writer inserting the same learner, then locks that row too
            execute_arrays(
                self.session,
                "INSERT INTO learners (id, created_at) "
                "SELECT unnest(%b::text[]), %b::timestamptz "
                "ON CONFLICT (id) DO UPDATE SET created_at = learners.created_at",
                [ids, now],
            )
            return
        for part in chunks(ids):
            self.session.execute(
                dialect_insert(self.session)(LearnerRow)
                .values([{"id": i, "created_at": now} for i in part])
                .on_conflict_do_nothing()
            )
            self.session.execute(
                select(LearnerRow.id).where(LearnerRow.id.in_(part)).order_by(LearnerRow.id)
            ).all()

    # -- routing ---------------------------------------------------------------------------
    def frameworks_of(self, competency_ids: Iterable[str]) -> dict[str, list[str]]:
        """``{competency id: [framework ids that define it]}``."""
        out: dict[str, list[str]] = {}
        ids = sorted(set(competency_ids))
        for part in self._parts(ids):
            rows = self.session.execute(
                select(CompetencyRow.id, CompetencyRow.framework_id).where(
                    self._one_of(CompetencyRow.id, part)
                )
            )
            for cid, fid in rows:
                out.setdefault(cid, []).append(fid)
        return out

    def heads_of(self, competency_ids: Iterable[str]) -> list[FrameworkHead]:
        """The :class:`FrameworkHead` of every framework that defines one of
        ``competency_ids``, by framework id; one round trip on PostgreSQL (it is read by
        every transaction that records evidence)."""
        ids = sorted(set(competency_ids))
        if not ids:
            return []
        if not self._postgresql:
            routes = self.frameworks_of(ids)
            return [
                FrameworkHead(
                    fid,
                    stamp,
                    self.active_model_ids(fid),
                    self.policies(fid),
                    self.session.scalar(
                        select(OverrideRow.id)
                        .where(OverrideRow.framework_id == fid, OverrideRow.lifted_at.is_(None))
                        .limit(1)
                    )
                    is not None,
                )
                for fid in sorted({f for fids in routes.values() for f in fids})
                if (stamp := self.framework_stamp(fid)) is not None
            ]
        # a function, so that PostgreSQL plans the query once per connection (migration
        # 0008 says why)
        rows = execute_arrays(
            self.session,
            "SELECT framework_id, stamp, models, policies, overridden "
            "FROM masterypath_framework_heads(%b::text[])",
            [ids],
        )
        return [
            FrameworkHead(
                fid,
                stamp,
                {str(name): int(version) for name, version in from_json_text(models or "[]")},
                _policy_book(from_json_text(policies or "[]")),
                bool(overridden),
            )
            for fid, stamp, models, policies, overridden in rows
        ]

    def framework_stamp(self, framework_id: str) -> datetime | None:
        """When the framework was (last) imported: a cache key that changes on re-import."""
        return self.session.scalar(
            select(FrameworkRow.imported_at).where(FrameworkRow.id == framework_id)
        )

    # -- states ----------------------------------------------------------------------------
    def load_states(
        self, framework_id: str, learner_ids: Iterable[str]
    ) -> dict[tuple[str, str], StoredState]:
        """Every stored state of ``learner_ids`` in the framework."""
        query = select(*_STATE_COLUMNS).where(MasteryStateRow.framework_id == framework_id)
        out: dict[tuple[str, str], StoredState] = {}
        for part in self._parts(sorted(set(learner_ids))):
            # plain rows: ORM objects cost more than the query
            _add_states(
                out,
                self.session.execute(query.where(self._one_of(MasteryStateRow.learner_id, part))),
            )
        return out

    def load_states_of(
        self, framework_id: str, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], StoredState]:
        """The stored states of these (learner, competency) ``keys`` in the framework (a
        batch of evidence reads a few of each learner's states, not all of them)."""
        wanted = sorted(set(keys))
        out: dict[tuple[str, str], StoredState] = {}
        if not wanted:
            return out
        if self._postgresql:
            # one primary-key lookup per key, O(keys) whatever the table's size, in a
            # function planned once per connection (migration 0008)
            rows = execute_arrays(
                self.session,
                "SELECT learner_id, competency_id, state, status, model_version_id "
                "FROM masterypath_states_of(%b::text[], %b::text[], %b::text)",
                [*(list(c) for c in zip(*wanted, strict=True)), framework_id],
            )
            _add_states(out, rows)
            return out
        query = select(*_STATE_COLUMNS).where(MasteryStateRow.framework_id == framework_id)
        pair = tuple_(MasteryStateRow.learner_id, MasteryStateRow.competency_id)
        for part in chunks(wanted):
            _add_states(out, self.session.execute(query.where(pair.in_(part))))
        return out

    def grid_rows(
        self, framework_id: str, learner_ids: Iterable[str] | None, *, with_model_state: bool
    ) -> list[tuple[Any, ...]]:
        """(learner, competency, status, estimate, n_evidence, fields[, model_state]) of
        every stored state of the framework (of ``learner_ids`` only, when given), as plain
        rows. ``fields`` is a JSON array (text) of the state's :data:`GRID_STATE_FIELDS`,
        picked by the database in one pass over the state (parsing every state whole in
        Python took most of the grid's time); ``model_state`` is JSON text."""
        state = MasteryStateRow.state
        if self._postgresql:
            fields = func.json_build_array(*(state[name] for name in GRID_STATE_FIELDS))
        else:  # SQLite: one json_extract with several paths parses the text once
            fields = func.json_extract(state, *(f"$.{name}" for name in GRID_STATE_FIELDS))
        columns: list[Any] = [
            MasteryStateRow.learner_id,
            MasteryStateRow.competency_id,
            MasteryStateRow.status,
            MasteryStateRow.estimate,
            MasteryStateRow.n_evidence,
            cast(fields, Text),
        ]
        if with_model_state:
            columns.append(state["model_state"].as_string())
        query = select(*columns).where(MasteryStateRow.framework_id == framework_id)
        if learner_ids is None:
            return [tuple(r) for r in self.session.execute(query)]
        out: list[tuple[Any, ...]] = []
        for part in chunks(sorted(set(learner_ids))):
            out += [
                tuple(r)
                for r in self.session.execute(query.where(MasteryStateRow.learner_id.in_(part)))
            ]
        return out

    def write_projection(
        self,
        framework_id: str,
        states: Sequence[StoredState],
        events: Sequence[tuple[Any, ...]],
        alerts: Sequence[AlertDraft],
        *,
        now: datetime,
        bulk: bool,
    ) -> None:
        """One transaction's projection: ``states`` (as :meth:`replace_states` writes them),
        the decision trail ``events`` (:meth:`add_events`) and ``alerts``
        (:meth:`add_alerts`). On PostgreSQL the few rows of a live transaction go in one
        statement: one round trip instead of three."""
        few = max(len(events), len(alerts)) <= SMALL_BATCH
        if bulk or not self._postgresql or not states or not few:
            self.replace_states(framework_id, states, now=now, bulk=bulk)
            self.add_events(events)
            self.add_alerts(framework_id, alerts, now=now)
            return
        columns = _state_columns(states, _state_rows(framework_id, states, now))
        for names, rows in (
            (_EVENTS_WRITTEN, events),
            (_ALERTS_WRITTEN, _alert_rows(framework_id, alerts, now)),
        ):
            columns += [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in names]
        execute_arrays(self.session, _projection_sql(), columns)

    def replace_states(
        self, framework_id: str, states: Sequence[StoredState], *, now: datetime, bulk: bool
    ) -> None:
        """Write ``states``; rows of the same keys are replaced unless ``bulk`` (a replay
        that has just cleared the projection: plain inserts)."""
        names = _STATES_WRITTEN
        rows = _state_rows(framework_id, states, now)
        if not bulk and self._postgresql and rows:
            # one upsert of one array per column: the same SQL text for any number of rows
            execute_arrays(self.session, _STATES_UPSERT, _state_columns(states, rows))
            return
        if not bulk:
            pairs = [(s.state.learner_id, s.state.competency_id) for s in states]
            for part in chunks(pairs):
                self.session.execute(
                    delete(MasteryStateRow)
                    .where(
                        MasteryStateRow.framework_id == framework_id,
                        tuple_(MasteryStateRow.learner_id, MasteryStateRow.competency_id).in_(part),
                    )
                    .execution_options(synchronize_session=False)
                )
        insert_many(
            self.session,
            "mastery_states",
            names,
            rows,
            json_columns=("state",),
            time_columns=("updated_at",),
        )

    def set_status(
        self, framework_id: str, learner_id: str, competency_id: str, status: Status
    ) -> None:
        self.session.execute(
            update(MasteryStateRow)
            .where(
                MasteryStateRow.framework_id == framework_id,
                MasteryStateRow.learner_id == learner_id,
                MasteryStateRow.competency_id == competency_id,
            )
            .values(status=str(status))
        )

    def clear_projection(self, framework_id: str, *, learner_id: str | None = None) -> None:
        """Delete the framework's states and decision trail (one learner's, if given)."""
        for table in (MasteryStateRow, MasteryEventRow):
            stmt = delete(table).where(table.framework_id == framework_id)
            if learner_id is not None:
                stmt = stmt.where(table.learner_id == learner_id)
            self.session.execute(stmt)

    def add_events(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Rows of (evidence_id, framework_id, competency_id, learner_id, estimate_before,
        estimate_after, status, locked)."""
        insert_many(self.session, "mastery_events", _EVENTS_WRITTEN, rows)

    def status_counts(self, framework_id: str) -> dict[str, int]:
        rows = self.session.execute(
            select(MasteryStateRow.status, func.count())
            .where(MasteryStateRow.framework_id == framework_id)
            .group_by(MasteryStateRow.status)
        )
        return {s: int(n) for s, n in rows}

    def trail(self, framework_id: str, learner_id: str, competency_id: str) -> list[TrailEntry]:
        rows = self.session.execute(
            select(
                EvidenceRow.id.label("evidence_id"),
                EvidenceRow.key,
                EvidenceRow.timestamp,
                EvidenceRow.score,
                EvidenceRow.correct,
                EvidenceRow.kind,
                EvidenceRow.item_id,
                MasteryEventRow.estimate_before,
                MasteryEventRow.estimate_after,
                MasteryEventRow.status,
                MasteryEventRow.locked,
            )
            .join(MasteryEventRow, MasteryEventRow.evidence_id == EvidenceRow.id)
            .where(
                MasteryEventRow.framework_id == framework_id,
                MasteryEventRow.learner_id == learner_id,
                MasteryEventRow.competency_id == competency_id,
            )
            .order_by(EvidenceRow.id)
        )
        return [TrailEntry(**r._mapping) for r in rows]

    def recent_items(self, learner_id: str, *, limit: int) -> list[str]:
        """The items of the learner's latest evidence, newest first, without repeats."""
        rows = self.session.scalars(
            select(EvidenceRow.item_id)
            .where(EvidenceRow.learner_id == learner_id, EvidenceRow.item_id.is_not(None))
            .order_by(EvidenceRow.id.desc())
            .limit(limit * 4)
        )
        return list(dict.fromkeys(r for r in rows if r is not None))[:limit]

    # -- ledger ----------------------------------------------------------------------------
    def learners_with_evidence(self, competency_ids: Sequence[str]) -> list[str]:
        """The learners who have evidence about any of ``competency_ids``, sorted."""
        return list(
            self.session.scalars(
                select(EvidenceRow.learner_id)
                .join(EvidenceCompetencyRow, EvidenceCompetencyRow.evidence_id == EvidenceRow.id)
                .where(EvidenceCompetencyRow.competency_id.in_(list(competency_ids)))
                .distinct()
                .order_by(EvidenceRow.learner_id)
            )
        )

    def ledger_events(
        self, competency_ids: Sequence[str], *, learner_id: str | None = None
    ) -> Iterator[LedgerEvent]:
        """Every ledger row about any of ``competency_ids`` (of one learner, if given) that
        is not voided, by learner then arrival (the order the live pipeline processed them
        in), with those of its competencies that are among ``competency_ids``."""
        voided = select(EvidenceVoidRow.evidence_id).where(
            EvidenceVoidRow.evidence_id == EvidenceRow.id
        )
        stmt = (
            select(
                EvidenceRow.id,
                EvidenceRow.key,
                EvidenceRow.learner_id,
                EvidenceCompetencyRow.competency_id,
                EvidenceRow.score,
                EvidenceRow.kind,
                EvidenceRow.timestamp,
                EvidenceRow.item_id,
            )
            .join(EvidenceCompetencyRow, EvidenceCompetencyRow.evidence_id == EvidenceRow.id)
            .where(EvidenceCompetencyRow.competency_id.in_(list(competency_ids)), ~voided.exists())
            .order_by(EvidenceRow.learner_id, EvidenceRow.id, EvidenceCompetencyRow.position)
        )
        if learner_id is not None:
            stmt = stmt.where(EvidenceRow.learner_id == learner_id)
        if self.session.get_bind().dialect.name == "postgresql":
            # a server-side cursor otherwise gets a fast-start plan (nested loops over the
            # learner index) that takes minutes on a full log; we read every row anyway
            self.session.execute(text("SET LOCAL cursor_tuple_fraction = 1.0"))
        result = self.session.execute(stmt.execution_options(yield_per=20_000))
        current: list[Any] | None = None
        comps: list[str] = []
        for eid, key, learner, cid, score, kind, ts, item in result:
            if current is not None and current[0] == eid:
                comps.append(cid)
                continue
            if current is not None:
                yield LedgerEvent(current[0], current[1], current[2], tuple(comps), *current[3:])
            current, comps = [eid, key, learner, score, kind, ts, item], [cid]
        if current is not None:
            yield LedgerEvent(current[0], current[1], current[2], tuple(comps), *current[3:])

    # -- policies and model versions -------------------------------------------------------
    def policies(self, framework_id: str) -> PolicyBook:
        return _policy_book(
            self.session.execute(
                select(PolicyRow.competency_id, PolicyRow.policy).where(
                    PolicyRow.framework_id == framework_id
                )
            ).all()
        )

    def set_policy(
        self, framework_id: str, competency_id: str, policy: MasteryPolicy, *, now: datetime
    ) -> None:
        # one upsert: a delete and an insert let two writers at once both insert (a 500)
        upsert = dialect_insert(self.session)(PolicyRow).values(
            framework_id=framework_id,
            competency_id=competency_id,
            policy=policy.to_dict(),
            updated_at=now,
        )
        self.session.execute(
            upsert.on_conflict_do_update(
                index_elements=[PolicyRow.framework_id, PolicyRow.competency_id],
                set_={"policy": upsert.excluded.policy, "updated_at": upsert.excluded.updated_at},
            )
        )

    def active_model_ids(self, framework_id: str) -> dict[str, int]:
        """The newest active model version of each model name, in one query (it is read
        for every transaction that projects evidence)."""
        rows = self.session.execute(
            select(ModelVersionRow.name, func.max(ModelVersionRow.id))
            .where(ModelVersionRow.framework_id == framework_id, ModelVersionRow.active.is_(True))
            .group_by(ModelVersionRow.name)
        )
        return {str(name): int(version) for name, version in rows}

    def model_payload(self, version_id: int) -> dict[str, Any]:
        return dict(
            self.session.scalar(
                select(ModelVersionRow.payload).where(ModelVersionRow.id == version_id)
            )
            or {}
        )

    def add_model_version(
        self, framework_id: str, name: str, payload: dict[str, Any], *, n_rows: int, now: datetime
    ) -> int:
        self.session.execute(
            update(ModelVersionRow)
            .where(ModelVersionRow.framework_id == framework_id, ModelVersionRow.name == name)
            .values(active=False)
        )
        row = ModelVersionRow(
            framework_id=framework_id,
            name=name,
            payload=payload,
            n_rows=n_rows,
            created_at=now,
            active=True,
        )
        self.session.add(row)
        self.session.flush()
        return int(row.id)

    def model_versions(self, framework_id: str) -> list[dict[str, Any]]:
        rows = self.session.execute(
            select(
                ModelVersionRow.id,
                ModelVersionRow.name,
                ModelVersionRow.n_rows,
                ModelVersionRow.created_at,
                ModelVersionRow.active,
            )
            .where(ModelVersionRow.framework_id == framework_id)
            .order_by(ModelVersionRow.id)
        )
        return [
            {"id": i, "name": n, "n_rows": r, "created_at": c.isoformat(), "active": a}
            for i, n, r, c, a in rows
        ]

    # -- overrides -------------------------------------------------------------------------
    def active_overrides(
        self, framework_id: str, learner_ids: Iterable[str] | None = None
    ) -> dict[tuple[str, str], Override]:
        stmt = select(OverrideRow).where(
            OverrideRow.framework_id == framework_id, OverrideRow.lifted_at.is_(None)
        )
        out = {}
        ids = None if learner_ids is None else sorted(set(learner_ids))
        groups: list[Sequence[str] | None] = [None] if ids is None else [*self._parts(ids)]
        for part in groups:
            s = stmt if part is None else stmt.where(self._one_of(OverrideRow.learner_id, part))
            for r in self.session.scalars(s):
                out[(r.learner_id, r.competency_id)] = _to_override(r)
        return out

    def add_override(self, override: Override) -> int:
        row = OverrideRow(
            learner_id=override.learner_id,
            framework_id=override.framework_id,
            competency_id=override.competency_id,
            status=str(override.status),
            reason=str(override.reason),
            note=override.note,
            educator=override.educator,
            created_at=override.created_at,
            model_status=str(override.model_status),
            model_estimate=override.model_estimate,
            lift_note="",
        )
        self.session.add(row)
        self.session.flush()
        return int(row.id)

    def get_override(self, override_id: int) -> Override | None:
        row = self.session.get(OverrideRow, override_id)
        return None if row is None else _to_override(row)

    def lift_override(self, override_id: int, *, by: str, note: str, now: datetime) -> None:
        self.session.execute(
            update(OverrideRow)
            .where(OverrideRow.id == override_id)
            .values(lifted_at=now, lifted_by=by, lift_note=note)
        )

    def overrides(
        self, *, framework_id: str | None = None, learner_id: str | None = None
    ) -> list[Override]:
        stmt = select(OverrideRow).order_by(OverrideRow.id)
        if framework_id is not None:
            stmt = stmt.where(OverrideRow.framework_id == framework_id)
        if learner_id is not None:
            stmt = stmt.where(OverrideRow.learner_id == learner_id)
        return [_to_override(r) for r in self.session.scalars(stmt)]

    # -- alerts ----------------------------------------------------------------------------
    def add_alerts(self, framework_id: str, drafts: Sequence[AlertDraft], *, now: datetime) -> None:
        """Store each alert once: a replay raising the same alert again is a no-op."""
        insert_many(
            self.session,
            "alerts",
            _ALERTS_WRITTEN,
            _alert_rows(framework_id, drafts, now),
            time_columns=("created_at",),
            skip_conflicts=True,
        )

    def alerts(
        self,
        *,
        framework_id: str | None = None,
        learner_id: str | None = None,
        kind: str | None = None,
        include_acknowledged: bool = False,
        limit: int = 1000,
        alert_id: int | None = None,
        learner_ids: Collection[str] | None = None,
    ) -> list[AlertRecord]:
        stmt = select(AlertRow).order_by(AlertRow.id)
        if alert_id is not None:
            stmt = stmt.where(AlertRow.id == alert_id)
        if learner_ids is not None:
            stmt = stmt.where(AlertRow.learner_id.in_(sorted(learner_ids)))
        if framework_id is not None:
            stmt = stmt.where(AlertRow.framework_id == framework_id)
        if learner_id is not None:
            stmt = stmt.where(AlertRow.learner_id == learner_id)
        if kind is not None:
            stmt = stmt.where(AlertRow.kind == kind)
        if not include_acknowledged:  # the open ones: neither acknowledged nor cleared
            stmt = stmt.where(AlertRow.acknowledged_at.is_(None), AlertRow.cleared_at.is_(None))
        return [
            AlertRecord(
                r.id,
                r.learner_id,
                r.framework_id,
                r.competency_id,
                r.kind,
                r.evidence_key,
                r.message,
                r.suggested_action,
                r.created_at,
                r.acknowledged_at,
                r.acknowledged_by,
                r.cleared_at,
                r.cleared_by_evidence,
                r.cleared_reason,
            )
            for r in self.session.scalars(stmt.limit(limit))
        ]

    def clear_alerts(
        self, framework_id: str, clearings: Sequence[tuple[AlertClearing, int]]
    ) -> None:
        """Close the open alerts each clearing took the reason of: those of its learner,
        competency and kind raised by evidence that came before it (``int``: the clearing
        evidence's id), in order."""
        for clearing, evidence_id in clearings:
            earlier = (
                select(EvidenceRow.id)
                .where(EvidenceRow.key == AlertRow.evidence_key, EvidenceRow.id < evidence_id)
                .exists()
            )
            self.session.execute(
                update(AlertRow)
                .where(
                    AlertRow.framework_id == framework_id,
                    AlertRow.learner_id == clearing.learner_id,
                    AlertRow.competency_id == clearing.competency_id,
                    AlertRow.kind == clearing.kind.value,
                    AlertRow.acknowledged_at.is_(None),
                    AlertRow.cleared_at.is_(None),
                    earlier,
                )
                .values(
                    cleared_at=clearing.at,
                    cleared_by_evidence=clearing.evidence_key,
                    cleared_reason=clearing.reason,
                )
                .execution_options(synchronize_session=False)
            )

    def open_audit_alerts(self, framework_id: str, attribute: str) -> list[AlertRow]:
        """The framework's open alerts raised by audits by ``attribute`` (their message
        begins with its name)."""
        rows = self.session.scalars(
            select(AlertRow).where(
                AlertRow.framework_id == framework_id,
                AlertRow.kind.in_([k.value for k in AUDIT_KINDS]),
                AlertRow.acknowledged_at.is_(None),
                AlertRow.cleared_at.is_(None),
            )
        )
        return [r for r in rows if r.message.startswith(f"{attribute}: ")]

    def clear_alert(self, alert_id: int, *, at: datetime, by: str, reason: str) -> None:
        """Close an alert whose reason ``by`` (an audit run) took away."""
        self.session.execute(
            update(AlertRow)
            .where(AlertRow.id == alert_id)
            .values(cleared_at=at, cleared_by_evidence=by, cleared_reason=reason)
        )

    def reopen_cleared_alerts(self, framework_id: str, *, learner_id: str | None = None) -> None:
        """Undo every clearing of the framework's learner alerts (one learner's, if given),
        for a replay to clear them again from the ledger as it is now (an audit's alerts
        are the audits' to clear)."""
        stmt = update(AlertRow).where(
            AlertRow.framework_id == framework_id,
            AlertRow.cleared_at.is_not(None),
            AlertRow.kind.not_in([k.value for k in AUDIT_KINDS]),
        )
        if learner_id is not None:
            stmt = stmt.where(AlertRow.learner_id == learner_id)
        self.session.execute(
            stmt.values(
                cleared_at=None, cleared_by_evidence=None, cleared_reason=None
            ).execution_options(synchronize_session=False)
        )

    def acknowledge_alert(self, alert_id: int, *, by: str, now: datetime) -> bool:
        result = self.session.execute(
            update(AlertRow)
            .where(AlertRow.id == alert_id)
            .values(acknowledged_at=now, acknowledged_by=by)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def _to_override(r: OverrideRow) -> Override:
    return Override(
        id=r.id,
        learner_id=r.learner_id,
        framework_id=r.framework_id,
        competency_id=r.competency_id,
        status=Status(r.status),
        reason=OverrideReason(r.reason),
        note=r.note,
        educator=r.educator,
        created_at=r.created_at,
        model_status=Status(r.model_status),
        model_estimate=r.model_estimate,
        lifted_at=r.lifted_at,
        lifted_by=r.lifted_by,
        lift_note=r.lift_note,
    )


_STATES_WRITTEN = (
    "learner_id",
    "framework_id",
    "competency_id",
    "model_version_id",
    "estimate",
    "status",
    "n_evidence",
    "state",
    "updated_at",
)
_EVENTS_WRITTEN = (
    "evidence_id",
    "framework_id",
    "competency_id",
    "learner_id",
    "estimate_before",
    "estimate_after",
    "status",
    "locked",
)
_ALERTS_WRITTEN = (
    "learner_id",
    "framework_id",
    "competency_id",
    "kind",
    "evidence_key",
    "message",
    "suggested_action",
    "created_at",
)
_STATES_UPSERT = (
    f"INSERT INTO mastery_states ({', '.join(_STATES_WRITTEN)}) SELECT * FROM unnest("
    "%b::text[], %b::text[], %b::text[], %b::integer[], %b::float8[], %b::text[], "
    "%b::integer[], %b::text[]::json[], %b::timestamptz[]) "
    "ON CONFLICT (learner_id, framework_id, competency_id) DO UPDATE SET "
    + ", ".join(f"{n} = EXCLUDED.{n}" for n in _STATES_WRITTEN[3:])
)


@functools.cache
def _projection_sql() -> str:
    """States, decision trail and alerts in one statement (data-modifying CTEs all run)."""
    events = postgresql_arrays("mastery_events", _EVENTS_WRITTEN, ())
    alerts = postgresql_arrays("alerts", _ALERTS_WRITTEN, ())
    return (
        f"WITH states AS ({_STATES_UPSERT}), "
        f"events AS (INSERT INTO mastery_events ({', '.join(_EVENTS_WRITTEN)}) "
        f"SELECT * FROM unnest({events})) "
        f"INSERT INTO alerts ({', '.join(_ALERTS_WRITTEN)}) SELECT * FROM unnest({alerts}) "
        "ON CONFLICT DO NOTHING"
    )


def _state_rows(
    framework_id: str, states: Sequence[StoredState], now: datetime
) -> list[tuple[Any, ...]]:
    return [
        (
            s.state.learner_id,
            framework_id,
            s.state.competency_id,
            s.model_version_id,
            s.state.estimate,
            str(s.status),
            s.state.n_evidence,
            s.state,  # written as its to_dict() by to_json_text, without building it
            now,
        )
        for s in states
    ]


def _state_columns(
    states: Sequence[StoredState], rows: Sequence[tuple[Any, ...]]
) -> list[list[Any]]:
    """Rows of :func:`_state_rows` as one list per column, the states as JSON text (each
    put in :data:`PARSED_STATES`: the next evidence reads it back)."""
    columns = [list(c) for c in zip(*rows, strict=True)]
    columns[7] = [to_json_text(state) for state in columns[7]]
    for stored, raw in zip(states, columns[7], strict=True):
        PARSED_STATES.put(raw, stored.state)
    return columns


def _alert_rows(
    framework_id: str, drafts: Sequence[AlertDraft], now: datetime
) -> list[tuple[Any, ...]]:
    return [
        (
            d.learner_id,
            framework_id,
            d.competency_id,
            str(d.kind),
            d.evidence_key,
            d.message,
            d.suggested_action,
            now,
        )
        for d in drafts
    ]
