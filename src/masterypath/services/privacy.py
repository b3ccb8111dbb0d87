"""Student-data protection: personal data apart from the pseudonymous id, the guardian
consent gate for learners under 13, export of everything stored about a learner, erasure
with a tombstone, and the access log."""

from __future__ import annotations

import base64
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session

from masterypath.errors import ConsentRequiredError, NotFoundError, ValidationError
from masterypath.interop.xapi_pseudonyms import authority_of, statement_digest, without_learner
from masterypath.services.context import ServiceContext
from masterypath.store.mastery import MasteryRepository
from masterypath.store.people import PeopleRepository
from masterypath.store.tables import (
    AccessLogRow,
    AlertRow,
    BadgeRow,
    Base,
    CareerGoalRow,
    CohortMemberRow,
    EmbedTokenRow,
    EvidenceCompetencyRow,
    EvidenceRow,
    EvidenceVoidRow,
    GroupAttributeRow,
    GuardianConsentRow,
    GuardianshipRow,
    LearnerProfileRow,
    LearnerRow,
    LtiAccountRow,
    LtiGradeLinkRow,
    MasteryEventRow,
    MasteryStateRow,
    OverrideRow,
    PlacementRow,
    ReviewRow,
    SubmissionRow,
    TokenRow,
    UserRow,
    XapiAgentProfileRow,
    XapiAttachmentRow,
    XapiStatementAgentRow,
    XapiStatementAttachmentRow,
    XapiStatementRow,
    XapiStateRow,
)

LEARNER_TABLES: tuple[tuple[str, type[Base]], ...] = (
    ("profile", LearnerProfileRow),
    ("guardian_consent", GuardianConsentRow),
    ("guardians", GuardianshipRow),
    ("cohorts", CohortMemberRow),
    ("evidence_voids", EvidenceVoidRow),
    ("evidence", EvidenceRow),
    ("xapi_statement_agents", XapiStatementAgentRow),
    ("xapi_statements", XapiStatementRow),
    ("xapi_states", XapiStateRow),
    ("xapi_agent_profiles", XapiAgentProfileRow),
    ("mastery_states", MasteryStateRow),
    ("mastery_events", MasteryEventRow),
    ("overrides", OverrideRow),
    ("alerts", AlertRow),
    ("group_attributes", GroupAttributeRow),
    ("career_goals", CareerGoalRow),
    ("reviews", ReviewRow),
    ("submissions", SubmissionRow),
    ("placements", PlacementRow),
    ("embed_tokens", EmbedTokenRow),
    ("badges", BadgeRow),
    ("access_log", AccessLogRow),
    ("lti_grade_links", LtiGradeLinkRow),
)
"""Every table that holds rows about one learner (by its ``learner_id`` column)."""


MAX_RETENTION_DAYS = 36_500
"""The longest retention period :meth:`PrivacyService.inactive` takes (100 years)."""


@dataclass(frozen=True)
class InactiveLearner:
    """A learner with nothing recorded since ``last_activity`` (UTC)."""

    learner_id: str
    last_activity: datetime

    def to_dict(self) -> dict[str, str]:
        """>>> from datetime import UTC
        >>> InactiveLearner("kim", datetime(2024, 6, 30, tzinfo=UTC)).to_dict()
        {'learner_id': 'kim', 'last_activity': '2024-06-30T00:00:00+00:00'}
        """
        return {"learner_id": self.learner_id, "last_activity": self.last_activity.isoformat()}


def _learner_column(table: type[Base]) -> Any:
    return table.__table__.c.learner_id


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value


def _row_dict(row: Base) -> dict[str, Any]:
    return {c.key: _plain(getattr(row, c.key)) for c in row.__table__.columns}


class PrivacyService:
    def __init__(
        self, context: ServiceContext, *, access_log_window: timedelta = timedelta(0)
    ) -> None:
        self.context = context
        self.repeated_reads = RepeatedReads(access_log_window)

    def create_learner(
        self,
        *,
        learner_id: str | None = None,
        name: str = "",
        email: str = "",
        birth_date: date | None = None,
        by: str,
    ) -> str:
        """Store a learner's personal data under a pseudonymous id (generated if not given)."""
        learner_id = learner_id or "l-" + uuid.uuid4().hex[:16]
        now = self.context.clock()
        if birth_date is not None and birth_date > now.date():
            raise ValidationError("birth_date", "is in the future")
        with self.context.sessions.begin() as session:
            # serialised per learner: two first writes at once would both insert
            MasteryRepository(session).lock_learners([learner_id], now=now)
            row = session.get(LearnerProfileRow, learner_id)
            if row is None:
                session.add(
                    LearnerProfileRow(
                        learner_id=learner_id,
                        name=name,
                        email=email,
                        birth_date=birth_date,
                        created_at=now,
                    )
                )
            else:
                row.name, row.email, row.birth_date = name, email, birth_date
            PeopleRepository(session).audit(
                at=now, actor=by, action="write_profile", target=learner_id
            )
        return learner_id

    def profile(self, learner_id: str) -> dict[str, Any]:
        with self.context.sessions() as session:
            row = session.get(LearnerProfileRow, learner_id)
            if row is None:
                raise NotFoundError("learner", learner_id)
            consent = session.get(GuardianConsentRow, learner_id)
            return {
                **_row_dict(row),
                "guardian_consent": None if consent is None else _row_dict(consent),
                "under_13": self._under_13(row.birth_date),
            }

    def _under_13(self, birth_date: date | None) -> bool | None:
        if birth_date is None:
            return None
        today = self.context.clock().date()
        age = (
            today.year
            - birth_date.year
            - ((today.month, today.day) < (birth_date.month, birth_date.day))
        )
        return age < 13

    def record_consent(self, learner_id: str, guardian: str, *, by: str) -> None:
        if not guardian.strip():
            raise ValidationError("guardian", "name the guardian who consented")
        now = self.context.clock()
        with self.context.sessions.begin() as session:
            # the profile locked: two consents at once would both insert
            if session.get(LearnerProfileRow, learner_id, with_for_update=True) is None:
                raise NotFoundError("learner", learner_id)
            row = session.get(GuardianConsentRow, learner_id)
            if row is None:
                session.add(
                    GuardianConsentRow(
                        learner_id=learner_id, guardian=guardian, recorded_by=by, recorded_at=now
                    )
                )
            else:
                row.guardian, row.recorded_by, row.recorded_at = guardian, by, now
            PeopleRepository(session).audit(
                at=now, actor=by, action="guardian_consent", target=learner_id
            )

    def withdraw_consent(self, learner_id: str, *, by: str) -> None:
        now = self.context.clock()
        with self.context.sessions.begin() as session:
            row = session.get(GuardianConsentRow, learner_id)
            if row is None:
                raise NotFoundError("guardian consent", learner_id)
            session.delete(row)
            PeopleRepository(session).audit(
                at=now, actor=by, action="withdraw_consent", target=learner_id
            )

    def log_access(self, actor: str, action: str, what: str, *learner_ids: str) -> None:
        """One access-log row per learner read (one transaction), but for a read repeated
        within the access-log window (:class:`RepeatedReads`), by this server process or
        another (the log says when the window began)."""
        now = self.context.clock()
        due = self.repeated_reads.due(actor, action, what, learner_ids, now)
        if not due:
            return
        window = self.repeated_reads.window
        with self.context.sessions.begin() as session:
            repo = PeopleRepository(session)
            elsewhere = {}
            if window > timedelta(0):
                found = repo.last_reads(
                    actor=actor, action=action, what=what, learner_ids=due, after=now - window
                )
                elsewhere = {k: t for k, t in found.items() if t <= now}
            for learner_id in due:
                if learner_id not in elsewhere:
                    repo.log_access(
                        at=now, actor=actor, action=action, what=what, learner_id=learner_id
                    )
        for learner_id, at in elsewhere.items():
            self.repeated_reads.logged(actor, action, what, [learner_id], at)
        fresh = [learner_id for learner_id in due if learner_id not in elsewhere]
        self.repeated_reads.logged(actor, action, what, fresh, now)

    def access_log(
        self, learner_id: str, *, limit: int = 1000, offset: int = 0
    ) -> list[dict[str, Any]]:
        """Who read the learner's records, oldest first: ``limit`` rows after ``offset``."""
        with self.context.sessions() as session:
            rows = PeopleRepository(session).access_log(learner_id, limit=limit, offset=offset)
            return [_row_dict(r) for r in rows]

    def audit_log(self, *, limit: int = 1000, offset: int = 0) -> list[dict[str, Any]]:
        with self.context.sessions() as session:
            return [
                _row_dict(r)
                for r in PeopleRepository(session).audit_log(limit=limit, offset=offset)
            ]

    def export(self, learner_id: str) -> dict[str, Any]:
        """Everything stored about a learner, table by table, as JSON-ready data."""
        with self.context.sessions() as session:
            out: dict[str, Any] = {"learner_id": learner_id, "schema_version": 1}
            found = session.get(LearnerRow, learner_id) is not None
            for name, table in LEARNER_TABLES:
                rows = [
                    _row_dict(r)
                    for r in session.scalars(
                        select(table).where(_learner_column(table) == learner_id)
                    )
                ]
                found = found or (bool(rows) and name != "access_log")
                out[name] = (
                    rows[0]
                    if name in ("profile", "guardian_consent") and rows
                    else (None if name in ("profile", "guardian_consent") else rows)
                )
            out["xapi_statements_naming"] = [
                _row_dict(r) for r in PeopleRepository(session).statements_naming(learner_id)
            ]
            out["xapi_attachments"] = _attachments_of(session, learner_id)
            if not found:
                raise NotFoundError("learner", learner_id)
            competencies = self._evidence_competencies(session, [e["id"] for e in out["evidence"]])
            for e in out["evidence"]:
                e["competency_ids"] = competencies.get(e["id"], [])
            out["accounts"] = [
                {
                    "id": u.id,
                    "username": u.username,
                    "role": u.role,
                    "created_at": _plain(u.created_at),
                    "lti_launches_from": [
                        {"platform_id": link.platform_id, "subject": link.subject}
                        for link in session.scalars(
                            select(LtiAccountRow).where(LtiAccountRow.user_id == u.id)
                        )
                    ],
                }
                for u in session.scalars(select(UserRow).where(UserRow.learner_id == learner_id))
            ]
        out["exported_at"] = self.context.clock().isoformat()
        return out

    @staticmethod
    def _evidence_competencies(session: Session, ids: Iterable[int]) -> dict[int, list[str]]:
        wanted = list(ids)
        out: dict[int, list[str]] = {}
        for start in range(0, len(wanted), 1000):
            rows = session.execute(
                select(EvidenceCompetencyRow.evidence_id, EvidenceCompetencyRow.competency_id)
                .where(EvidenceCompetencyRow.evidence_id.in_(wanted[start : start + 1000]))
                .order_by(EvidenceCompetencyRow.evidence_id, EvidenceCompetencyRow.position)
            )
            for evidence_id, competency_id in rows:
                out.setdefault(evidence_id, []).append(competency_id)
        return out

    def erase(self, learner_id: str, *, by: str) -> dict[str, int]:
        """Delete the learner's personal data, evidence and everything derived from it, and
        their accounts; leave a tombstone (counts only) in the audit log. One transaction."""
        now = self.context.clock()
        with self.context.sessions.begin() as session:
            counts = _erase(session, learner_id, by=by, now=now)
        self.repeated_reads.forget(learner_id)
        return counts

    def inactive(self, *, days: int) -> list[InactiveLearner]:
        """The learners with no activity in the last ``days`` days (nothing they did or was
        recorded for them, and no read of their records by themselves: see
        :data:`~masterypath.store.people.ACTIVITY`), the longest inactive first: those a
        retention rule of ``days`` days would erase. Learners with no dated record are
        never among them."""
        cutoff = self._cutoff(days)
        with self.context.sessions() as session:
            latest = PeopleRepository(session).last_activity()
        found = [InactiveLearner(i, at) for i, at in latest.items() if at < cutoff]
        return sorted(found, key=lambda f: (f.last_activity, f.learner_id))

    def erase_if_inactive(self, learner_id: str, *, days: int, by: str) -> dict[str, int] | None:
        """:meth:`erase` the learner if they are still inactive for ``days`` days, checked
        in the erasing transaction with the learner locked, so that evidence arriving
        after :meth:`inactive` listed them keeps them; None (nothing erased) when they
        are not. The tombstone says when they were last active."""
        cutoff = self._cutoff(days)
        now = self.context.clock()
        with self.context.sessions.begin() as session:
            # locks the learner's row (the pipeline's lock) without making one
            session.execute(
                update(LearnerRow)
                .where(LearnerRow.id == learner_id)
                .values(created_at=LearnerRow.created_at)
            )
            last = PeopleRepository(session).last_activity([learner_id]).get(learner_id)
            if last is None or last >= cutoff:
                return None
            counts = _erase(
                session,
                learner_id,
                by=by,
                now=now,
                reason=f"no activity for {days} days",
                last_activity=last.isoformat(),
            )
        self.repeated_reads.forget(learner_id)
        return counts

    def _cutoff(self, days: int) -> datetime:
        if not 1 <= days <= MAX_RETENTION_DAYS:
            raise ValidationError("days", f"must be between 1 and {MAX_RETENTION_DAYS}")
        return self.context.clock() - timedelta(days=days)

    def check_consent(self, learner_ids: Iterable[str], session: Session) -> None:
        """Raise :class:`ConsentRequiredError` if any learner is under 13 without consent."""
        minors = PeopleRepository(session).minors_without_consent(
            learner_ids, self.context.clock().date()
        )
        if minors:
            raise ConsentRequiredError(minors)


def _erase(
    session: Session, learner_id: str, *, by: str, now: datetime, **why: str
) -> dict[str, int]:
    """What :meth:`PrivacyService.erase` does inside its transaction; ``why`` goes into
    the tombstone."""
    known = session.get(LearnerRow, learner_id) is not None or any(
        session.scalar(select(_learner_column(t)).where(_learner_column(t) == learner_id).limit(1))
        is not None
        for _, t in LEARNER_TABLES
    )
    if not known:
        raise NotFoundError("learner", learner_id)
    counts: dict[str, int] = {}
    evidence_ids = select(EvidenceRow.id).where(EvidenceRow.learner_id == learner_id)
    session.execute(
        delete(EvidenceCompetencyRow).where(EvidenceCompetencyRow.evidence_id.in_(evidence_ids))
    )
    repo = PeopleRepository(session)
    # another's statement that names them keeps its own, without them
    naming = repo.statements_naming(learner_id)
    for row in naming:
        row.statement = without_learner(row.statement, learner_id)
        row.content_hash = statement_digest(row.statement)
        row.authority_id = authority_of(row.statement)
    counts["xapi_statements_redacted"] = len(naming)
    own = select(XapiStatementRow.id).where(XapiStatementRow.learner_id == learner_id)
    session.execute(
        delete(XapiStatementAttachmentRow).where(XapiStatementAttachmentRow.statement_id.in_(own))
    )
    for name, table in LEARNER_TABLES:
        counts[name] = repo.delete_where(table, _learner_column(table), learner_id)
    counts["xapi_attachments"] = _delete_unlinked_attachments(session)
    users = select(UserRow.id).where(UserRow.learner_id == learner_id)
    session.execute(delete(TokenRow).where(TokenRow.user_id.in_(users)))
    session.execute(delete(LtiAccountRow).where(LtiAccountRow.user_id.in_(users)))
    counts["accounts"] = repo.delete_where(UserRow, UserRow.learner_id, learner_id)
    counts["learner"] = repo.delete_where(LearnerRow, LearnerRow.id, learner_id)
    repo.audit(at=now, actor=by, action="erase_learner", target=learner_id, counts=counts, **why)
    return counts


def _attachments_of(session: Session, learner_id: str) -> list[dict[str, Any]]:
    """The attachments of a learner's statements, their bytes in base64 (``content``)."""
    link = XapiStatementAttachmentRow
    rows = session.execute(
        select(link.statement_id, XapiAttachmentRow)
        .join(XapiAttachmentRow, XapiAttachmentRow.sha2 == link.sha2)
        .join(XapiStatementRow, XapiStatementRow.id == link.statement_id)
        .where(XapiStatementRow.learner_id == learner_id)
        .order_by(link.statement_id, link.sha2)
    ).all()
    return [
        {
            "statement_id": statement_id,
            "sha2": row.sha2,
            "content_type": row.content_type,
            "length": row.length,
            "content": base64.b64encode(row.content).decode("ascii"),
            "stored_at": _plain(row.stored_at),
        }
        for statement_id, row in rows
    ]


def _delete_unlinked_attachments(session: Session) -> int:
    """Delete the attachments' bytes no stored statement carries any more (an erased
    learner's; bytes another statement also carries stay). Answers how many."""
    linked = exists().where(XapiStatementAttachmentRow.sha2 == XapiAttachmentRow.sha2)
    # lock them first, then delete in a statement of its own: a post linking its
    # statement to the same bytes meanwhile is waited for, and the delete (a fresh
    # snapshot on PostgreSQL) sees its link and leaves them; deleting at once would fail
    # on that link's foreign key
    unlinked = session.scalars(
        select(XapiAttachmentRow.sha2).where(~linked).with_for_update()
    ).all()
    if not unlinked:
        return 0
    result = session.execute(
        delete(XapiAttachmentRow).where(XapiAttachmentRow.sha2.in_(unlinked), ~linked)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


class RepeatedReads:
    """Which reads of learners' data go into the access log: the first by an account
    through an endpoint, then one per ``window`` while the reads go on, so that a page
    polling every second leaves one row per window instead of 3,600 an hour (and the log
    still shows who read what, and until about when). A read is counted once its row is
    committed. Kept per process, and :meth:`PrivacyService.log_access` also looks in the
    log for a row another server process wrote within the window.

    >>> from datetime import UTC
    >>> reads, t = RepeatedReads(timedelta(minutes=5)), datetime(2026, 3, 2, 9, tzinfo=UTC)
    >>> reads.due("user:a", "read_learner", "GET /p", ["kim"], t)
    ['kim']
    >>> reads.logged("user:a", "read_learner", "GET /p", ["kim"], t)
    >>> reads.due("user:a", "read_learner", "GET /p", ["kim", "li"], t + timedelta(minutes=4))
    ['li']
    >>> reads.due("user:a", "read_learner", "GET /p", ["kim"], t + timedelta(minutes=5))
    ['kim']
    """

    max_remembered = 100_000
    """Reads remembered before those older than the window are forgotten."""

    def __init__(self, window: timedelta) -> None:
        self.window = window
        self._last: dict[tuple[str, str, str, str], datetime] = {}
        self._lock = threading.Lock()

    def due(
        self, actor: str, action: str, what: str, learner_ids: Iterable[str], now: datetime
    ) -> list[str]:
        """The learners whose read is to be logged at ``now`` (each once, in order)."""
        ids = list(dict.fromkeys(learner_ids))
        if self.window <= timedelta(0):
            return ids
        with self._lock:
            return [
                learner_id
                for learner_id in ids
                if not (
                    (last := self._last.get((actor, action, what, learner_id))) is not None
                    and last <= now < last + self.window
                )
            ]

    def logged(
        self, actor: str, action: str, what: str, learner_ids: Sequence[str], now: datetime
    ) -> None:
        """Remember that these reads were logged at ``now``."""
        if self.window <= timedelta(0):
            return
        with self._lock:
            if len(self._last) + len(learner_ids) > self.max_remembered:
                self._last = {k: t for k, t in self._last.items() if now - t < self.window}
            for learner_id in learner_ids:
                self._last[(actor, action, what, learner_id)] = now

    def forget(self, learner_id: str) -> None:
        """Forget every read of an erased learner (their id leaves this process too)."""
        with self._lock:
            self._last = {k: t for k, t in self._last.items() if k[3] != learner_id}
