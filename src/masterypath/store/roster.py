"""The profiles, accounts and cohorts a roster import reads and writes (never commits)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from masterypath.store.mastery import chunks
from masterypath.store.tables import (
    CohortEducatorRow,
    CohortMemberRow,
    CohortRow,
    GuardianshipRow,
    LearnerProfileRow,
    UserRow,
)


class RosterRepository:
    """The rows of one session that a roster provisions."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: Any) -> None:
        self.session.add(row)

    def flush(self) -> None:
        self.session.flush()

    def profiles(self, learner_ids: Iterable[str]) -> dict[str, LearnerProfileRow]:
        """The stored profiles of ``learner_ids``, by learner id."""
        return {
            p.learner_id: p
            for part in chunks(list(learner_ids))
            for p in self.session.scalars(
                select(LearnerProfileRow).where(LearnerProfileRow.learner_id.in_(part))
            )
        }

    def accounts(self, usernames: Iterable[str]) -> dict[str, UserRow]:
        """The accounts of ``usernames`` (empty ones left out), by username."""
        wanted = sorted({u for u in usernames if u})
        return {
            u.username: u
            for part in chunks(wanted)
            for u in self.session.scalars(select(UserRow).where(UserRow.username.in_(part)))
        }

    def cohorts(self) -> dict[str, CohortRow]:
        return {c.id: c for c in self.session.scalars(select(CohortRow))}

    def guardianships(self, user_id: str) -> dict[str, GuardianshipRow]:
        """The learners a guardian account reads, each with its link (who made it)."""
        query = select(GuardianshipRow).where(GuardianshipRow.user_id == user_id)
        return {row.learner_id: row for row in self.session.scalars(query)}

    def delete(self, row: Any) -> None:
        self.session.delete(row)

    def members(self) -> Links:
        """The (cohort, learner) pairs."""
        return Links(self.session, CohortMemberRow, CohortMemberRow.learner_id)

    def educators(self) -> Links:
        """The (cohort, educator account) pairs."""
        return Links(self.session, CohortEducatorRow, CohortEducatorRow.user_id)


class Links:
    """The stored (cohort, learner or user) pairs of one table, added and removed."""

    def __init__(self, session: Session, table: type[Any], other: Any) -> None:
        self.session, self.table, self.other = session, table, other
        self.pairs = {(c, o) for c, o in session.execute(select(table.cohort_id, other))}

    def of(self, cohort_id: str) -> list[str]:
        """The learners or users paired with ``cohort_id``."""
        return sorted(str(o) for c, o in self.pairs if c == cohort_id)

    def set(self, cohort_id: str, other_id: str, wanted: bool) -> int:
        """Make the pair stored or not: 1 if added, -1 if removed, 0 if it already was."""
        pair = (cohort_id, other_id)
        if wanted == (pair in self.pairs):
            return 0
        if wanted:
            self.session.add(self.table(cohort_id=cohort_id, **{self.other.key: other_id}))
            self.pairs.add(pair)
            return 1
        self.session.execute(
            delete(self.table).where(self.table.cohort_id == cohort_id, self.other == other_id)
        )
        self.pairs.discard(pair)
        return -1
