"""Provisioning from a school's roster (:mod:`masterypath.interop.oneroster`): each
student's profile under their roster id (the pseudonymous learner id), accounts for
students, teachers and parents, each class as a cohort with its students as members and
its teachers as educators, and each parent's account linked to their children. One
transaction: all of it, or (any problem) none of it. Running it again with the next
export updates what changed and adds what is new; a roster read from a system's REST API
keeps how far it got (:class:`ReadMark`), so that the next read asks only for what
changed since (:meth:`RosterService.changes_start`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from masterypath.domain.access import Role
from masterypath.errors import ConflictError, InvalidInputError, Problem
from masterypath.interop.oneroster import Roster, RosterUser
from masterypath.interop.oneroster_rest import RosterRead
from masterypath.services.accounts import new_first_password, revoke_tokens
from masterypath.services.context import ServiceContext
from masterypath.store.mastery import MasteryRepository
from masterypath.store.people import PeopleRepository
from masterypath.store.roster import RosterRepository
from masterypath.store.tables import (
    CohortRow,
    GuardianshipRow,
    LearnerProfileRow,
    RosterReadRow,
    UserRow,
)

ROSTER = "roster"
"""Who disabled an account the roster marked disabled or gone (``UserRow.disabled_by``)."""
ROLE_OF = {
    "student": Role.LEARNER,
    "teacher": Role.EDUCATOR,
    "parent": Role.GUARDIAN,
    "guardian": Role.GUARDIAN,
}
"""The roster roles this system has a part for; the others (aides, relatives, ...) are
left out, and administrators are made by hand."""


@dataclass(frozen=True)
class NewAccount:
    """An account the import made, with its first password (shown once)."""

    username: str
    password: str
    role: Role


@dataclass(frozen=True)
class ReadMark:
    """How far a read of a system's roster got: its rostering service's URL, the latest
    ``dateLastModified`` among the records read, and where the read started (None: it
    read everything)."""

    url: str
    modified_through: str | None
    since: str | None

    @classmethod
    def of(cls, url: str, read: RosterRead) -> ReadMark:
        return cls(url, read.modified_through, read.since)


@dataclass
class RosterImport:
    """What an import changed; ``accounts`` holds the new accounts' first passwords."""

    learners_added: int = 0
    learners_updated: int = 0
    cohorts_added: int = 0
    cohorts_renamed: int = 0
    members_added: int = 0
    members_removed: int = 0
    educators_added: int = 0
    educators_removed: int = 0
    accounts_disabled: int = 0
    """Accounts of users the roster marks disabled (``enabledUser`` false) or gone."""
    accounts_enabled: int = 0
    """Accounts the roster had disabled whose users it lists enabled again."""
    guardians_linked: int = 0
    """Learners a parent's or guardian's account may now read (``agentSourcedIds``)."""
    guardians_unlinked: int = 0
    """Learners the roster had linked to a parent who no longer names them."""
    accounts: list[NewAccount] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    """What the roster asked for that was not done, and why."""
    changes_since: str | None = None
    """A read of a system's changes only: since when (its ``dateLastModified``)."""

    def to_dict(self) -> dict[str, Any]:
        """The figures and the new accounts' usernames, never their passwords.

        >>> RosterImport(learners_added=2).to_dict()["learners_added"]
        2
        """
        figures = {k: v for k, v in self.__dict__.items() if isinstance(v, int)}
        return {
            **figures,
            "accounts_created": [a.username for a in self.accounts],
            "left_out": self.left_out,
            "changes_since": self.changes_since,
        }


class RosterService:
    def __init__(self, context: ServiceContext, *, hasher: PasswordHasher | None = None) -> None:
        self.context = context
        self.hasher = hasher or PasswordHasher()

    def changes_start(self, url: str, *, everything_after: timedelta | None = None) -> str | None:
        """Where the next read of the system at ``url`` starts: the latest change stored
        from it, or None to read everything (nothing stored yet; or ``everything_after``
        has passed since everything was last read)."""
        with self.context.sessions() as session:
            row = session.get(RosterReadRow, url)
        if row is None:
            return None
        due = everything_after is not None and (
            row.everything_read_at + everything_after <= self.context.clock()
        )
        return None if due else row.modified_through

    def import_roster(
        self,
        roster: Roster,
        *,
        by: str,
        accounts: bool = False,
        progress: Callable[[int, int], None] | None = None,
        read: ReadMark | None = None,
    ) -> RosterImport:
        """Store ``roster``; with ``accounts``, also an account (with a random first
        password) for every enabled student and teacher with a username who has none.
        ``progress`` is told how many passwords are hashed of how many (the slow part,
        done before the transaction); ``read``: how far the read from a system that gave
        the roster got, stored with it. A username taken by another kind of account, or
        a birth date in the future, is an :class:`InvalidInputError` and nothing is
        stored."""
        now = self.context.clock()
        result = RosterImport(changes_since=None if read is None else read.since)
        current = [u for u in roster.users if not u.deleted]
        gone = len(roster.users) - len(current)
        if gone:
            result.left_out.append(
                f"{gone} user(s) marked tobedeleted: not erased (masterypath learners erase)"
            )
        students = [u for u in current if u.role == "student"]
        _check_birth_dates(students, now)
        with self.context.sessions() as session:
            existing = RosterRepository(session).accounts(u.username for u in roster.users)
        _check_accounts(current, existing)
        wanted = [
            u
            for u in current
            if accounts and u.role in ROLE_OF and u.username and u.enabled
            if u.username not in existing
        ]
        hashed: list[tuple[RosterUser, str, str]] = []
        for user in wanted:
            password = new_first_password()
            hashed.append((user, password, self.hasher.hash(password)))
            if progress is not None:
                progress(len(hashed), len(wanted))
        try:
            self._store(roster, students, hashed, existing, result, by=by, now=now, read=read)
        except IntegrityError:
            # another writer made one of the same accounts, cohorts or profiles meanwhile
            raise ConflictError(
                "roster",
                "users.csv",
                "changed by another writer meanwhile: nothing stored, run it again",
            ) from None
        return result

    def _store(
        self,
        roster: Roster,
        students: list[RosterUser],
        hashed: list[tuple[RosterUser, str, str]],
        existing: dict[str, UserRow],
        result: RosterImport,
        *,
        by: str,
        now: datetime,
        read: ReadMark | None,
    ) -> None:
        with self.context.sessions.begin() as session:
            MasteryRepository(session).lock_learners([u.sourced_id for u in students], now=now)
            repo = RosterRepository(session)
            self._profiles(repo, students, result, now)
            for user, password, password_hash in hashed:
                role = ROLE_OF[user.role]
                row = UserRow(
                    id=str(uuid.uuid4()),
                    username=user.username,
                    password_hash=password_hash,
                    role=role.value,
                    learner_id=user.sourced_id if role is Role.LEARNER else None,
                    created_at=now,
                    must_change_password=True,
                )
                repo.add(row)
                existing[user.username] = row
                result.accounts.append(NewAccount(user.username, password, role))
            self._cohorts(repo, roster, existing, result, now)
            _link_guardians(repo, roster, existing, result, now)
            _disable_leavers(session, roster, existing, result, now)
            if read is not None:
                _remember(session, read, now)
            PeopleRepository(session).audit(
                at=now, actor=by, action="import_roster", target="roster", **result.to_dict()
            )

    def _profiles(
        self,
        repo: RosterRepository,
        students: list[RosterUser],
        result: RosterImport,
        now: datetime,
    ) -> None:
        stored = repo.profiles(s.sourced_id for s in students)
        for student in students:
            row = stored.get(student.sourced_id)
            if row is None:
                repo.add(
                    LearnerProfileRow(
                        learner_id=student.sourced_id,
                        name=student.name,
                        email=student.email,
                        birth_date=student.birth_date,
                        created_at=now,
                    )
                )
                result.learners_added += 1
                continue
            birth = student.birth_date or row.birth_date  # a roster without demographics
            if (row.name, row.email, row.birth_date) != (student.name, student.email, birth):
                row.name, row.email, row.birth_date = student.name, student.email, birth
                result.learners_updated += 1

    def _cohorts(
        self,
        repo: RosterRepository,
        roster: Roster,
        accounts: dict[str, UserRow],
        result: RosterImport,
        now: datetime,
    ) -> None:
        cohorts = repo.cohorts()
        ended = {cls.sourced_id for cls in roster.classes if cls.deleted}
        for cls in roster.classes:
            if cls.deleted:
                if cls.sourced_id in cohorts:
                    result.left_out.append(
                        f"class {cls.sourced_id} marked tobedeleted: its cohort is kept, "
                        "without its students and teachers"
                    )
            elif cls.sourced_id not in cohorts:
                row = CohortRow(id=cls.sourced_id, title=cls.title, created_at=now)
                repo.add(row)
                cohorts[cls.sourced_id] = row
                result.cohorts_added += 1
            elif cohorts[cls.sourced_id].title != cls.title:
                cohorts[cls.sourced_id].title = cls.title
                result.cohorts_renamed += 1
        repo.flush()
        members, educators = repo.members(), repo.educators()
        for class_id in sorted(ended & set(cohorts)):  # a class that ended: nobody sees it
            for learner in members.of(class_id):
                result.members_removed += -members.set(class_id, learner, False)
            for user_id in educators.of(class_id):
                result.educators_removed += -educators.set(class_id, user_id, False)
        users = {u.sourced_id: u for u in roster.users}
        for e in roster.enrollments:
            user = users[e.user_id]
            keep = not (e.deleted or user.deleted or e.class_id in ended)
            if e.class_id not in cohorts:
                continue  # a class marked tobedeleted that was never a cohort
            if e.role == "student":
                change = members.set(e.class_id, e.user_id, keep)
                result.members_added += change > 0
                result.members_removed += change < 0
            elif e.role == "teacher":
                account = accounts.get(user.username) if user.username else None
                if account is None:
                    if keep:
                        result.left_out.append(
                            f"teacher {e.user_id} has no account: not an educator of {e.class_id}"
                        )
                    continue
                change = educators.set(e.class_id, account.id, keep)
                result.educators_added += change > 0
                result.educators_removed += change < 0
        others = sorted({e.role for e in roster.enrollments} - {"student", "teacher"})
        if others:
            result.left_out.append(f"enrollments as {', '.join(others)}: not kept")


def _link_guardians(
    repo: RosterRepository,
    roster: Roster,
    accounts: dict[str, UserRow],
    result: RosterImport,
    now: datetime,
) -> None:
    """Link each parent's and guardian's account in the roster to the students the roster
    pairs them with (in either's ``agentSourcedIds``), and end the links the roster made
    that it no longer names; links an admin made stay. A read of the changes only links
    the parents it holds."""
    users = {u.sourced_id: u for u in roster.users}
    students = {u.sourced_id for u in roster.users if u.role == "student" and not u.deleted}
    children: dict[str, set[str]] = {}
    for user in roster.users:
        if ROLE_OF.get(user.role) is Role.GUARDIAN and not user.deleted:
            children.setdefault(user.sourced_id, set()).update(
                a for a in user.agents if users.get(a) is None or a in students
            )
    for student in students:
        for agent in users[student].agents:
            if agent in children:
                children[agent].add(student)
    for parent_id, learners in sorted(children.items()):
        parent = users[parent_id]
        known = accounts.get(parent.username) if parent.username else None
        if known is None or not _same_person(parent, known):
            if learners:
                result.left_out.append(
                    f"{parent.role} {parent_id} has no account: not linked to "
                    f"{', '.join(sorted(learners))}"
                )
            continue
        stored = repo.guardianships(known.id)
        for learner in sorted(learners - set(stored)):
            repo.add(
                GuardianshipRow(
                    user_id=known.id, learner_id=learner, linked_by=ROSTER, linked_at=now
                )
            )
            result.guardians_linked += 1
        for learner, row in stored.items():
            if learner not in learners and row.linked_by == ROSTER:
                repo.delete(row)
                result.guardians_unlinked += 1


def _disable_leavers(
    session: Session,
    roster: Roster,
    accounts: dict[str, UserRow],
    result: RosterImport,
    now: datetime,
) -> None:
    """Disable the accounts of users marked disabled or gone (their tokens revoked), and
    enable again those the roster disabled whose users it lists enabled; an account an
    admin disabled stays so."""
    for user in roster.users:
        known = accounts.get(user.username) if user.username else None
        if known is None or not _same_person(user, known):
            continue
        account = session.get(UserRow, known.id)  # read before this transaction: again
        if account is None:
            continue  # deleted meanwhile
        gone = user.deleted or not user.enabled
        if gone and account.disabled_at is None:
            account.disabled_at, account.disabled_by = now, ROSTER
            revoke_tokens(session, account.id, now)
            result.accounts_disabled += 1
        elif not gone and account.disabled_by == ROSTER:
            account.disabled_at = account.disabled_by = None
            result.accounts_enabled += 1


def _remember(session: Session, read: ReadMark, now: datetime) -> None:
    """Keep how far the system's roster is read (a system whose records carry no
    ``dateLastModified`` is read whole each time)."""
    row = session.get(RosterReadRow, read.url, with_for_update=True)
    if read.modified_through is None:
        if row is not None and read.since is None:  # read whole, and no longer dated
            session.delete(row)
        elif row is not None:  # no change since
            row.read_at = now
        return
    if row is None:
        if read.since is None:
            session.add(
                RosterReadRow(
                    url=read.url,
                    modified_through=read.modified_through,
                    read_at=now,
                    everything_read_at=now,
                )
            )
        return
    if read.since is None or _later(read.modified_through, row.modified_through):
        row.modified_through = read.modified_through
    row.read_at = now
    if read.since is None:
        row.everything_read_at = now


def _later(stamp: str, than: str) -> bool:
    """Whether the system's time ``stamp`` is after ``than``.

    >>> _later("2026-12-01T10:00:00.5Z", "2026-12-01T10:00:00Z")
    True
    """

    def parsed(text: str) -> datetime:
        at = datetime.fromisoformat(text)
        return at if at.tzinfo is not None else at.replace(tzinfo=UTC)

    return parsed(stamp) > parsed(than)


def _same_person(user: RosterUser, account: UserRow) -> bool:
    """Whether ``account`` is the roster user's: of their kind (and learner id)."""
    role = ROLE_OF.get(user.role)
    if role is None:
        return False
    learner = user.sourced_id if role is Role.LEARNER else None
    return (account.role, account.learner_id) == (role.value, learner)


def _check_accounts(users: list[RosterUser], existing: dict[str, UserRow]) -> None:
    """A username already taken must be the same person's account, of the same kind."""
    problems = []
    for user in users:
        account = existing.get(user.username) if user.username else None
        if account is None or user.role not in ROLE_OF:
            continue
        if not _same_person(user, account):
            whose = f"learner {account.learner_id}" if account.learner_id else account.role
            problems.append(
                Problem(
                    f"users.csv:{user.line}",
                    "username",
                    f"{user.username!r} is taken by another account ({whose})",
                )
            )
    if problems:
        raise InvalidInputError("roster", problems)


def _check_birth_dates(students: list[RosterUser], now: datetime) -> None:
    future = [s for s in students if s.birth_date is not None and s.birth_date > now.date()]
    if future:
        raise InvalidInputError(
            "roster",
            [
                Problem(f"demographics.csv ({s.sourced_id})", "birthDate", "is in the future")
                for s in future
            ],
        )
