"""Evidence use cases: record one or many (idempotent), import a log in bulk, read."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from masterypath.domain.evidence import Evidence
from masterypath.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    Problem,
    ValidationError,
)
from masterypath.interop.evidence_log import LogReadResult
from masterypath.services.context import ServiceContext
from masterypath.services.mastery import MasteryService, ledger_events
from masterypath.services.privacy import PrivacyService
from masterypath.store.mastery import MasteryRepository
from masterypath.store.people import PeopleRepository
from masterypath.store.repositories import CHUNK, EvidenceRepository, evidence_columns
from masterypath.store.tables import (
    CompetencyRow,
    EvidenceCompetencyRow,
    EvidenceRow,
    EvidenceVoidRow,
    XapiStatementRow,
)

Progress = Callable[[int], None]
"""Called with the number of rows just written."""


@dataclass(frozen=True)
class RecordResult:
    key: str
    stored: bool
    """False when the same evidence (same key, same content) was stored before."""
    locked: tuple[str, ...] = ()
    """Competencies whose prerequisites were not met when it arrived (still recorded)."""


def _json_ready(result: VoidResult | RestoreResult) -> dict[str, Any]:
    """A result's fields as JSON values (times in ISO 8601, tuples as lists)."""
    out: dict[str, Any] = {}
    for name, value in vars(result).items():
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = list(value)
        out[name] = value
    return out


@dataclass(frozen=True)
class VoidResult:
    """Evidence voided: which, whose, when, by whom, why, and the frameworks whose states
    were rebuilt without it (empty when read back later)."""

    key: str
    learner_id: str
    voided_at: datetime
    voided_by: str
    reason: str
    rebuilt: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return _json_ready(self)


@dataclass(frozen=True)
class RestoreResult:
    """A void undone: which evidence, whose, when, by whom, why, and the frameworks whose
    states were rebuilt with it."""

    key: str
    learner_id: str
    restored_at: datetime
    restored_by: str
    reason: str
    rebuilt: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return _json_ready(self)


@dataclass
class ImportCounts:
    """What an import did with each input row."""

    rows: int
    stored: int = 0
    duplicate: int = 0
    rejected: int = 0
    merged: int = 0
    problems: list[Problem] = field(default_factory=list)


class EvidenceService:
    def __init__(self, context: ServiceContext) -> None:
        self.context = context

    def record(self, evidence: Evidence) -> RecordResult:
        """Append one piece of evidence; a re-post of the same key and content is a no-op,
        the same key with other content is a :class:`ConflictError`."""
        return self.record_many([evidence])[0]

    def record_many(
        self, batch: Sequence[Evidence], *, also: Callable[[Session], None] | None = None
    ) -> list[RecordResult]:
        """Append a batch in one transaction: all stored, or (on a conflict) none.
        ``also`` runs inside the same transaction (e.g. to store the xAPI statements)."""
        keys = [e.key for e in batch]
        if len(set(keys)) != len(keys):
            seen: set[str] = set()
            dup = next(k for k in keys if k in seen or seen.add(k))  # type: ignore[func-returns-value]
            raise ConflictError("key", dup, "appears twice in one batch")
        now = self.context.clock()
        columns = evidence_columns(batch, recorded_at=now)
        competencies = {e.key: e.competency_ids for e in batch}
        with self.context.sessions.begin() as session:
            PrivacyService(self.context).check_consent(columns["learner_id"], session)
            MasteryRepository(session).lock_learners(columns["learner_id"], now=now)
            repo = EvidenceRepository(session)
            inserted = repo.append(columns, competencies, batch_id=str(uuid.uuid4()))
            existing = repo.content_hashes(k for k in keys if k not in inserted)
            for key, digest in zip(keys, columns["content_hash"], strict=True):
                if key not in inserted and existing.get(key) != digest:
                    raise ConflictError(
                        "key",
                        key,
                        "already stored with different content; evidence is "
                        "immutable, post a new key to correct it",
                    )
            locked = MasteryService(self.context).project(
                session, ledger_events(columns, inserted, competencies)
            )
            if also is not None:
                also(session)
        return [RecordResult(k, k in inserted, tuple(locked.get(k, ()))) for k in keys]

    def import_log(
        self, log: LogReadResult, *, skip_bad_rows: bool = False, progress: Progress | None = None
    ) -> ImportCounts:
        """Store a validated log in one transaction (bulk inserts, not row-by-row ORM).

        Keys already stored with the same content count as duplicates; with other
        content they are conflicts, which reject the whole import unless
        ``skip_bad_rows`` (then each is reported)."""
        counts = ImportCounts(
            rows=log.total_rows,
            rejected=len(log.rejected),
            merged=log.merged_rows,
            problems=list(log.rejected),
        )
        frame = log.rows
        now = self.context.clock()
        columns = _columns(frame, recorded_at=now)
        keys: list[str] = columns["key"]
        competencies = dict(
            zip(keys, (s.split("\x1e") for s in frame["skill"].tolist()), strict=True)
        )
        step = CHUNK * 5
        with self.context.sessions.begin() as session:
            PrivacyService(self.context).check_consent(columns["learner_id"], session)
            MasteryRepository(session).lock_learners(columns["learner_id"], now=now)
            repo = EvidenceRepository(session)
            inserted: dict[str, int] = {}
            batch_id = str(uuid.uuid4())
            for start in range(0, len(keys), step):
                chunk = {name: values[start : start + step] for name, values in columns.items()}
                inserted.update(repo.append(chunk, competencies, batch_id=batch_id))
                if progress is not None:
                    progress(len(chunk["key"]))
            leftover = {
                k: (n, h)
                for n, (k, h) in enumerate(zip(keys, columns["content_hash"], strict=True))
                if k not in inserted
            }
            stored_hashes = repo.content_hashes(leftover)
            lines = frame["line"].tolist()
            conflicts = [
                Problem(f"line {lines[n]}", "key", f"{key!r} already stored with different content")
                for key, (n, digest) in leftover.items()
                if stored_hashes.get(key) != digest
            ]
            if conflicts and not skip_bad_rows:
                raise InvalidInputError(str(frame["source"].iloc[0]), conflicts)
            MasteryService(self.context).project(
                session, ledger_events(columns, inserted, competencies)
            )
        counts.stored = len(inserted)
        counts.duplicate = len(leftover) - len(conflicts)
        counts.rejected += len(conflicts)
        counts.problems += conflicts
        return counts

    def void(self, learner_id: str, key: str, *, reason: str, by: str) -> VoidResult:
        """Void a piece of the learner's evidence recorded in error: the ledger keeps it,
        a void record says who, when and why, and the learner's states in every framework
        it is about are rebuilt without it, all in one transaction (audited).
        :class:`NotFoundError` when the learner has no evidence with ``key``;
        :class:`ConflictError` when it is voided already."""
        if not reason.strip():
            raise ValidationError("reason", "must not be empty: say why the evidence is voided")
        with self.context.sessions.begin() as session:
            return self.void_in(session, learner_id, key, reason=reason, by=by)

    def void_in(
        self, session: Session, learner_id: str, key: str, *, reason: str, by: str
    ) -> VoidResult:
        """:meth:`void` inside the caller's transaction (an xAPI voiding statement's)."""
        now = self.context.clock()
        # the learner's lock first, as a live write takes it: two voids of one piece sent
        # at once are then one void and one 409 (both found no void and inserted one)
        MasteryRepository(session).lock_learners([learner_id], now=now)
        row = session.scalar(
            select(EvidenceRow).where(EvidenceRow.key == key, EvidenceRow.learner_id == learner_id)
        )
        if row is None:
            raise NotFoundError("evidence", key)
        if session.get(EvidenceVoidRow, row.id) is not None:
            raise ConflictError("key", key, "is voided already")
        session.add(
            EvidenceVoidRow(
                evidence_id=row.id,
                evidence_key=key,
                learner_id=learner_id,
                voided_at=now,
                voided_by=by,
                reason=reason,
            )
        )
        session.flush()
        frameworks = self._rebuild_around(session, row.id, learner_id)
        PeopleRepository(session).audit(
            at=now, actor=by, action="void_evidence", target=learner_id, key=key, reason=reason
        )
        return VoidResult(key, learner_id, now, by, reason, frameworks)

    def restore(self, learner_id: str, key: str, *, reason: str, by: str) -> RestoreResult:
        """Undo a void made in error: the evidence counts again, and the learner's states
        in every framework it is about are rebuilt with it, in one transaction. The void's
        who, when and why stay in the audit log beside the restoration's.
        :class:`NotFoundError` when the learner has no evidence with ``key``;
        :class:`ConflictError` when it is not voided, or an xAPI voiding statement voided
        it (xAPI voiding cannot be undone: the statement stays voided)."""
        if not reason.strip():
            raise ValidationError("reason", "must not be empty: say why the void was wrong")
        now = self.context.clock()
        with self.context.sessions.begin() as session:
            MasteryRepository(session).lock_learners([learner_id], now=now)  # as void_in
            row = session.scalar(
                select(EvidenceRow).where(
                    EvidenceRow.key == key, EvidenceRow.learner_id == learner_id
                )
            )
            if row is None:
                raise NotFoundError("evidence", key)
            void = session.get(EvidenceVoidRow, row.id)
            if void is None:
                raise ConflictError("key", key, "is not voided")
            statement = key.removeprefix("xapi:") if key.startswith("xapi:") else None
            voiding = None
            if statement is not None:
                voiding = session.scalar(
                    select(XapiStatementRow.id).where(XapiStatementRow.voids == statement)
                )
            if voiding is not None:
                raise ConflictError(
                    "key",
                    key,
                    f"xAPI statement {voiding} voided it, and xAPI voiding cannot be undone; "
                    "send the statement again under a new id",
                )
            session.delete(void)
            session.flush()
            frameworks = self._rebuild_around(session, row.id, learner_id)
            PeopleRepository(session).audit(
                at=now,
                actor=by,
                action="restore_evidence",
                target=learner_id,
                key=key,
                reason=reason,
            )
            return RestoreResult(key, learner_id, now, by, reason, frameworks)

    def _rebuild_around(
        self, session: Session, evidence_id: int, learner_id: str
    ) -> tuple[str, ...]:
        """Rebuild the learner's states in every framework the evidence is about; those
        frameworks."""
        competencies = select(EvidenceCompetencyRow.competency_id).where(
            EvidenceCompetencyRow.evidence_id == evidence_id
        )
        frameworks = sorted(
            session.scalars(
                select(CompetencyRow.framework_id)
                .where(CompetencyRow.id.in_(competencies))
                .distinct()
            ).all()
        )
        mastery = MasteryService(self.context)
        for framework_id in frameworks:
            mastery.rebuild(session, framework_id, learner_id=learner_id)
        return tuple(frameworks)

    def voids(self, learner_id: str) -> list[VoidResult]:
        """The learner's voided evidence, oldest void first."""
        with self.context.sessions() as session:
            rows = session.scalars(
                select(EvidenceVoidRow)
                .where(EvidenceVoidRow.learner_id == learner_id)
                .order_by(EvidenceVoidRow.voided_at, EvidenceVoidRow.evidence_id)
            ).all()
            return [
                VoidResult(r.evidence_key, r.learner_id, r.voided_at, r.voided_by, r.reason, ())
                for r in rows
            ]

    def voided_keys(self, keys: Sequence[str]) -> set[str]:
        """Which of ``keys`` are voided."""
        if not keys:
            return set()
        with self.context.sessions() as session:
            return set(
                session.scalars(
                    select(EvidenceVoidRow.evidence_key).where(
                        EvidenceVoidRow.evidence_key.in_(list(keys))
                    )
                )
            )

    def find(
        self,
        *,
        learner_id: str | None = None,
        competency_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
        newest_first: bool = False,
    ) -> list[Evidence]:
        with self.context.sessions() as session:
            return EvidenceRepository(session).find(
                learner_id=learner_id,
                competency_id=competency_id,
                limit=limit,
                offset=offset,
                newest_first=newest_first,
            )

    def count(self, *, learner_id: str | None = None) -> int:
        with self.context.sessions() as session:
            return EvidenceRepository(session).count(learner_id=learner_id)


def _columns(frame: pd.DataFrame, *, recorded_at: Any) -> dict[str, list[Any]]:
    """Ledger columns from a validated log frame (column-wise, no per-row objects)."""
    is_binary = frame["outcome"].str.startswith("b").tolist()
    outcomes = frame["outcome"].tolist()
    times = {t: datetime.fromisoformat(t) for t in frame["timestamp"].unique().tolist()}
    n = len(frame)
    return {
        "key": frame["key"].tolist(),
        "content_hash": frame["content_hash"].tolist(),
        "learner_id": frame["learner_id"].tolist(),
        "item_id": (frame["item_id"].tolist() if frame["item_id"].notna().any() else [None] * n),
        "outcome_type": ["binary" if b else "score" for b in is_binary],
        "correct": [o == "b1" if b else None for o, b in zip(outcomes, is_binary, strict=True)],
        "score": frame["score"].astype(float).tolist(),
        "rubric_levels": [None] * n,
        "timestamp": [times[t] for t in frame["timestamp"].tolist()],
        "sequence": frame["sequence"].astype(int).tolist(),
        "kind": frame["kind"].tolist(),
        "source": frame["source"].tolist(),
        "asserted_by": frame["asserted_by"].tolist(),
        "recorded_at": [recorded_at] * n,
    }
