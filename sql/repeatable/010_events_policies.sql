-- Compression and retention of events and order_lines, re-applied on every migrate. The intervals come from the
-- service's configuration (COMPRESS_AFTER_DAYS, RETENTION_DAYS) through the pulse.* settings the
-- migrator sets; a changed value replaces the policy, an unchanged one leaves it alone.
SET LOCAL ROLE pulse_owner;

DO $$
DECLARE
  want_compress  interval := make_interval(days => coalesce(nullif(current_setting('pulse.compress_after_days', true), ''), '7')::int);
  want_retention interval := make_interval(days => coalesce(nullif(current_setting('pulse.retention_days', true), ''), '90')::int);
  have interval;
  tbl text;
BEGIN
  FOREACH tbl IN ARRAY ARRAY['events', 'order_lines'] LOOP
    SELECT (config ->> 'compress_after')::interval INTO have
      FROM timescaledb_information.jobs WHERE proc_name = 'policy_compression' AND hypertable_name = tbl;
    IF have IS DISTINCT FROM want_compress THEN
      IF have IS NOT NULL THEN PERFORM remove_compression_policy(tbl::regclass); END IF;
      PERFORM add_compression_policy(tbl::regclass, compress_after => want_compress);
    END IF;

    SELECT (config ->> 'drop_after')::interval INTO have
      FROM timescaledb_information.jobs WHERE proc_name = 'policy_retention' AND hypertable_name = tbl;
    IF have IS DISTINCT FROM want_retention THEN
      IF have IS NOT NULL THEN PERFORM remove_retention_policy(tbl::regclass); END IF;
      PERFORM add_retention_policy(tbl::regclass, drop_after => want_retention);
    END IF;
  END LOOP;
END
$$;
