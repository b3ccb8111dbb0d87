"""framework heads: one function, planned once per connection (PostgreSQL only)

Every transaction that records evidence reads the heads of the frameworks its
competencies belong to (``MasteryRepository.heads_of``). As a prepared statement taking
an array of ids, PostgreSQL planned that query afresh on every run (a custom plan:
~270 µs of the server's CPU, three times its execution), since a plan for the actual
ids always looked cheaper than the generic one. Inside a PL/pgSQL function whose
``plan_cache_mode`` is ``force_generic_plan`` it is planned once per connection, and
planned again whenever its tables change shape or are analysed (PostgreSQL invalidates
cached plans then). SQLite keeps reading the heads with plain queries.

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

CREATE = """
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


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(CREATE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS masterypath_framework_heads(text[])")
