/**
 * The dead-letter page shared by GET /v1/dead-letters (the caller's tenant, dead-letters.routes.ts) and
 * GET /v1/admin/dead-letters (operators, every tenant, src/admin/admin.routes.ts): the filters, one dead
 * letter as the API shows it, and rows → JSON page.
 */
import { z } from "@hono/zod-openapi";
import { encodeCursor, isoDateTime, PageQuery } from "../../http/query.ts";
import { REJECT_REASONS } from "../types.ts";
import { DEAD_LETTER_STATUSES, type DeadLetterRow } from "./dead-letters.queries.ts";

/** one dead letter as the API shows it (the operator route adds tenant_id) */
export const deadLetterShape = {
  id: z.string(),
  received_at: z.string(),
  event_id: z.string().nullable(),
  subject: z.string().nullable(),
  type: z.string().nullable(),
  source: z.string().nullable(),
  schema_version: z.string().nullable(),
  reason: z.enum(REJECT_REASONS),
  issues: z.array(z.object({ path: z.string(), message: z.string() })),
  payload: z.unknown().openapi({ description: "the original payload with PII fields anonymised" }),
  payload_excerpt: z.string().nullable().openapi({ description: "start of an unparseable payload, emails and IPs masked" }),
  transport: z.enum(["nats", "http"]),
  stream_sequence: z.string().nullable(),
  status: z.enum(DEAD_LETTER_STATUSES).openapi({
    description: "pending, or redriven: a redrive (POST /v1/dead-letters/redrive) stored its event or found it stored",
  }),
  attempts: z.number().int().openapi({ description: "redrives tried so far" }),
  last_attempt_at: z.string().nullable(),
  redriven_at: z.string().nullable(),
  redriven_event_id: z.string().nullable().openapi({ description: "the id of the event a redrive stored (or found stored)" }),
};

/** a dead letter of the caller's tenant (no tenant_id: it is always the caller's) */
export const DeadLetterSchema = z.object(deadLetterShape).openapi("DeadLetter");

/** the filters of a dead-letter page (the operator route adds tenant_id) */
export const DeadLetterQuery = PageQuery.extend({
  status: z.enum(DEAD_LETTER_STATUSES).optional().openapi({ description: "only pending or only redriven dead letters" }),
  reason: z.enum(REJECT_REASONS).optional(),
  type: z.string().max(64).optional(),
  from: isoDateTime.optional(),
  to: isoDateTime.optional(),
});

/** what a dead-letter page's next_cursor holds: the last row's received_at and id */
export const DeadLetterCursor = z.object({ r: z.string(), i: z.number().int() });

/** rows of listDeadLetters (up to limit + 1) → the response page: ids and sequences as strings, ISO times, next_cursor */
export function deadLetterPage(rows: DeadLetterRow[], limit: number) {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    data: page.map((r) => ({
      ...r,
      id: String(r.id),
      received_at: r.received_at.toISOString(),
      reason: r.reason as (typeof REJECT_REASONS)[number],
      transport: r.transport as "nats" | "http",
      stream_sequence: r.stream_sequence === null ? null : String(r.stream_sequence),
      last_attempt_at: r.last_attempt_at?.toISOString() ?? null,
      redriven_at: r.redriven_at?.toISOString() ?? null,
    })),
    next_cursor: rows.length > limit && last ? encodeCursor({ r: last.received_at.toISOString(), i: Number(last.id) }) : null,
  };
}

/** POST /v1/dead-letters/redrive: which pending dead letters to re-validate */
export const RedriveRequest = z
  .object({
    tenant_id: z.uuid().optional().openapi({
      description: "role ops: the tenant whose dead letters to redrive (default: your token's tenant); an admin may name only their own",
    }),
    reason: z.enum(REJECT_REASONS).optional(),
    type: z.string().max(64).optional(),
    from: isoDateTime.optional().openapi({ description: "received at or after (ISO-8601)" }),
    to: isoDateTime.optional().openapi({ description: "received before (ISO-8601)" }),
    ids: z
      .array(z.string().regex(/^[1-9][0-9]{0,17}$/, "a dead-letter id"))
      .min(1)
      .max(1_000)
      .optional()
      .openapi({ description: "only these dead letters (ids as GET /v1/dead-letters shows them)" }),
    after_id: z
      .string()
      .regex(/^[1-9][0-9]{0,17}$/, "a dead-letter id")
      .optional()
      .openapi({ description: "next_after_id of the previous call: go on after it" }),
    limit: z.number().int().min(1).max(5_000).default(500).openapi({ description: "dead letters to attempt (1–5,000), oldest first" }),
  })
  .refine((b) => !b.from || !b.to || Date.parse(b.from) < Date.parse(b.to), { message: "from must be before to", path: ["from"] })
  .openapi("RedriveRequest");

export const RedriveResultSchema = z
  .object({
    tenant_id: z.uuid(),
    attempted: z.number().int(),
    stored: z.number().int().openapi({ description: "events stored now; their dead letters are redriven" }),
    duplicates: z
      .number()
      .int()
      .openapi({ description: "events already stored (sent again, or redriven before); their dead letters are redriven" }),
    still_rejected: z.number().int().openapi({ description: "still invalid: attempts + 1, with the new reason and issues" }),
    without_payload: z
      .number()
      .int()
      .openapi({ description: "pending dead letters of the filter with no payload to re-validate (unparseable, too large)" }),
    next_after_id: z.string().nullable().openapi({ description: "set when `limit` dead letters were taken: pass it as after_id to go on" }),
    results: z.array(
      z.object({
        id: z.string(),
        outcome: z.enum(["stored", "duplicate", "rejected"]),
        event_id: z.string().nullable(),
        reason: z.enum(REJECT_REASONS).nullable(),
        issues: z.array(z.object({ path: z.string(), message: z.string() })),
      }),
    ),
  })
  .openapi("RedriveResult");
