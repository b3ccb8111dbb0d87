"""Whether the server can do its work (``services/health.py``): ``GET /health/ready`` for a
load balancer, ``GET /api/v1/checks`` and ``masterypath check`` for its admins, on
SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from masterypath.cli import app as cli
from masterypath.services.context import ServiceContext
from masterypath.services.health import OVERDUE, job_checks
from masterypath.services.jobs import JobStatus
from masterypath.settings import Settings
from masterypath.store.database import alembic_config, head_revision, upgrade
from tests.conftest import admin_client, api_app, login
from tests.integration.test_jobs import run_job

AT = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)


def status(**fields: Any) -> JobStatus:
    """A job's status: a daily backup that ran at 2:00 and is due the next day."""
    base: dict[str, Any] = {
        "name": "backup",
        "every_seconds": 86_400.0,
        "due_at": AT + timedelta(days=1),
        "started_at": AT,
        "finished_at": AT + timedelta(minutes=3),
        "outcome": "ok",
        "summary": "{}",
        "running": False,
    }
    return JobStatus(**(base | fields))


def test_each_job_is_checked_for_a_failed_run_and_for_not_being_run() -> None:
    day = AT + timedelta(days=1)
    checks = job_checks(
        [
            status(),
            status(name="lti-grades", outcome="failed", summary="OSError: no route"),
            status(name="retention", due_at=day - OVERDUE - timedelta(seconds=1)),
            status(name="roster-sync", due_at=day - OVERDUE),
            status(name="lti-members", outcome=None, started_at=None, due_at=None),
            status(name="slow", running=True, due_at=AT),
        ],
        now=day,
    )
    assert [(c.name, c.ok, c.detail) for c in checks] == [
        (
            "job backup",
            True,
            "ran at 2026-12-07T02:03:00+00:00, due 2026-12-08T02:00:00+00:00",
        ),
        ("job lti-grades", False, "failed at 2026-12-07T02:03:00+00:00: OSError: no route"),
        (
            "job retention",
            False,
            "due since 2026-12-08T01:44:59+00:00 and not started: is a server running with "
            "these settings?",
        ),
        (
            "job roster-sync",
            True,
            "ran at 2026-12-07T02:03:00+00:00, due 2026-12-08T01:45:00+00:00",
        ),
        ("job lti-members", True, "not run yet"),
        ("job slow", True, "running since 2026-12-07T02:00:00+00:00"),
    ]


def test_ready_when_the_database_answers_at_this_releases_schema(
    database: ServiceContext,
) -> None:
    client, _ = api_app(database)
    head = head_revision()
    ready = client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "checks": [
            {"name": "database", "ok": True, "detail": database.engine.dialect.name},
            {"name": "schema", "ok": True, "detail": f"at {head}"},
        ],
    }
    # a database an older release left (a backup of it restored by hand): not ready
    command.downgrade(alembic_config(database.engine), "0033")
    try:
        behind = client.get("/health/ready")
        assert behind.status_code == 503
        assert behind.json()["checks"][1] == {
            "name": "schema",
            "ok": False,
            "detail": f"at 0033; this release needs {head}: masterypath init",
        }
    finally:
        upgrade(database.engine)
    assert client.get("/health/ready").status_code == 200


def test_a_database_that_cannot_be_reached_is_not_ready_and_not_named(tmp_path: Path) -> None:
    # nothing listens on port 1: the connection is refused at once
    settings = Settings(embeddings=False, database_url="postgresql://postgres@127.0.0.1:1/gone")
    client, _ = api_app(ServiceContext.from_settings(settings), settings)
    answer = client.get("/health/ready")
    assert answer.status_code == 503
    assert answer.json() == {
        "status": "unready",
        "checks": [
            {
                "name": "database",
                "ok": False,
                "detail": "cannot be reached (the server's log says why)",
            }
        ],
    }
    assert "127.0.0.1" not in answer.text
    assert client.get("/health").status_code == 200  # alive all the same


def test_admins_see_every_check_and_a_failed_job_fails_them(
    database: ServiceContext, tmp_path: Path
) -> None:
    folder = tmp_path / "backups"
    settings = Settings(embeddings=False, backup_hours=24, backup_dir=str(folder))
    client = admin_client(database, settings)
    checks = client.get("/api/v1/checks")
    assert checks.status_code == 200, checks.text
    found = {c["name"]: c for c in checks.json()["checks"]}
    assert checks.json()["ok"] is True, found
    assert found["backup folder"]["detail"] == f"{folder}: can be written"
    assert found["job backup"]["detail"] == "not run yet"
    if database.engine.dialect.name == "postgresql":
        assert found["pg_dump"]["ok"] is True  # this machine's client can dump its server
    else:
        assert "pg_dump" not in found

    # the folder cannot be made (a file stands where it would be): the backup fails
    folder_parent = tmp_path / "taken"
    folder_parent.write_text("a file")
    settings = Settings(
        embeddings=False, backup_hours=24, backup_dir=str(folder_parent / "backups")
    )
    client = second_admin(database, settings)
    ran = run_job(client, "backup")
    assert ran["outcome"] == "failed"
    after = client.get("/api/v1/checks").json()
    found = {c["name"]: c for c in after["checks"]}
    assert after["ok"] is False
    assert found["backup folder"] == {
        "name": "backup folder",
        "ok": False,
        "detail": f"{folder_parent / 'backups'}: cannot be written",
    }
    assert found["job backup"]["ok"] is False
    assert found["job backup"]["detail"].startswith("failed at 2026-11-23T09:00:00+00:00: ")


def second_admin(database: ServiceContext, settings: Settings) -> TestClient:
    """The admin's client of an app with other settings on the same database."""
    client, _ = api_app(database, settings)
    client.headers.update(login(client, "admin", "admin-password"))
    return client


def test_the_check_command_says_what_fails_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MASTERYPATH_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    # before init: the schema is not there
    empty = CliRunner().invoke(cli, ["check", "--json"])
    assert empty.exit_code == 1
    (database, schema) = json.loads(empty.output)["checks"]
    assert database["ok"] is True and schema["ok"] is False
    assert schema["detail"].startswith("empty; this release needs ")
    assert CliRunner().invoke(cli, ["init"]).exit_code == 0
    fine = CliRunner().invoke(cli, ["check"])
    assert fine.exit_code == 0, fine.output
    assert "schema" in fine.output and "FAILED" not in fine.output
    # a job without what it needs is named
    monkeypatch.setenv("MASTERYPATH_BACKUP_HOURS", "24")
    missing = CliRunner().invoke(cli, ["check", "--json"])
    assert missing.exit_code == 1
    report = json.loads(missing.output)
    assert report["ok"] is False
    assert report["checks"][-1] == {
        "name": "settings",
        "ok": False,
        "detail": "MASTERYPATH_BACKUP_HOURS needs MASTERYPATH_BACKUP_DIR",
    }


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_the_check_command_finds_a_pg_dump_too_old_for_the_server(
    database: ServiceContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = tmp_path / "bin" / "pg_dump"
    old.parent.mkdir()
    old.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
    old.chmod(0o755)
    monkeypatch.setenv("PATH", f"{old.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("MASTERYPATH_DATABASE_URL", database.engine.url.render_as_string(False))
    answer = CliRunner().invoke(cli, ["check", "--json"])
    assert answer.exit_code == 1, answer.output
    (found,) = [c for c in json.loads(answer.output)["checks"] if c["name"] == "pg_dump"]
    server = database.engine.dialect.server_version_info
    assert server is not None
    assert found == {
        "name": "pg_dump",
        "ok": False,
        "detail": f"version 9 cannot dump a version {server[0]} server: install the "
        f"PostgreSQL {server[0]} client programs",
    }
