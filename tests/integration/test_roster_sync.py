"""``masterypath roster sync``: the roster read from a student information system's
OneRoster 1.2 REST service, here a real HTTP server on 127.0.0.1 standing in for one
(with OAuth 2 client credentials and pages of two records)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from masterypath.cli import app
from masterypath.services.context import ServiceContext
from masterypath.settings import Settings
from masterypath.store.database import upgrade
from masterypath.store.tables import CohortMemberRow, CohortRow, LearnerProfileRow, UserRow
from tests.http_stub import serving

CLIENT = ("sis-client", "sis-secret")
PRIMARY = "primary"


def user(sourced_id: str, role: str, given: str, family: str, **more: Any) -> dict[str, Any]:
    """A user as OneRoster 1.2 writes one (roles as a list, enabledUser a boolean)."""
    return {
        "sourcedId": sourced_id,
        "status": "active",
        "enabledUser": True,
        "givenName": given,
        "familyName": family,
        "roles": [{"roleType": PRIMARY, "role": role, "org": {"sourcedId": "school-1"}}],
        **more,
    }


def enrollment(sourced_id: str, class_id: str, user_id: str, role: str) -> dict[str, Any]:
    return {
        "sourcedId": sourced_id,
        "status": "active",
        "role": role,
        "class": {"sourcedId": class_id, "type": "class"},
        "user": {"sourcedId": user_id, "type": "user"},
    }


class Sis:
    """The system's records, token endpoint and rostering service."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/ims/oneroster/rostering/v1p2"
        self.token_url = f"http://127.0.0.1:{port}/oauth/token"
        self.records: dict[str, list[dict[str, Any]]] = {
            "users": [
                user("s1", "student", "Ana", "Lima", username="ana", email="ana@school.org"),
                user("s2", "student", "Ben", "Okafor", username="ben"),
                user("s3", "student", "Cleo", "Park"),
                user("t1", "teacher", "Mei", "Lee", username="ms-lee"),
            ],
            "classes": [{"sourcedId": "c1", "status": "active", "title": "Algebra 1"}],
            "enrollments": [
                enrollment("e1", "c1", "s1", "student"),
                enrollment("e2", "c1", "s2", "student"),
                enrollment("e3", "c1", "t1", "teacher"),
            ],
            "demographics": [{"sourcedId": "s3", "birthDate": "2016-04-01"}],
        }
        self.pages: list[str] = []
        self.scopes: list[str] = []


@pytest.fixture
def sis() -> Iterator[Sis]:
    holder: dict[str, Sis] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            system = holder["sis"]
            body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
            basic = base64.b64encode(":".join(CLIENT).encode()).decode()
            if self.path != "/oauth/token" or self.headers.get("Authorization") != f"Basic {basic}":
                self._send(401, {"error": "invalid_client"})
                return
            system.scopes.append(parse_qs(body)["scope"][0])
            self._send(200, {"access_token": "sis-token", "token_type": "bearer"})

        def do_GET(self) -> None:
            system = holder["sis"]
            url = urlsplit(self.path)
            name = url.path.rsplit("/", 1)[-1]
            if self.headers.get("Authorization") != "Bearer sis-token":
                self._send(401, {"imsx_codeMajor": "failure"})
                return
            if name not in system.records:
                self._send(404, {"imsx_codeMajor": "failure"})
                return
            query = {k: int(v[0]) for k, v in parse_qs(url.query).items()}
            system.pages.append(f"{name}@{query['offset']}")
            page = system.records[name][query["offset"] : query["offset"] + query["limit"]]
            self._send(200, {name: page})

        def _send(self, status: int, answer: dict[str, Any]) -> None:
            body = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    with serving(Handler) as port:
        holder["sis"] = Sis(port)
        yield holder["sis"]


@pytest.fixture
def configured(sis: Sis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ServiceContext:
    url = f"sqlite:///{tmp_path / 'sync.db'}"
    monkeypatch.setenv("MASTERYPATH_DATABASE_URL", url)
    monkeypatch.setenv("MASTERYPATH_ONEROSTER_URL", sis.url)
    monkeypatch.setenv("MASTERYPATH_ONEROSTER_TOKEN_URL", sis.token_url)
    monkeypatch.setenv("MASTERYPATH_ONEROSTER_CLIENT_ID", CLIENT[0])
    monkeypatch.setenv("MASTERYPATH_ONEROSTER_CLIENT_SECRET", CLIENT[1])
    monkeypatch.setattr("masterypath.interop.oneroster_rest.PAGE", 2)
    context = ServiceContext.from_settings(Settings(database_url=url))
    upgrade(context.engine)
    return context


def test_the_roster_is_read_page_by_page_from_the_sis_and_stored(
    configured: ServiceContext, sis: Sis, tmp_path: Path
) -> None:
    passwords = tmp_path / "passwords.csv"
    done = CliRunner().invoke(app, ["roster", "sync", "--accounts-file", str(passwords), "--json"])
    assert done.exit_code == 0, done.output
    figures = json.loads(done.output)
    assert figures["learners_added"] == 3
    assert sis.pages == [
        "users@0",
        "users@2",
        "users@4",  # two full pages, then an empty one
        "classes@0",
        "enrollments@0",
        "enrollments@2",
        "demographics@0",
    ]
    assert "roster-core.readonly" in sis.scopes[0]
    with configured.sessions() as session:
        query = select(LearnerProfileRow.learner_id, LearnerProfileRow.name)
        names = {learner: name for learner, name in session.execute(query)}
        assert names == {"s1": "Ana Lima", "s2": "Ben Okafor", "s3": "Cleo Park"}
        cleo = session.get(LearnerProfileRow, "s3")
        assert cleo is not None and str(cleo.birth_date) == "2016-04-01"
        assert session.get(CohortRow, "c1") is not None
        members = set(session.scalars(select(CohortMemberRow.learner_id)))
        assert members == {"s1", "s2"}
        usernames = set(session.scalars(select(UserRow.username)))
        assert usernames == {"ana", "ben", "ms-lee"}
    assert len(passwords.read_text().splitlines()) == 4
    # the next sync changes what changed: Ben left the class
    sis.records["enrollments"][1]["status"] = "tobedeleted"
    again = CliRunner().invoke(app, ["roster", "sync", "--json"])
    assert again.exit_code == 0, again.output
    with configured.sessions() as session:
        assert set(session.scalars(select(CohortMemberRow.learner_id))) == {"s1"}


def test_a_sis_that_refuses_or_sends_a_bad_record_stores_nothing(
    configured: ServiceContext, sis: Sis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MASTERYPATH_ONEROSTER_CLIENT_SECRET", "wrong")
    refused = CliRunner().invoke(app, ["roster", "sync"])
    assert refused.exit_code != 0
    assert "/oauth/token: 401" in " ".join(refused.output.split())
    monkeypatch.setenv("MASTERYPATH_ONEROSTER_CLIENT_SECRET", CLIENT[1])
    sis.records["users"][2]["roles"][0]["role"] = "pupil"
    bad = CliRunner().invoke(app, ["roster", "sync"])
    assert bad.exit_code == 2
    assert "users.csv:4: role: 'pupil' is not a OneRoster role" in " ".join(bad.output.split())
    with configured.sessions() as session:
        assert session.scalars(select(LearnerProfileRow)).first() is None
    monkeypatch.delenv("MASTERYPATH_ONEROSTER_URL")
    unset = CliRunner().invoke(app, ["roster", "sync"])
    assert unset.exit_code == 2
    assert "--url: is required (or MASTERYPATH_ONEROSTER_URL)" in " ".join(unset.output.split())
