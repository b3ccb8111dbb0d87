"""Shared fixtures.

Storage and API tests take the ``context`` fixture, which runs each test once on
SQLite and once on PostgreSQL. The PostgreSQL leg uses the server named by
``MASTERYPATH_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``);
when it cannot be reached the leg is skipped and the run says so loudly, unless
``MASTERYPATH_REQUIRE_POSTGRES=1`` (set by ``.ci/run``), which makes it a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from argon2 import PasswordHasher, profiles
from fastapi.testclient import TestClient
from sqlalchemy import event, text

from masterypath.api.app import create_app
from masterypath.domain.access import Role
from masterypath.interop import vc_jwt
from masterypath.services.accounts import AccountService
from masterypath.services.context import ServiceContext
from masterypath.settings import Settings
from masterypath.store.database import upgrade

ADMIN_URL = os.environ.get(
    "MASTERYPATH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_POSTGRES = os.environ.get("MASTERYPATH_REQUIRE_POSTGRES") == "1"
DATA = Path(
    os.environ.get(
        "MASTERYPATH_DATA_DIR", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
    )
)
_notes: list[str] = []


def data_file(relative: str) -> Path:
    """A file of the shared real-data folder; skip (loudly) when it is not there."""
    path = DATA / relative
    if not path.is_file():
        _notes.append(f"real data missing, tests skipped: {path}")
        pytest.skip(f"real data not found: {path} (set MASTERYPATH_DATA_DIR)")
    return path


class FixedClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def advance_clock(context: ServiceContext, **kwargs: float) -> None:
    """Move the fixed clock of a test database (``database`` fixture) on."""
    assert isinstance(context.clock, FixedClock)
    context.clock.advance(**kwargs)


def _postgres_reachable() -> str | None:
    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database on the PostgreSQL server for this test session, dropped after."""
    problem = _postgres_reachable()
    if problem is not None:
        message = f"PostgreSQL at {ADMIN_URL} unreachable: {problem}"
        if REQUIRE_POSTGRES:
            pytest.fail(message + " (MASTERYPATH_REQUIRE_POSTGRES=1)", pytrace=False)
        _notes.append("PostgreSQL leg SKIPPED - " + message)
        pytest.skip(message)
    name = f"masterypath_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def badge_key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A badge-signing RSA key, made once per test session (making one takes a moment)."""
    path = tmp_path_factory.mktemp("badges") / "key.pem"
    vc_jwt.write_key(vc_jwt.generate_key(), path)
    return path


def badge_settings(key_file: Path) -> Settings:
    """Settings of a server that issues badges as ``https://school.example/``."""
    return Settings(
        embeddings=False,
        badge_key_file=str(key_file),
        badge_issuer_url="https://school.example/",
        badge_issuer_name="Example School",
    )


@pytest.fixture(scope="session")
def postgres_context(postgres_url: str) -> Iterator[ServiceContext]:
    context = ServiceContext.from_settings(Settings(database_url=postgres_url))
    upgrade(context.engine)
    yield context
    context.engine.dispose()


TABLES = (
    "guardianships",
    "roster_reads",
    "job_runs",
    "lti_registration_links",
    "lti_grade_links",
    "lti_contexts",
    "lti_accounts",
    "lti_logins",
    "lti_platforms",
    "placements",
    "reviews",
    "submissions",
    "rubrics",
    "xapi_statement_agents",
    "xapi_statement_attachments",
    "xapi_attachments",
    "xapi_statements",
    "xapi_states",
    "xapi_agent_profiles",
    "xapi_activity_profiles",
    "audit_log",
    "access_log",
    "guardian_consents",
    "learner_profiles",
    "cohort_educators",
    "cohort_members",
    "cohorts",
    "api_keys",
    "embed_tokens",
    "badges",
    "badge_statuses",
    "auth_tokens",
    "users",
    "career_goals",
    "alignments",
    "occupation_requirements",
    "career_skills",
    "career_skill_groups",
    "occupations",
    "taxonomies",
    "group_attributes",
    "alerts",
    "overrides",
    "mastery_events",
    "mastery_states",
    "mastery_policies",
    "model_versions",
    "learners",
    "evidence_competencies",
    "evidence_voids",
    "evidence",
    "prerequisites",
    "items",
    "competencies",
    "frameworks",
)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServiceContext]:
    """A migrated, empty database (on each backend) with a fixed clock."""
    clock = FixedClock()
    if request.param == "sqlite":
        context = ServiceContext.from_settings(
            Settings(database_url=f"sqlite:///{tmp_path / 'test.db'}"), clock=clock
        )
        upgrade(context.engine)
        yield context
        context.engine.dispose()
        return
    shared: ServiceContext = request.getfixturevalue("postgres_context")
    with shared.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    yield ServiceContext(engine=shared.engine, sessions=shared.sessions, clock=clock)


@pytest.fixture
def sql_log(database: ServiceContext, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The SQL statements ``database`` is sent during the test. On PostgreSQL every one,
    through SQLAlchemy or straight on a driver cursor as the hot paths do (psycopg's
    ``Cursor.execute`` is observed, and still called); on SQLite those that go through
    SQLAlchemy (its cursor event; ``sqlite3``'s cursor cannot be observed)."""
    seen: list[str] = []
    if database.engine.dialect.name == "postgresql":
        execute = psycopg.Cursor.execute

        def observed(self: psycopg.Cursor[Any], query: Any, *args: Any, **kwargs: Any) -> Any:
            seen.append(str(query))
            return execute(self, query, *args, **kwargs)

        monkeypatch.setattr(psycopg.Cursor, "execute", observed)
        yield seen
        return

    def record(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        seen.append(sql)

    event.listen(database.engine, "before_cursor_execute", record)
    yield seen
    event.remove(database.engine, "before_cursor_execute", record)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for note in dict.fromkeys(_notes):
        terminalreporter.write_line(f"!!! {note}", red=True, bold=True)


CHEAP_HASHER = PasswordHasher.from_parameters(profiles.CHEAPEST)
"""argon2 at its cheapest: the default costs ~170 ms a hash on 2 cores (never in production)."""


def api_app(
    context: ServiceContext, settings: Settings | None = None, *, cache_seconds: float = 0.0
) -> tuple[TestClient, AccountService]:
    """A test client of the real app on ``context`` (no credentials yet) and its accounts.
    Resolved credentials are not cached unless ``cache_seconds`` says so (with a cache, the
    fast lane of the single posts answers the common case: ``api/fast_lane.py``)."""
    accounts = AccountService(context, hasher=CHEAP_HASHER, cache_seconds=cache_seconds)
    app = create_app(settings or Settings(embeddings=False), context=context, accounts=accounts)
    return TestClient(app), accounts


def login(client: TestClient, username: str, password: str) -> dict[str, str]:
    response = client.post("/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def admin_client(
    context: ServiceContext, settings: Settings | None = None, *, cache_seconds: float = 0.0
) -> TestClient:
    """A client logged in as an admin (who may do everything)."""
    client, accounts = api_app(context, settings, cache_seconds=cache_seconds)
    accounts.create_user("admin", "admin-password", Role.ADMIN)
    client.headers.update(login(client, "admin", "admin-password"))
    return client
