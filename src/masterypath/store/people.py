"""Accounts, tokens, API keys, cohorts, personal data and the logs (never commits)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, exists, func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from masterypath.store.bulk import execute_arrays
from masterypath.store.conditions import is_postgresql, one_of
from masterypath.store.tables import (
    AccessLogRow,
    ApiKeyRow,
    AuditLogRow,
    CareerGoalRow,
    CohortEducatorRow,
    CohortMemberRow,
    CohortRow,
    EmbedTokenRow,
    EvidenceRow,
    EvidenceVoidRow,
    GroupAttributeRow,
    GuardianConsentRow,
    GuardianshipRow,
    LearnerProfileRow,
    LearnerRow,
    OverrideRow,
    PlacementRow,
    ReviewRow,
    SubmissionRow,
    TokenRow,
    UserRow,
    XapiAgentProfileRow,
    XapiStatementAgentRow,
    XapiStatementRow,
    XapiStateRow,
)

ACTIVITY: tuple[tuple[Any, Any], ...] = (
    (LearnerRow.id, LearnerRow.created_at),
    (LearnerProfileRow.learner_id, LearnerProfileRow.created_at),
    (GuardianConsentRow.learner_id, GuardianConsentRow.recorded_at),
    (GroupAttributeRow.learner_id, GroupAttributeRow.consent_recorded_at),
    (UserRow.learner_id, UserRow.created_at),
    (EvidenceRow.learner_id, EvidenceRow.recorded_at),
    (EvidenceVoidRow.learner_id, EvidenceVoidRow.voided_at),
    (XapiStatementRow.learner_id, XapiStatementRow.stored_at),
    (XapiStateRow.learner_id, XapiStateRow.updated_at),
    (XapiAgentProfileRow.learner_id, XapiAgentProfileRow.updated_at),
    (SubmissionRow.learner_id, SubmissionRow.created_at),
    (ReviewRow.learner_id, ReviewRow.reviewed_at),
    (PlacementRow.learner_id, PlacementRow.created_at),
    (PlacementRow.learner_id, PlacementRow.finished_at),
    (OverrideRow.learner_id, OverrideRow.created_at),
    (CareerGoalRow.learner_id, CareerGoalRow.chosen_at),
    (EmbedTokenRow.learner_id, EmbedTokenRow.created_at),
)
"""(learner column, time column) of every record that says a learner is still about:
what they did or what was recorded for them. Records the engine derives (states, events,
alerts, badges) are left out, since a replay or a policy change renews them all, and so
are other people's reads; the learner's own reads (their account or an embed link of
theirs) count, from the access log (:meth:`PeopleRepository.last_activity`)."""


class PeopleRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- accounts -------------------------------------------------------------------------
    def user_by_name(self, username: str) -> UserRow | None:
        return self.session.scalars(select(UserRow).where(UserRow.username == username)).first()

    def users(self) -> list[UserRow]:
        return list(self.session.scalars(select(UserRow).order_by(UserRow.username)))

    def token_owner(self, token_hash: str) -> tuple[TokenRow, UserRow] | None:
        row = self.session.execute(
            select(TokenRow, UserRow)
            .join(UserRow, UserRow.id == TokenRow.user_id)
            .where(TokenRow.token_hash == token_hash)
        ).first()
        return None if row is None else (row[0], row[1])

    def api_key(self, key_hash: str) -> ApiKeyRow | None:
        return self.session.scalars(select(ApiKeyRow).where(ApiKeyRow.key_hash == key_hash)).first()

    def usernames(self, user_ids: Collection[str]) -> dict[str, str]:
        """user id -> username, for those of ``user_ids`` that exist."""
        if not user_ids:
            return {}
        query = select(UserRow.id, UserRow.username).where(UserRow.id.in_(user_ids))
        return {i: name for i, name in self.session.execute(query)}

    def names(self, subjects: Iterable[str]) -> dict[str, str]:
        """What to call each actor that records name by subject (who overrode, who made a
        link): a user by their username, an API key by ``key <name>``, anything else (a
        name given on the command line, ``system``, an account since deleted) as it is."""
        wanted = set(subjects)
        users = {s.removeprefix("user:") for s in wanted if s.startswith("user:")}
        keys = {s.removeprefix("key:") for s in wanted if s.startswith("key:")}
        found = {f"user:{i}": name for i, name in self.usernames(users).items()}
        found |= {f"key:{i}": f"key {name}" for i, name in self.key_names(keys).items()}
        return {s: found.get(s, s) for s in wanted}

    def key_names(self, key_ids: Collection[str]) -> dict[str, str]:
        """API key id -> its name, for those of ``key_ids`` that exist."""
        if not key_ids:
            return {}
        query = select(ApiKeyRow.id, ApiKeyRow.name).where(ApiKeyRow.id.in_(key_ids))
        return {i: name for i, name in self.session.execute(query)}

    # -- cohorts --------------------------------------------------------------------------
    def in_cohort_of(self, user_id: str, learner_id: str) -> bool:
        query = select(
            exists().where(
                CohortMemberRow.learner_id == learner_id,
                CohortEducatorRow.cohort_id == CohortMemberRow.cohort_id,
                CohortEducatorRow.user_id == user_id,
            )
        )
        return bool(self.session.scalar(query))

    def learners_of(self, user_id: str) -> set[str]:
        query = (
            select(CohortMemberRow.learner_id)
            .join(CohortEducatorRow, CohortEducatorRow.cohort_id == CohortMemberRow.cohort_id)
            .where(CohortEducatorRow.user_id == user_id)
        )
        return set(self.session.scalars(query))

    def cohorts(self, user_id: str | None = None) -> list[CohortRow]:
        query = select(CohortRow).order_by(CohortRow.id)
        if user_id is not None:
            query = query.join(
                CohortEducatorRow, CohortEducatorRow.cohort_id == CohortRow.id
            ).where(CohortEducatorRow.user_id == user_id)
        return list(self.session.scalars(query))

    def members(self, cohort_id: str) -> list[str]:
        return list(
            self.session.scalars(
                select(CohortMemberRow.learner_id)
                .where(CohortMemberRow.cohort_id == cohort_id)
                .order_by(CohortMemberRow.learner_id)
            )
        )

    def educators(self, cohort_id: str) -> list[str]:
        return list(
            self.session.scalars(
                select(CohortEducatorRow.user_id).where(CohortEducatorRow.cohort_id == cohort_id)
            )
        )

    # -- guardians ------------------------------------------------------------------------
    def is_guardian_of(self, user_id: str, learner_id: str) -> bool:
        return self.session.get(GuardianshipRow, (user_id, learner_id)) is not None

    def wards_of(self, user_id: str) -> list[str]:
        """The learners the guardian account ``user_id`` may read, in id order."""
        query = (
            select(GuardianshipRow.learner_id)
            .where(GuardianshipRow.user_id == user_id)
            .order_by(GuardianshipRow.learner_id)
        )
        return list(self.session.scalars(query))

    def all_wards(self) -> dict[str, list[str]]:
        """Each guardian account's learners, in id order."""
        wards: dict[str, list[str]] = {}
        query = select(GuardianshipRow.user_id, GuardianshipRow.learner_id).order_by(
            GuardianshipRow.user_id, GuardianshipRow.learner_id
        )
        for user_id, learner_id in self.session.execute(query):
            wards.setdefault(user_id, []).append(learner_id)
        return wards

    # -- privacy --------------------------------------------------------------------------
    def minors_without_consent(self, learner_ids: Iterable[str], today: date) -> list[str]:
        """Learners among ``learner_ids`` under 13 on ``today`` with no guardian consent."""
        wanted = sorted(set(learner_ids))
        if not wanted:
            return []
        cutoff = _years_before(today, 13)
        if is_postgresql(self.session):
            # every evidence write asks this: plain SQL, which the driver prepares once,
            # costs a fraction of the ORM query it replaces
            rows = execute_arrays(
                self.session,
                "SELECT p.learner_id FROM learner_profiles p "
                "WHERE p.learner_id = ANY(%b::text[]) AND p.birth_date > %b::date "
                "AND NOT EXISTS (SELECT 1 FROM guardian_consents g "
                "WHERE g.learner_id = p.learner_id) ORDER BY p.learner_id",
                [wanted, cutoff],
            )
            return [row[0] for row in rows]
        query = (
            select(LearnerProfileRow.learner_id)
            .where(
                one_of(LearnerProfileRow.learner_id, wanted, postgresql=False),
                LearnerProfileRow.birth_date.is_not(None),
                LearnerProfileRow.birth_date > cutoff,
            )
            .where(~exists().where(GuardianConsentRow.learner_id == LearnerProfileRow.learner_id))
        )
        return sorted(self.session.scalars(query))

    def last_reads(
        self, *, actor: str, action: str, what: str, learner_ids: Collection[str], after: datetime
    ) -> dict[str, datetime]:
        """When each of ``learner_ids`` was last logged read by ``actor`` through ``what``
        after ``after`` (those logged since)."""
        rows = self.session.execute(
            select(AccessLogRow.learner_id, func.max(AccessLogRow.at))
            .where(
                AccessLogRow.learner_id.in_(sorted(learner_ids)),
                AccessLogRow.at > after,
                AccessLogRow.actor == actor,
                AccessLogRow.action == action,
                AccessLogRow.what == what,
            )
            .group_by(AccessLogRow.learner_id)
        )
        return {learner_id: at for learner_id, at in rows}

    def log_access(
        self, *, at: datetime, actor: str, action: str, what: str, learner_id: str
    ) -> None:
        self.session.add(
            AccessLogRow(at=at, actor=actor, action=action, what=what, learner_id=learner_id)
        )

    def audit(self, *, at: datetime, actor: str, action: str, target: str, **detail: Any) -> None:
        self.session.add(
            AuditLogRow(at=at, actor=actor, action=action, target=target, detail=detail)
        )

    def access_log(
        self, learner_id: str, *, limit: int = 1000, offset: int = 0
    ) -> list[AccessLogRow]:
        return list(
            self.session.scalars(
                select(AccessLogRow)
                .where(AccessLogRow.learner_id == learner_id)
                .order_by(AccessLogRow.id)
                .limit(limit)
                .offset(offset)
            )
        )

    def audit_log(self, *, limit: int = 1000, offset: int = 0) -> list[AuditLogRow]:
        return list(
            self.session.scalars(
                select(AuditLogRow).order_by(AuditLogRow.id).limit(limit).offset(offset)
            )
        )

    def last_activity(self, learner_ids: Collection[str] | None = None) -> dict[str, datetime]:
        """Learner id -> the latest time of any record in :data:`ACTIVITY` or of a read of
        their records by themselves, for ``learner_ids`` (None: every learner with one)."""
        own_read = or_(
            AccessLogRow.actor.like("embed:%"),
            exists().where(
                UserRow.learner_id == AccessLogRow.learner_id,
                AccessLogRow.actor == literal("user:") + UserRow.id,
            ),
        )
        sources = [*ACTIVITY, (AccessLogRow.learner_id, AccessLogRow.at)]
        latest: dict[str, datetime] = {}
        for learner, at in sources:
            query = select(learner, func.max(at)).where(learner.is_not(None), at.is_not(None))
            if learner is AccessLogRow.learner_id:
                query = query.where(own_read)
            if learner_ids is not None:
                query = query.where(
                    one_of(learner, list(learner_ids), postgresql=is_postgresql(self.session))
                )
            rows: Any = self.session.execute(query.group_by(learner))
            for learner_id, when in rows:
                if learner_id not in latest or when > latest[learner_id]:
                    latest[learner_id] = when
        return latest

    def delete_where(self, table: Any, column: Any, value: str) -> int:
        result = self.session.execute(delete(table).where(column == value))
        return int(getattr(result, "rowcount", 0) or 0)

    def statements_naming(self, learner_id: str) -> list[XapiStatementRow]:
        """The stored statements that name the learner but are not theirs (another's
        actor), wherever they stand: as the authority (the ``authority_id`` column) or
        elsewhere (the index of the learners statements name)."""
        # one list of ids (an OR of the two would read the table through)
        naming = union_all(
            select(XapiStatementAgentRow.statement_id.label("id")).where(
                XapiStatementAgentRow.learner_id == learner_id
            ),
            select(XapiStatementRow.id).where(XapiStatementRow.authority_id == learner_id),
        ).subquery("naming")
        return list(
            self.session.scalars(
                select(XapiStatementRow)
                .where(
                    XapiStatementRow.learner_id != learner_id,
                    XapiStatementRow.id.in_(select(naming.c.id)),
                )
                .order_by(XapiStatementRow.stored_at, XapiStatementRow.id)
            )
        )


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)
