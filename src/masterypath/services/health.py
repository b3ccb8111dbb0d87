"""Whether the server can do its work.

:func:`readiness` (``GET /health/ready``, for a load balancer or an orchestrator): the
database answers and its schema is this release's. :func:`server_checks` (``masterypath
check``, ``GET /api/v1/checks``, for whoever runs the school's server and their
monitoring): that, and each scheduled job's last run (a backup that failed last night, a
job no server has run since it was due) and what the jobs need (a backup folder that can
be written, PostgreSQL client programs that can dump this server).

>>> Check("database", True, "sqlite").to_dict()
{'name': 'database', 'ok': True, 'detail': 'sqlite'}
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from masterypath.errors import ConfigurationError
from masterypath.interop.lti_tool_key import ToolKey
from masterypath.services.context import ServiceContext
from masterypath.services.jobs import JobStatus
from masterypath.settings import Settings
from masterypath.store.database import head_revision, schema_revision

OVERDUE = timedelta(minutes=15)
"""How long after it was due a job that has not started counts as not being run (the
server looks every 30 seconds)."""

log = logging.getLogger("masterypath.health")


@dataclass(frozen=True)
class Check:
    """One thing checked: its name, whether it is as it should be, and what was found."""

    name: str
    ok: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def readiness(context: ServiceContext) -> list[Check]:
    """The database reachable, and its schema the one this release needs. What is wrong is
    said without the database's address or error (the answer is public); the log has
    them."""
    try:
        current = schema_revision(context.engine)
    except SQLAlchemyError as exc:
        log.warning("the database cannot be reached: %s", exc)
        return [Check("database", False, "cannot be reached (the server's log says why)")]
    head = head_revision()
    schema = Check("schema", True, f"at {head}")
    if current != head:
        found = "empty" if current is None else f"at {current}"
        schema = Check("schema", False, f"{found}; this release needs {head}: masterypath init")
    return [Check("database", True, context.engine.dialect.name), schema]


def job_checks(statuses: Sequence[JobStatus], now: datetime) -> list[Check]:
    """Each scheduled job: failed if its last run failed, or if no server has started it
    within :data:`OVERDUE` of its due time.

    >>> from datetime import UTC
    >>> at = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    >>> late = JobStatus("backup", 86400.0, at, None, None, None, None, False)
    >>> job_checks([late], at + timedelta(hours=1))[0].ok
    False
    """
    checks = []
    for s in statuses:
        name = f"job {s.name}"
        if s.running:
            checks.append(Check(name, True, f"running since {_at(s.started_at)}"))
        elif s.outcome == "failed":
            checks.append(Check(name, False, f"failed at {_at(s.finished_at)}: {s.summary}"))
        elif s.due_at is not None and s.due_at + OVERDUE < now:
            checks.append(
                Check(
                    name,
                    False,
                    f"due since {_at(s.due_at)} and not started: is a server running "
                    "with these settings?",
                )
            )
        elif s.outcome is None:
            checks.append(Check(name, True, "not run yet"))
        else:
            checks.append(Check(name, True, f"ran at {_at(s.finished_at)}, due {_at(s.due_at)}"))
    return checks


def backup_checks(settings: Settings, context: ServiceContext) -> list[Check]:
    """What backups need: ``MASTERYPATH_BACKUP_DIR`` writable (when set), and for
    PostgreSQL a ``pg_dump`` at least as new as the server (an older one refuses to
    dump it)."""
    checks = []
    if settings.backup_dir:
        folder = Path(settings.backup_dir)
        near = next((p for p in (folder, *folder.parents) if p.exists()), None)
        if near is None or not near.is_dir() or not os.access(near, os.W_OK | os.X_OK):
            checks.append(Check("backup folder", False, f"{folder}: cannot be written"))
        else:
            checks.append(Check("backup folder", True, f"{folder}: can be written"))
    if context.engine.dialect.name == "postgresql":
        checks.append(_pg_dump_check(context))
    return checks


def server_checks(
    settings: Settings, context: ServiceContext, statuses: Sequence[JobStatus]
) -> list[Check]:
    """Everything: :func:`readiness`, the LTI key (when set), :func:`backup_checks` and
    :func:`job_checks` of ``statuses`` (when the database answers)."""
    checks = readiness(context)
    if settings.lti_key_file:
        checks.append(_tool_key_check(settings))
    checks += backup_checks(settings, context)
    if checks[0].ok:
        checks += job_checks(statuses, context.clock())
    return checks


def _tool_key_check(settings: Settings) -> Check:
    try:
        ToolKey.from_settings(settings)
    except ConfigurationError as exc:
        return Check("LTI key", False, str(exc))
    return Check("LTI key", True, f"{settings.lti_key_file}: readable")


def _pg_dump_check(context: ServiceContext) -> Check:
    found = shutil.which("pg_dump")
    if found is None:
        return Check(
            "pg_dump",
            False,
            "not installed: backups need it (apt-get install postgresql-client)",
        )
    said = subprocess.run([found, "--version"], capture_output=True, text=True, check=False).stdout
    client = re.search(r"(\d+)(?:\.\d+)?", said)
    try:
        with context.engine.connect():
            info = context.engine.dialect.server_version_info
    except SQLAlchemyError:
        return Check("pg_dump", False, "the server's version cannot be read")
    if client is None or not info:
        return Check("pg_dump", False, f"its version cannot be read: {said.strip()!r}")
    mine, server = int(client.group(1)), int(info[0])
    if mine < server:
        return Check(
            "pg_dump",
            False,
            f"version {mine} cannot dump a version {server} server: install the PostgreSQL "
            f"{server} client programs",
        )
    return Check("pg_dump", True, f"version {mine} for a version {server} server")


def _at(t: datetime | None) -> str:
    return "never" if t is None else t.isoformat(timespec="seconds")
