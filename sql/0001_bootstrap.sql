-- Extension, roles and the migration ledger. Runs as the role in DATABASE_URL (superuser or a role
-- with CREATEROLE on a server where timescaledb may be created).
CREATE EXTENSION IF NOT EXISTS timescaledb;

DO $$
BEGIN
  -- the owner of every Pulse object; LOGIN so TimescaleDB may run its jobs as it (no password is set:
  -- nobody logs in as it over the network; the migrating role switches to it with SET ROLE)
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pulse_owner') THEN
    CREATE ROLE pulse_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
  END IF;
  -- the application role tenant queries run as: not an owner, never bypasses row-level security
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pulse_app') THEN
    CREATE ROLE pulse_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
  END IF;
END
$$;

GRANT pulse_owner TO CURRENT_USER;
GRANT pulse_app TO CURRENT_USER;
GRANT USAGE, CREATE ON SCHEMA public TO pulse_owner;
GRANT USAGE ON SCHEMA public TO pulse_app;

CREATE TABLE IF NOT EXISTS schema_migrations (
  version     integer PRIMARY KEY,
  name        text NOT NULL,
  checksum    text NOT NULL,
  applied_at  timestamptz NOT NULL DEFAULT now()
);
