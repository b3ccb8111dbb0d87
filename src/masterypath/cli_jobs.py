"""``masterypath jobs``: the server's scheduled jobs (roster sync, grades, members,
backups), shown and run by hand; ``masterypath check``: whether the server can do its
work."""

from __future__ import annotations

import contextlib
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from masterypath.cli_support import (
    JsonOption,
    open_context,
    out,
    print_json,
    register_commands,
    status_line,
)
from masterypath.errors import ConfigurationError, NotFoundError
from masterypath.interop.lti_tool_key import ToolKey
from masterypath.services.context import ServiceContext
from masterypath.services.health import Check, server_checks
from masterypath.services.jobs import JobRunner, JobStatus, scheduled_jobs
from masterypath.settings import Settings

jobs_app = typer.Typer(
    help="The server's scheduled jobs (MASTERYPATH_ROSTER_SYNC_HOURS, _LTI_GRADES_MINUTES, "
    "_LTI_MEMBERS_HOURS, _RETENTION_DAYS, _BACKUP_HOURS or _BACKUP_AT)."
)


def _runner() -> JobRunner:
    settings = Settings.from_environment()
    context = open_context()
    return JobRunner(
        context, scheduled_jobs(settings, context, tool_key=ToolKey.from_settings(settings))
    )


def check(as_json: JsonOption = False) -> None:
    """Whether the server can do its work: the database and its schema, the LTI key, what
    backups need (a writable folder; for PostgreSQL a new enough pg_dump) and each
    scheduled job's last run (failed, or not started within 15 minutes of its due time).
    Exits 1 when a check fails, for monitoring."""
    settings = Settings.from_environment()
    context = ServiceContext.from_settings(settings)  # as found: no migration run
    try:
        found = _checks(settings, context)
    finally:
        context.engine.dispose()
    ok = all(c.ok for c in found)
    if as_json:
        print_json({"ok": ok, "checks": [c.to_dict() for c in found]})
    else:
        table = Table("check", "", "found")
        for c in found:
            table.add_row(c.name, "ok" if c.ok else "[red]FAILED[/red]", c.detail)
        out.print(table)
    if not ok:
        raise typer.Exit(1)


def list_jobs(as_json: JsonOption = False) -> None:
    """The scheduled jobs the settings ask for: each one's period, last run, outcome and
    when it is due."""
    _show(_runner().statuses(), as_json, "no job is scheduled: see the README's settings")


def run_jobs(
    name: Annotated[
        str | None, typer.Argument(help="Run this job now, due or not (else: every due one).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Run the due jobs now, one after another (as the server does every 30 seconds), or
    the one named; a job another process runs is skipped. A terminal shows which job
    runs."""
    runner = _runner()
    if name is not None and name not in {job.name for job in runner.jobs}:
        raise NotFoundError("job", name)
    with status_line("looking for due jobs") as show:
        ran = runner.run_due(
            only=name, now_too=name is not None, starting=lambda job: show(f"running {job}")
        )
    _show(ran, as_json, "nothing was due")


def _checks(settings: Settings, context: ServiceContext) -> list[Check]:
    statuses: list[JobStatus] = []
    try:
        jobs = scheduled_jobs(settings, context, tool_key=ToolKey.from_settings(settings))
    except ConfigurationError as exc:
        return [*server_checks(settings, context, statuses), Check("settings", False, str(exc))]
    with contextlib.suppress(SQLAlchemyError):  # said by the database check
        statuses = JobRunner(context, jobs).statuses()
    return server_checks(settings, context, statuses)


def _show(statuses: list[JobStatus], as_json: bool, empty: str) -> None:
    if as_json:
        print_json([s.to_dict() for s in statuses])
        return
    if not statuses:
        out.print(empty)
        return
    table = Table("job", "every", "last run", "outcome", "due", "summary")
    for s in statuses:
        table.add_row(
            s.name,
            f"daily at {s.daily_at}" if s.daily_at else f"{s.every_seconds / 3600:g} h",
            "" if s.started_at is None else s.started_at.isoformat(timespec="seconds"),
            "running" if s.running else s.outcome or "",
            "" if s.due_at is None else s.due_at.isoformat(timespec="seconds"),
            s.summary or "",
        )
    out.print(table)


def register(parent: typer.Typer) -> None:
    register_commands(jobs_app, {"list": list_jobs, "run": run_jobs})
    parent.add_typer(jobs_app, name="jobs")
    register_commands(parent, {"check": check})
