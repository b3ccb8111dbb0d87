"""Engines and sessions; schema migrations run through Alembic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.orm import Session, sessionmaker

from masterypath.errors import ConfigurationError, ValidationError
from masterypath.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` URLs; reject unsupported databases.

    >>> normalise_url("postgresql://postgres@127.0.0.1:5432/mp")
    'postgresql+psycopg://postgres@127.0.0.1:5432/mp'
    """
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise ConfigurationError(f"MASTERYPATH_DATABASE_URL: not a database URL: {exc}") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigurationError(
            f"MASTERYPATH_DATABASE_URL: unsupported database {parsed.get_backend_name()!r} "
            "(use sqlite:///FILE or postgresql://...)"
        )
    return parsed.render_as_string(hide_password=False)


def make_engine(settings: Settings) -> Engine:
    url = normalise_url(settings.database_url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, echo=settings.echo_sql)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        event.listen(engine, "handle_error", _nul_refused)
    return engine


def _nul_refused(context: ExceptionContext) -> BaseException | None:
    """PostgreSQL refuses NUL in text. The API refuses it at its edge and the domain in
    ids; a value that still brings one (a file read by the command line) becomes a
    :class:`ValidationError` naming the column, not a database error."""
    if not isinstance(context.original_exception, psycopg.DataError):
        return None
    if "NUL" not in str(context.original_exception):
        return None
    rows = context.parameters
    for row in rows if isinstance(rows, list) else [rows]:
        for name, value in row.items() if isinstance(row, dict) else ():
            if isinstance(value, str) and "\x00" in value:
                return ValidationError(name, "contains a NUL character, which no field accepts")
    return ValidationError("(text)", "contains a NUL character, which no field accepts")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (idempotent)."""
    command.upgrade(alembic_config(engine), revision)


def make_url_safe(url: str) -> str:
    """The URL with any password hidden, for messages."""
    return make_url(url).render_as_string(hide_password=True)
