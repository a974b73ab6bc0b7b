-- Planner statistics as a TimescaleDB job (user-defined action, scheduled by
-- sql/repeatable/050_planner_statistics_job.sql).
--
-- The embedded engine (PGlite) runs no autovacuum: without this job no table or chunk is ever
-- ANALYZEd, every plan is made on default estimates (reltuples = -1), and e.g. a filter on `type`
-- scans the tenant's whole (tenant_id, time) range instead of the (tenant_id, type, time) index.
-- On a real server autovacuum does this as well; the job then costs one sampled ANALYZE per recent
-- chunk per run.
--
-- Each run ANALYZEs, among the tables pulse_owner owns in public and _timescaledb_internal:
--   - every table never analysed (reltuples < 0): new chunks, compressed chunks, new tables;
--   - every chunk whose range ends after now() − 2 days: the chunks still filling (late events
--     included), of events, order_lines and the aggregates' materialisations;
--   - every plain table of public (items, customers, counters, scores, …: small).
-- Hypertable roots are skipped (ANALYZE of a root would take every chunk again).
SET LOCAL ROLE pulse_owner;

CREATE PROCEDURE refresh_planner_statistics(job_id integer, config jsonb)
  LANGUAGE plpgsql
  SET search_path = pg_catalog, public
  AS $$
DECLARE
  r record;
BEGIN
  FOR r IN
    SELECT c.oid::regclass AS rel
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind = 'r'
       AND c.relowner = 'pulse_owner'::regrole
       AND n.nspname IN ('public', '_timescaledb_internal')
       AND NOT EXISTS (SELECT 1 FROM timescaledb_information.hypertables h
                        WHERE h.hypertable_schema = n.nspname AND h.hypertable_name = c.relname)
       AND (c.reltuples < 0
            OR n.nspname = 'public'
            OR EXISTS (SELECT 1 FROM timescaledb_information.chunks ch
                        WHERE ch.chunk_schema = n.nspname AND ch.chunk_name = c.relname
                          AND ch.range_end > now() - INTERVAL '2 days'))
     ORDER BY c.oid
  LOOP
    EXECUTE format('ANALYZE %s', r.rel);
  END LOOP;
END
$$;
