-- Export jobs (src/exports/): a durable queue in the database, so it works on both engines, with or
-- without NATS, across replicas. One row per requested file.
--
-- Life of a row: queued → running (claimed with FOR UPDATE SKIP LOCKED, lease_owner/lease_until set,
-- attempts + 1; the lease is renewed while the file is written) → succeeded (storage_key, size_bytes,
-- expires_at) or failed (error, expires_at). A running row whose lease ran out (its worker died) is
-- claimed again; after max attempts it fails. The expiry sweep deletes the file of a row past its
-- expires_at and marks it expired. DELETE /v1/exports/{id} removes the row (a running worker notices at
-- its next lease renewal and drops what it wrote).
--
-- Tenancy: forced row-level security like every tenant table; the API reads and writes through
-- withTenant (pulse_app). The worker's claim, lease renewal, expiry sweep and gauges are cross-tenant by
-- nature: they run on the service's own connection (the migrating role, a member of pulse_owner), which
-- the second policy below lets see every row. pulse_app is not a member of pulse_owner, so a tenant
-- query never matches it.
SET LOCAL ROLE pulse_owner;

CREATE TABLE export_jobs (
  id            uuid        PRIMARY KEY,
  tenant_id     uuid        NOT NULL,
  created_by    text        NOT NULL,
  operation     text        NOT NULL,
  params        jsonb       NOT NULL DEFAULT '{}'::jsonb,
  format        text        NOT NULL CHECK (format IN ('csv', 'xlsx', 'pdf')),
  status        text        NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'expired')),
  rows_written  bigint      NOT NULL DEFAULT 0,
  rows_total    bigint,
  size_bytes    bigint,
  storage_key   text,
  file_name     text        NOT NULL,
  attempts      integer     NOT NULL DEFAULT 0,
  lease_owner   text,
  lease_until   timestamptz,
  error         text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  started_at    timestamptz,
  finished_at   timestamptz,
  expires_at    timestamptz
);

-- the tenant's list (newest first) and its limits
CREATE INDEX export_jobs_tenant_created ON export_jobs (tenant_id, created_at DESC, id DESC);
-- the claim: queued rows oldest first, and running rows by lease
CREATE INDEX export_jobs_claim ON export_jobs (status, created_at) WHERE status IN ('queued', 'running');
-- the expiry sweep
CREATE INDEX export_jobs_expiry ON export_jobs (expires_at) WHERE status IN ('succeeded', 'failed');

ALTER TABLE export_jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE export_jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON export_jobs
  USING (tenant_id = app_tenant_id())
  WITH CHECK (tenant_id = app_tenant_id());
CREATE POLICY export_worker ON export_jobs TO pulse_owner
  USING (true)
  WITH CHECK (true);

GRANT SELECT, INSERT, UPDATE, DELETE ON export_jobs TO pulse_app;
