"""``masterypath backup`` and ``restore`` on the real databases (SQLite's online backup;
PostgreSQL's own ``pg_dump``, ``pg_restore`` and ``psql``)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, select
from typer.testing import CliRunner

from masterypath.cli import app
from masterypath.demo import load_demo_framework
from masterypath.domain.access import Role
from masterypath.errors import ValidationError
from masterypath.services.accounts import AccountService
from masterypath.services.context import ServiceContext
from masterypath.services.frameworks import FrameworkService
from masterypath.settings import Settings
from masterypath.store.backup import backup_database, restore_database
from masterypath.store.database import alembic_config, upgrade
from masterypath.store.tables import UserRow
from tests.conftest import CHEAP_HASHER, REQUIRE_POSTGRES


def run(database: ServiceContext, *args: str) -> tuple[int, str]:
    url = database.engine.url.render_as_string(hide_password=False)
    done = CliRunner().invoke(app, list(args), env={"MASTERYPATH_DATABASE_URL": url})
    return done.exit_code, " ".join(done.output.split())  # as one line, however wrapped


def run_in(folder: Path, database: ServiceContext, *args: str) -> tuple[int, str]:
    """:func:`run` with ``folder`` as the current folder."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        return run(database, *args)


def stored_file(database: ServiceContext) -> Path:
    return Path(str(database.engine.url.database))


def users(database: ServiceContext) -> list[str]:
    with database.sessions() as session:
        return sorted(session.scalars(select(UserRow.username)))


@pytest.fixture
def stored(database: ServiceContext) -> ServiceContext:
    """The demo course and two accounts; PostgreSQL's leg needs its client programs."""
    if database.engine.dialect.name == "postgresql" and shutil.which("pg_dump") is None:
        if REQUIRE_POSTGRES:
            pytest.fail("pg_dump is not installed (apt-get install postgresql-client)")
        pytest.skip("pg_dump is not installed: the PostgreSQL backup leg is skipped")
    FrameworkService(database).save(load_demo_framework())
    accounts = AccountService(database, hasher=CHEAP_HASHER)
    accounts.create_user("ada", "ada-password", Role.ADMIN)
    accounts.create_user("ms-lee", "lee-password", Role.EDUCATOR)
    return database


def test_a_backup_holds_the_database_as_it_was_and_a_restore_puts_it_back(
    stored: ServiceContext, tmp_path: Path
) -> None:
    backup = tmp_path / "monday.backup"
    code, output = run(stored, "backup", str(backup), "--json")
    assert code == 0, output
    made: dict[str, Any] = json.loads(output)
    assert made["rows"] == {"frameworks": 1, "users": 2, "evidence": 0}
    assert made["database"] == stored.engine.dialect.name
    assert made["bytes"] == backup.stat().st_size > 0
    assert not list(tmp_path.glob("*.partial*"))  # nothing left beside it

    # a day's work after the backup
    AccountService(stored, hasher=CHEAP_HASHER).create_user("tuesday", "tue-password", Role.ADMIN)
    assert users(stored) == ["ada", "ms-lee", "tuesday"]

    code, output = run(stored, "restore", str(backup))
    assert code == 2 and "--yes: is required" in output
    replaced = tmp_path / "tuesday.backup"
    code, output = run(
        stored, "restore", str(backup), "--yes", "--copy-to", str(replaced), "--json"
    )
    assert code == 0, output
    restored: dict[str, Any] = json.loads(output)
    assert restored["rows"] == made["rows"]
    assert restored["replaced_copy"] == str(replaced)
    assert users(stored) == ["ada", "ms-lee"]
    assert [f.id for f in FrameworkService(stored).summaries()] == [load_demo_framework().id]
    # the restored database takes writes as before (sequences and functions came back)
    AccountService(stored, hasher=CHEAP_HASHER).create_user("again", "again-password", Role.ADMIN)
    assert "again" in users(stored)

    # the wrong backup restored: the copy of what it replaced undoes it
    code, output = run(stored, "restore", str(replaced), "--yes", "--no-copy")
    assert code == 0, output
    assert "what it replaced" not in output
    assert users(stored) == ["ada", "ms-lee", "tuesday"]


def test_a_restore_keeps_what_it_replaces_unless_told_not_to(
    stored: ServiceContext, tmp_path: Path
) -> None:
    backup = tmp_path / "monday.backup"
    assert run(stored, "backup", str(backup))[0] == 0
    AccountService(stored, hasher=CHEAP_HASHER).create_user("tuesday", "tue-password", Role.ADMIN)

    taken = tmp_path / "taken"
    taken.write_text("keep me")
    code, output = run(stored, "restore", str(backup), "--yes", "--copy-to", str(taken))
    assert code == 2 and "--copy-to: " in output and "exists: a backup is never written" in output
    assert taken.read_text() == "keep me"
    code, output = run(stored, "restore", str(backup), "--yes", "--copy-to", "x", "--no-copy")
    assert code == 2 and "--no-copy: and --copy-to exclude each other" in output
    assert users(stored) == ["ada", "ms-lee", "tuesday"]  # neither changed anything

    # without --copy-to the copy goes beside the SQLite file (or, for PostgreSQL, here)
    folder = tmp_path / "here"
    folder.mkdir()
    code, output = run_in(folder, stored, "restore", str(backup), "--yes")
    assert code == 0, output
    copies = list(
        (folder if stored.engine.dialect.name == "postgresql" else stored_file(stored).parent).glob(
            "*before-restore-*"
        )
    )
    assert len(copies) == 1
    assert f"what it replaced is in {copies[0]}" in output
    assert f"masterypath restore {copies[0]} --yes undoes this" in output
    assert users(stored) == ["ada", "ms-lee"]
    assert run(stored, "restore", str(copies[0]), "--yes", "--no-copy")[0] == 0
    assert users(stored) == ["ada", "ms-lee", "tuesday"]


def test_a_backup_is_never_written_over_and_a_file_that_is_none_is_refused(
    stored: ServiceContext, tmp_path: Path
) -> None:
    taken = tmp_path / "taken"
    taken.write_text("keep me")
    code, output = run(stored, "backup", str(taken))
    assert code == 2 and "exists: a backup is never written over a file" in output
    assert taken.read_text() == "keep me"
    code, output = run(stored, "restore", str(taken), "--yes")
    assert code == 2
    assert "is not" in output or "failed" in output
    assert users(stored) == ["ada", "ms-lee"]  # nothing changed
    code, output = run(stored, "restore", str(tmp_path / "missing"), "--yes")
    assert code == 2 and "is not a file" in output


def test_a_backup_from_an_earlier_release_is_brought_up_to_date(tmp_path: Path) -> None:
    older = ServiceContext.from_settings(Settings(database_url=f"sqlite:///{tmp_path / 'o.db'}"))
    upgrade(older.engine, "0020")
    report = backup_database(older.engine, tmp_path / "old.backup")
    assert report.schema_revision == "0020"
    older.engine.dispose()
    current = ServiceContext.from_settings(Settings(database_url=f"sqlite:///{tmp_path / 'n.db'}"))
    upgrade(current.engine)
    restored = restore_database(current.engine, tmp_path / "old.backup")
    head = ScriptDirectory.from_config(alembic_config(current.engine)).get_current_head()
    assert restored.schema_revision == head != "0020"
    with current.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(UserRow)).scalar_one() == 0
    # a backup from a newer release is refused before anything changes
    newer = tmp_path / "newer.backup"
    shutil.copy(tmp_path / "old.backup", newer)
    with sqlite3.connect(newer) as db:
        db.execute("UPDATE alembic_version SET version_num = '9999'")
    db.close()
    with pytest.raises(ValidationError, match=r"its schema \(9999\) is newer than this release's"):
        restore_database(current.engine, newer)
    current.engine.dispose()


def test_a_backup_made_while_the_server_writes_is_whole_and_ends(tmp_path: Path) -> None:
    live = ServiceContext.from_settings(Settings(database_url=f"sqlite:///{tmp_path / 'l.db'}"))
    upgrade(live.engine)
    FrameworkService(live).save(load_demo_framework())
    accounts = AccountService(live, hasher=CHEAP_HASHER)
    stop = threading.Event()
    written: list[str] = []

    def write_meanwhile() -> None:  # the server goes on writing while the copy is made
        while not stop.is_set():
            written.append(f"user-{len(written)}")
            accounts.create_user(written[-1], "a-password", Role.EDUCATOR)

    writer = threading.Thread(target=write_meanwhile)
    writer.start()
    try:
        while len(written) < 5:
            time.sleep(0.01)
        report = backup_database(live.engine, tmp_path / "b.backup")
    finally:
        stop.set()
        writer.join()
    assert report.rows["frameworks"] == 1
    assert 4 <= report.rows["users"] <= len(written)  # a snapshot: no half-written row
    restored = ServiceContext.from_settings(Settings(database_url=f"sqlite:///{tmp_path / 'r.db'}"))
    upgrade(restored.engine)
    assert restore_database(restored.engine, tmp_path / "b.backup").rows == report.rows
    with restored.sessions() as session:
        kept = set(session.scalars(select(UserRow.username)))
    assert kept == set(written[: len(kept)])  # the first ones, in order: none skipped
    live.engine.dispose()
    restored.engine.dispose()
