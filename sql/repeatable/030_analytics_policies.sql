-- Refresh policies of the analytics continuous aggregates (sql/0008_analytics_aggregates.sql),
-- re-applied on every migrate: a missing policy is added, a policy whose offsets or schedule differ
-- from the wanted ones is replaced, an unchanged one is left alone.
--
--   level  schedule    end_offset   start_offset
--   5m     5 minutes   5 minutes    RETENTION_DAYS (pulse.retention_days, default 90)
--   1h     10 minutes  1 hour       RETENTION_DAYS
--   1d     30 minutes  1 day        RETENTION_DAYS
--
-- end_offset: the newest, still-filling buckets are never materialised; real-time aggregation
-- (materialized_only = false) answers them from the level below, down to the raw rows, so in-order
-- events are visible at once. start_offset = the raw retention window, because ingest accepts events
-- as old as RETENTION_DAYS: a late event invalidates its bucket and the next refresh of each level
-- folds it in (a refresh only recomputes invalidated buckets, so the wide window is cheap). Late
-- events older than a level's watermark are therefore visible after at most the sum of the schedules
-- (5 + 10 + 30 minutes for daily reads).
--
-- No retention and no compression on the aggregates: they are small (one row per bucket × tenant ×
-- type × channel × currency × item), they keep revenue history beyond the raw 90-day retention (the
-- API allows ranges up to ANALYTICS_MAX_SPAN_DAYS), and TimescaleDB requires a compression policy on
-- a continuous aggregate to start after the refresh window (here: RETENTION_DAYS), which would gain
-- little. Revisit with data from the benchmark.
SET LOCAL ROLE pulse_owner;

DO $$
DECLARE
  retention interval := make_interval(days => coalesce(nullif(current_setting('pulse.retention_days', true), ''), '90')::int);
  -- TimescaleDB ≥ 2.19 refreshes a policy's window in batches of buckets_per_batch buckets (default 1):
  -- one batch per 5-minute bucket over RETENTION_DAYS took 10+ s on the embedded engine for a handful
  -- of rows, against 0.1 s as one batch. 0 = the whole window in one batch (as a manual refresh does).
  batching boolean := EXISTS (
    SELECT 1 FROM pg_proc
     WHERE proname = 'add_continuous_aggregate_policy' AND 'buckets_per_batch' = ANY (proargnames));
  want record;
  have record;
BEGIN
  FOR want IN
    SELECT * FROM (VALUES
      ('agg_events_5m', INTERVAL '5 minutes',  INTERVAL '5 minutes'),
      ('agg_events_1h', INTERVAL '10 minutes', INTERVAL '1 hour'),
      ('agg_events_1d', INTERVAL '30 minutes', INTERVAL '1 day'),
      ('agg_lines_5m',  INTERVAL '5 minutes',  INTERVAL '5 minutes'),
      ('agg_lines_1h',  INTERVAL '10 minutes', INTERVAL '1 hour'),
      ('agg_lines_1d',  INTERVAL '30 minutes', INTERVAL '1 day')
    ) AS w(view_name, schedule, end_offset)
  LOOP
    SELECT j.schedule_interval,
           (j.config ->> 'start_offset')::interval AS start_offset,
           (j.config ->> 'end_offset')::interval   AS end_offset,
           (j.config ->> 'buckets_per_batch')::int AS buckets_per_batch
      INTO have
      FROM timescaledb_information.jobs j
      JOIN timescaledb_information.continuous_aggregates ca
        -- jobs name a continuous aggregate by its view (2.23) or its materialisation hypertable (older)
        ON (j.hypertable_schema, j.hypertable_name) IN ((ca.view_schema, ca.view_name),
                                                       (ca.materialization_hypertable_schema, ca.materialization_hypertable_name))
     WHERE j.proc_name = 'policy_refresh_continuous_aggregate'
       AND ca.view_schema = 'public' AND ca.view_name = want.view_name;

    IF FOUND AND (have.schedule_interval IS DISTINCT FROM want.schedule
                  OR have.start_offset IS DISTINCT FROM retention
                  OR have.end_offset IS DISTINCT FROM want.end_offset
                  OR (batching AND have.buckets_per_batch IS DISTINCT FROM 0)) THEN
      PERFORM remove_continuous_aggregate_policy(want.view_name::regclass);
    END IF;

    IF batching THEN
      EXECUTE 'SELECT add_continuous_aggregate_policy($1::regclass, start_offset => $2, end_offset => $3,
                 schedule_interval => $4, if_not_exists => true, buckets_per_batch => 0)'
        USING want.view_name, retention, want.end_offset, want.schedule;
    ELSE
      PERFORM add_continuous_aggregate_policy(
        want.view_name::regclass,
        start_offset      => retention,
        end_offset        => want.end_offset,
        schedule_interval => want.schedule,
        if_not_exists     => true
      );
    END IF;
  END LOOP;
END
$$;
