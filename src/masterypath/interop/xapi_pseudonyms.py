"""What of an xAPI statement is stored: the statement with every e-mail address in it
replaced by its SHA-1 (:func:`without_addresses`), and the digest by which a re-post of
the same statement is recognised (:func:`statement_digest`).

xAPI lets an Agent be identified by ``mbox_sha1sum`` instead of ``mbox`` (1.0.3 part two,
2.4.2.3), so the stored statement is still a valid one and names the same people; the
address itself, a learner's or a teacher's, is never kept.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


def pseudonymous(agent: Mapping[str, Any]) -> dict[str, Any]:
    """An Agent or Group with every e-mail address (its own, its members') replaced by its
    SHA-1 (``mbox_sha1sum``, an xAPI identifier in its own right).

    >>> pseudonymous({"objectType": "Group", "member": [{"mbox": "mailto:a@b.c"}]})["member"]
    [{'mbox_sha1sum': '05d8abb62a44a0ac90cd18c20272d790d86facb5'}]
    """
    out = dict(agent)
    if "mbox" in out:
        out["mbox_sha1sum"] = hashlib.sha1(str(out.pop("mbox")).encode()).hexdigest()
    if isinstance(out.get("member"), list):
        out["member"] = [pseudonymous(m) if isinstance(m, Mapping) else m for m in out["member"]]
    return out


def without_addresses(statement: Mapping[str, Any]) -> dict[str, Any]:
    """The statement with the e-mail address of every Agent and Group in it replaced by its
    SHA-1: the actor, an Agent or Group object, the context's instructor and team, the
    authority, and the same in a SubStatement.

    >>> s = {"actor": {"mbox": "mailto:a@b.c"}, "context": {"instructor": {"mbox": "x"}}}
    >>> "@" in str(without_addresses(s))
    False
    """
    out = dict(statement)
    for role in ("actor", "authority"):
        if isinstance(out.get(role), Mapping):
            out[role] = pseudonymous(out[role])
    target = out.get("object")
    if isinstance(target, Mapping):
        if target.get("objectType") in ("Agent", "Group"):
            out["object"] = pseudonymous(target)
        elif target.get("objectType") == "SubStatement":
            out["object"] = without_addresses(target)
    context = out.get("context")
    if isinstance(context, Mapping):
        context = dict(context)
        for role in ("instructor", "team"):
            if isinstance(context.get(role), Mapping):
                context[role] = pseudonymous(context[role])
        out["context"] = context
    return out


def statement_digest(statement: Mapping[str, Any]) -> str:
    """SHA-256 of the statement as its sender chose it (without ``stored`` and
    ``authority``, which the LRS sets): the same id with another digest is a conflict.

    >>> statement_digest({"id": "a", "stored": "now"}) == statement_digest({"id": "a"})
    True
    """
    content = {k: v for k, v in statement.items() if k not in ("stored", "authority")}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()
