-- Privacy keys: per-tenant HMAC keys for contact data (versioned for rotation) and the daily salts of
-- anonymous visitor ids (today's and yesterday's kept, tomorrow's made ahead, older ones destroyed).
-- Only the owner (the ingest worker's connection) reads them: no grant to pulse_app.
SET LOCAL ROLE pulse_owner;

CREATE TABLE tenant_keys (
  tenant_id   uuid        NOT NULL,
  version     integer     NOT NULL CHECK (version >= 1),
  key         bytea       NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, version)
);

CREATE TABLE visitor_salts (
  day         date        PRIMARY KEY,
  salt        bytea       NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

REVOKE ALL ON tenant_keys, visitor_salts FROM PUBLIC;

-- TimescaleDB user-defined action (scheduled hourly by sql/repeatable/020_privacy_jobs.sql): make sure
-- today's and tomorrow's salts exist (UTC) and destroy every salt older than yesterday, so a visitor id
-- can be linked across at most two consecutive days. 32 random bytes from two v4 uuids (no pgcrypto).
CREATE PROCEDURE rotate_visitor_salts(job_id integer, config jsonb)
  LANGUAGE plpgsql
  SET search_path = pg_catalog, public
  AS $$
DECLARE
  today date := (now() AT TIME ZONE 'UTC')::date;
BEGIN
  INSERT INTO visitor_salts (day, salt)
  SELECT d, uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid())
    FROM (VALUES (today), (today + 1)) AS v(d)
  ON CONFLICT (day) DO NOTHING;
  DELETE FROM visitor_salts WHERE day < today - 1;
END
$$;
