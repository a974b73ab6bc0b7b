/** Ingest: the JetStream consumer, batching, dedup, memory, the limits of an event and the database circuit breaker. */
import { z } from "zod";
import { int, section } from "./section.ts";

export const ingest = section({
  vars: {
    NATS_CONSUMER: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/)
      .default("pulse-ingest"),
    NATS_ACK_WAIT_MS: int(1_000, 600_000).default(30_000),
    NATS_MAX_DELIVER: int(1, 1_000).default(10),
    INGEST_BATCH_SIZE: int(1, 10_000).default(500),
    INGEST_FLUSH_MS: int(10, 60_000).default(200),
    INGEST_PIPELINE_DEPTH: int(1, 8).default(2),
    INGEST_DEDUP_SIZE: int(0, 10_000_000).default(200_000),
    INGEST_DEDUP_TTL_MS: int(1_000, 86_400_000).default(600_000),
    INGEST_MEMORY_SOFT_LIMIT_MB: int(0, 1_048_576).default(256),
    INGEST_MAX_EVENT_BYTES: int(1_024, 1024 * 1024).default(64 * 1024),
    INGEST_MAX_FUTURE_MS: int(0, 86_400_000).default(300_000),
    INGEST_HTTP_MAX_EVENTS: int(1, 10_000).default(1_000),
    BREAKER_FAILURES: int(1, 1_000).default(5),
    BREAKER_HALF_OPEN_MS: int(100, 3_600_000).default(30_000),
  },
  read: (e) => ({
    ingest: {
      consumer: e.NATS_CONSUMER,
      ackWaitMs: e.NATS_ACK_WAIT_MS,
      maxDeliver: e.NATS_MAX_DELIVER,
      batchSize: e.INGEST_BATCH_SIZE,
      flushMs: e.INGEST_FLUSH_MS,
      /** batches written at once by a consumer (their statements queue on the embedded engine's one connection) */
      pipelineDepth: e.INGEST_PIPELINE_DEPTH,
      dedupSize: e.INGEST_DEDUP_SIZE,
      dedupTtlMs: e.INGEST_DEDUP_TTL_MS,
      /** bytes; above it after a batch, a full garbage collection (src/ingest/memory-guard.ts); 0: off */
      memorySoftLimitBytes: e.INGEST_MEMORY_SOFT_LIMIT_MB * 1_048_576,
      maxEventBytes: e.INGEST_MAX_EVENT_BYTES,
      maxFutureMs: e.INGEST_MAX_FUTURE_MS,
      httpMaxEvents: e.INGEST_HTTP_MAX_EVENTS,
      breakerFailures: e.BREAKER_FAILURES,
      breakerHalfOpenMs: e.BREAKER_HALF_OPEN_MS,
    },
  }),
});
