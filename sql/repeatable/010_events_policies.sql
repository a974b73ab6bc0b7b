-- Compression and retention of events, re-applied on every migrate (idempotent).
SET LOCAL ROLE pulse_owner;

SELECT add_compression_policy('events', compress_after => INTERVAL '7 days', if_not_exists => true);
SELECT add_retention_policy('events', drop_after => INTERVAL '90 days', if_not_exists => true);
