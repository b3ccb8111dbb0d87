"""The forms ``GET /xapi/statements`` answers statements in (xAPI 1.0.3 part three, 2.1.3,
the ``format`` parameter): ``exact`` (as stored), ``ids`` (:func:`as_ids`: only what
identifies each Agent, Group, Activity and Verb) and ``canonical``
(:func:`as_canonical`: each language map of an Activity or a Verb cut to the one language
the reader prefers, by ``Accept-Language``).

This LRS keeps no canonical definitions of its own: an Activity's canonical form is the
definition the statement came with, in one language.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from masterypath.interop.xapi_pseudonyms import map_agents

Format = Literal["exact", "ids", "canonical"]
FORMATS: tuple[Format, ...] = ("exact", "ids", "canonical")

IDENTIFIERS = ("mbox", "mbox_sha1sum", "openid", "account")
"""What identifies an Agent or a Group (its inverse functional identifiers)."""
COMPONENTS = ("choices", "scale", "source", "target", "steps")
"""An interaction Activity's lists of components, each with a ``description`` map."""

Change = Callable[[Mapping[str, Any]], dict[str, Any]]


def formed_as(
    form: Format, accept_language: str | None = None
) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """What answers a stored statement in ``form``.

    >>> formed_as("ids")({"verb": {"id": "v", "display": {"en": "did"}}})
    {'verb': {'id': 'v'}}
    """
    if form == "ids":
        return as_ids
    if form == "canonical":
        return lambda statement: as_canonical(statement, accept_language)
    return dict


def as_ids(statement: Mapping[str, Any]) -> dict[str, Any]:
    """The statement with only what identifies each Agent and Group (its identifier; an
    anonymous Group's members, each by theirs), each Activity (its id) and Verb (its id).

    >>> s = as_ids({"actor": {"objectType": "Agent", "name": "Kim", "mbox_sha1sum": "ab"},
    ...             "verb": {"id": "v", "display": {"en": "did"}},
    ...             "object": {"id": "q", "definition": {"name": {"en": "Q"}}}})
    >>> s["actor"], s["verb"], s["object"]
    ({'objectType': 'Agent', 'mbox_sha1sum': 'ab'}, {'id': 'v'}, {'id': 'q'})
    """
    return _activities_and_verbs(map_agents(statement, _agent_ids), _activity_id, _verb_id)


def as_canonical(statement: Mapping[str, Any], accept_language: str | None) -> dict[str, Any]:
    """The statement with each language map of its Activities (name, description, the
    descriptions of an interaction's components) and Verbs (display) cut to one language:
    the one ``accept_language`` (an ``Accept-Language`` header) prefers, else the first.
    Agents and Groups are as stored.

    >>> s = {"verb": {"id": "v", "display": {"en-US": "did", "fr-FR": "a fait"}}}
    >>> as_canonical(s, "fr;q=0.9, de")["verb"]["display"]
    {'fr-FR': 'a fait'}
    """
    ranges = language_ranges(accept_language)

    def verb(value: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(value)
        if isinstance(out.get("display"), Mapping):
            out["display"] = one_language(out["display"], ranges)
        return out

    def activity(value: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(value)
        definition = out.get("definition")
        if not isinstance(definition, Mapping):
            return out
        definition = dict(definition)
        for key in ("name", "description"):
            if isinstance(definition.get(key), Mapping):
                definition[key] = one_language(definition[key], ranges)
        for key in COMPONENTS:
            if isinstance(definition.get(key), list):
                definition[key] = [_described(c, ranges) for c in definition[key]]
        out["definition"] = definition
        return out

    return _activities_and_verbs(statement, activity, verb)


def language_ranges(header: str | None) -> list[str]:
    """The language ranges of an ``Accept-Language`` header, most preferred first (by
    ``q``, then in order); a range with ``q=0`` is left out.

    >>> language_ranges("de;q=0.5, en-GB, fr;q=0.8, it;q=0")
    ['en-gb', 'fr', 'de']
    """
    ranked: list[tuple[float, int, str]] = []
    for n, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        name, _, value = params.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                q = float(value)
            except ValueError:
                q = 0.0
        if tag.strip() and q > 0:
            ranked.append((-q, n, tag.strip().lower()))
    return [tag for _, _, tag in sorted(ranked)]


def one_language(texts: Mapping[str, Any], ranges: list[str]) -> dict[str, Any]:
    """The one entry of a language map the ranges prefer (RFC 4647 lookup: the range, a
    tag it is a prefix of, then the range shortened), else the first; an empty map as is.

    >>> one_language({"en-US": "color", "en-GB": "colour"}, ["en-gb"])
    {'en-GB': 'colour'}
    >>> one_language({"en-US": "color", "de": "Farbe"}, ["de-ch", "en"])
    {'de': 'Farbe'}
    """
    if not texts:
        return dict(texts)
    tags = {str(tag).lower(): tag for tag in texts}
    for wanted in ranges:
        if wanted == "*":
            break
        found = _lookup(wanted, tags)
        if found is not None:
            return {found: texts[found]}
    first = next(iter(texts))
    return {first: texts[first]}


def _lookup(wanted: str, tags: Mapping[str, str]) -> str | None:
    if wanted in tags:
        return tags[wanted]
    longer = [tag for lower, tag in tags.items() if lower.startswith(wanted + "-")]
    if longer:
        return longer[0]
    while "-" in wanted:
        wanted = wanted.rsplit("-", 1)[0]
        if wanted in tags:
            return tags[wanted]
    return None


def _described(component: Any, ranges: list[str]) -> Any:
    if isinstance(component, Mapping) and isinstance(component.get("description"), Mapping):
        return {**component, "description": one_language(component["description"], ranges)}
    return component


def _agent_ids(agent: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: agent[k] for k in ("objectType", *IDENTIFIERS) if k in agent}
    if not any(k in out for k in IDENTIFIERS) and "member" in agent:
        out["member"] = agent["member"]  # an anonymous Group: its members identify it
    return out


def _activity_id(activity: Mapping[str, Any]) -> dict[str, Any]:
    return {k: activity[k] for k in ("objectType", "id") if k in activity}


def _verb_id(verb: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": verb["id"]} if "id" in verb else dict(verb)


def _activities_and_verbs(
    statement: Mapping[str, Any], activity: Change, verb: Change
) -> dict[str, Any]:
    """The statement with ``activity`` made to each Activity in it (the object, the
    context activities, and those of a SubStatement) and ``verb`` to each Verb."""
    out = dict(statement)
    if isinstance(out.get("verb"), Mapping):
        out["verb"] = verb(out["verb"])
    target = out.get("object")
    if isinstance(target, Mapping):
        kind = target.get("objectType", "Activity")
        if kind == "Activity":
            out["object"] = activity(target)
        elif kind == "SubStatement":
            out["object"] = _activities_and_verbs(target, activity, verb)
    context = out.get("context")
    if isinstance(context, Mapping) and isinstance(context.get("contextActivities"), Mapping):
        kept = dict(context["contextActivities"])
        for key, value in kept.items():
            if isinstance(value, list):
                kept[key] = [activity(a) if isinstance(a, Mapping) else a for a in value]
            elif isinstance(value, Mapping):
                kept[key] = activity(value)
        out["context"] = {**context, "contextActivities": kept}
    return out
