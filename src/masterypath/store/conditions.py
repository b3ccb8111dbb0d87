"""``column IN (values)`` written so that PostgreSQL plans it once.

An ``IN`` list has one placeholder per value, so every list length is new SQL text: the
driver converts it and the server plans it again each time. On PostgreSQL the same test
is ``column = ANY(:array)``, one parameter whatever the number of values. SQLite keeps
the ``IN`` list (callers chunk long ones).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import String, any_, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def dialect_insert(session: Session) -> Any:
    """The dialect's ``insert`` (it has ``on_conflict_do_nothing``): PostgreSQL or SQLite."""
    return postgresql.insert if is_postgresql(session) else sqlite.insert


def one_of(column: Any, values: Sequence[str], *, postgresql: bool) -> ColumnElement[bool]:
    """``column`` equals one of the text ``values``."""
    if postgresql:
        return column == any_(bindparam(None, list(values), type_=ARRAY(String())))  # type: ignore[no-any-return]
    return column.in_(values)  # type: ignore[no-any-return]
