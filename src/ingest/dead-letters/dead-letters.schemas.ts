/**
 * The dead-letter page shared by GET /v1/dead-letters (the caller's tenant, dead-letters.routes.ts) and
 * GET /v1/admin/dead-letters (operators, every tenant, src/admin/admin.routes.ts): the filters, one dead
 * letter as the API shows it, and rows → JSON page.
 */
import { z } from "@hono/zod-openapi";
import { encodeCursor, isoDateTime, PageQuery } from "../../http/query.ts";
import { REJECT_REASONS } from "../types.ts";
import type { DeadLetterRow } from "./dead-letters.queries.ts";

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
};

/** a dead letter of the caller's tenant (no tenant_id: it is always the caller's) */
export const DeadLetterSchema = z.object(deadLetterShape).openapi("DeadLetter");

/** the filters of a dead-letter page (the operator route adds tenant_id) */
export const DeadLetterQuery = PageQuery.extend({
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
    })),
    next_cursor: rows.length > limit && last ? encodeCursor({ r: last.received_at.toISOString(), i: Number(last.id) }) : null,
  };
}
