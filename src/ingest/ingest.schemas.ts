/** The bodies of POST /v1/events (one CloudEvent or a batch) and its answer, and of GET /v1/ingest/stats. */
import { z } from "@hono/zod-openapi";
import { EVENT_TYPES, REJECT_REASONS } from "./types.ts";

/** one event (structured mode) */
export const SINGLE = "application/cloudevents+json";
/** a JSON array of events */
export const BATCH = "application/cloudevents-batch+json";

export const CloudEventSchema = z
  .object({
    specversion: z.literal("1.0"),
    id: z.string(),
    source: z.string(),
    type: z.enum(EVENT_TYPES),
    time: z.string(),
    tenantid: z.uuid().optional(),
    schemaversion: z.enum(["1", "2"]).optional(),
    traceparent: z.string().optional(),
    data: z.record(z.string(), z.unknown()),
  })
  .openapi("CloudEvent", { description: "A CloudEvents 1.0 structured event; `data` per type and version: GET /v1/schemas" });

const RejectedSchema = z.object({
  id: z.string().nullable(),
  reason: z.enum(REJECT_REASONS),
  issues: z.array(z.object({ path: z.string(), message: z.string() })),
});

export const IngestResultSchema = z
  .object({
    accepted: z.number().int(),
    duplicates: z.number().int(),
    rejected: z.array(RejectedSchema),
  })
  .openapi("IngestResult");

export const IngestStatsSchema = z
  .object({
    from: z.string(),
    to: z.string(),
    accepted: z.number().int(),
    duplicates: z.number().int(),
    rejected: z.record(z.string(), z.number().int()),
    out_of_order: z.number().int(),
    last_event_time: z.string().nullable(),
  })
  .openapi("IngestStats");
