-- Customer scores (RFM, first/last order, orders, net revenue) precomputed per (tenant, customer,
-- currency) by the TimescaleDB job refresh_customer_scores (scheduled by
-- sql/repeatable/040_customer_scores_job.sql; on demand through POST /v1/customers/scores/refresh).
--
-- History survives retention: raw events older than RETENTION_DAYS are dropped, so the job moves
-- every tenant's orders older than `archive_after_days` (job config: RETENTION_DAYS − 2) into the
-- archived_* columns ONCE (the archive window only moves forward, per tenant in
-- customer_scores_runs), and recomputes the live_* columns from the stored events on every run.
-- orders = archived + live, net = archived + live; first/last order only ever widen. A customer
-- whose every order has been dropped by retention keeps their row (last order, orders, net), so the
-- `high` churn tier (> 90 days) fills over time.
--
-- Definitions (also in the API descriptions and README):
--   orders    = count of order.completed of the customer in that currency
--   net_minor = Σ total_minor of those orders − Σ amount_minor of order.refunded whose order_id is
--               one of the customer's stored orders (a refund is attributed through its order)
--   r/f/m_score = 6 − NTILE(5) over the tenant's rows of that currency with ≥ 1 order, ordered by
--               last_order_at / orders / net_minor DESCENDING, ties by customer_id ascending (so the
--               best row is always 5, whatever the population size)
--   segment   = customer_segment(r_score, f_score) (the common R×F segment map)
SET LOCAL ROLE pulse_owner;

CREATE TABLE customer_scores (
  tenant_id           uuid        NOT NULL,
  customer_id         text        NOT NULL,
  currency            char(3)     NOT NULL,
  first_order_at      timestamptz NOT NULL,
  last_order_at       timestamptz NOT NULL,
  archived_orders     integer     NOT NULL DEFAULT 0,
  archived_net_minor  bigint      NOT NULL DEFAULT 0,
  live_orders         integer     NOT NULL DEFAULT 0,
  live_net_minor      bigint      NOT NULL DEFAULT 0,
  orders              integer     GENERATED ALWAYS AS (archived_orders + live_orders) STORED,
  net_minor           bigint      GENERATED ALWAYS AS (archived_net_minor + live_net_minor) STORED,
  r_score             smallint    CHECK (r_score BETWEEN 1 AND 5),
  f_score             smallint    CHECK (f_score BETWEEN 1 AND 5),
  m_score             smallint    CHECK (m_score BETWEEN 1 AND 5),
  segment             text,
  scored_at           timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, customer_id, currency)
);

CREATE INDEX customer_scores_tenant_segment ON customer_scores (tenant_id, segment);
CREATE INDEX customer_scores_tenant_last_order ON customer_scores (tenant_id, last_order_at);

-- per tenant: how far orders have been archived, and when the tenant was last scored
CREATE TABLE customer_scores_runs (
  tenant_id       uuid        PRIMARY KEY,
  archived_until  timestamptz NOT NULL DEFAULT '-infinity',
  scored_at       timestamptz
);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['customer_scores', 'customer_scores_runs'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id())', t);
    EXECUTE format('GRANT SELECT ON %I TO pulse_app', t);
  END LOOP;
END
$$;

-- The common R×F segment map (R = recency score, F = frequency score):
--   R 5,   F 4–5 champions          R 5,   F 1   new
--   R 3–4, F 4–5 loyal              R 4,   F 1   promising
--   R 4–5, F 2–3 potential_loyalist R 3,   F 3   need_attention
--   R 3,   F 1–2 about_to_sleep     R 1–2, F 5   cant_lose
--   R 1–2, F 3–4 at_risk            R 1–2, F 1–2 hibernating
CREATE FUNCTION customer_segment(r integer, f integer) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$
    SELECT CASE
      WHEN r = 5 AND f >= 4 THEN 'champions'
      WHEN r = 5 AND f = 1 THEN 'new'
      WHEN r = 4 AND f = 1 THEN 'promising'
      WHEN r >= 4 AND f BETWEEN 2 AND 3 THEN 'potential_loyalist'
      WHEN r = 3 AND f >= 4 THEN 'loyal'
      WHEN r = 4 AND f >= 4 THEN 'loyal'
      WHEN r = 3 AND f = 3 THEN 'need_attention'
      WHEN r = 3 AND f <= 2 THEN 'about_to_sleep'
      WHEN r <= 2 AND f = 5 THEN 'cant_lose'
      WHEN r <= 2 AND f BETWEEN 3 AND 4 THEN 'at_risk'
      ELSE 'hibernating'
    END
  $$;

-- per (customer, currency): orders, net and first/last order of the stored events with time in
-- [lo, hi); refunds count by THEIR event time and are attributed through the order (any stored time)
CREATE FUNCTION customer_order_window(t uuid, lo timestamptz, hi timestamptz)
  RETURNS TABLE (customer_id text, currency char(3), orders integer, net_minor bigint, first_at timestamptz, last_at timestamptz)
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, public
  AS $$
    WITH o AS (
      SELECT e.customer_id, e.currency, count(*)::integer AS orders, sum(e.amount_minor)::bigint AS gross,
             min(e.time) AS first_at, max(e.time) AS last_at
        FROM events e
       WHERE e.tenant_id = t AND e.type = 'order.completed' AND e.customer_id IS NOT NULL
         AND e.currency IS NOT NULL AND e.time >= lo AND e.time < hi
       GROUP BY 1, 2
    ), rf AS (
      SELECT e.order_id, e.currency, e.amount_minor
        FROM events e
       WHERE e.tenant_id = t AND e.type = 'order.refunded' AND e.currency IS NOT NULL
         AND e.order_id IS NOT NULL AND e.time >= lo AND e.time < hi
    ), oc AS (
      SELECT DISTINCT ON (x.order_id) x.order_id, x.customer_id
        FROM events x
       WHERE x.tenant_id = t AND x.type = 'order.completed' AND x.customer_id IS NOT NULL
         AND x.order_id IN (SELECT rf.order_id FROM rf)
       ORDER BY x.order_id, x.time
    ), r AS (
      SELECT oc.customer_id, rf.currency, sum(rf.amount_minor)::bigint AS refunds
        FROM rf JOIN oc ON oc.order_id = rf.order_id
       GROUP BY 1, 2
    )
    SELECT coalesce(o.customer_id, r.customer_id), coalesce(o.currency, r.currency),
           coalesce(o.orders, 0), coalesce(o.gross, 0) - coalesce(r.refunds, 0), o.first_at, o.last_at
      FROM o FULL JOIN r ON r.customer_id = o.customer_id AND r.currency = o.currency
  $$;

-- TimescaleDB user-defined action. config: {"tenant_id": uuid?, "archive_after_days": int?}.
-- Without tenant_id: every tenant with stored orders (a tenant without any has nothing to
-- rescore: its rows and their ranks stay as they are). Runs as the owner (the job
-- owner, or the service's connection for the on-demand refresh); customer_scores has forced RLS, so
-- app.tenant_id is set per tenant. One transaction; a tenant's runs row is locked, so two refreshes
-- of one tenant never archive the same window twice.
CREATE PROCEDURE refresh_customer_scores(job_id integer, config jsonb)
  LANGUAGE plpgsql
  SET search_path = pg_catalog, public
  AS $$
DECLARE
  t uuid;
  tenants uuid[];
  archive_days integer := greatest(1, coalesce((config ->> 'archive_after_days')::integer, 88));
  old_until timestamptz;
  new_until timestamptz;
  stamp timestamptz := now();
BEGIN
  -- the tenants first (the loop changes app.tenant_id, which the RLS policies read)
  IF config ? 'tenant_id' THEN
    tenants := ARRAY[(config ->> 'tenant_id')::uuid];
  ELSE
    SELECT coalesce(array_agg(DISTINCT e.tenant_id), '{}') INTO tenants FROM events e WHERE e.type = 'order.completed';
  END IF;
  FOREACH t IN ARRAY tenants LOOP
    PERFORM set_config('app.tenant_id', t::text, true);

    INSERT INTO customer_scores_runs (tenant_id) VALUES (t) ON CONFLICT (tenant_id) DO NOTHING;
    SELECT archived_until INTO old_until FROM customer_scores_runs WHERE tenant_id = t FOR UPDATE;
    new_until := greatest(old_until, stamp - make_interval(days => archive_days));

    -- 1. orders (and refunds) that will soon be dropped by retention: archived once
    IF new_until > old_until THEN
      INSERT INTO customer_scores AS s (tenant_id, customer_id, currency, first_order_at, last_order_at, archived_orders, archived_net_minor, scored_at)
      SELECT t, w.customer_id, w.currency, coalesce(w.first_at, stamp), coalesce(w.last_at, '-infinity'), w.orders, w.net_minor, stamp
        FROM customer_order_window(t, old_until, new_until) w
      ON CONFLICT (tenant_id, customer_id, currency) DO UPDATE
        SET archived_orders = s.archived_orders + excluded.archived_orders,
            archived_net_minor = s.archived_net_minor + excluded.archived_net_minor,
            first_order_at = least(s.first_order_at, excluded.first_order_at),
            last_order_at = greatest(s.last_order_at, excluded.last_order_at);
    END IF;

    -- 2. the live part, recomputed from the stored events
    UPDATE customer_scores SET live_orders = 0, live_net_minor = 0 WHERE tenant_id = t;
    INSERT INTO customer_scores AS s (tenant_id, customer_id, currency, first_order_at, last_order_at, live_orders, live_net_minor, scored_at)
    SELECT t, w.customer_id, w.currency, coalesce(w.first_at, stamp), coalesce(w.last_at, '-infinity'), w.orders, w.net_minor, stamp
      FROM customer_order_window(t, new_until, 'infinity') w
    ON CONFLICT (tenant_id, customer_id, currency) DO UPDATE
      SET live_orders = excluded.live_orders,
          live_net_minor = excluded.live_net_minor,
          first_order_at = least(s.first_order_at, excluded.first_order_at),
          last_order_at = greatest(s.last_order_at, excluded.last_order_at);

    -- 3. scores per currency over the rows with at least one order
    UPDATE customer_scores s
       SET r_score = q.r, f_score = q.f, m_score = q.m, segment = customer_segment(q.r, q.f), scored_at = stamp
      FROM (
        SELECT c.customer_id, c.currency,
               6 - ntile(5) OVER (PARTITION BY c.currency ORDER BY c.last_order_at DESC, c.customer_id) AS r,
               6 - ntile(5) OVER (PARTITION BY c.currency ORDER BY c.orders DESC, c.customer_id) AS f,
               6 - ntile(5) OVER (PARTITION BY c.currency ORDER BY c.net_minor DESC, c.customer_id) AS m
          FROM customer_scores c
         WHERE c.tenant_id = t AND c.orders >= 1
      ) q
     WHERE s.tenant_id = t AND s.customer_id = q.customer_id AND s.currency = q.currency;
    UPDATE customer_scores
       SET r_score = NULL, f_score = NULL, m_score = NULL, segment = NULL, scored_at = stamp
     WHERE tenant_id = t AND orders < 1;

    UPDATE customer_scores_runs SET archived_until = new_until, scored_at = stamp WHERE tenant_id = t;
  END LOOP;
END
$$;

REVOKE ALL ON PROCEDURE refresh_customer_scores(integer, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION customer_order_window(uuid, timestamptz, timestamptz) FROM PUBLIC;
