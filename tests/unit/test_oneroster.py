"""Reading a OneRoster 1.1 CSV export: what it holds, and every problem named by file,
line and column before anything is stored."""

from __future__ import annotations

from datetime import date

import pytest

from masterypath.errors import InvalidInputError
from masterypath.interop.oneroster import parse_roster

USERS = (
    "\ufeffsourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,"
    "givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password\n"
    "s1,active,2026-08-01T00:00:00Z,true,o1,student,ana.lima,,Ana,Lima,,,ana@school.example,,,,07,\n"
    "s2,,,false,o1,student,ben,,Ben,Okafor,,,,,,,07,\n"
    "t1,,,true,o1,teacher,mei.lee,,Mei,Lee,,,,,,,,\n"
    "p1,tobedeleted,,true,o1,parent,,,Pat,Lima,,,,,,,,\n"
)
CLASSES = "sourcedId,status,dateLastModified,title,grades,courseSourcedId\nc1,,,Algebra 1,07,k1\n"
ENROLLMENTS = (
    "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary\n"
    "e1,,,c1,o1,s1,student,false\n"
    "e2,tobedeleted,,c1,o1,s2,student,false\n"
    "e3,,,c1,o1,t1,teacher,true\n"
)
DEMOGRAPHICS = "sourcedId,status,dateLastModified,birthDate,sex\ns1,,,2014-05-02,female\n"


def test_a_full_export_as_read() -> None:
    roster = parse_roster(
        {
            "users.csv": USERS,
            "classes.csv": CLASSES,
            "enrollments.csv": ENROLLMENTS,
            "demographics.csv": DEMOGRAPHICS,
        }
    )
    ana, ben, mei, pat = roster.users
    assert (ana.sourced_id, ana.username, ana.name, ana.email) == (
        "s1",
        "ana.lima",
        "Ana Lima",
        "ana@school.example",
    )
    assert ana.birth_date == date(2014, 5, 2) and ben.birth_date is None
    assert (ana.enabled, ben.enabled, mei.role, pat.deleted) == (True, False, "teacher", True)
    assert [(u.line) for u in roster.users] == [2, 3, 4, 5]
    assert [(c.sourced_id, c.title) for c in roster.classes] == [("c1", "Algebra 1")]
    assert [(e.user_id, e.role, e.deleted) for e in roster.enrollments] == [
        ("s1", "student", False),
        ("s2", "student", True),
        ("t1", "teacher", False),
    ]


def test_every_problem_is_named_and_nothing_is_read_half() -> None:
    users = (
        "sourcedId,role,username,givenName,familyName,status\n"
        "s1,student,ana,Ana,Lima,\n"
        "s1,pupil,ana,Ana,Again,retired\n"
        ",student,,No,Id,\n"
    )
    enrollments = "sourcedId,classSourcedId,userSourcedId,role\ne1,c9,s7,student\n"
    demographics = "sourcedId,birthDate\ns1,02/05/2014\n"
    with pytest.raises(InvalidInputError) as raised:
        parse_roster(
            {
                "users.csv": users,
                "classes.csv": "sourcedId,title\nc1,Algebra\n",
                "enrollments.csv": enrollments,
                "demographics.csv": demographics,
            }
        )
    assert [str(p) for p in raised.value.problems] == [
        "demographics.csv:2: birthDate: '02/05/2014' is not YYYY-MM-DD",
        "users.csv:3: sourcedId: 's1' appears twice",
        "users.csv:3: role: 'pupil' is not a OneRoster role (administrator, aide, counselor, "
        "districtAdministrator, guardian, parent, principal, proctor, relative, "
        "siteAdministrator, student, systemAdministrator, teacher)",
        "users.csv:3: username: 'ana' is also the username on line 2",
        "users.csv:3: status: 'retired' is not active or tobedeleted",
        "users.csv:4: sourcedId: is empty",
        "enrollments.csv:2: classSourcedId: 'c9' is not in classes.csv",
        "enrollments.csv:2: userSourcedId: 's7' is not in users.csv",
    ]


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        ({}, "users.csv: file: is required"),
        (
            {"users.csv": "sourcedId,role\ns1,student\n"},
            "users.csv:1: givenName: required column is missing",
        ),
        (
            {"users.csv": "sourcedId,role,givenName,familyName\n", "classes.csv": CLASSES},
            "enrollments.csv: file: classes.csv and enrollments.csv come together",
        ),
        (
            {"users.csv": "sourcedId,role,givenName,familyName\ns\x001,student,A,B\n"},
            "users.csv:2: sourcedId: contains a NUL character",
        ),
    ],
)
def test_missing_files_and_columns(files: dict[str, str], problem: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        parse_roster(files)
    assert str(raised.value.problems[0]) == problem


def test_text_that_is_not_csv_is_a_problem_not_a_crash() -> None:
    # found by the API fuzz test: a bare carriage return, and a field over the csv
    # module's limit, raised csv.Error (a 500)
    header = "sourcedId,role,givenName,familyName\n"
    windows = parse_roster({"users.csv": header.replace("\n", "\r\n") + "s1,student,A,B\r\n"})
    assert [u.name for u in windows.users] == ["A B"]
    with pytest.raises(InvalidInputError) as raised:  # a bare "\r" ends a line, as in a file
        parse_roster({"users.csv": header + "s1,student,A\rs2,B,C\n"})
    assert str(raised.value.problems[0]).startswith("users.csv:3: role: 'B' is not")
    with pytest.raises(InvalidInputError) as raised:
        parse_roster({"users.csv": header + 's1,student,"' + "x" * 200_000 + '",C\n'})
    problem = raised.value.problems[0]
    assert (problem.location, problem.field) == ("users.csv:2", "file")
    assert problem.reason.startswith("is not CSV (field larger than field limit")
    with pytest.raises(InvalidInputError) as raised:
        parse_roster({"users.csv": '"' + "y" * 200_000 + '"\n'})
    assert str(raised.value.problems[0]).startswith("users.csv:1: file: is not CSV")
