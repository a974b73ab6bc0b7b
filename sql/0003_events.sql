-- The events hypertable and the tenant-scoped way to reach it.
--
-- TimescaleDB refuses row-level security on hypertables with compression (columnstore), so tenant
-- isolation for events is enforced by a security_barrier view instead: pulse_app has no privilege on
-- the table itself, only on tenant_events, which filters on app.tenant_id and (WITH CHECK OPTION)
-- refuses to insert another tenant's rows.
SET LOCAL ROLE pulse_owner;

CREATE FUNCTION app_tenant_id() RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT nullif(current_setting('app.tenant_id', true), '')::uuid $$;

CREATE TABLE events (
  time            timestamptz NOT NULL,
  tenant_id       uuid        NOT NULL,
  event_id        text        NOT NULL,
  type            text        NOT NULL,
  schema_version  smallint    NOT NULL,
  source          text        NOT NULL,
  customer_id     text,
  visitor_id      text,
  session_id      text,
  order_id        text,
  cart_id         text,
  item_id         text,
  channel         text,
  amount_minor    bigint,
  currency        char(3),
  quantity        integer,
  trace_id        text,
  ip_prefix       text,
  ua_hash         text,
  ua_family       text,
  props           jsonb       NOT NULL DEFAULT '{}'::jsonb,
  out_of_order    boolean     NOT NULL DEFAULT false,
  received_at     timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT events_unique_event UNIQUE (tenant_id, event_id, time)
);

SELECT create_hypertable('events', by_range('time', INTERVAL '1 day'));

CREATE INDEX events_tenant_time ON events (tenant_id, time DESC);
CREATE INDEX events_tenant_type_time ON events (tenant_id, type, time DESC);
CREATE INDEX events_tenant_customer_time ON events (tenant_id, customer_id, time DESC) WHERE customer_id IS NOT NULL;

ALTER TABLE events SET (
  timescaledb.compress,
  timescaledb.compress_segmentby = 'tenant_id',
  timescaledb.compress_orderby = 'time DESC, event_id'
);

CREATE VIEW tenant_events WITH (security_barrier) AS
  SELECT * FROM events WHERE tenant_id = app_tenant_id()
  WITH CASCADED CHECK OPTION;

GRANT SELECT, INSERT, DELETE ON tenant_events TO pulse_app;
GRANT EXECUTE ON FUNCTION app_tenant_id() TO pulse_app;
