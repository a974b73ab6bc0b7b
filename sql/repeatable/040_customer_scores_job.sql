-- The hourly customer-score refresh (refresh_customer_scores, sql/0009_customer_scores.sql) as a
-- TimescaleDB job, registered once and re-applied on every migrate. Orders are archived into the
-- scores 2 days before retention drops them: archive_after_days = RETENTION_DAYS − 2 (at least 1),
-- from the pulse.retention_days setting of the migrator; a changed retention updates the job's config.
-- On the embedded engine (no scheduler) the service runs it when due (src/jobs/timescale-jobs.ts).
SET LOCAL ROLE pulse_owner;

DO $$
DECLARE
  want jsonb := jsonb_build_object(
    'archive_after_days',
    greatest(1, coalesce(nullif(current_setting('pulse.retention_days', true), ''), '90')::integer - 2));
  have_id integer;
  have_config jsonb;
BEGIN
  SELECT j.job_id, j.config INTO have_id, have_config
    FROM timescaledb_information.jobs j
   WHERE j.proc_schema = 'public' AND j.proc_name = 'refresh_customer_scores'
   ORDER BY j.job_id
   LIMIT 1;
  IF have_id IS NULL THEN
    PERFORM add_job('public.refresh_customer_scores'::regproc, INTERVAL '1 hour', config => want, initial_start => now());
  ELSIF have_config IS DISTINCT FROM want THEN
    PERFORM alter_job(have_id, config => want);
  END IF;
END
$$;
