-- Runs of TimescaleDB jobs made by the service itself (CALL run_job does not update
-- timescaledb_information.job_stats, so the service keeps its own ledger).
SET LOCAL ROLE pulse_owner;

CREATE TABLE job_runs (
  job_id       integer NOT NULL,
  started_at   timestamptz NOT NULL,
  finished_at  timestamptz NOT NULL,
  succeeded    boolean NOT NULL,
  error        text,
  runner       text NOT NULL,
  PRIMARY KEY (job_id, started_at)
);
CREATE INDEX job_runs_latest ON job_runs (job_id, started_at DESC);
