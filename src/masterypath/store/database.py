"""Engines and sessions; schema migrations run through Alembic."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import psycopg.errors
import sqlalchemy
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, String, create_engine, event
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.orm import Mapper, Session, sessionmaker

from masterypath.errors import ConfigurationError, ValidationError
from masterypath.settings import Settings
from masterypath.store.types import INT32_MAX

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
        event.listen(engine, "before_cursor_execute", _sqlite_row_lock)
    else:
        event.listen(engine, "handle_error", _refused_value)
    return engine


def _refused_value(context: ExceptionContext) -> BaseException | None:
    """PostgreSQL refuses NUL in text, numbers beyond a column's range and text beyond a
    column's length. The API refuses them at its edge and sessions check lengths before
    they flush (:func:`check_lengths`); a value that still brings one (a file or an
    argument of the command line, through a bulk insert) becomes a
    :class:`ValidationError` naming the parameter, not a database error."""
    error = context.original_exception
    if isinstance(error, psycopg.errors.NumericValueOutOfRange):
        field = next(_parameters(context, lambda v: isinstance(v, int) and abs(v) > INT32_MAX))
        return ValidationError(field, f"out of range: at most {INT32_MAX}")
    if isinstance(error, psycopg.DataError) and "NUL" in str(error):
        field = next(_parameters(context, lambda v: isinstance(v, str) and "\x00" in v))
        return ValidationError(field, "contains a NUL character, which no field accepts")
    if isinstance(error, psycopg.errors.StringDataRightTruncation):
        found = re.search(r"varying\((\d+)\)", str(error))
        limit = int(found.group(1)) if found else 0
        field = next(_parameters(context, lambda v: isinstance(v, str) and len(v) > limit))
        return ValidationError(field, f"too long: at most {limit} characters")
    return None


def _parameters(context: ExceptionContext, bad: Callable[[object], bool]) -> Iterator[str]:
    """The names of the statement's parameters whose value is ``bad`` (``id_1`` -> ``id``),
    then ``(value)`` for when none is."""
    rows = context.parameters
    for row in rows if isinstance(rows, list) else [rows]:
        for name, value in row.items() if isinstance(row, dict) else ():
            if bad(value):
                bare = re.sub(r"_\d+$", "", name)  # SQLAlchemy numbers its parameters
                yield "id" if bare == "pk" else bare
    yield "(value)"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_row_lock(
    _conn: Any, cursor: Any, _sql: str, _parameters: Any, context: Any, _many: bool
) -> None:
    """SQLite has no row locks: SQLAlchemy leaves ``FOR UPDATE`` out of its SQL, and the
    driver begins a transaction only at the first write, so two read-modify-write
    transactions would both read the row before either writes and the second would
    overwrite the first one's change. A statement that asks for a row lock therefore
    first takes the database's write lock (``BEGIN IMMEDIATE``, waiting as long as
    ``busy_timeout``) when its transaction holds none yet: it reads what the last writer
    committed, and no other writer follows until it ends. Reads that lock nothing still
    run beside writers (WAL)."""
    statement = getattr(getattr(context, "compiled", None), "statement", None)
    if getattr(statement, "_for_update_arg", None) is None:
        return
    if not cursor.connection.in_transaction:
        cursor.execute("BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    factory = sessionmaker(engine, expire_on_commit=False)
    event.listen(factory, "before_flush", check_lengths)
    return factory


def check_lengths(session: Session, _context: object, _instances: object) -> None:
    """Refuse a text longer than its column allows (``String(n)``), naming the table and
    the column, in every row a session is about to write: SQLite does not enforce the
    length (it would store the text whole) and PostgreSQL refuses it with a database
    error, so each store would answer differently."""
    for row in (*session.new, *session.dirty):
        for key, limit in _limited_columns(type(row)):
            value = getattr(row, key)
            if isinstance(value, str) and len(value) > limit:
                raise ValidationError(
                    key,
                    f"too long: at most {limit} characters, got {len(value)}",
                    location=row.__tablename__,
                )


_LIMITED: dict[type, tuple[tuple[str, int], ...]] = {}


def _limited_columns(row_type: type) -> tuple[tuple[str, int], ...]:
    """(attribute, length) of the row type's columns with a length limit."""
    if row_type not in _LIMITED:
        mapper: Mapper[Any] = sqlalchemy.inspect(row_type)
        _LIMITED[row_type] = tuple(
            (attribute.key, column.type.length)
            for attribute in mapper.column_attrs
            for column in attribute.columns
            if isinstance(column.type, String) and column.type.length
        )
    return _LIMITED[row_type]


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (idempotent)."""
    command.upgrade(alembic_config(engine), revision)


def schema_revision(engine: Engine) -> str | None:
    """The migration the database is at (None for an empty one); a
    :class:`sqlalchemy.exc.SQLAlchemyError` when it cannot be reached."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@functools.cache
def head_revision() -> str | None:
    """The migration this release brings a database to (read once: a readiness probe
    asks often)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


def make_url_safe(url: str) -> str:
    """The URL with any password hidden, for messages."""
    return make_url(url).render_as_string(hide_password=True)
