"""``masterypath backup`` and ``masterypath restore``: a copy of the whole database, made
while the server runs, and put back."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from masterypath.cli_support import (
    JsonOption,
    open_context,
    out,
    print_json,
    register_commands,
    with_progress,
)
from masterypath.errors import ValidationError
from masterypath.store.backup import BackupReport, backup_database, restore_database


def backup(
    path: Annotated[Path, typer.Argument(help="A new file (never written over).")],
    as_json: JsonOption = False,
) -> None:
    """Copy the whole database to PATH while the server goes on running: SQLite's online
    backup (one file, integrity-checked), or pg_dump's custom format for PostgreSQL.
    Restore it with masterypath restore."""
    engine = open_context().engine
    report = with_progress(
        "backing up", as_json, lambda progress: backup_database(engine, path, progress=progress)
    )
    _say(report, "backed up to", as_json)


def restore(
    path: Annotated[Path, typer.Argument(help="A backup made by masterypath backup.")],
    yes: Annotated[
        bool, typer.Option("--yes", help="Yes: replace everything in the database.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Replace everything in the database with the backup at PATH (made by masterypath
    backup, from this release or an earlier one), then bring its schema up to date. Stop
    the server first: its sessions and caches would outlive what they read."""
    if not yes:
        raise ValidationError("--yes", "is required: a restore replaces everything in the database")
    report = restore_database(open_context().engine, path)
    _say(report, "restored from", as_json)


def _say(report: BackupReport, done: str, as_json: bool) -> None:
    if as_json:
        print_json(report.to_dict())
        return
    counted = ", ".join(f"{n} {table}" for table, n in report.rows.items())
    out.print(
        f"{done} {report.path} ({report.database}, {report.bytes:,} bytes, schema "
        f"{report.schema_revision}): {counted}",
        soft_wrap=True,
    )


def register(parent: typer.Typer) -> None:
    register_commands(parent, {"backup": backup, "restore": restore})
