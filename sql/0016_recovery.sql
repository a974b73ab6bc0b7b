-- Data integrity and recovery (src/recovery/, docs/recovery.md): daily reconciliation against upstream's
-- own figures, replay jobs over the JetStream stream, and the state of a dead letter's redrive.
SET LOCAL ROLE pulse_owner;

-- One row per (tenant, local day, currency): upstream's expectation (reconciliation.expected) against
-- the stored order.completed of that local day and currency. Written by reconcile_orders() below (the
-- TimescaleDB job of sql/repeatable/070_reconciliation_job.sql, and on demand after a replay or redrive).
--   missing_orders   = greatest(expected_orders − stored_orders, 0)
--   surplus_orders   = greatest(stored_orders − expected_orders, 0)
--   gross_diff_minor = stored_gross_minor − expected_gross_minor
--   status: pending  the local day is not over, or no expectation has arrived (expected_* null)
--           ok       stored orders and gross equal the expectation
--           missing  fewer orders stored, or as many with a lower gross
--           surplus  more orders stored, or as many with a higher gross
CREATE TABLE reconciliation_reports (
  tenant_id                uuid        NOT NULL,
  day                      date        NOT NULL,
  currency                 char(3)     NOT NULL,
  timezone                 text        NOT NULL,
  expected_orders          integer,
  expected_gross_minor     bigint,
  stored_orders            integer     NOT NULL,
  stored_gross_minor       bigint      NOT NULL,
  missing_orders           integer     NOT NULL,
  surplus_orders           integer     NOT NULL,
  gross_diff_minor         bigint,
  status                   text        NOT NULL CHECK (status IN ('ok', 'missing', 'surplus', 'pending')),
  expectation_event_id     text,
  computed_at              timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, day, currency)
);

CREATE INDEX reconciliation_reports_mismatch ON reconciliation_reports (day, tenant_id) WHERE status IN ('missing', 'surplus');

-- Replays of a time range from the JetStream stream (POST /v1/admin/replays). A job is a claimed row with
-- a lease: the replica running it renews lease_until with every batch; another replica takes over an
-- expired lease and goes on after resume_seq. tenant_id NULL = every tenant.
CREATE TABLE replay_jobs (
  id                uuid        PRIMARY KEY,
  tenant_id         uuid,
  range_from        timestamptz NOT NULL,
  range_to          timestamptz NOT NULL,
  types             text[],
  status            text        NOT NULL DEFAULT 'queued'
                                CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  requested_by      text        NOT NULL,
  -- whole milliseconds: the list's cursor carries it as an ISO time
  created_at        timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
  started_at        timestamptz,
  finished_at       timestamptz,
  cancel_requested  boolean     NOT NULL DEFAULT false,
  stream            text        NOT NULL,
  start_seq         bigint,
  end_seq           bigint,
  resume_seq        bigint,
  read              bigint      NOT NULL DEFAULT 0,
  in_range          bigint      NOT NULL DEFAULT 0,
  stored            bigint      NOT NULL DEFAULT 0,
  duplicates        bigint      NOT NULL DEFAULT 0,
  dead_lettered     bigint      NOT NULL DEFAULT 0,
  lease_owner       text,
  lease_until       timestamptz,
  error             text,
  CHECK (range_from < range_to)
);

CREATE INDEX replay_jobs_created ON replay_jobs (created_at DESC, id DESC);
CREATE INDEX replay_jobs_runnable ON replay_jobs (created_at) WHERE status IN ('queued', 'running');

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['reconciliation_reports', 'replay_jobs'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id())', t);
  END LOOP;
END
$$;

-- tenants read their reports; replay jobs are operators' (read outside withTenant, like GET /v1/admin/dead-letters)
GRANT SELECT ON reconciliation_reports TO pulse_app;

-- A dead letter's redrive (POST /v1/dead-letters/redrive): pending until a redrive stores its event (or
-- finds it stored), then redriven with the event id. Each attempt counts; a still-invalid payload keeps
-- its row with the new reason and issues. claimed_until: a redrive's short claim, so two redrives at once
-- never take the same rows.
ALTER TABLE dead_letter_events
  ADD COLUMN status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'redriven')),
  ADD COLUMN attempts          integer NOT NULL DEFAULT 0,
  ADD COLUMN last_attempt_at   timestamptz,
  ADD COLUMN redriven_at       timestamptz,
  ADD COLUMN redriven_event_id text,
  ADD COLUMN claimed_until     timestamptz;

CREATE INDEX dead_letter_events_pending ON dead_letter_events (tenant_id, id) WHERE status = 'pending';
CREATE INDEX dead_letter_events_pending_reason ON dead_letter_events (reason) WHERE status = 'pending';

GRANT UPDATE (status, attempts, last_attempt_at, redriven_at, redriven_event_id, claimed_until, reason, issues)
  ON dead_letter_events TO pulse_app;

-- The report of one (tenant, day, currency) from the stored events: the latest expectation of that day
-- and currency (by event time, then receipt), against the order.completed whose time falls in the
-- tenant's local day [day 00:00, day + 1 00:00) in the expectation's time zone.
--
-- reconcile_orders: a TimescaleDB user-defined action. config:
--   {"tenant_id": uuid?, "lookback_days": int?, "from_date": date?, "to_date": date?}
-- The days checked are [from_date, to_date) when given, else the last lookback_days (default 14) up to
-- today (in every zone): every expectation of those days, and every local day with stored orders but no expectation yet
-- (pending, in the time zone of the tenant's latest expectation, UTC without one). So a late event or a
-- new expectation for a day in the window changes its report on the next run; a replay or a redrive runs
-- it for the days it touched. Reports of days outside the window stay as they were. Runs as the owner;
-- reconciliation_reports has forced row-level security, so app.tenant_id is set per tenant.
CREATE PROCEDURE reconcile_orders(job_id integer, config jsonb)
  LANGUAGE plpgsql
  SET search_path = pg_catalog, public
  AS $$
DECLARE
  lookback integer := greatest(1, coalesce((config ->> 'lookback_days')::integer, 14));
  d_from date := coalesce((config ->> 'from_date')::date, current_date - lookback);
  -- up to today in every zone: a zone ahead of UTC is already on tomorrow's date
  d_to date := coalesce((config ->> 'to_date')::date, current_date + 2);
  -- the orders of the days: a local day is at most 14 hours off its UTC date
  t_from timestamptz := d_from::timestamptz - interval '2 days';
  t_to timestamptz := d_to::timestamptz + interval '2 days';
  -- their expectations: published during or after the day, up to now (upstream may re-send an old day's)
  x_to timestamptz := greatest(t_to, now() + interval '1 day');
  tenants uuid[];
  t uuid;
  tz text;
  stamp timestamptz := now();
BEGIN
  IF d_from >= d_to THEN
    RAISE EXCEPTION 'reconcile_orders: from_date % is not before to_date %', d_from, d_to;
  END IF;
  IF config ? 'tenant_id' THEN
    tenants := ARRAY[(config ->> 'tenant_id')::uuid];
  ELSE
    SELECT coalesce(array_agg(DISTINCT e.tenant_id), '{}') INTO tenants
      FROM events e
     WHERE e.time >= t_from
       AND ((e.type = 'order.completed' AND e.time < t_to) OR (e.type = 'reconciliation.expected' AND e.time < x_to));
  END IF;

  FOREACH t IN ARRAY tenants LOOP
    PERFORM set_config('app.tenant_id', t::text, true);

    -- the tenant's zone for days without an expectation: its latest expectation's
    SELECT coalesce((
      SELECT e.props ->> 'timezone' FROM events e
       WHERE e.tenant_id = t AND e.type = 'reconciliation.expected'
       ORDER BY e.time DESC, e.received_at DESC LIMIT 1), 'UTC') INTO tz;

    -- days without an expectation are recomputed from scratch below
    DELETE FROM reconciliation_reports r
     WHERE r.tenant_id = t AND r.day >= d_from AND r.day < d_to AND r.expected_orders IS NULL;

    INSERT INTO reconciliation_reports AS r (tenant_id, day, currency, timezone, expected_orders, expected_gross_minor,
                                            stored_orders, stored_gross_minor, missing_orders, surplus_orders,
                                            gross_diff_minor, status, expectation_event_id, computed_at)
    WITH expected AS (
      SELECT DISTINCT ON ((e.props ->> 'date')::date, e.currency)
             (e.props ->> 'date')::date AS day, e.currency, e.props ->> 'timezone' AS timezone,
             e.quantity AS orders, e.amount_minor AS gross, e.event_id
        FROM events e
       WHERE e.tenant_id = t AND e.type = 'reconciliation.expected' AND e.time >= t_from AND e.time < x_to
         AND (e.props ->> 'date')::date >= d_from AND (e.props ->> 'date')::date < d_to
       ORDER BY (e.props ->> 'date')::date, e.currency, e.time DESC, e.received_at DESC, e.event_id DESC
    ), checked AS (
      SELECT x.day, x.currency, x.timezone, x.orders, x.gross, x.event_id,
             (x.day + 1)::timestamp AT TIME ZONE x.timezone AS day_end, s.orders AS s_orders, s.gross AS s_gross
        FROM expected x
        CROSS JOIN LATERAL (
          SELECT count(*)::integer AS orders, coalesce(sum(o.amount_minor), 0)::bigint AS gross
            FROM events o
           WHERE o.tenant_id = t AND o.type = 'order.completed' AND o.currency = x.currency
             AND o.time >= x.day::timestamp AT TIME ZONE x.timezone
             AND o.time < (x.day + 1)::timestamp AT TIME ZONE x.timezone
        ) s
    ), unexpected AS (
      SELECT (o.time AT TIME ZONE tz)::date AS day, o.currency, count(*)::integer AS s_orders,
             coalesce(sum(o.amount_minor), 0)::bigint AS s_gross
        FROM events o
       WHERE o.tenant_id = t AND o.type = 'order.completed' AND o.currency IS NOT NULL
         AND o.time >= d_from::timestamp AT TIME ZONE tz AND o.time < d_to::timestamp AT TIME ZONE tz
       GROUP BY 1, 2
    )
    SELECT t, c.day, c.currency, c.timezone, c.orders, c.gross, c.s_orders, c.s_gross,
           greatest(c.orders - c.s_orders, 0), greatest(c.s_orders - c.orders, 0), c.s_gross - c.gross,
           CASE
             WHEN stamp < c.day_end THEN 'pending'
             WHEN c.s_orders = c.orders AND c.s_gross = c.gross THEN 'ok'
             WHEN c.s_orders < c.orders OR (c.s_orders = c.orders AND c.s_gross < c.gross) THEN 'missing'
             ELSE 'surplus'
           END,
           c.event_id, stamp
      FROM checked c
    UNION ALL
    SELECT t, u.day, u.currency, tz, NULL, NULL, u.s_orders, u.s_gross, 0, 0, NULL, 'pending', NULL, stamp
      FROM unexpected u
     WHERE NOT EXISTS (SELECT 1 FROM expected x WHERE x.day = u.day AND x.currency = u.currency)
       -- a day reported against an expectation older than this window keeps that report
       AND NOT EXISTS (SELECT 1 FROM reconciliation_reports k
                        WHERE k.tenant_id = t AND k.day = u.day AND k.currency = u.currency AND k.expected_orders IS NOT NULL)
    ON CONFLICT (tenant_id, day, currency) DO UPDATE SET
      timezone = excluded.timezone, expected_orders = excluded.expected_orders,
      expected_gross_minor = excluded.expected_gross_minor, stored_orders = excluded.stored_orders,
      stored_gross_minor = excluded.stored_gross_minor, missing_orders = excluded.missing_orders,
      surplus_orders = excluded.surplus_orders, gross_diff_minor = excluded.gross_diff_minor,
      status = excluded.status, expectation_event_id = excluded.expectation_event_id, computed_at = excluded.computed_at;
  END LOOP;
END
$$;

REVOKE ALL ON PROCEDURE reconcile_orders(integer, jsonb) FROM PUBLIC;
