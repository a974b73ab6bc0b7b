/**
 * The dead-letter page shared by GET /v1/dead-letters (the caller's tenant) and
 * GET /v1/admin/dead-letters (operators, every tenant): cursor parsing and rows → JSON page.
 */
import { z } from "@hono/zod-openapi";
import { HttpProblem } from "../http/problem.ts";
import { decodeCursor, encodeCursor } from "../http/query.ts";
import type { DeadLetterFilter, DeadLetterRow } from "./read.queries.ts";
import type { REJECT_REASONS } from "./types.ts";

const CursorSchema = z.object({ r: z.string(), i: z.number().int() });

/** the position after which a page starts; a cursor that is not ours ⇒ 400 naming `cursor` */
export function deadLetterAfter(cursor: string | undefined): DeadLetterFilter["after"] {
  if (!cursor) return undefined;
  const after = decodeCursor(cursor, CursorSchema);
  if (!after) throw new HttpProblem(400, "cursor is not valid", { errors: [{ path: "cursor", message: "not a cursor from this API" }] });
  return { received_at: after.r, id: after.i };
}

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
