-- The hourly reconciliation against upstream (reconcile_orders, sql/0016_recovery.sql) as a TimescaleDB
-- job, registered once and re-applied on every migrate. lookback_days = RECONCILIATION_LOOKBACK_DAYS from
-- the pulse.reconciliation_lookback_days setting of the migrator (default 14): every run re-checks the
-- days of that window, so a late event or a new expectation changes its day's report within the hour. A
-- changed setting updates the job's config. On the embedded engine (no scheduler) the service runs it
-- when due (src/jobs/timescale-jobs.ts).
SET LOCAL ROLE pulse_owner;

DO $$
DECLARE
  want jsonb := jsonb_build_object(
    'lookback_days',
    greatest(1, coalesce(nullif(current_setting('pulse.reconciliation_lookback_days', true), ''), '14')::integer));
  have_id integer;
  have_config jsonb;
BEGIN
  SELECT j.job_id, j.config INTO have_id, have_config
    FROM timescaledb_information.jobs j
   WHERE j.proc_schema = 'public' AND j.proc_name = 'reconcile_orders'
   ORDER BY j.job_id
   LIMIT 1;
  IF have_id IS NULL THEN
    PERFORM add_job('public.reconcile_orders'::regproc, INTERVAL '1 hour', config => want, initial_start => now());
  ELSIF have_config IS DISTINCT FROM want THEN
    PERFORM alter_job(have_id, config => want);
  END IF;
END
$$;
