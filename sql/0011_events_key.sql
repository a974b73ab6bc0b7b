-- The events table's exactly-once key doubles as its (tenant, time) index: one index fewer to
-- maintain for every stored event.
--
-- The unique key was (tenant_id, event_id, time) next to a separate (tenant_id, time DESC) index.
-- A unique index on (tenant_id, time DESC, event_id) is the same key (ON CONFLICT (tenant_id,
-- event_id, time) infers a unique index from its set of columns, in any order) and serves every
-- tenant-and-time-range read the old index served. On the single-threaded embedded engine each
-- btree index of events costs about 5-7 µs per stored event.
SET LOCAL ROLE pulse_owner;

CREATE UNIQUE INDEX events_tenant_time_event ON events (tenant_id, time DESC, event_id);
ALTER TABLE events DROP CONSTRAINT events_unique_event;
DROP INDEX events_tenant_time;
