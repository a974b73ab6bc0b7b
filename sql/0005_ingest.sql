-- Ingest bookkeeping and the catalog/customer tables fed by events. Tenant tables get forced RLS.
SET LOCAL ROLE pulse_owner;

-- catalog, upserted from item.upserted (the newest event time wins)
CREATE TABLE items (
  tenant_id         uuid NOT NULL,
  item_id           text NOT NULL,
  name              text NOT NULL,
  category          text NOT NULL,
  kind              text NOT NULL CHECK (kind IN ('ticketed_event', 'product')),
  currency          char(3) NOT NULL,
  base_price_minor  bigint NOT NULL,
  min_price_minor   bigint,
  max_price_minor   bigint,
  capacity          integer,
  starts_at         timestamptz,
  updated_at        timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, item_id)
);

-- known customers, from customer.registered: contact data only as keyed hashes
CREATE TABLE customers (
  tenant_id      uuid NOT NULL,
  customer_id    text NOT NULL,
  email_hash     text,
  registered_at  timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, customer_id)
);

-- newest event time seen per (tenant, source): an older event arriving later is out of order
CREATE TABLE ingest_sequence (
  tenant_id   uuid NOT NULL,
  source      text NOT NULL,
  last_time   timestamptz NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, source)
);

-- per tenant and hour of receipt: what ingest did (rejections are counted from dead_letter_events)
CREATE TABLE ingest_counters (
  tenant_id     uuid NOT NULL,
  hour          timestamptz NOT NULL,
  accepted      bigint NOT NULL DEFAULT 0,
  duplicates    bigint NOT NULL DEFAULT 0,
  out_of_order  bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, hour)
);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['items', 'customers', 'ingest_sequence', 'ingest_counters'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id())', t);
    EXECUTE format('GRANT SELECT ON %I TO pulse_app', t);
  END LOOP;
END
$$;
