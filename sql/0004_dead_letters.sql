-- Rejected events: never lost, never stored as good. Row-level security by tenant; rows whose tenant
-- could not be known (malformed JSON, bad envelope) have tenant_id NULL and are seen only by operators.
SET LOCAL ROLE pulse_owner;

CREATE TABLE dead_letter_events (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  received_at      timestamptz NOT NULL DEFAULT now(),
  tenant_id        uuid,
  event_id         text,
  subject          text,
  type             text,
  source           text,
  schema_version   text,
  reason           text NOT NULL,
  issues           jsonb NOT NULL DEFAULT '[]'::jsonb,
  payload          jsonb,
  payload_excerpt  text,
  transport        text NOT NULL,
  stream_sequence  bigint
);

CREATE INDEX dead_letter_events_tenant_time ON dead_letter_events (tenant_id, received_at DESC, id DESC);
CREATE INDEX dead_letter_events_reason ON dead_letter_events (tenant_id, reason, received_at DESC);

ALTER TABLE dead_letter_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE dead_letter_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON dead_letter_events
  USING (tenant_id = app_tenant_id())
  WITH CHECK (tenant_id = app_tenant_id());

GRANT SELECT, INSERT ON dead_letter_events TO pulse_app;
