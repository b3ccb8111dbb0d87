"""Two creates of one id at the same moment: the loser gets the same 409 it would get a
moment later, not a database error.

A service checks that an id is free, then inserts. Two writers can both pass the check;
the primary key then refuses the second's insert (``IntegrityError``). :func:`created_once`
turns that into the :class:`ConflictError` the check gives, when the id is indeed taken
now, and lets any other integrity error through.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy.exc import IntegrityError

from masterypath.errors import ConflictError
from masterypath.services.context import ServiceContext


@contextmanager
def created_once(
    context: ServiceContext, row_type: type[Any], kind: str, ids: Sequence[str], reason: str
) -> Iterator[None]:
    """Wrap the transaction that creates rows of ``row_type`` with these primary ``ids``."""
    try:
        yield
    except IntegrityError:
        with context.sessions() as session:
            taken = [i for i in ids if session.get(row_type, i) is not None]
        if not taken:
            raise
        raise ConflictError(kind, taken[0], reason) from None
