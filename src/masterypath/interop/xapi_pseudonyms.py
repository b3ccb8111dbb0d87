"""The people in an xAPI statement, pseudonymous: the learner id an Agent names
(:func:`learner_of`), the learners a statement names besides its actor
(:func:`agents_named`), the statement as stored, with every e-mail address in it replaced
by its SHA-1 (:func:`without_addresses`), and the digest by which a re-post of the same
statement is recognised (:func:`statement_digest`).

xAPI lets an Agent be identified by ``mbox_sha1sum`` instead of ``mbox`` (1.0.3 part two,
2.4.2.3), so the stored statement is still a valid one and names the same people; the
address itself, a learner's or a teacher's, is never kept.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, NamedTuple


def learner_of(actor: Mapping[str, Any]) -> str | None:
    """The learner id an Agent (or identified Group) names: its ``account.name`` (the LMS's
    pseudonymous id), else ``sha1:`` and the SHA-1 of its ``mbox`` (``mbox_sha1sum`` as
    given) or ``openid``; None when it has no identifier (an anonymous Group).

    >>> learner_of({"account": {"homePage": "https://lms.example", "name": "kim"}})
    'kim'
    >>> learner_of({"mbox": "mailto:a@b.c"})
    'sha1:05d8abb62a44a0ac90cd18c20272d790d86facb5'
    """
    account = actor.get("account")
    if isinstance(account, Mapping) and account.get("name"):
        return str(account["name"])
    for field in ("mbox_sha1sum", "mbox", "openid"):
        value = actor.get(field)
        if value:
            text = str(value)
            hexdigest = text if field == "mbox_sha1sum" else hashlib.sha1(text.encode()).hexdigest()
            return "sha1:" + hexdigest
    return None


def members_of(group: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The learner ids of an anonymous Group's members (a Group without an identifier of
    its own); None when it is not one, or a member has no identifier.

    >>> members_of({"objectType": "Group", "member": [{"account": {"name": "a"}}]})
    ('a',)
    >>> members_of({"objectType": "Group", "mbox_sha1sum": "ab", "member": []}) is None
    True
    """
    members = group.get("member")
    if group.get("objectType") != "Group" or learner_of(group) is not None:
        return None
    if not isinstance(members, list) or not members:
        return None
    ids = [learner_of(m) if isinstance(m, Mapping) else None for m in members]
    if any(i is None for i in ids):
        return None
    return tuple(dict.fromkeys(i for i in ids if i is not None))


def group_id(members: Sequence[str]) -> str:
    """The id an anonymous Group's statements are kept under: ``group:`` and the SHA-1 of
    its members' learner ids, in any order the same (a learner id this LRS makes starts
    ``group:`` only here).

    >>> group_id(["b", "a"]) == group_id(["a", "b"])
    True
    """
    return "group:" + hashlib.sha1("\n".join(sorted(members)).encode()).hexdigest()


def agents_named(statement: Mapping[str, Any]) -> tuple[str, ...]:
    """The learners a statement names where xAPI's ``agent`` filter looks (1.0.3 part
    three, 2.1.3), its actor aside: an Agent or identified Group object, and the members
    of a Group actor or object; each once, in order.

    >>> agents_named({
    ...     "actor": {"objectType": "Group", "member": [{"mbox_sha1sum": "ab"}]},
    ...     "object": {"objectType": "Agent", "account": {"homePage": "h", "name": "kim"}},
    ... })
    ('kim', 'sha1:ab')
    """
    actor, target = statement.get("actor"), statement.get("object")
    if not isinstance(target, Mapping) or target.get("objectType") not in ("Agent", "Group"):
        if not isinstance(actor, Mapping) or "member" not in actor:
            return ()  # most statements: an Agent did something to an Activity
        target = None
    named: list[str | None] = [] if target is None else [learner_of(target)]
    for group in (actor, target):
        members = group.get("member") if isinstance(group, Mapping) else None
        if isinstance(members, list):
            named.extend(learner_of(m) for m in members if isinstance(m, Mapping))
    return tuple(dict.fromkeys(n for n in named if n is not None))


class AgentIdentifier(NamedTuple):
    """How an Agent is identified in a stored statement (an e-mail only as its SHA-1)."""

    field: Literal["account", "mbox_sha1sum", "openid"]
    value: str
    """``account.name`` for an account (as the learner id reads it, whatever its
    ``homePage``), else the identifier itself."""

    @classmethod
    def of(cls, agent: Mapping[str, Any]) -> AgentIdentifier | None:
        """The identifier of an Agent or Group as xAPI gives it; None when it has none.

        >>> AgentIdentifier.of({"mbox": "mailto:a@b.c"})
        AgentIdentifier(field='mbox_sha1sum', value='05d8abb62a44a0ac90cd18c20272d790d86facb5')
        """
        agent = pseudonymous(agent)
        account = agent.get("account")
        if isinstance(account, Mapping) and account.get("name"):
            return cls("account", str(account["name"]))
        if agent.get("mbox_sha1sum"):
            return cls("mbox_sha1sum", str(agent["mbox_sha1sum"]))
        if agent.get("openid"):
            return cls("openid", str(agent["openid"]))
        return None

    @classmethod
    def of_learner(cls, learner_id: str) -> AgentIdentifier:
        """How a learner id (:func:`learner_of`) stands in a stored statement: ``sha1:``
        ids as ``mbox_sha1sum`` (one made from an OpenID cannot be read back), the rest
        as ``account.name``.

        >>> AgentIdentifier.of_learner("sha1:ab")
        AgentIdentifier(field='mbox_sha1sum', value='ab')
        >>> AgentIdentifier.of_learner("kim")
        AgentIdentifier(field='account', value='kim')
        """
        if learner_id.startswith("sha1:"):
            return cls("mbox_sha1sum", learner_id.removeprefix("sha1:"))
        return cls("account", learner_id)


AgentChange = Callable[[Mapping[str, Any]], dict[str, Any]]
"""What :func:`map_agents` does to each Agent and Group (a Group's members already done)."""


def map_agents(statement: Mapping[str, Any], change: AgentChange) -> dict[str, Any]:
    """The statement with ``change`` made to every Agent and Group in it: the actor, the
    authority, an Agent or Group object, the context's instructor and team, each Group's
    members, and the same in a SubStatement. ``statement`` itself is left as it was.

    >>> named = lambda agent: {**agent, "name": "X"}
    >>> map_agents({"actor": {"mbox": "m"}, "object": {"id": "q"}}, named)
    {'actor': {'mbox': 'm', 'name': 'X'}, 'object': {'id': 'q'}}
    """
    out = dict(statement)
    for role in ("actor", "authority"):
        if isinstance(out.get(role), Mapping):
            out[role] = _each_agent(out[role], change)
    target = out.get("object")
    if isinstance(target, Mapping):
        if target.get("objectType") in ("Agent", "Group"):
            out["object"] = _each_agent(target, change)
        elif target.get("objectType") == "SubStatement":
            out["object"] = map_agents(target, change)
    context = out.get("context")
    if isinstance(context, Mapping):
        context = dict(context)
        for role in ("instructor", "team"):
            if isinstance(context.get(role), Mapping):
                context[role] = _each_agent(context[role], change)
        out["context"] = context
    return out


def _each_agent(agent: Mapping[str, Any], change: AgentChange) -> dict[str, Any]:
    members = agent.get("member")
    if isinstance(members, list):
        agent = {
            **agent,
            "member": [_each_agent(m, change) if isinstance(m, Mapping) else m for m in members],
        }
    return change(agent)


def _address_hashed(agent: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(agent)
    if "mbox" in out:
        out["mbox_sha1sum"] = hashlib.sha1(str(out.pop("mbox")).encode()).hexdigest()
    return out


def pseudonymous(agent: Mapping[str, Any]) -> dict[str, Any]:
    """An Agent or Group with every e-mail address (its own, its members') replaced by its
    SHA-1 (``mbox_sha1sum``, an xAPI identifier in its own right).

    >>> pseudonymous({"objectType": "Group", "member": [{"mbox": "mailto:a@b.c"}]})["member"]
    [{'mbox_sha1sum': '05d8abb62a44a0ac90cd18c20272d790d86facb5'}]
    """
    return _each_agent(agent, _address_hashed)


def without_addresses(statement: Mapping[str, Any]) -> dict[str, Any]:
    """The statement with the e-mail address of every Agent and Group in it replaced by its
    SHA-1 (:func:`map_agents` names where they stand). No e-mail address is stored, a
    learner's or anyone else's.

    >>> s = {"actor": {"mbox": "mailto:a@b.c"}, "context": {"instructor": {"mbox": "x"}}}
    >>> "@" in str(without_addresses(s))
    False
    """
    return map_agents(statement, _address_hashed)


def learners_in(statement: Mapping[str, Any]) -> set[str]:
    """The learner id of every Agent and identified Group in the statement, wherever it
    stands (:func:`map_agents`).

    >>> sorted(learners_in({"actor": {"account": {"name": "a"}},
    ...                     "context": {"team": {"member": [{"mbox_sha1sum": "ab"}]}}}))
    ['a', 'sha1:ab']
    """
    found: set[str] = set()

    def seen(agent: Mapping[str, Any]) -> dict[str, Any]:
        learner = learner_of(agent)
        if learner is not None:
            found.add(learner)
        return dict(agent)

    map_agents(statement, seen)
    return found


ERASED: dict[str, Any] = {
    "objectType": "Agent",
    "name": "(erased)",
    "mbox_sha1sum": "0" * 40,
}
"""What stands for an erased learner in a statement that is not theirs (a valid Agent that
names no one: no address has this SHA-1 that anyone could know)."""
ERASED_ID = "sha1:" + "0" * 40
"""The learner id of :data:`ERASED`: no one's."""


def authority_of(statement: Mapping[str, Any]) -> str | None:
    """The learner id of the statement's ``authority`` (who sent it); None when it has
    none, or it is a Group without an identifier (an OAuth pair: its members are in
    :func:`agents_related`).

    >>> authority_of({"authority": {"account": {"homePage": "h", "name": "lms"}}})
    'lms'
    """
    authority = statement.get("authority")
    return learner_of(authority) if isinstance(authority, Mapping) else None


def agents_related(statement: Mapping[str, Any], *, besides: Iterable[str]) -> tuple[str, ...]:
    """The learners a statement names where only xAPI's ``related_agents`` looks: everyone
    in it (:func:`learners_in`) but those ``besides`` (which must hold its actor's and its
    authority's ids, and may hold those :func:`agents_named` gives) and :data:`ERASED`;
    sorted.

    >>> s = {"actor": {"account": {"name": "ben"}},
    ...      "context": {"instructor": {"account": {"name": "ms-li"}},
    ...                  "team": {"objectType": "Group", "member": [{"mbox_sha1sum": "ab"}]}}}
    >>> agents_related(s, besides=["ben"])
    ('ms-li', 'sha1:ab')
    """
    context, target = statement.get("context"), statement.get("object")
    grouped = any(
        isinstance(statement.get(role), Mapping) and "member" in statement[role]
        for role in ("actor", "authority")
    )
    if (
        not grouped
        and not (isinstance(context, Mapping) and ("instructor" in context or "team" in context))
        and not (
            isinstance(target, Mapping)
            and target.get("objectType") in ("Agent", "Group", "SubStatement")
        )
    ):
        return ()  # most statements: an Agent did something to an Activity; no one else
    return tuple(sorted(learners_in(statement) - {*besides, ERASED_ID}))


def without_learner(statement: Mapping[str, Any], learner_id: str) -> dict[str, Any]:
    """The statement with every Agent that is the learner (:func:`learner_of`) replaced by
    :data:`ERASED`: what is kept of someone else's statement that named a learner who was
    erased.

    >>> s = {"actor": {"account": {"name": "ms-li"}}, "object": {"objectType": "Agent",
    ...      "account": {"name": "ben"}}}
    >>> without_learner(s, "ben")["object"]["name"], without_learner(s, "ben")["actor"]
    ('(erased)', {'account': {'name': 'ms-li'}})
    """

    def erased(agent: Mapping[str, Any]) -> dict[str, Any]:
        return dict(ERASED) if learner_of(agent) == learner_id else dict(agent)

    return map_agents(statement, erased)


def statement_digest(statement: Mapping[str, Any]) -> str:
    """SHA-256 of the statement as its sender chose it (without ``stored`` and
    ``authority``, which the LRS sets): the same id with another digest is a conflict.

    >>> statement_digest({"id": "a", "stored": "now"}) == statement_digest({"id": "a"})
    True
    """
    content = {k: v for k, v in statement.items() if k not in ("stored", "authority")}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()
