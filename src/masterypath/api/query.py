"""Query parameters an endpoint does not take are refused (422, naming the parameter),
never ignored: ``GET /api/v1/alerts?learner=kim`` (for ``learner_id``) would otherwise
answer every learner's alerts, and ``?decison=confirmed`` every alignment, as if the
filter had been applied.

:data:`KNOWN_QUERY` is a dependency of every ``/api/v1`` and ``/auth`` route; an endpoint
takes the query parameters its signature declares, its dependencies' included. (xAPI
routes refuse unknown parameters themselves, naming the filters the LRS does not offer:
``api/xapi.py``.)
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from masterypath.errors import ValidationError

_KNOWN = "masterypath_query_parameters"
"""Where a route keeps the names of its query parameters, worked out once."""


async def refuse_unknown_query(request: Request) -> None:
    """Raise :class:`ValidationError` for the first query parameter that the matched route
    does not declare. (A coroutine: FastAPI would run a plain function in a thread.)"""
    if not request.query_params:
        return
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    refuse_unknown(request.query_params, query_parameters(route))


def refuse_unknown(names: Iterable[str], known: Collection[str]) -> None:
    """Raise :class:`ValidationError` for the first of ``names`` not in ``known`` (a
    name that differs only in case is unknown too), saying what is known."""
    for name in names:
        if name not in known:
            takes = ", ".join(sorted(known)) or "no query parameters"
            raise ValidationError(
                name, f"not a parameter of this endpoint (it takes {takes})", location="query"
            )


def query_parameters(route: APIRoute) -> frozenset[str]:
    """The names (aliases) of the query parameters ``route`` declares."""
    known: frozenset[str] | None = getattr(route, _KNOWN, None)
    if known is None:
        known = frozenset(_names(route.dependant))
        setattr(route, _KNOWN, known)
    return known


def _names(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _names(sub)
    return names


KNOWN_QUERY = Depends(refuse_unknown_query)
