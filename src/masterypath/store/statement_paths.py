"""Where an xAPI statement stored as JSON names an activity, as one SQL condition that
the database evaluates: :func:`mentions_activity`. (Agents are found by index:
``xapi_statement_agents`` and the ``learner_id`` and ``authority_id`` columns.)

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
