/**
 * GET /v1/dead-letters (listDeadLetters): the rejected events of the caller's tenant, newest first. The
 * operators' cross-tenant read of the same rows is src/admin/admin.routes.ts (it shares deadLetterAfter,
 * the query and the page). POST /v1/dead-letters/redrive (redriveDeadLetters): redrive.ts.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { withTenant } from "../../db/tenant.ts";
import type { AppEnv } from "../../http/env.ts";
import { HttpProblem, problemResponses } from "../../http/problem.ts";
import { decodeCursor } from "../../http/query.ts";
import { type DeadLetterFilter, listDeadLetters } from "./dead-letters.queries.ts";
import {
  DeadLetterCursor,
  deadLetterPage,
  DeadLetterQuery,
  DeadLetterSchema,
  RedriveRequest,
  RedriveResultSchema,
} from "./dead-letters.schemas.ts";
import { REDACTED_DATA_FIELDS, redriveDeadLetters } from "./redrive.ts";

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

const redriveRoute = createRoute({
  method: "post",
  path: "/v1/dead-letters/redrive",
  operationId: "redriveDeadLetters",
  tags: ["ingest"],
  summary: "Re-validate pending dead letters against today's catalog; store the now-valid ones exactly once",
  description:
    "Role `admin` (your tenant) or `ops` (any tenant: `tenant_id`). Takes up to `limit` pending dead letters of the filter, " +
    "oldest first, and passes their stored payloads through the ingest pipeline as it is today (validation, limits, " +
    "anonymisation, exactly-once storage). A now-valid event is stored once (`stored`), or found already stored " +
    "(`duplicate`); either way its dead letter becomes `redriven` with the event id. The rest stay pending with attempts + 1 " +
    "and their new reason and issues (no second dead letter is filed). What a redriven event loses: dead letters hold " +
    `anonymised payloads, so the data's ${REDACTED_DATA_FIELDS.map((f) => `\`${f}\``).join(", ")} are left out before ` +
    "re-validation: a redriven event has no visitor id (it needs the raw IP and user agent: an anonymous visit is not " +
    "counted as a visitor), no ip_prefix, ua_family or ua_hash, and no email_hash; everything else is as published. Dead " +
    "letters without a payload (unparseable or too large) cannot be redriven (`without_payload`). Two redrives at once " +
    "never take the same dead letter. Reconciliation picks up redriven orders on its next run.",
  request: { body: { required: true, content: { "application/json": { schema: RedriveRequest } } } },
  responses: {
    200: { description: "what the redrive did", content: { "application/json": { schema: RedriveResultSchema } } },
    ...problemResponses,
  },
});

export const deadLetterRoutes = new OpenAPIHono<AppEnv>()
  .openapi(redriveRoute, async (c) => {
    const b = c.req.valid("json");
    const p = c.get("principal");
    const tenantId = b.tenant_id ?? p.tenantId;
    if (tenantId !== p.tenantId && !p.roles.includes("ops")) {
      throw new HttpProblem(403, "an admin redrives only their own tenant's dead letters; another tenant needs the role ops", {
        errors: [{ path: "tenant_id", message: "not your tenant" }],
      });
    }
    const deps = c.get("deps");
    const result = await redriveDeadLetters(
      { sql: deps.sql, pipeline: deps.ingest, logger: c.get("logger") },
      tenantId,
      { reason: b.reason, type: b.type, from: b.from, to: b.to, ids: b.ids, afterId: b.after_id },
      b.limit,
    );
    c.get("logger").info({ operator: p.sub, tenant_id: tenantId, attempted: result.attempted }, "dead-letter redrive");
    return c.json(result, 200);
  })
  .openapi(deadLettersRoute, async (c) => {
    const q = c.req.valid("query");
    const after = deadLetterAfter(q.cursor);
    const rows = await withTenant(c.get("deps").sql, c.get("principal").tenantId, (tx) =>
      listDeadLetters(tx, { status: q.status, reason: q.reason, type: q.type, from: q.from, to: q.to, limit: q.limit, after }),
    );
    const { data, next_cursor } = deadLetterPage(rows, q.limit);
    // the tenant's own schema (DeadLetter) has no tenant_id: it is always the caller's
    return c.json({ data: data.map(({ tenant_id: _tenant, ...r }) => r), next_cursor }, 200);
  });
