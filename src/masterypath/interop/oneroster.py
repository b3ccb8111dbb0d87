"""A school's roster as its student information system exports it: OneRoster 1.1 CSV
(IMS Global; 1.2 exports read the same): ``users.csv``, and optionally ``classes.csv``
with ``enrollments.csv``, and ``demographics.csv`` (birth dates, which the consent gate for
learners under 13 needs). The export's other files (orgs, courses, academic sessions) are
not needed and not read.

:func:`parse_roster` checks everything before anything is stored: each problem is named
by file, line and column, and the references between the files must resolve.

>>> roster = parse_roster({
...     "users.csv": "sourcedId,role,username,givenName,familyName\\n"
...                  "s1,student,ana,Ana,Lima\\nt1,teacher,ms-lee,Mei,Lee\\n",
...     "classes.csv": "sourcedId,title\\nc1,Algebra 1\\n",
...     "enrollments.csv": "sourcedId,classSourcedId,userSourcedId,role\\n"
...                        "e1,c1,s1,student\\ne2,c1,t1,teacher\\n",
... })
>>> [(u.sourced_id, u.name) for u in roster.users]
[('s1', 'Ana Lima'), ('t1', 'Mei Lee')]
>>> [(e.class_id, e.user_id, e.role) for e in roster.enrollments]
[('c1', 's1', 'student'), ('c1', 't1', 'teacher')]
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from masterypath.errors import InvalidInputError, Problem

ROLES = frozenset(
    {
        # OneRoster 1.1
        "administrator",
        "aide",
        "guardian",
        "parent",
        "proctor",
        "relative",
        "student",
        "teacher",
        # added by OneRoster 1.2
        "districtAdministrator",
        "siteAdministrator",
        "systemAdministrator",
        "principal",
        "counselor",
    }
)
STATUSES = frozenset({"", "active", "tobedeleted"})
MAX_ID = 1000
FILES = ("users.csv", "classes.csv", "enrollments.csv", "demographics.csv")
"""The files :func:`parse_roster` reads (``users.csv`` is required)."""


@dataclass(frozen=True)
class RosterUser:
    """A person of ``users.csv`` (with a birth date from ``demographics.csv``)."""

    sourced_id: str
    role: str
    username: str
    name: str
    email: str
    enabled: bool
    deleted: bool
    birth_date: date | None = None
    agents: tuple[str, ...] = ()
    """``agentSourcedIds``: a student's parents and guardians, or a parent's children."""
    line: int = 0
    """Its line in ``users.csv`` (for the errors that the stored accounts reveal)."""


@dataclass(frozen=True)
class RosterClass:
    """A class of ``classes.csv``: a cohort here."""

    sourced_id: str
    title: str
    deleted: bool


@dataclass(frozen=True)
class RosterEnrollment:
    """A person in a class (``enrollments.csv``): a student is a member of the cohort, a
    teacher one of its educators."""

    class_id: str
    user_id: str
    role: str
    deleted: bool


@dataclass(frozen=True)
class Roster:
    users: tuple[RosterUser, ...]
    classes: tuple[RosterClass, ...]
    enrollments: tuple[RosterEnrollment, ...]


class _Reader:
    """The rows of one file, and the problems found in it."""

    def __init__(
        self, name: str, text: str, required: tuple[str, ...], problems: list[Problem]
    ) -> None:
        self.name, self.problems = name, problems
        # newline="": the csv module's own line endings, a bare "\r" included
        self.reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
        try:
            columns = self.reader.fieldnames or []
        except csv.Error as exc:
            problems.append(Problem(f"{name}:1", "file", f"is not CSV ({exc})"))
            self.ok = False
            return
        missing = [c for c in required if c not in columns]
        for column in missing:
            problems.append(Problem(f"{name}:1", column, "required column is missing"))
        self.ok = not missing

    def rows(self) -> list[tuple[int, dict[str, str]]]:
        if not self.ok:
            return []
        read = []
        try:
            for row in self.reader:
                cells = {k: v.strip() if isinstance(v, str) else "" for k, v in row.items() if k}
                read.append((self.reader.line_num, cells))
        except csv.Error as exc:
            where = f"{self.name}:{self.reader.line_num + 1}"  # the line it was reading
            self.problems.append(Problem(where, "file", f"is not CSV ({exc})"))
        return read

    def text(self, line: int, row: Mapping[str, str], column: str, *, required: bool) -> str:
        value = row.get(column, "")
        where = f"{self.name}:{line}"
        if "\x00" in value:
            self.problems.append(Problem(where, column, "contains a NUL character"))
        elif required and not value:
            self.problems.append(Problem(where, column, "is empty"))
        elif len(value) > MAX_ID:
            self.problems.append(Problem(where, column, f"is longer than {MAX_ID} characters"))
        return value

    def deleted(self, line: int, row: Mapping[str, str]) -> bool:
        status = row.get("status", "")
        if status not in STATUSES:
            self.problems.append(
                Problem(f"{self.name}:{line}", "status", f"{status!r} is not active or tobedeleted")
            )
        return status == "tobedeleted"

    def role(self, line: int, row: Mapping[str, str]) -> str:
        role = self.text(line, row, "role", required=True)
        if role and role not in ROLES:
            self.problems.append(
                Problem(
                    f"{self.name}:{line}",
                    "role",
                    f"{role!r} is not a OneRoster role ({', '.join(sorted(ROLES))})",
                )
            )
        return role

    def unique(self, line: int, row: Mapping[str, str], seen: set[str]) -> str:
        sourced_id = self.text(line, row, "sourcedId", required=True)
        if sourced_id in seen:
            self.problems.append(
                Problem(f"{self.name}:{line}", "sourcedId", f"{sourced_id!r} appears twice")
            )
        seen.add(sourced_id)
        return sourced_id


def parse_roster(files: Mapping[str, str]) -> Roster:
    """The roster in ``files`` (file name -> its text; ``users.csv`` required), or an
    :class:`InvalidInputError` naming every problem."""
    if "users.csv" not in files:
        raise InvalidInputError("roster", [Problem("users.csv", "file", "is required")])
    if ("classes.csv" in files) != ("enrollments.csv" in files):
        together = "classes.csv and enrollments.csv come together"
        raise InvalidInputError("roster", [Problem("enrollments.csv", "file", together)])
    problems: list[Problem] = []
    births = _birth_dates(files.get("demographics.csv"), problems)
    users = _users(files["users.csv"], births, problems)
    classes = _classes(files.get("classes.csv", "sourcedId,title\n"), problems)
    enrollments = _enrollments(
        files.get("enrollments.csv", "sourcedId,classSourcedId,userSourcedId,role\n"),
        {u.sourced_id for u in users},
        {c.sourced_id for c in classes},
        problems,
    )
    if problems:
        raise InvalidInputError("roster", problems)
    return Roster(tuple(users), tuple(classes), tuple(enrollments))


def _users(text: str, births: Mapping[str, date], problems: list[Problem]) -> list[RosterUser]:
    reader = _Reader("users.csv", text, ("sourcedId", "role", "givenName", "familyName"), problems)
    users: list[RosterUser] = []
    seen: set[str] = set()
    usernames: dict[str, int] = {}
    for line, row in reader.rows():
        sourced_id = reader.unique(line, row, seen)
        role = reader.role(line, row)
        username = reader.text(line, row, "username", required=False)
        if username in usernames:
            problems.append(
                Problem(
                    f"users.csv:{line}",
                    "username",
                    f"{username!r} is also the username on line {usernames[username]}",
                )
            )
        elif username:
            usernames[username] = line
        enabled = row.get("enabledUser", "").lower()
        if enabled not in ("", "true", "false"):
            problems.append(Problem(f"users.csv:{line}", "enabledUser", "must be true or false"))
        given = reader.text(line, row, "givenName", required=False)
        family = reader.text(line, row, "familyName", required=False)
        users.append(
            RosterUser(
                sourced_id=sourced_id,
                role=role,
                username=username,
                name=" ".join(p for p in (given, family) if p),
                email=reader.text(line, row, "email", required=False),
                enabled=enabled != "false",
                deleted=reader.deleted(line, row),
                birth_date=births.get(sourced_id),
                agents=tuple(
                    dict.fromkeys(
                        a.strip() for a in row.get("agentSourcedIds", "").split(",") if a.strip()
                    )
                ),
                line=line,
            )
        )
    return users


def _birth_dates(text: str | None, problems: list[Problem]) -> dict[str, date]:
    if text is None:
        return {}
    reader = _Reader("demographics.csv", text, ("sourcedId", "birthDate"), problems)
    births: dict[str, date] = {}
    for line, row in reader.rows():
        value = row["birthDate"]
        if not value:
            continue
        try:
            births[row["sourcedId"]] = date.fromisoformat(value)
        except ValueError:
            problems.append(
                Problem(f"demographics.csv:{line}", "birthDate", f"{value!r} is not YYYY-MM-DD")
            )
    return births


def _classes(text: str, problems: list[Problem]) -> list[RosterClass]:
    reader = _Reader("classes.csv", text, ("sourcedId", "title"), problems)
    classes: list[RosterClass] = []
    seen: set[str] = set()
    for line, row in reader.rows():
        sourced_id = reader.unique(line, row, seen)
        title = reader.text(line, row, "title", required=False) or sourced_id
        classes.append(RosterClass(sourced_id, title, reader.deleted(line, row)))
    return classes


def _enrollments(
    text: str, users: set[str], classes: set[str], problems: list[Problem]
) -> list[RosterEnrollment]:
    required = ("sourcedId", "classSourcedId", "userSourcedId", "role")
    reader = _Reader("enrollments.csv", text, required, problems)
    enrollments: list[RosterEnrollment] = []
    for line, row in reader.rows():
        class_id = reader.text(line, row, "classSourcedId", required=True)
        user_id = reader.text(line, row, "userSourcedId", required=True)
        role = reader.role(line, row)
        where = f"enrollments.csv:{line}"
        if class_id and class_id not in classes:
            problems.append(Problem(where, "classSourcedId", f"{class_id!r} is not in classes.csv"))
        if user_id and user_id not in users:
            problems.append(Problem(where, "userSourcedId", f"{user_id!r} is not in users.csv"))
        enrollments.append(RosterEnrollment(class_id, user_id, role, reader.deleted(line, row)))
    return enrollments
