/**
 * Operator routes (role `ops` only, see src/http/roles.ts). GET /v1/admin/dead-letters
 * (listAllDeadLetters) is the one cross-tenant read: it is the only place where a tenant id comes from
 * the query string (`tenant_id`, an explicit filter), and it runs outside withTenant on purpose — as
 * the service's connection role (the migrating owner, which row-level security does not restrict), in
 * a read-only transaction.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../http/env.ts";
import { problemResponses } from "../http/problem.ts";
import { listDeadLetters } from "../ingest/dead-letters/dead-letters.queries.ts";
import { deadLetterAfter } from "../ingest/dead-letters/dead-letters.routes.ts";
import { DeadLetterQuery, deadLetterPage, deadLetterShape } from "../ingest/dead-letters/dead-letters.schemas.ts";

const AdminDeadLetterSchema = z
  .object({
    tenant_id: z.uuid().nullable().openapi({ description: "null when the tenant could not be known (malformed payload)" }),
    ...deadLetterShape,
  })
  .openapi("AdminDeadLetter");

const AdminDeadLetterQuery = DeadLetterQuery.extend({
  tenant_id: z.uuid().optional().openapi({ description: "only this tenant's dead letters (omit for every tenant)" }),
});

const route = createRoute({
  method: "get",
  path: "/v1/admin/dead-letters",
  operationId: "listAllDeadLetters",
  tags: ["admin"],
  summary: "Dead letters of every tenant (operators only), newest first, optionally of one tenant",
  description:
    "Role `ops` only. The one cross-tenant read: it runs outside the tenant's row-level security, so the `tenant_id` filter " +
    "is taken from the query here and nowhere else. Rows whose tenant could not be known have `tenant_id: null`.",
  request: { query: AdminDeadLetterQuery },
  responses: {
    200: {
      description: "a page of dead letters",
      content: { "application/json": { schema: z.object({ data: z.array(AdminDeadLetterSchema), next_cursor: z.string().nullable() }) } },
    },
    ...problemResponses,
  },
});

export const adminRoutes = new OpenAPIHono<AppEnv>().openapi(route, async (c) => {
  const q = c.req.valid("query");
  const after = deadLetterAfter(q.cursor);
  const filter = { tenantId: q.tenant_id, status: q.status, reason: q.reason, type: q.type, from: q.from, to: q.to, limit: q.limit, after };
  const rows = await c.get("deps").sql.begin("read only", (tx) => listDeadLetters(tx, filter));
  const page = deadLetterPage(rows, q.limit);
  const audit = { operator: c.get("principal").sub, tenant_filter: q.tenant_id ?? null, rows: page.data.length };
  c.get("logger").info(audit, "cross-tenant dead-letter read");
  return c.json(page, 200);
});
