-- Order lines as rows, and a key that makes dead letters idempotent.
--
-- order_lines: one row per line of an order.completed event, written in the same transaction as the
-- event (only when the event itself was new), so item and category figures can come from continuous
-- aggregates instead of unpacking JSON at read time. line_minor = quantity × unit_price_minor;
-- net_line_minor is line_minor less the line's share of the order discount (shares proportional to
-- line_minor, remainders by the largest-remainder rule), so Σ net_line_minor of an order = total_minor.
-- Like events, the table is compressed and therefore reached by pulse_app only through a
-- security_barrier view.
SET LOCAL ROLE pulse_owner;

CREATE TABLE order_lines (
  time              timestamptz NOT NULL,
  tenant_id         uuid        NOT NULL,
  event_id          text        NOT NULL,
  line_no           smallint    NOT NULL,
  order_id          text        NOT NULL,
  customer_id       text,
  channel           text,
  currency          char(3)     NOT NULL,
  item_id           text        NOT NULL,
  quantity          integer     NOT NULL,
  unit_price_minor  bigint      NOT NULL,
  line_minor        bigint      NOT NULL,
  net_line_minor    bigint      NOT NULL,
  CONSTRAINT order_lines_unique_line UNIQUE (tenant_id, event_id, line_no, time)
);

SELECT create_hypertable('order_lines', by_range('time', INTERVAL '1 day'));

CREATE INDEX order_lines_tenant_item_time ON order_lines (tenant_id, item_id, time DESC);

ALTER TABLE order_lines SET (
  timescaledb.compress,
  timescaledb.compress_segmentby = 'tenant_id',
  timescaledb.compress_orderby = 'time DESC, event_id, line_no'
);

CREATE VIEW tenant_order_lines WITH (security_barrier) AS
  SELECT * FROM order_lines WHERE tenant_id = app_tenant_id()
  WITH CASCADED CHECK OPTION;

GRANT SELECT, INSERT, DELETE ON tenant_order_lines TO pulse_app;

-- A JetStream message redelivered after a crash between commit and ack must not file a second dead
-- letter: (stream, stream_sequence) is unique where known. HTTP dead letters have no sequence.
ALTER TABLE dead_letter_events ADD COLUMN stream text;
CREATE UNIQUE INDEX dead_letter_events_stream_message ON dead_letter_events (stream, stream_sequence)
  WHERE stream IS NOT NULL AND stream_sequence IS NOT NULL;
