-- The planner statistics refresh (refresh_planner_statistics, sql/0010_planner_statistics.sql) as a
-- TimescaleDB job every 30 minutes, registered once and re-applied on every migrate. On the embedded
-- engine (no scheduler, no autovacuum) the service runs it when due (src/jobs/timescale-jobs.ts).
SET LOCAL ROLE pulse_owner;

DO $$
BEGIN
  IF NOT EXISTS (
    SELECT 1 FROM timescaledb_information.jobs
     WHERE proc_schema = 'public' AND proc_name = 'refresh_planner_statistics'
  ) THEN
    PERFORM add_job('public.refresh_planner_statistics'::regproc, INTERVAL '30 minutes', initial_start => now());
  END IF;
END
$$;
