-- The hourly demand-score refresh (refresh_demand_scores, sql/0013_pricing.sql) as a TimescaleDB job,
-- registered once and re-applied on every migrate (a changed schedule is put back to hourly). On the
-- embedded engine (no scheduler) the service runs it when due (src/jobs/timescale-jobs.ts); on demand
-- for one tenant: POST /v1/pricing/scores/refresh.
SET LOCAL ROLE pulse_owner;

DO $$
DECLARE
  have_id integer;
  have_interval interval;
BEGIN
  SELECT j.job_id, j.schedule_interval INTO have_id, have_interval
    FROM timescaledb_information.jobs j
   WHERE j.proc_schema = 'public' AND j.proc_name = 'refresh_demand_scores'
   ORDER BY j.job_id
   LIMIT 1;
  IF have_id IS NULL THEN
    PERFORM add_job('public.refresh_demand_scores'::regproc, INTERVAL '1 hour', config => '{}'::jsonb, initial_start => now());
  ELSIF have_interval IS DISTINCT FROM INTERVAL '1 hour' THEN
    PERFORM alter_job(have_id, schedule_interval => INTERVAL '1 hour');
  END IF;
END
$$;
