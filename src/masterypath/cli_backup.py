"""``masterypath backup`` and ``masterypath restore``: a copy of the whole database, made
while the server runs, and put back."""

from __future__ import annotations

from datetime import UTC, datetime
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
from masterypath.store.backup import (
    BackupReport,
    backup_database,
    replaced_copy_path,
    restore_database,
)


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
    copy_to: Annotated[
        Path | None,
        typer.Option(
            help="Back the database up to this new file before replacing it; default beside "
            "the SQLite file (NAME.before-restore-STAMP) or, for PostgreSQL, "
            "DBNAME-before-restore-STAMP.dump in the current folder."
        ),
    ] = None,
    no_copy: Annotated[
        bool, typer.Option("--no-copy", help="Keep no copy of what the restore replaces.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Replace everything in the database with the backup at PATH (made by masterypath
    backup, from this release or an earlier one), then bring its schema up to date. What
    it replaces is backed up first (see --copy-to): restoring that copy undoes it. Stop
    the server first: its sessions and caches would outlive what they read."""
    if not yes:
        raise ValidationError("--yes", "is required: a restore replaces everything in the database")
    if no_copy and copy_to is not None:
        raise ValidationError("--no-copy", "and --copy-to exclude each other: give one")
    if copy_to is not None and copy_to.exists():
        raise ValidationError(
            "--copy-to", f"{copy_to} exists: a backup is never written over a file"
        )
    engine = open_context().engine
    if not no_copy and copy_to is None:
        copy_to = replaced_copy_path(engine, datetime.now(UTC), Path.cwd())
    report = restore_database(engine, path, replaced_copy=None if no_copy else copy_to)
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
    if report.replaced_copy is not None:
        out.print(
            f"what it replaced is in {report.replaced_copy} "
            f"(masterypath restore {report.replaced_copy} --yes undoes this)",
            soft_wrap=True,
        )


def register(parent: typer.Typer) -> None:
    register_commands(parent, {"backup": backup, "restore": restore})
