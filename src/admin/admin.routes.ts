/**
 * Operator routes (role `ops` only, see src/http/roles.ts). GET /v1/admin/dead-letters
 * (listAllDeadLetters) is the one cross-tenant read: it is the only place where a tenant id comes from
 * the query string (`tenant_id`, an explicit filter), and it runs outside withTenant on purpose.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../http/env.ts";
import { HttpProblem, problemResponses } from "../http/problem.ts";
import { decodeCursor, encodeCursor, isoDateTime, PageQuery } from "../http/query.ts";
import { REJECT_REASONS } from "../ingest/types.ts";
import { listAllDeadLetters } from "./admin.queries.ts";

const AdminDeadLetterSchema = z
  .object({
    id: z.string(),
    tenant_id: z.uuid().nullable().openapi({ description: "null when the tenant could not be known (malformed payload)" }),
    received_at: z.string(),
    event_id: z.string().nullable(),
    subject: z.string().nullable(),
    type: z.string().nullable(),
    source: z.string().nullable(),
    schema_version: z.string().nullable(),
    reason: z.enum(REJECT_REASONS),
    issues: z.array(z.object({ path: z.string(), message: z.string() })),
    payload: z.unknown().openapi({ description: "the original payload with PII fields anonymised" }),
    payload_excerpt: z.string().nullable(),
    transport: z.enum(["nats", "http"]),
    stream_sequence: z.string().nullable(),
  })
  .openapi("AdminDeadLetter");

const AdminDeadLetterQuery = PageQuery.extend({
  tenant_id: z.uuid().optional().openapi({ description: "only this tenant's dead letters (omit for every tenant)" }),
  reason: z.enum(REJECT_REASONS).optional(),
  type: z.string().max(64).optional(),
  from: isoDateTime.optional(),
  to: isoDateTime.optional(),
});
const CursorSchema = z.object({ r: z.string(), i: z.number().int() });

const route = createRoute({
  method: "get",
  path: "/v1/admin/dead-letters",
  operationId: "listAllDeadLetters",
  tags: ["admin"],
  summary: "Dead letters of every tenant (operators only), newest first, optionally of one tenant",
  description:
    "Role `ops` only. The one cross-tenant read: it runs outside the tenant's row-level security, so the `tenant_id` filter is taken from the query here and nowhere else. Rows whose tenant could not be known have `tenant_id: null`.",
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
  const after = q.cursor ? decodeCursor(q.cursor, CursorSchema) : undefined;
  if (q.cursor && !after) throw new HttpProblem(400, "cursor is not valid", { errors: [{ path: "cursor", message: "not a cursor from this API" }] });
  const rows = await listAllDeadLetters(c.var.deps.sql, {
    tenantId: q.tenant_id,
    reason: q.reason,
    type: q.type,
    from: q.from,
    to: q.to,
    limit: q.limit,
    after: after ? { received_at: after.r, id: after.i } : undefined,
  });
  const page = rows.slice(0, q.limit);
  const last = page.at(-1);
  c.var.logger.info({ operator: c.var.principal.sub, tenant_filter: q.tenant_id ?? null, rows: page.length }, "cross-tenant dead-letter read");
  return c.json(
    {
      data: page.map((r) => ({
        ...r,
        id: String(r.id),
        received_at: r.received_at.toISOString(),
        reason: r.reason as (typeof REJECT_REASONS)[number],
        transport: r.transport as "nats" | "http",
        stream_sequence: r.stream_sequence === null ? null : String(r.stream_sequence),
      })),
      next_cursor: rows.length > q.limit && last ? encodeCursor({ r: last.received_at.toISOString(), i: Number(last.id) }) : null,
    },
    200,
  );
});
