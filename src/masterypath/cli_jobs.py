"""``masterypath jobs``: the server's scheduled jobs (roster sync, grades, members,
backups), shown and run by hand."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from masterypath.cli_support import (
    JsonOption,
    open_context,
    out,
    print_json,
    register_commands,
    status_line,
)
from masterypath.errors import NotFoundError
from masterypath.interop.lti_tool_key import ToolKey
from masterypath.services.jobs import JobRunner, JobStatus, scheduled_jobs
from masterypath.settings import Settings

jobs_app = typer.Typer(
    help="The server's scheduled jobs (MASTERYPATH_ROSTER_SYNC_HOURS, _LTI_GRADES_MINUTES, "
    "_LTI_MEMBERS_HOURS, _BACKUP_HOURS)."
)


def _runner() -> JobRunner:
    settings = Settings.from_environment()
    context = open_context()
    return JobRunner(
        context, scheduled_jobs(settings, context, tool_key=ToolKey.from_settings(settings))
    )


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


def _show(statuses: list[JobStatus], as_json: bool, empty: str) -> None:
    if as_json:
        print_json([s.to_dict() for s in statuses])
        return
    if not statuses:
        out.print(empty)
        return
    table = Table("job", "every (h)", "last run", "outcome", "due", "summary")
    for s in statuses:
        table.add_row(
            s.name,
            f"{s.every_seconds / 3600:g}",
            "" if s.started_at is None else s.started_at.isoformat(timespec="seconds"),
            "running" if s.running else s.outcome or "",
            "" if s.due_at is None else s.due_at.isoformat(timespec="seconds"),
            s.summary or "",
        )
    out.print(table)


def register(parent: typer.Typer) -> None:
    register_commands(jobs_app, {"list": list_jobs, "run": run_jobs})
    parent.add_typer(jobs_app, name="jobs")
