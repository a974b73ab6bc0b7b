-- Continuous aggregates for the analytics API, and the tenant-scoped way to read them.
--
-- Two hierarchies, each 5 minutes → 1 hour → 1 day (UTC grid), the coarser levels built on the finer
-- ones (sums of sums, so every level adds up to exactly the same totals):
--   agg_events_*  on events:      per bucket × tenant × type × channel × currency × item_id:
--                                 events (row count), amount_minor (Σ), quantity (Σ)
--   agg_lines_*   on order_lines: per bucket × tenant × item_id × channel × currency:
--                                 lines (row count), units (Σ quantity), line_minor (Σ), net_line_minor (Σ)
-- Distinct counts (visitors, sessions, customers, orders per item) cannot be aggregates: they are
-- read from the raw tables. Real-time aggregation is on (materialized_only = false): a read unions the
-- materialised buckets with the rows above the aggregate's watermark, so a new event shows at once.
-- Created WITH NO DATA; the refresh policies (sql/repeatable/030_analytics_policies.sql) fill them.
--
-- Continuous aggregates cannot take row-level security, so pulse_app has no privilege on them and
-- reads them only through the security_barrier views tenant_agg_* (filter tenant_id = app_tenant_id()).
-- A view runs with its owner's (pulse_owner's) rights on the relations it reads, which is what lets
-- the real-time part read the events / order_lines hypertables underneath.
SET LOCAL ROLE pulse_owner;

CREATE MATERIALIZED VIEW agg_events_5m
  WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
  SELECT time_bucket(INTERVAL '5 minutes', time) AS bucket,
         tenant_id, type, channel, currency, item_id,
         count(*)::bigint     AS events,
         sum(amount_minor)    AS amount_minor,
         sum(quantity)        AS quantity
    FROM events
   GROUP BY 1, tenant_id, type, channel, currency, item_id
  WITH NO DATA;

CREATE MATERIALIZED VIEW agg_events_1h
  WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
  SELECT time_bucket(INTERVAL '1 hour', bucket) AS bucket,
         tenant_id, type, channel, currency, item_id,
         sum(events)::bigint  AS events,
         sum(amount_minor)    AS amount_minor,
         sum(quantity)        AS quantity
    FROM agg_events_5m
   GROUP BY 1, tenant_id, type, channel, currency, item_id
  WITH NO DATA;

CREATE MATERIALIZED VIEW agg_events_1d
  WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
  SELECT time_bucket(INTERVAL '1 day', bucket) AS bucket,
         tenant_id, type, channel, currency, item_id,
         sum(events)::bigint  AS events,
         sum(amount_minor)    AS amount_minor,
         sum(quantity)        AS quantity
    FROM agg_events_1h
   GROUP BY 1, tenant_id, type, channel, currency, item_id
  WITH NO DATA;

CREATE MATERIALIZED VIEW agg_lines_5m
  WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
  SELECT time_bucket(INTERVAL '5 minutes', time) AS bucket,
         tenant_id, item_id, channel, currency,
         count(*)::bigint     AS lines,
         sum(quantity)        AS units,
         sum(line_minor)      AS line_minor,
         sum(net_line_minor)  AS net_line_minor
    FROM order_lines
   GROUP BY 1, tenant_id, item_id, channel, currency
  WITH NO DATA;

CREATE MATERIALIZED VIEW agg_lines_1h
  WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
  SELECT time_bucket(INTERVAL '1 hour', bucket) AS bucket,
         tenant_id, item_id, channel, currency,
         sum(lines)::bigint   AS lines,
         sum(units)           AS units,
         sum(line_minor)      AS line_minor,
         sum(net_line_minor)  AS net_line_minor
    FROM agg_lines_5m
   GROUP BY 1, tenant_id, item_id, channel, currency
  WITH NO DATA;

CREATE MATERIALIZED VIEW agg_lines_1d
  WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
  SELECT time_bucket(INTERVAL '1 day', bucket) AS bucket,
         tenant_id, item_id, channel, currency,
         sum(lines)::bigint   AS lines,
         sum(units)           AS units,
         sum(line_minor)      AS line_minor,
         sum(net_line_minor)  AS net_line_minor
    FROM agg_lines_1h
   GROUP BY 1, tenant_id, item_id, channel, currency
  WITH NO DATA;

-- the tenant-scoped doors (the only way pulse_app reaches the aggregates)
CREATE VIEW tenant_agg_events_5m WITH (security_barrier) AS SELECT * FROM agg_events_5m WHERE tenant_id = app_tenant_id();
CREATE VIEW tenant_agg_events_1h WITH (security_barrier) AS SELECT * FROM agg_events_1h WHERE tenant_id = app_tenant_id();
CREATE VIEW tenant_agg_events_1d WITH (security_barrier) AS SELECT * FROM agg_events_1d WHERE tenant_id = app_tenant_id();
CREATE VIEW tenant_agg_lines_5m  WITH (security_barrier) AS SELECT * FROM agg_lines_5m  WHERE tenant_id = app_tenant_id();
CREATE VIEW tenant_agg_lines_1h  WITH (security_barrier) AS SELECT * FROM agg_lines_1h  WHERE tenant_id = app_tenant_id();
CREATE VIEW tenant_agg_lines_1d  WITH (security_barrier) AS SELECT * FROM agg_lines_1d  WHERE tenant_id = app_tenant_id();

GRANT SELECT ON tenant_agg_events_5m, tenant_agg_events_1h, tenant_agg_events_1d,
                tenant_agg_lines_5m, tenant_agg_lines_1h, tenant_agg_lines_1d TO pulse_app;
