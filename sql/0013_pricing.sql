-- Dynamic pricing (src/pricing/, docs/pricing.md): demand scores, the price-change workflow, its
-- history, the outbox of approved changes, and the idempotency keys of proposals.
--
-- demand_scores: one row per (tenant, catalog item, currency), precomputed by the TimescaleDB job
-- refresh_demand_scores (scheduled by sql/repeatable/060_demand_scores_job.sql; on demand through
-- POST /v1/pricing/scores/refresh). The formula (docs/pricing.md and every pricing operation's
-- description say the same), for a scoring instant s, over the stored events before s:
--   on_sale_since = the item's first stored sale or item view (any currency); days_on_sale = s − that
--   sold          = Σ quantity of the item's stored order lines, every currency (capacity is physical)
--   pacing        (ticketed item with capacity > 0 and starts_at): elapsed = days_on_sale / (starts_at −
--                 on_sale_since in days); ratio = min(1, sold / capacity) / elapsed
--   velocity      (≥ 7 days on sale, units in 28 days > 0): ratio = (units_7d / 7) / (units_28d / min(28, days_on_sale))
--   conversion    (views_14d > 0): ratio = (orders_14d / views_14d) / (Σ orders_14d / Σ views_14d of the
--                 tenant's catalog items); orders = distinct orders with a line of the item, carts =
--                 cart.item_added of it, both in every currency (views have none)
--   each ratio r becomes a sub-score 100 · r / (1 + r) (r = 1, as expected ⇒ 50; 0 ⇒ 0; → ∞ ⇒ 100)
--   scarcity      (capacity > 0): 100 · min(1, sold / capacity)
--   score         = round(Σ weight · sub-score / Σ weight of the sub-scores that exist, 1);
--                   weights pacing 0.40, velocity 0.25, conversion 0.20, scarcity 0.15
--   cases, in this order: a ticketed item whose starts_at ≤ s ⇒ null 'started'; capacity > 0 and sold ≥
--   capacity ⇒ 100 'sold_out'; no stored sale or view ⇒ null 'no_data'; under 1 day on sale ⇒ null
--   'brand_new'; no sub-score exists ⇒ null 'insufficient_data'; else 'scored'
--   evidence      = min(1, (units_28d + views_14d / 10) / 20)
--   stability     = over this score and the two latest earlier ones: 1 − min(1, (max − min) / 25);
--                   0.5 with this score alone
--   confidence    = round(evidence · stability, 2); null when the score is
-- Rows: the item's catalog currency, plus every currency it sold in during the last 28 days.
SET LOCAL ROLE pulse_owner;

CREATE TABLE demand_scores (
  tenant_id              uuid        NOT NULL,
  item_id                text        NOT NULL,
  currency               char(3)     NOT NULL,
  score                  numeric(4,1) CHECK (score BETWEEN 0 AND 100),
  reason                 text        NOT NULL
                         CHECK (reason IN ('scored', 'sold_out', 'started', 'no_data', 'brand_new', 'insufficient_data')),
  confidence             numeric(3,2) CHECK (confidence BETWEEN 0 AND 1),
  on_sale_since          timestamptz,
  days_on_sale           numeric,
  selling_window_days    numeric,
  sold                   bigint      NOT NULL,
  capacity               integer,
  units_7d               bigint      NOT NULL,
  units_28d              bigint      NOT NULL,
  views_14d              bigint      NOT NULL,
  carts_14d              bigint      NOT NULL,
  orders_14d             bigint      NOT NULL,
  tenant_conversion_14d  numeric,
  components             jsonb       NOT NULL,
  evidence               numeric     NOT NULL,
  stability              numeric,
  -- the non-null scores of the latest runs, newest first (at most 5)
  recent_scores          numeric[]   NOT NULL DEFAULT '{}',
  scored_at              timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, item_id, currency)
);

-- per tenant: when its scores were last computed
CREATE TABLE demand_scores_runs (
  tenant_id  uuid        PRIMARY KEY,
  scored_at  timestamptz NOT NULL
);

-- price changes: pending → approved → applied, or rejected, superseded, expired (docs/pricing.md)
CREATE TABLE price_changes (
  id               uuid        PRIMARY KEY,
  tenant_id        uuid        NOT NULL,
  item_id          text        NOT NULL,
  currency         char(3)     NOT NULL,
  status           text        NOT NULL CHECK (status IN ('pending', 'approved', 'applied', 'rejected', 'superseded', 'expired')),
  -- the optimistic-concurrency version (the ETag): +1 on every transition
  version          integer     NOT NULL DEFAULT 1 CHECK (version >= 1),
  source           text        NOT NULL CHECK (source IN ('recommendation', 'manual')),
  old_price_minor  bigint      NOT NULL,
  new_price_minor  bigint      NOT NULL CHECK (new_price_minor > 0),
  reason           text,
  recommendation   jsonb,
  proposed_by      text        NOT NULL,
  proposed_at      timestamptz NOT NULL,
  expires_at       timestamptz NOT NULL,
  decided_by       text,
  decided_at       timestamptz,
  decision_reason  text,
  applied_at       timestamptz,
  superseded_by    uuid,
  updated_at       timestamptz NOT NULL
);
-- at most one pending and one approved (not yet applied) change per item and currency
CREATE UNIQUE INDEX price_changes_one_pending ON price_changes (tenant_id, item_id, currency) WHERE status = 'pending';
CREATE UNIQUE INDEX price_changes_one_approved ON price_changes (tenant_id, item_id, currency) WHERE status = 'approved';
CREATE INDEX price_changes_tenant_proposed ON price_changes (tenant_id, proposed_at DESC, id DESC);
CREATE INDEX price_changes_tenant_item ON price_changes (tenant_id, item_id, proposed_at DESC);
-- the pricing worker's sweeps (expiry, arrival of approved prices) across tenants
CREATE INDEX price_changes_open ON price_changes (status, expires_at) WHERE status IN ('pending', 'approved');

-- every transition of every change: who, when, why, from/to price, the recommendation snapshot
CREATE TABLE price_change_history (
  tenant_id        uuid        NOT NULL,
  change_id        uuid        NOT NULL REFERENCES price_changes (id),
  -- the change's version after the transition: one transition per version, so two decisions on one
  -- version can never both be recorded
  version          integer     NOT NULL,
  item_id          text        NOT NULL,
  currency         char(3)     NOT NULL,
  from_status      text,
  to_status        text        NOT NULL,
  actor            text        NOT NULL,
  at               timestamptz NOT NULL,
  reason           text,
  old_price_minor  bigint      NOT NULL,
  new_price_minor  bigint      NOT NULL,
  recommendation   jsonb,
  PRIMARY KEY (change_id, version)
);
CREATE INDEX price_change_history_item ON price_change_history (tenant_id, item_id, at DESC);

-- approved changes to publish as price.change_approved, written in the approval's transaction; the
-- pricing worker publishes them (Nats-Msg-Id = change id) and marks them published
CREATE TABLE pricing_outbox (
  change_id        uuid        PRIMARY KEY REFERENCES price_changes (id),
  tenant_id        uuid        NOT NULL,
  event            jsonb       NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  attempts         integer     NOT NULL DEFAULT 0,
  claimed_until    timestamptz,
  published_at     timestamptz,
  stream_sequence  bigint,
  last_error       text
);
CREATE INDEX pricing_outbox_unpublished ON pricing_outbox (created_at) WHERE published_at IS NULL;

-- Idempotency-Key of proposals, per tenant and token subject, kept 24 hours
CREATE TABLE pricing_idempotency (
  tenant_id     uuid        NOT NULL,
  principal     text        NOT NULL,
  key           text        NOT NULL,
  operation     text        NOT NULL,
  request_hash  text        NOT NULL,
  status        integer     NOT NULL,
  response      jsonb       NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, principal, key)
);
CREATE INDEX pricing_idempotency_created ON pricing_idempotency (created_at);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['demand_scores', 'demand_scores_runs', 'price_changes', 'price_change_history', 'pricing_outbox',
                           'pricing_idempotency'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id())', t);
    EXECUTE format('GRANT SELECT ON %I TO pulse_app', t);
  END LOOP;
END
$$;
GRANT INSERT, UPDATE ON price_changes TO pulse_app;
GRANT INSERT ON price_change_history TO pulse_app;
GRANT INSERT ON pricing_outbox TO pulse_app;
GRANT INSERT, UPDATE, DELETE ON pricing_idempotency TO pulse_app;

-- the clock of the price-change workflow: now() to the millisecond. The API speaks ISO-8601 with
-- milliseconds, so a time read back (a list cursor, say) is exactly the stored one
CREATE FUNCTION pricing_clock() RETURNS timestamptz
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT date_trunc('milliseconds', now()) $$;

-- the stability of the newest scores (newest first): over the first three, 1 − min(1, (max − min) / 25);
-- 0.5 with a single score, null with none
CREATE FUNCTION demand_stability(scores numeric[]) RETURNS numeric
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$
    SELECT CASE
      WHEN count(*) = 0 THEN NULL
      WHEN count(*) = 1 THEN 0.5
      ELSE 1 - least(1, (max(x) - min(x)) / 25)
    END
      FROM unnest(scores[1:3]) AS x
  $$;

-- a ratio as a sub-score: 100 · r / (1 + r)
CREATE FUNCTION demand_subscore(r numeric) RETURNS numeric
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT 100 * r / (1 + r) $$;

-- the demand rows of tenant t as of s (see the header for the definitions); reads the tables directly:
-- callers run as the owner with app.tenant_id = t (items has forced row-level security)
CREATE FUNCTION demand_score_rows(t uuid, s timestamptz)
  RETURNS TABLE (item_id text, currency char(3), score numeric, reason text, on_sale_since timestamptz,
                 days_on_sale numeric, selling_window_days numeric, sold bigint, capacity integer, units_7d bigint,
                 units_28d bigint, views_14d bigint, carts_14d bigint, orders_14d bigint, tenant_conversion_14d numeric,
                 components jsonb, evidence numeric)
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, public
  AS $$
    WITH it AS (
      SELECT i.item_id, i.kind, i.currency, i.capacity, i.starts_at FROM items i WHERE i.tenant_id = t
    ), ln AS (
      SELECT l.item_id, l.currency,
             sum(l.quantity)::bigint AS sold,
             coalesce(sum(l.quantity) FILTER (WHERE l.time >= s - interval '7 days'), 0)::bigint AS u7,
             coalesce(sum(l.quantity) FILTER (WHERE l.time >= s - interval '28 days'), 0)::bigint AS u28,
             count(DISTINCT l.event_id) FILTER (WHERE l.time >= s - interval '14 days') AS o14,
             min(l.time) AS first_sale
        FROM order_lines l
       WHERE l.tenant_id = t AND l.time < s AND l.item_id IN (SELECT it.item_id FROM it)
       GROUP BY 1, 2
    ), vw AS (
      SELECT e.item_id, count(*) FILTER (WHERE e.time >= s - interval '14 days') AS v14, min(e.time) AS first_view
        FROM events e
       WHERE e.tenant_id = t AND e.type = 'item.viewed' AND e.time < s AND e.item_id IN (SELECT it.item_id FROM it)
       GROUP BY 1
    ), ct AS (
      SELECT e.item_id, e.currency, count(*) AS c14
        FROM events e
       WHERE e.tenant_id = t AND e.type = 'cart.item_added' AND e.time >= s - interval '14 days' AND e.time < s
       GROUP BY 1, 2
    ), ln_item AS (
      -- an order has one currency, so the per-currency distinct orders add up to the item's
      SELECT ln.item_id, sum(ln.sold)::bigint AS sold_all, sum(ln.o14)::bigint AS o14, min(ln.first_sale) AS first_sale
        FROM ln GROUP BY 1
    ), ct_item AS (
      SELECT ct.item_id, sum(ct.c14)::bigint AS c14 FROM ct GROUP BY 1
    ), per_item AS (
      SELECT it.item_id, it.kind, it.capacity, it.starts_at, coalesce(vw.v14, 0) AS v14,
             coalesce(li.sold_all, 0) AS sold_all, coalesce(li.o14, 0) AS o14, coalesce(ci.c14, 0) AS c14,
             least(li.first_sale, vw.first_view) AS on_sale_since
        FROM it
        LEFT JOIN vw ON vw.item_id = it.item_id
        LEFT JOIN ln_item li ON li.item_id = it.item_id
        LEFT JOIN ct_item ci ON ci.item_id = it.item_id
    ), keys AS (
      SELECT it.item_id, it.currency::char(3) AS currency FROM it
      UNION
      SELECT ln.item_id, ln.currency FROM ln WHERE ln.u28 > 0
    ), base AS (
      SELECT k.item_id, k.currency, p.kind, p.capacity, p.starts_at, p.sold_all, p.on_sale_since, p.v14, p.o14, p.c14,
             coalesce(ln.u7, 0) AS u7, coalesce(ln.u28, 0) AS u28,
             extract(epoch FROM s - p.on_sale_since) / 86400 AS age,
             extract(epoch FROM p.starts_at - p.on_sale_since) / 86400 AS window_days
        FROM keys k
        JOIN per_item p ON p.item_id = k.item_id
        LEFT JOIN ln ON ln.item_id = k.item_id AND ln.currency = k.currency
    ), tenant AS (
      SELECT (SELECT sum(p.o14) FROM per_item p)::numeric AS orders, (SELECT sum(p.v14) FROM per_item p)::numeric AS views
    ), st AS (
      SELECT b.*,
             CASE
               WHEN b.kind = 'ticketed_event' AND b.starts_at IS NOT NULL AND b.starts_at <= s THEN 'started'
               WHEN b.capacity > 0 AND b.sold_all >= b.capacity THEN 'sold_out'
               WHEN b.on_sale_since IS NULL THEN 'no_data'
               WHEN b.age < 1 THEN 'brand_new'
               ELSE 'scored'
             END AS state,
             CASE WHEN tn.views > 0 THEN tn.orders / tn.views END AS baseline,
             CASE WHEN b.capacity > 0 THEN least(1, b.sold_all::numeric / b.capacity) END AS sold_share
        FROM base b CROSS JOIN tenant tn
    ), ratios AS (
      SELECT st.*,
             CASE WHEN st.state = 'scored' AND st.kind = 'ticketed_event' AND st.capacity > 0 AND st.starts_at IS NOT NULL
                  THEN st.age / st.window_days END AS elapsed,
             CASE WHEN st.state = 'scored' AND st.age >= 7 AND st.u28 > 0
                  THEN (st.u7 / 7.0) / (st.u28 / least(28, st.age)) END AS velocity_ratio,
             CASE WHEN st.state = 'scored' AND st.v14 > 0 AND st.baseline > 0
                  THEN (st.o14::numeric / st.v14) / st.baseline END AS conversion_ratio
        FROM st
    ), subs AS (
      SELECT r.*,
             CASE WHEN r.elapsed > 0 THEN r.sold_share / r.elapsed END AS pacing_ratio,
             CASE WHEN r.elapsed > 0 THEN demand_subscore(r.sold_share / r.elapsed) END AS p,
             demand_subscore(r.velocity_ratio) AS v,
             demand_subscore(r.conversion_ratio) AS c,
             CASE WHEN r.state = 'scored' AND r.capacity > 0 THEN 100 * r.sold_share END AS sc
        FROM ratios r
    ), scored AS (
      SELECT s2.*,
             (coalesce(0.40 * s2.p, 0) + coalesce(0.25 * s2.v, 0) + coalesce(0.20 * s2.c, 0) + coalesce(0.15 * s2.sc, 0))
               / nullif((CASE WHEN s2.p IS NULL THEN 0 ELSE 0.40 END) + (CASE WHEN s2.v IS NULL THEN 0 ELSE 0.25 END)
                      + (CASE WHEN s2.c IS NULL THEN 0 ELSE 0.20 END) + (CASE WHEN s2.sc IS NULL THEN 0 ELSE 0.15 END), 0) AS raw
        FROM subs s2
    )
    SELECT x.item_id, x.currency,
           CASE WHEN x.state = 'sold_out' THEN 100 WHEN x.state = 'scored' THEN round(x.raw, 1) END,
           CASE WHEN x.state = 'scored' AND x.raw IS NULL THEN 'insufficient_data' ELSE x.state END,
           x.on_sale_since,
           round(x.age, 2),
           round(x.window_days, 2),
           x.sold_all, x.capacity, x.u7, x.u28, x.v14, x.c14, x.o14,
           round(x.baseline, 4),
           jsonb_build_object(
             'pacing', CASE WHEN x.p IS NOT NULL
               THEN jsonb_build_object('score', round(x.p, 2), 'weight', 0.40, 'ratio', round(x.pacing_ratio, 4),
                                       'elapsed_share', round(x.elapsed, 4), 'sold_share', round(x.sold_share, 4))
               ELSE jsonb_build_object('score', NULL, 'weight', 0.40, 'note', CASE
                 WHEN x.state <> 'scored' THEN x.state
                 ELSE 'only for a ticketed item with capacity and starts_at' END) END,
             'velocity', CASE WHEN x.v IS NOT NULL
               THEN jsonb_build_object('score', round(x.v, 2), 'weight', 0.25, 'ratio', round(x.velocity_ratio, 4),
                                       'per_day_7d', round(x.u7 / 7.0, 4), 'per_day_28d', round(x.u28 / least(28, x.age), 4))
               ELSE jsonb_build_object('score', NULL, 'weight', 0.25, 'note', CASE
                 WHEN x.state <> 'scored' THEN x.state
                 WHEN x.age < 7 THEN 'fewer than 7 days on sale'
                 ELSE 'no sales in the last 28 days' END) END,
             'conversion', CASE WHEN x.c IS NOT NULL
               THEN jsonb_build_object('score', round(x.c, 2), 'weight', 0.20, 'ratio', round(x.conversion_ratio, 4),
                                       'rate', round(x.o14::numeric / x.v14, 4), 'tenant_rate', round(x.baseline, 4))
               ELSE jsonb_build_object('score', NULL, 'weight', 0.20, 'note', CASE
                 WHEN x.state <> 'scored' THEN x.state
                 WHEN x.v14 = 0 THEN 'no item views in the last 14 days'
                 ELSE 'the tenant has no orders of catalog items in the last 14 days' END) END,
             'scarcity', CASE WHEN x.sc IS NOT NULL
               THEN jsonb_build_object('score', round(x.sc, 2), 'weight', 0.15, 'sold_share', round(x.sold_share, 4))
               ELSE jsonb_build_object('score', NULL, 'weight', 0.15, 'note', CASE
                 WHEN x.state <> 'scored' THEN x.state
                 ELSE 'no capacity' END) END),
           least(1, (x.u28 + x.v14 / 10.0) / 20)
      FROM scored x
  $$;

-- TimescaleDB user-defined action. config: {"tenant_id": uuid?, "as_of": timestamptz?}. Without
-- tenant_id: every tenant with stored events (a tenant without any has nothing to score: every item would
-- be no_data). as_of (default now()) is the scoring instant. Runs as the owner (the job owner, or the
-- service's connection for the on-demand refresh); the tables have forced row-level security, so
-- app.tenant_id is set per tenant. One transaction; rows of items or currencies no longer scored go.
CREATE PROCEDURE refresh_demand_scores(job_id integer, config jsonb)
  LANGUAGE plpgsql
  SET search_path = pg_catalog, public
  AS $$
DECLARE
  t uuid;
  tenants uuid[];
  stamp timestamptz := coalesce((config ->> 'as_of')::timestamptz, now());
BEGIN
  IF config ? 'tenant_id' THEN
    tenants := ARRAY[(config ->> 'tenant_id')::uuid];
  ELSE
    SELECT coalesce(array_agg(DISTINCT e.tenant_id), '{}') INTO tenants FROM events e;
  END IF;
  FOREACH t IN ARRAY tenants LOOP
    PERFORM set_config('app.tenant_id', t::text, true);
    INSERT INTO demand_scores AS d (tenant_id, item_id, currency, score, reason, confidence, on_sale_since, days_on_sale,
                                    selling_window_days, sold, capacity, units_7d, units_28d, views_14d, carts_14d,
                                    orders_14d, tenant_conversion_14d, components, evidence, stability, recent_scores, scored_at)
    SELECT t, r.item_id, r.currency, r.score, r.reason,
           CASE WHEN r.score IS NOT NULL THEN round(r.evidence * demand_stability(h.scores), 2) END,
           r.on_sale_since, r.days_on_sale, r.selling_window_days, r.sold, r.capacity, r.units_7d, r.units_28d,
           r.views_14d, r.carts_14d, r.orders_14d, r.tenant_conversion_14d, r.components, round(r.evidence, 4),
           CASE WHEN r.score IS NOT NULL THEN demand_stability(h.scores) END, h.scores, stamp
      FROM demand_score_rows(t, stamp) r
      LEFT JOIN demand_scores prev ON prev.tenant_id = t AND prev.item_id = r.item_id AND prev.currency = r.currency
      -- a null score adds nothing to the recent scores (and has no confidence)
      CROSS JOIN LATERAL (
        SELECT CASE WHEN r.score IS NULL THEN coalesce(prev.recent_scores, '{}')
                    ELSE (ARRAY[r.score] || coalesce(prev.recent_scores, '{}'))[1:5] END AS scores
      ) h
    ON CONFLICT (tenant_id, item_id, currency) DO UPDATE SET
      score = excluded.score, reason = excluded.reason, confidence = excluded.confidence,
      on_sale_since = excluded.on_sale_since, days_on_sale = excluded.days_on_sale,
      selling_window_days = excluded.selling_window_days, sold = excluded.sold, capacity = excluded.capacity,
      units_7d = excluded.units_7d, units_28d = excluded.units_28d, views_14d = excluded.views_14d,
      carts_14d = excluded.carts_14d, orders_14d = excluded.orders_14d,
      tenant_conversion_14d = excluded.tenant_conversion_14d, components = excluded.components,
      evidence = excluded.evidence, stability = excluded.stability,
      recent_scores = excluded.recent_scores, scored_at = excluded.scored_at;
    DELETE FROM demand_scores WHERE tenant_id = t AND scored_at <> stamp;
    INSERT INTO demand_scores_runs (tenant_id, scored_at) VALUES (t, stamp)
      ON CONFLICT (tenant_id) DO UPDATE SET scored_at = excluded.scored_at;
  END LOOP;
END
$$;

REVOKE ALL ON PROCEDURE refresh_demand_scores(integer, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION demand_score_rows(uuid, timestamptz) FROM PUBLIC;
