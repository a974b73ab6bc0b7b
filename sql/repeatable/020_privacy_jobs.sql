-- The hourly rotation of visitor salts as a TimescaleDB job, registered once (re-applied on every
-- migrate: add_job only when no job runs rotate_visitor_salts yet). Owned by pulse_owner, so the
-- scheduler (or, on the embedded engine, the service) runs it as the owner of visitor_salts.
SET LOCAL ROLE pulse_owner;

DO $$
BEGIN
  IF NOT EXISTS (
    SELECT 1 FROM timescaledb_information.jobs
     WHERE proc_schema = 'public' AND proc_name = 'rotate_visitor_salts'
  ) THEN
    PERFORM add_job('public.rotate_visitor_salts'::regproc, INTERVAL '1 hour', initial_start => now());
  END IF;
END
$$;
