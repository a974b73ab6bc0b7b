-- A tenant's read of compressed events or order lines decompresses only that tenant's segments.
--
-- Compressed chunks are segmented by tenant_id, so TimescaleDB can drop every other tenant's batches
-- before decompressing anything, but only when it can push the tenant filter down to the compressed
-- chunk. It could not: app_tenant_id() is an inlinable SQL function, the planner inlined it to
-- nullif(current_setting(...), '')::uuid, and TimescaleDB does not push a NULLIF expression down.
-- Every read of a compressed range decompressed every tenant's rows and then filtered them, so its
-- cost grew with the other tenants' data, and the vectorised aggregation could not be used either.
--
-- As a scalar sub-select the filter becomes a parameter computed once per query (an InitPlan), which
-- TimescaleDB pushes down to the compressed chunk scan as a segment filter. The views are otherwise
-- unchanged: the same security barrier, the same check option (a row of another tenant is refused on
-- insert), no rows at all when app.tenant_id is unset or empty. CREATE OR REPLACE keeps the grants.
SET LOCAL ROLE pulse_owner;

CREATE OR REPLACE VIEW tenant_events WITH (security_barrier) AS
  SELECT * FROM events WHERE tenant_id = (SELECT app_tenant_id())
  WITH CASCADED CHECK OPTION;

CREATE OR REPLACE VIEW tenant_order_lines WITH (security_barrier) AS
  SELECT * FROM order_lines WHERE tenant_id = (SELECT app_tenant_id())
  WITH CASCADED CHECK OPTION;
