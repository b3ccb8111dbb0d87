"""Where an xAPI statement stored as JSON names an activity or an agent, as one SQL
condition that the database evaluates: :func:`mentions_activity`, :func:`names_agent`.

xAPI's ``related_activities=true`` (1.0.3 part three, 2.1.3) asks for the statements whose
object is the activity, or whose context activities (``parent``, ``grouping``,
``category``, ``other``) hold it, or whose SubStatement does either. PostgreSQL reads
that with SQL/JSON paths (in lax mode a single context activity that is not in a list is
read as one); SQLite walks the document with ``json_tree``. Ids inside an activity's
``definition`` (an extension's, say) are not activity ids and never match.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    cast,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB, JSONPATH
from sqlalchemy.orm import InstrumentedAttribute

from masterypath.interop.xapi_pseudonyms import AgentIdentifier

PATHS = (
    '$.object ? (@.id == $a && (!exists(@.objectType) || @.objectType == "Activity"))',
    "$.context.contextActivities.*[*] ? (@.id == $a)",
    '$.object ? (@.objectType == "SubStatement").object ? (@.id == $a)',
    '$.object ? (@.objectType == "SubStatement").context.contextActivities.*[*] ? (@.id == $a)',
)
"""PostgreSQL's reading: one SQL/JSON path per place an activity may stand."""


def mentions_activity(
    statement: ColumnElement[Any] | InstrumentedAttribute[Any], activity: str, *, postgresql: bool
) -> ColumnElement[bool]:
    """``statement`` (a JSON column) names ``activity`` where ``related_activities`` looks."""
    if postgresql:
        document = cast(statement, JSONB)
        variables = func.jsonb_build_object(
            cast(literal("a"), String), cast(literal(activity), String)
        )
        return or_(
            *(
                func.jsonb_path_exists(document, cast(literal(p), JSONPATH), variables)
                for p in PATHS
            )
        )
    node = func.json_tree(statement).table_valued("key", "atom", "fullkey").alias("node")
    inner = or_(node.c.fullkey.like("$.object.object.%"), node.c.fullkey.like("$.object.context.%"))
    return exists(
        select(1)
        .select_from(node)
        .where(
            node.c.key == "id",
            node.c.atom == activity,
            or_(
                node.c.fullkey == "$.object.id",
                node.c.fullkey.like("$.context.contextActivities.%"),
                node.c.fullkey == "$.object.object.id",
                node.c.fullkey.like("$.object.context.contextActivities.%"),
            ),
            not_(node.c.fullkey.like("%.definition.%")),
            # a SubStatement's own object and context are read through it only
            or_(not_(inner), func.json_extract(statement, "$.object.objectType") == "SubStatement"),
        )
    )


AGENT_PLACES = ("actor", "authority", "context.instructor", "context.team")
"""Where an Agent or Group stands in a statement and in its SubStatement (xAPI's
``related_agents``), besides an Agent or Group object; a Group's members stand there too."""
AGENT_KINDS = ("Agent", "Group")


def names_agent(
    statement: ColumnElement[Any] | InstrumentedAttribute[Any],
    agent: AgentIdentifier,
    *,
    postgresql: bool,
) -> ColumnElement[bool]:
    """``statement`` (a JSON column) names ``agent`` where ``related_agents`` looks: the
    actor, an Agent or Group object, the authority, the instructor, the team, a member of
    any of these Groups, and the same in a SubStatement. Reads every statement it is
    asked of (no index): a rare question, and ``since`` or ``until`` bound it."""
    if postgresql:
        return _names_agent_postgresql(statement, agent)
    return _names_agent_sqlite(statement, agent)


def _names_agent_postgresql(
    statement: ColumnElement[Any] | InstrumentedAttribute[Any], agent: AgentIdentifier
) -> ColumnElement[bool]:
    test = "@.account.name == $v" if agent.field == "account" else f"@.{agent.field} == $v"
    kinds = " || ".join(f'@.objectType == "{k}"' for k in AGENT_KINDS)
    sub = '$.object ? (@.objectType == "SubStatement")'
    owners = [f"$.{p}" for p in AGENT_PLACES] + [f"$.object ? ({kinds})"]
    owners += [f"{sub}.{p}" for p in AGENT_PLACES] + [f"{sub}.object ? ({kinds})"]
    paths = [f"{o} ? ({test})" for o in owners] + [f"{o}.member[*] ? ({test})" for o in owners]
    whole = "$ ? (" + " || ".join(f"exists({p.replace('$', '@', 1)})" for p in paths) + ")"
    variables = func.jsonb_build_object(
        cast(literal("v"), String), cast(literal(agent.value), String)
    )
    return func.jsonb_path_exists(cast(statement, JSONB), cast(literal(whole), JSONPATH), variables)


def _names_agent_sqlite(
    statement: ColumnElement[Any] | InstrumentedAttribute[Any], agent: AgentIdentifier
) -> ColumnElement[bool]:
    node = func.json_tree(statement).table_valued("key", "atom", "path").alias("node")
    owner: ColumnElement[Any]
    if agent.field == "account":
        found = and_(node.c.key == "name", node.c.path.like("%.account"))
        owner = func.substr(node.c.path, 1, func.length(node.c.path) - len(".account"))
    else:
        found = node.c.key == agent.field
        owner = node.c.path
    places = [f"$.{p}" for p in AGENT_PLACES] + [f"$.object.{p}" for p in AGENT_PLACES]
    objects = ["$.object", "$.object.object"]
    anywhere = [*places, *objects]
    kind = func.json_extract(statement, owner + ".objectType")
    return exists(
        select(1)
        .select_from(node)
        .where(
            found,
            node.c.atom == agent.value,
            or_(
                owner.in_(places),
                and_(owner.in_(objects), kind.in_(AGENT_KINDS)),
                # a member: the Group it is in stands in one of the places
                or_(*(owner.like(f"{p}.member[%]") for p in anywhere)),
            ),
            # a SubStatement's places are read through it only
            or_(
                not_(owner.like("$.object.%")),
                func.json_extract(statement, "$.object.objectType") == "SubStatement",
            ),
        )
    )
