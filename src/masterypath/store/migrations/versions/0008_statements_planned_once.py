"""two reads of every evidence transaction as functions, planned once per connection
(PostgreSQL only)

Every transaction that records evidence reads the heads of the frameworks its
competencies belong to (``MasteryRepository.heads_of``) and the states the new evidence
updates or gates on (``MasteryRepository.load_states_of``). Both take arrays of ids, and
PostgreSQL planned both afresh on every run: as a prepared statement, a plan for the
actual arrays always looked cheaper than the generic one (the heads: ~270 µs of the
server's CPU a run, three times the execution), and the states' read was sent unprepared
on purpose, because a generic plan of an earlier form of it had scanned the whole table.
Inside a PL/pgSQL function whose ``plan_cache_mode`` is ``force_generic_plan`` each is
planned once per connection, and again whenever its tables change shape or are analysed
(PostgreSQL invalidates cached plans then). The states' generic plan is a primary-key
lookup per key even on a table never analysed (``EXPLAIN`` on an empty database).
SQLite keeps plain queries.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 10:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

HEADS = """
CREATE FUNCTION masterypath_framework_heads(text[])
RETURNS TABLE (framework_id text, stamp timestamptz, models text, policies text,
               overridden boolean)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT
        CAST(f.id AS text),
        f.imported_at,
        (SELECT CAST(json_agg(json_build_array(m.name, m.version)) AS text)
         FROM (SELECT mv.name, max(mv.id) AS version FROM model_versions AS mv
               WHERE mv.framework_id = f.id AND mv.active GROUP BY mv.name) AS m),
        (SELECT CAST(json_agg(json_build_array(p.competency_id, p.policy)) AS text)
         FROM mastery_policies AS p WHERE p.framework_id = f.id),
        EXISTS (SELECT 1 FROM overrides AS o
                WHERE o.framework_id = f.id AND o.lifted_at IS NULL)
    FROM frameworks AS f
    WHERE f.id IN (SELECT c.framework_id FROM competencies AS c WHERE c.id = ANY($1))
    ORDER BY f.id;
END
$$
"""

STATES = """
CREATE FUNCTION masterypath_states_of(text[], text[], text)
RETURNS TABLE (learner_id text, competency_id text, state text, status text,
               model_version_id integer)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
BEGIN
    -- one primary-key lookup per (learner, competency) pair, whatever the table's size
    RETURN QUERY
    SELECT k.learner_id, k.competency_id, CAST(s.state AS text), CAST(s.status AS text),
           s.model_version_id
    FROM unnest($1, $2) AS k(learner_id, competency_id)
    CROSS JOIN LATERAL (
        SELECT ms.state, ms.status, ms.model_version_id FROM mastery_states AS ms
        WHERE ms.learner_id = k.learner_id AND ms.framework_id = $3
          AND ms.competency_id = k.competency_id
        LIMIT 1
    ) AS s;
END
$$
"""

FUNCTIONS = ("masterypath_framework_heads(text[])", "masterypath_states_of(text[], text[], text)")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(HEADS)
        op.execute(STATES)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for function in FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {function}")
