"""Fast, idempotent appends to the evidence ledger.

The ORM (and even SQLAlchemy Core's per-parameter processing) costs ~20 µs a row;
a 325,589-row log must load in seconds, so this module talks to the driver
directly: ``executemany`` on SQLite, ``COPY`` into a staging table on PostgreSQL.
Both insert with ``ON CONFLICT (key) DO NOTHING``, so a key already stored (by an
earlier import or by a concurrent writer) is left alone. Every row carries the
``batch_id`` of the write that stored it, which is how the caller learns which
keys were new without per-row ``RETURNING``.

Value conversion mirrors :class:`masterypath.store.types.UTCDateTime` (UTC; naive
text on SQLite in SQLAlchemy's storage format) and the JSON columns.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from masterypath.store.json_text import to_json_text
from masterypath.store.tables import Base

COLUMNS = (
    "key",
    "batch_id",
    "content_hash",
    "learner_id",
    "item_id",
    "outcome_type",
    "correct",
    "score",
    "rubric_levels",
    "timestamp",
    "sequence",
    "kind",
    "source",
    "asserted_by",
    "recorded_at",
)
_TIME_COLUMNS = {"timestamp", "recorded_at"}
_POSTGRESQL_TYPES = {
    "correct": "boolean",
    "score": "float8",
    "rubric_levels": "text[]::json",
    "timestamp": "timestamptz",
    "recorded_at": "timestamptz",
    "sequence": "bigint",
}
_ARRAYS = ", ".join(f"%b::{_POSTGRESQL_TYPES.get(c, 'text')}[]" for c in COLUMNS)
"""One typed array parameter per column, for ``unnest``."""
_APPEND_SMALL = (
    f"WITH inserted AS (INSERT INTO evidence ({', '.join(COLUMNS)}) "
    f"SELECT * FROM unnest({_ARRAYS}) "
    "ON CONFLICT (key) DO NOTHING RETURNING key, id), "
    "links AS (INSERT INTO evidence_competencies (evidence_id, competency_id, position) "
    "SELECT inserted.id, link.competency_id, link.position FROM inserted JOIN "
    "unnest(%b::text[], %b::text[], %b::int[]) AS link(key, competency_id, position) "
    "ON link.key = inserted.key) "
    "SELECT key, id FROM inserted"
)
"""A few rows and their competency links in one statement (see ``_append_postgresql``)."""
SMALL_BATCH = 100
"""Up to this many rows, PostgreSQL appends with one multi-row INSERT instead of COPY."""

_KEPT: weakref.WeakKeyDictionary[Any, dict[str, tuple[Any, str]]] = weakref.WeakKeyDictionary()
_KEPT_PER_CONNECTION = 64


def kept_cursor(dbapi: Any, sql: str) -> tuple[Any, str]:
    """The cursor that the psycopg connection ``dbapi`` keeps for statement ``sql``, and
    the one string object it runs ``sql`` as. psycopg picks a dumper for each parameter
    (for an array, by scanning its elements) and keeps them only while a cursor runs the
    very same query object again: a new cursor per statement picked them afresh, ~30 µs
    a statement, a tenth of a small transaction's driver time. A cursor holds its last
    result until the next run of its statement; at most 64 are kept per connection.
    """
    kept = _KEPT.get(dbapi)
    if kept is None:
        kept = _KEPT[dbapi] = {}
    found = kept.get(sql)
    if found is None or found[0].closed:
        if len(kept) >= _KEPT_PER_CONNECTION:
            for cursor, _ in kept.values():
                cursor.close()
            kept.clear()
        found = kept[sql] = (dbapi.cursor(), sql)
    return found


Columns = Mapping[str, Sequence[Any]]
"""Column name -> values, one entry per row, for every name in :data:`COLUMNS` but batch_id."""


def _convert(values: Sequence[Any], convert: Callable[[Any], Any]) -> list[Any]:
    """Apply ``convert`` once per distinct value (timestamps in a log repeat a lot)."""
    cache: dict[Any, Any] = {}
    out: list[Any] = []
    for value in values:
        if value is None:
            out.append(None)
            continue
        try:
            out.append(cache[value])
        except KeyError:
            cache[value] = converted = convert(value)
            out.append(converted)
        except TypeError:  # unhashable (rubric levels)
            out.append(convert(value))
    return out


def _sqlite_columns(columns: Columns) -> dict[str, Sequence[Any]]:
    def as_text(t: datetime) -> str:
        return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")

    converted = dict(columns)
    for name in _TIME_COLUMNS:
        converted[name] = _convert(columns[name], as_text)
    converted["rubric_levels"] = _convert(columns["rubric_levels"], to_json_text)
    converted["correct"] = _convert(columns["correct"], int)
    return converted


def append_rows(
    session: Session,
    columns: Columns,
    competencies: Callable[[str], Sequence[str]],
    *,
    batch_id: str,
) -> dict[str, int]:
    """Insert the rows in ``columns`` whose key is new, and their competency links;
    return ``{key: evidence id}`` of the rows this call stored."""
    if not columns["key"]:
        return {}
    full = {**columns, "batch_id": [batch_id] * len(columns["key"])}
    connection = session.connection()
    dialect = connection.dialect.name
    dbapi = connection.connection.dbapi_connection
    assert dbapi is not None
    if dialect == "postgresql":
        return _append_postgresql(dbapi, full, competencies)
    cursor = dbapi.cursor()
    try:
        return _append_sqlite(cursor, full, competencies, batch_id)
    finally:
        cursor.close()


def _append_sqlite(
    cursor: Any, columns: Columns, competencies: Callable[[str], Sequence[str]], batch_id: str
) -> dict[str, int]:
    names = ", ".join(COLUMNS)
    marks = ", ".join("?" for _ in COLUMNS)
    converted = _sqlite_columns(columns)
    params = list(zip(*(converted[c] for c in COLUMNS), strict=True))
    cursor.executemany(
        f"INSERT INTO evidence ({names}) VALUES ({marks}) ON CONFLICT (key) DO NOTHING", params
    )
    keys = list(columns["key"])
    inserted: dict[str, int] = {}
    for start in range(0, len(keys), 500):
        part = keys[start : start + 500]
        cursor.execute(
            f"SELECT key, id, batch_id FROM evidence WHERE key IN ({', '.join('?' for _ in part)})",
            part,
        )
        inserted.update((key, eid) for key, eid, batch in cursor.fetchall() if batch == batch_id)
    cursor.executemany(
        "INSERT INTO evidence_competencies (evidence_id, competency_id, position) VALUES (?, ?, ?)",
        [(eid, cid, n) for key, eid in inserted.items() for n, cid in enumerate(competencies(key))],
    )
    return inserted


def _append_postgresql(
    dbapi: Any, columns: Columns, competencies: Callable[[str], Sequence[str]]
) -> dict[str, int]:
    names = ", ".join(COLUMNS)
    converted = dict(columns)
    converted["rubric_levels"] = _convert(columns["rubric_levels"], to_json_text)
    rows = list(zip(*(converted[c] for c in COLUMNS), strict=True))
    if len(rows) <= SMALL_BATCH:
        # one statement of one array per column: a staging table costs more than it saves
        # on a handful of rows, and unlike a VALUES list the SQL text is the same for any
        # number of rows, so the driver parses and prepares it once; the competency links
        # of the rows it stores go in with it (one round trip)
        links = [(key, cid, n) for key in columns["key"] for n, cid in enumerate(competencies(key))]
        small, query = kept_cursor(dbapi, _APPEND_SMALL)
        small.execute(
            query,
            [*(list(converted[c]) for c in COLUMNS), *(list(c) for c in zip(*links, strict=True))],
            binary=True,
        )
        return dict(small.fetchall())
    with dbapi.cursor() as cursor:
        return _append_copied(cursor, names, rows, competencies)


def _append_copied(
    cursor: Any,
    names: str,
    rows: Sequence[tuple[Any, ...]],
    competencies: Callable[[str], Sequence[str]],
) -> dict[str, int]:
    """Many rows: ``COPY`` into a staging table, then one insert of the new keys."""
    cursor.execute(
        "CREATE TEMP TABLE IF NOT EXISTS evidence_staging ON COMMIT DROP AS "
        f"SELECT {names} FROM evidence WITH NO DATA"
    )
    cursor.execute("TRUNCATE evidence_staging")
    with cursor.copy(f"COPY evidence_staging ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    cursor.execute(
        f"INSERT INTO evidence ({names}) SELECT {names} FROM evidence_staging "
        "ON CONFLICT (key) DO NOTHING RETURNING key, id"
    )
    inserted = dict(cursor.fetchall())
    with cursor.copy(
        "COPY evidence_competencies (evidence_id, competency_id, position) FROM STDIN"
    ) as copy:
        for key, eid in inserted.items():
            for n, cid in enumerate(competencies(key)):
                copy.write_row((eid, cid, n))
    return inserted


def execute_arrays(
    session: Session, sql: str, columns: Sequence[Any], *, prepare: bool | None = None
) -> list[tuple[Any, ...]]:
    """Run PostgreSQL ``sql`` with one array parameter per column (for ``unnest``), sent
    in binary (``%b``): text arrays would escape every element. Returns the rows it
    selects, if any. ``prepare=False``: plan it afresh each time (psycopg otherwise
    prepares a statement run often, and PostgreSQL may then keep a generic plan).
    """
    dbapi = session.connection().connection.dbapi_connection
    assert dbapi is not None
    cursor, query = kept_cursor(dbapi, sql)  # psycopg's, whose execute takes ``binary``
    cursor.execute(query, list(columns), binary=True, prepare=prepare)
    return list(cursor.fetchall()) if cursor.description is not None else []


def insert_new_postgresql(
    session: Session,
    table: str,
    names: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    key: str,
    json_columns: Sequence[str] = (),
) -> set[Any]:
    """Insert ``rows`` on PostgreSQL, leaving those whose ``key`` is already stored alone
    (``ON CONFLICT DO NOTHING``); returns the keys it stored. One statement of one array
    per column, so the SQL text is the same for any number of rows (an ORM multi-row
    insert is compiled afresh for each count, which cost more than the write)."""
    if not rows:
        return set()
    positions = [names.index(n) for n in json_columns]
    columns = [list(c) for c in zip(*rows, strict=True)]
    for i in positions:
        columns[i] = [None if v is None else to_json_text(v) for v in columns[i]]
    arrays = postgresql_arrays(table, tuple(names), tuple(json_columns))
    found = execute_arrays(
        session,
        f"INSERT INTO {table} ({', '.join(names)}) SELECT * FROM unnest({arrays}) "
        f"ON CONFLICT ({key}) DO NOTHING RETURNING {key}",
        columns,
    )
    return {row[0] for row in found}


@functools.cache
def postgresql_arrays(table: str, names: tuple[str, ...], json_columns: tuple[str, ...]) -> str:
    """One typed array parameter per column, for ``unnest`` (JSON goes as text, cast per
    element); worked out once per table and columns."""
    columns = Base.metadata.tables[table].c
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    return ", ".join(
        "%b::text[]::json[]"
        if n in json_columns
        else f"%b::{columns[n].type.compile(dialect=dialect)}[]"
        for n in names
    )


def insert_many(
    session: Session,
    table: str,
    names: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    json_columns: Sequence[str] = (),
    time_columns: Sequence[str] = (),
    skip_conflicts: bool = False,
) -> None:
    """Plain bulk insert of many rows (``COPY`` on PostgreSQL, ``executemany`` on SQLite),
    for projections that a replay writes by the hundred thousand. ``skip_conflicts``
    leaves rows that violate a unique constraint out (``ON CONFLICT DO NOTHING``)."""
    if not rows:
        return
    connection = session.connection()
    dbapi = connection.connection.dbapi_connection
    assert dbapi is not None
    positions = {n: i for i, n in enumerate(names)}
    json_at = [positions[n] for n in json_columns]
    time_at = [positions[n] for n in time_columns]
    postgres = connection.dialect.name == "postgresql"

    def convert(row: Sequence[Any]) -> tuple[Any, ...]:
        out = list(row)
        for i in json_at:
            out[i] = None if out[i] is None else to_json_text(out[i])
        if not postgres:
            for i in time_at:
                if out[i] is not None:
                    out[i] = out[i].astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return tuple(out)

    columns = ", ".join(names)
    tail = " ON CONFLICT DO NOTHING" if skip_conflicts else ""
    if postgres and len(rows) <= SMALL_BATCH:
        # COPY costs two round trips (the command, then the data); a few rows go in
        # one statement of one array per column
        arrays = postgresql_arrays(table, tuple(names), tuple(json_columns))
        small, query = kept_cursor(
            dbapi, f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays}){tail}"
        )
        small.execute(
            query,
            [list(c) for c in zip(*(convert(r) for r in rows), strict=True)],
            binary=True,
        )
        return
    cursor: Any = dbapi.cursor()  # psycopg's, whose execute takes ``binary``
    try:
        if postgres and not skip_conflicts:
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(convert(row))
        else:
            marks = ", ".join(("%s" if postgres else "?") for _ in names)
            cursor.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({marks}){tail}",
                [convert(r) for r in rows],
            )
    finally:
        cursor.close()
