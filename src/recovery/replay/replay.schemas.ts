/** POST/GET /v1/admin/replays: the request, one job as the API shows it, the list filters. */
import { z } from "@hono/zod-openapi";
import { isoDateTime, PageQuery } from "../../http/query.ts";
import { EVENT_TYPES } from "../../ingest/types.ts";
import { REPLAY_STATUSES, type ReplayJobRow } from "./replay.queries.ts";

export const CreateReplayRequest = z
  .object({
    tenant_id: z.uuid().nullable().optional().openapi({ description: "the tenant to replay; omitted or null: every tenant" }),
    from: isoDateTime.openapi({ description: "replay events whose time is at or after this (ISO-8601)", example: "2026-11-01T00:00:00Z" }),
    to: isoDateTime.openapi({ description: "... and before this (ISO-8601)", example: "2026-11-02T00:00:00Z" }),
    types: z
      .array(z.enum(EVENT_TYPES))
      .min(1)
      .max(EVENT_TYPES.length)
      .optional()
      .openapi({ description: "only these event types (omitted: every type)" }),
  })
  .refine((b) => Date.parse(b.from) < Date.parse(b.to), { message: "from must be before to", path: ["from"] })
  .openapi("ReplayRequest");

export const ReplayIdParam = z.object({
  id: z.uuid().openapi({ param: { name: "id", in: "path" }, description: "the replay job's id" }),
});

export const ReplayListQuery = PageQuery.extend({
  status: z.enum(REPLAY_STATUSES).optional(),
});

export const ReplayCursor = z.object({ c: z.iso.datetime(), i: z.uuid() });

const count = (description: string) => z.number().int().openapi({ description });

export const ReplayJobSchema = z
  .object({
    id: z.uuid(),
    tenant_id: z.uuid().nullable().openapi({ description: "null: every tenant" }),
    from: z.string(),
    to: z.string(),
    types: z.array(z.string()).nullable(),
    status: z.enum(REPLAY_STATUSES),
    cancel_requested: z.boolean(),
    requested_by: z.string().openapi({ description: "the token subject that asked for it" }),
    created_at: z.string(),
    started_at: z.string().nullable(),
    finished_at: z.string().nullable(),
    stream: z.string(),
    end_seq: z.string().nullable().openapi({ description: "the stream's last sequence when the job first ran: it reads up to there" }),
    resume_seq: z.string().nullable().openapi({ description: "the last sequence handled" }),
    progress: z.object({
      read: count("messages read from the stream"),
      in_range: count("of those, events in [from, to) and types, handed to the pipeline"),
      stored: count("stored now (they were missing)"),
      duplicates: count("already stored"),
      dead_lettered: count("invalid (their dead letter was filed when first ingested, or now)"),
    }),
    error: z.string().nullable(),
  })
  .openapi("ReplayJob");

export function replayJson(r: ReplayJobRow): z.infer<typeof ReplayJobSchema> {
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  return {
    id: r.id,
    tenant_id: r.tenant_id,
    from: r.range_from.toISOString(),
    to: r.range_to.toISOString(),
    types: r.types,
    status: r.status,
    cancel_requested: r.cancel_requested,
    requested_by: r.requested_by,
    created_at: r.created_at.toISOString(),
    started_at: iso(r.started_at),
    finished_at: iso(r.finished_at),
    stream: r.stream,
    end_seq: r.end_seq,
    resume_seq: r.resume_seq,
    progress: {
      read: Number(r.read),
      in_range: Number(r.in_range),
      stored: Number(r.stored),
      duplicates: Number(r.duplicates),
      dead_lettered: Number(r.dead_lettered),
    },
    error: r.error,
  };
}
