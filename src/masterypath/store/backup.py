"""A copy of the whole database, made while the server runs, and put back.

SQLite (the default): the online backup API copies a consistent snapshot in one read
transaction while the server goes on writing beside it (write-ahead log): what was
committed when the copy began, nothing half written. (Copied a few pages at a time, the
copy would start again at every write of the server, and a busy server's would never
end.) The copy is one self-contained file, checked with ``PRAGMA integrity_check``.
PostgreSQL: the server's own ``pg_dump`` (custom format, a snapshot of one transaction),
checked with ``pg_restore --list``, put back with ``pg_restore``.

A backup is written beside its name and renamed into place when it is whole and checked:
an interrupted one never leaves a file that looks like a backup. A restore replaces
everything in the database, then brings an older backup's schema up to date; it first
backs up what it replaces (unless told not to), so a restore of the wrong file is undone by
restoring that copy.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from masterypath.errors import ConfigurationError, ValidationError
from masterypath.store.database import alembic_config, upgrade

Progress = Callable[[int, int], None]
"""Told how many parts are copied of how many (SQLite: its pages, once the copy is made)."""
COUNTED = ("frameworks", "users", "evidence")
"""The tables a report counts the rows of, to show what a backup holds."""
OWN_OBJECTS = text(
    """
    SELECT 'TABLE', format('%I.%I', schemaname, tablename) FROM pg_tables
     WHERE schemaname = current_schema()
    UNION ALL
    SELECT 'SEQUENCE', format('%I.%I', schemaname, sequencename) FROM pg_sequences
     WHERE schemaname = current_schema()
    UNION ALL
    SELECT 'FUNCTION', p.oid::regprocedure::text FROM pg_proc p
      JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = current_schema()
    """
)
"""What a restore drops before it creates the backup's: the tables, sequences and
functions of the database's schema (the functions some migrations make)."""


@dataclass(frozen=True)
class BackupReport:
    """What a backup holds (or a restore put back)."""

    database: str
    path: str
    bytes: int
    schema_revision: str
    rows: dict[str, int]
    """Rows of the tables in :data:`COUNTED`."""
    replaced_copy: str | None = None
    """A restore's backup of the database it replaced (None: none was made)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def backup_database(
    engine: Engine, path: Path, *, progress: Progress | None = None
) -> BackupReport:
    """Copy the database of ``engine`` to ``path`` (a new file, never overwritten)."""
    if path.exists():
        raise ValidationError("path", f"{path} exists: a backup is never written over a file")
    partial = path.with_name(path.name + ".partial")
    try:
        if engine.dialect.name == "sqlite":
            _copy_sqlite(_sqlite_file(engine.url), partial, progress)
            revision, rows = _sqlite_contents(partial)
        else:
            revision, rows = _contents(engine)
            _pg_run("pg_dump", engine.url, "--format=custom", f"--file={partial}")
            _pg_run("pg_restore", None, "--list", str(partial))  # it reads back whole
        partial.rename(path)
    finally:
        partial.unlink(missing_ok=True)
    return BackupReport(engine.dialect.name, str(path), path.stat().st_size, revision, rows)


def restore_database(
    engine: Engine, path: Path, *, replaced_copy: Path | None = None
) -> BackupReport:
    """Replace everything in the database of ``engine`` with the backup at ``path``, then
    migrate it to this release's schema. A file that is not a backup of this kind of
    database, or one from a newer release, is refused before anything changes.
    ``replaced_copy``: a new file to back the database up to first (a restore of the
    wrong backup is undone by restoring it); if that copy cannot be made, nothing is
    restored."""
    if not path.is_file():
        raise ValidationError("path", f"{path} is not a file")
    if replaced_copy is not None and replaced_copy.exists():
        raise ValidationError(
            "replaced_copy", f"{replaced_copy} exists: a backup is never written over a file"
        )
    if engine.dialect.name == "sqlite":
        revision, _ = _sqlite_contents(path)
        _check_known(engine, revision)
        if replaced_copy is not None:
            backup_database(engine, replaced_copy)
        engine.dispose()  # no pooled connection holds the file while it is replaced
        _copy_sqlite(path, _sqlite_file(engine.url), None, journaled=True)
    else:
        script = _pg_run("pg_restore", None, "--no-owner", "--no-privileges", "--file=-", str(path))
        found = re.search(
            r"^COPY \S*alembic_version \(version_num\) FROM stdin;\n(\w+)", script, re.M
        )
        if found is None:
            raise ValidationError("path", f"{path} is not a backup of a masterypath database")
        _check_known(engine, found.group(1))
        if replaced_copy is not None:
            backup_database(engine, replaced_copy)
        # one transaction: what is there now goes and the backup comes, or nothing changes
        with engine.connect() as conn:
            drop = "".join(
                f"DROP {kind} IF EXISTS {name} CASCADE;\n"
                for kind, name in conn.execute(OWN_OBJECTS)
            )
        _pg_run(
            "psql",
            engine.url,
            "--no-psqlrc",
            "--quiet",
            "--single-transaction",
            "--set=ON_ERROR_STOP=1",
            stdin=drop + script,
        )
    engine.dispose()
    upgrade(engine)
    revision, rows = _contents(engine)
    kept = None if replaced_copy is None else str(replaced_copy)
    return BackupReport(engine.dialect.name, str(path), path.stat().st_size, revision, rows, kept)


def replaced_copy_path(engine: Engine, at: datetime, folder: Path) -> Path:
    """Where a restore at ``at`` backs up the database it replaces, unless told otherwise:
    beside a SQLite file, or in ``folder`` for PostgreSQL.

    >>> from sqlalchemy import create_engine
    >>> at = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
    >>> replaced_copy_path(create_engine("sqlite:///var/m.db"), at, Path("/srv")).as_posix()
    'var/m.db.before-restore-20261207T093000Z'
    >>> url = "postgresql+psycopg://u@db/school"
    >>> replaced_copy_path(create_engine(url), at, Path("/srv")).as_posix()
    '/srv/school-before-restore-20261207T093000Z.dump'
    """
    stamp = at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    if engine.dialect.name == "sqlite":
        live = _sqlite_file(engine.url)
        return live.with_name(f"{live.name}.before-restore-{stamp}")
    return folder / f"{engine.url.database or 'masterypath'}-before-restore-{stamp}.dump"


def _sqlite_file(url: URL) -> Path:
    if url.database in (None, "", ":memory:"):
        raise ConfigurationError("MASTERYPATH_DATABASE_URL: an in-memory database has no file")
    return Path(str(url.database))


def _copy_sqlite(
    source: Path, target: Path, progress: Progress | None, *, journaled: bool = False
) -> None:
    """Copy the SQLite database ``source`` into ``target`` (in one step: a consistent
    snapshot); ``journaled``: ``target`` is the live database, whose write-ahead log
    stays."""

    def step(_status: int, remaining: int, total: int) -> None:
        if progress is not None:
            progress(total - remaining, total)

    # the source opened read-only (a restore's backup, a backup's live database)
    with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as origin:
        target_db = sqlite3.connect(target)
        try:
            target_db.execute("PRAGMA busy_timeout=10000")
            origin.backup(target_db, pages=-1, progress=step)
            if not journaled:  # a backup is one file: no write-ahead log beside it
                target_db.execute("PRAGMA journal_mode=DELETE")
        finally:
            target_db.close()
    origin.close()


def _sqlite_contents(path: Path) -> tuple[str, dict[str, int]]:
    """The schema revision and row counts of a SQLite backup, after its integrity check."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            checked = db.execute("PRAGMA integrity_check").fetchone()[0]
            if checked != "ok":
                raise ValidationError("path", f"{path}: damaged: {checked}")
            revision = db.execute("SELECT version_num FROM alembic_version").fetchone()[0]
            rows = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in COUNTED}
        db.close()
    except sqlite3.DatabaseError as exc:
        raise ValidationError(
            "path", f"{path} is not a masterypath SQLite database: {exc}"
        ) from None
    return str(revision), rows


def _contents(engine: Engine) -> tuple[str, dict[str, int]]:
    with engine.connect() as conn:
        revision: str = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        rows: dict[str, int] = {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in COUNTED
        }
    return str(revision), rows


def _check_known(engine: Engine, revision: str) -> None:
    """Refuse a backup whose schema this release does not know (a newer release's)."""
    scripts = ScriptDirectory.from_config(alembic_config(engine))
    if revision not in {s.revision for s in scripts.walk_revisions()}:
        raise ValidationError(
            "path", f"its schema ({revision}) is newer than this release's: restore it with that"
        )


def _pg_run(program: str, url: URL | None, *args: str, stdin: str | None = None) -> str:
    """Run a PostgreSQL client program, on the database of ``url`` (its password passed in
    the environment, never on a command line others can read); its output."""
    found = shutil.which(program)
    if found is None:
        raise ConfigurationError(
            f"{program} is not installed: it comes with the PostgreSQL client "
            "(apt-get install postgresql-client)"
        )
    env = dict(os.environ)
    command = [found, *args]
    if url is not None:
        if url.password is not None:
            env["PGPASSWORD"] = str(url.password)
        plain = url.set(drivername="postgresql", password=None)
        command.insert(1, f"--dbname={plain.render_as_string(hide_password=False)}")
    done = subprocess.run(
        command, input=stdin, capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        raise ValidationError("path", f"{program} failed: {said[-1] if said else done.returncode}")
    return done.stdout
