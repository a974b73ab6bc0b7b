/**
 * GET /v1/dead-letters (listDeadLetters): the rejected events of the caller's tenant, newest first. The
 * operators' cross-tenant read of the same rows is src/admin/admin.routes.ts (it shares deadLetterAfter,
 * the query and the page).
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { withTenant } from "../../db/tenant.ts";
import type { AppEnv } from "../../http/env.ts";
import { HttpProblem, problemResponses } from "../../http/problem.ts";
import { decodeCursor } from "../../http/query.ts";
import { type DeadLetterFilter, listDeadLetters } from "./dead-letters.queries.ts";
import { DeadLetterCursor, deadLetterPage, DeadLetterQuery, DeadLetterSchema } from "./dead-letters.schemas.ts";

/** the position after which a page starts; a cursor that is not ours ⇒ 400 naming `cursor` */
export function deadLetterAfter(cursor: string | undefined): DeadLetterFilter["after"] {
  if (!cursor) return undefined;
  const after = decodeCursor(cursor, DeadLetterCursor);
  if (!after) throw new HttpProblem(400, "cursor is not valid", { errors: [{ path: "cursor", message: "not a cursor from this API" }] });
  return { received_at: after.r, id: after.i };
}

const deadLettersRoute = createRoute({
  method: "get",
  path: "/v1/dead-letters",
  operationId: "listDeadLetters",
  tags: ["ingest"],
  summary: "Rejected events of your tenant, newest first, with the reason and the field issues",
  request: { query: DeadLetterQuery },
  responses: {
    200: {
      description: "a page of dead letters",
      content: { "application/json": { schema: z.object({ data: z.array(DeadLetterSchema), next_cursor: z.string().nullable() }) } },
    },
    ...problemResponses,
  },
});

export const deadLetterRoutes = new OpenAPIHono<AppEnv>().openapi(deadLettersRoute, async (c) => {
  const q = c.req.valid("query");
  const after = deadLetterAfter(q.cursor);
  const rows = await withTenant(c.get("deps").sql, c.get("principal").tenantId, (tx) =>
    listDeadLetters(tx, { reason: q.reason, type: q.type, from: q.from, to: q.to, limit: q.limit, after }),
  );
  const { data, next_cursor } = deadLetterPage(rows, q.limit);
  // the tenant's own schema (DeadLetter) has no tenant_id: it is always the caller's
  return c.json({ data: data.map(({ tenant_id: _tenant, ...r }) => r), next_cursor }, 200);
});
