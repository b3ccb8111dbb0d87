"""Whether two xAPI statements are the same statement by xAPI's comparison rules (xAPI
2.0 part two, 2.3.1): the differences Statement Immutability allows are ignored (what
the LRS may set, the serialization of timestamps, activity definitions, a verb's
``display``, the order of a Group's members, attachments); any other is not. Used where
xAPI compares statements: a signature's payload with its statement, and a statement
posted again under a stored id."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

ASSIGNED_BY_LRS = ("id", "authority", "stored", "timestamp", "version")
"""Properties an LRS may set (xAPI 2.3.1): compared only when both statements have them."""


def same_statement(stored: Mapping[str, Any], posted: Mapping[str, Any]) -> bool:
    """Whether ``posted`` is ``stored`` sent again (xAPI 2.1.1-2.1.2: the LRS answers a
    conflict only when they differ by the comparison rules): :func:`equivalent`, with the
    ``authority``, ``stored`` and ``version`` the LRS set on each left aside.

    >>> s = {"id": "a", "actor": {"mbox_sha1sum": "ab"}, "verb": {"id": "v"},
    ...      "object": {"id": "o"}, "timestamp": "2026-12-07T10:00:00Z"}
    >>> later = {**s, "timestamp": "2026-12-07T11:00:00+01:00", "version": "2.0.0"}
    >>> same_statement({**s, "stored": "2026-12-07T10:00:01Z", "version": "1.0.0"}, later)
    True
    >>> same_statement(s, {**s, "result": {"success": False}})
    False
    """
    lrs = ("authority", "stored", "version")
    return equivalent(
        {k: v for k, v in stored.items() if k not in lrs},
        {k: v for k, v in posted.items() if k not in lrs},
    )


def equivalent(signed: Mapping[str, Any], received: Mapping[str, Any]) -> bool:
    """Whether two statements are the same by xAPI's comparison rules (2.3.1): what the
    LRS may assign (:data:`ASSIGNED_BY_LRS`) is compared only where both have it, and
    timestamps as instants; attachments, activity definitions and a verb's ``display``
    are not part of a statement; a Group's members are in no order.

    >>> a = {"actor": {"mbox_sha1sum": "ab"}, "verb": {"id": "v", "display": {"en": "x"}},
    ...      "object": {"id": "o"}, "timestamp": "2026-12-07T10:00:00Z"}
    >>> b = {**a, "id": "f0", "verb": {"id": "v"}, "timestamp": "2026-12-07T11:00:00+01:00",
    ...      "attachments": []}
    >>> equivalent(a, b), equivalent(a, {**b, "object": {"id": "p"}})
    (True, False)
    """
    left, right = _comparable(signed), _comparable(received)
    for key in ASSIGNED_BY_LRS:
        if key not in left or key not in right:
            left.pop(key, None)
            right.pop(key, None)
    return left == right


def _comparable(statement: Mapping[str, Any]) -> dict[str, Any]:
    """``statement`` (or a SubStatement) without what the rules leave out, walked by its
    structure: only an Activity's ``definition`` and only a Group's ``member`` order are
    set aside, so that a ``definition`` or ``member`` inside an extension still counts."""
    out = {k: v for k, v in statement.items() if k != "attachments"}
    for key in ("timestamp", "stored"):
        out[key] = _instant(out[key]) if key in out else None
        if out[key] is None:
            del out[key]
    if isinstance(out.get("verb"), Mapping):
        out["verb"] = {k: v for k, v in out["verb"].items() if k != "display"}
    for key in ("actor", "authority"):
        out[key] = _agent(out[key]) if key in out else None
        if out[key] is None:
            del out[key]
    target = out.get("object")
    if isinstance(target, Mapping):
        kind = target.get("objectType", "Activity")
        if kind == "SubStatement":
            out["object"] = _comparable(target)
        else:
            out["object"] = _activity(target) if kind == "Activity" else _agent(target)
    if isinstance(out.get("context"), Mapping):
        out["context"] = _context(out["context"])
    return out


def _context(context: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(context)
    activities = out.get("contextActivities")
    if isinstance(activities, Mapping):
        out["contextActivities"] = {
            kind: [_activity(a) for a in found] if isinstance(found, list) else _activity(found)
            for kind, found in activities.items()
        }
    for key in ("instructor", "team"):
        if key in out:
            out[key] = _agent(out[key])
    if isinstance(out.get("contextGroups"), list):
        out["contextGroups"] = [
            {**g, "group": _agent(g.get("group"))} if isinstance(g, Mapping) else g
            for g in out["contextGroups"]
        ]
    return out


def _activity(activity: Any) -> Any:
    """An Activity without its ``definition`` (the LRS may hold another version of it)."""
    if not isinstance(activity, Mapping):
        return activity
    return {k: v for k, v in activity.items() if k != "definition"}


def _agent(agent: Any) -> Any:
    """An Agent as it is; a Group with its members in a fixed order."""
    if not isinstance(agent, Mapping) or agent.get("objectType") != "Group":
        return agent
    members = agent.get("member")
    if not isinstance(members, list):
        return dict(agent)
    return {**agent, "member": sorted(members, key=lambda m: json.dumps(m, sort_keys=True))}


def _instant(value: Any) -> Any:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return value
