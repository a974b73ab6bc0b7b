/**
 * The price-change workflow: POST /v1/pricing/changes (proposePriceChange), GET /v1/pricing/changes
 * (listPriceChanges), GET /v1/pricing/changes/{change_id} (getPriceChange), POST …/approve
 * (approvePriceChange), POST …/reject (rejectPriceChange), GET /v1/pricing/items/{item_id}/history
 * (getItemPriceHistory). Roles and budgets: the matrix (src/http/roles.ts); the rules (four eyes,
 * If-Match, states) are workflow.ts's and definitions.ts WORKFLOW's.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { bumpGeneration } from "../analytics/shared/generation.ts";
import { withTenant } from "../db/tenant.ts";
import type { AppEnv } from "../http/env.ts";
import { HttpProblem } from "../http/problem.ts";
import { decodeCursor, encodeCursor } from "../http/query.ts";
import { changeById, historyOfChange, historyOfItem, listChanges } from "./changes.queries.ts";
import { ChangeList, ChangeSchema, ChangeWithHistory, ItemHistory } from "./changes.schemas.ts";
import { FORMULA, MAPPING, WORKFLOW } from "./definitions.ts";
import { changeOf, transitionOf } from "./present.ts";
import { catalogItem } from "./pricing.queries.ts";
import {
  ChangeParam,
  ChangesQuery,
  DecisionBody,
  DecisionHeaders,
  decisionProblems,
  ItemParam,
  json,
  PageQuery,
  pricingProblems,
  ProposeBody,
  proposeProblems,
  ProposeHeaders,
} from "./pricing.schemas.ts";
import { decide, propose } from "./workflow.ts";

const withEtag = (schema: z.ZodType, description: string) => ({
  ...json(schema, description),
  headers: z.object({ ETag: z.string().openapi({ description: "the change's version: send it as If-Match to decide", example: '"1"' }) }),
});

const proposeRoute = createRoute({
  method: "post",
  path: "/v1/pricing/changes",
  operationId: "proposePriceChange",
  tags: ["pricing"],
  summary: "Propose a price change: the current recommendation, or a manual price within the bounds",
  description:
    `${WORKFLOW} Idempotency-Key: the same key and body within 24 hours answer the first answer again (Idempotent-Replayed: true); ` +
    `the same key with another body answers 422. A new proposal supersedes the item's pending one. ${MAPPING} ${FORMULA}`,
  request: { headers: ProposeHeaders, body: { content: { "application/json": { schema: ProposeBody } }, required: true } },
  responses: {
    201: withEtag(ChangeSchema, "the pending change"),
    ...proposeProblems,
  },
});

const listRoute = createRoute({
  method: "get",
  path: "/v1/pricing/changes",
  operationId: "listPriceChanges",
  tags: ["pricing"],
  summary: "Price changes, newest proposal first",
  description:
    `${WORKFLOW} Filters status, item_id; pages of \`limit\` with \`next_cursor\`. Each change carries its ETag. ` +
    `${FORMULA} ${MAPPING}`,
  request: { query: ChangesQuery },
  responses: { 200: json(ChangeList, "one page of changes"), ...pricingProblems },
});

const getRoute = createRoute({
  method: "get",
  path: "/v1/pricing/changes/{change_id}",
  operationId: "getPriceChange",
  tags: ["pricing"],
  summary: "One price change with every transition (who, when, why, prices, the recommendation snapshot)",
  description: `${WORKFLOW} The ETag header is the change's version. ${FORMULA} ${MAPPING}`,
  request: { params: ChangeParam },
  responses: { 200: withEtag(ChangeWithHistory, "the change and its history"), ...pricingProblems },
});

const decisionRoute = (action: "approve" | "reject") =>
  createRoute({
    method: "post",
    path: `/v1/pricing/changes/{change_id}/${action}`,
    operationId: action === "approve" ? "approvePriceChange" : "rejectPriceChange",
    tags: ["pricing"],
    summary:
      action === "approve"
        ? "Approve a pending price change (four eyes; publishes price.change_approved)"
        : "Reject a pending price change (four eyes)",
    description:
      `${WORKFLOW} Body optional: {reason}. Under concurrent decisions on one change exactly one succeeds; ` +
      `the others answer 412 (their If-Match is stale) or 409. ${FORMULA} ${MAPPING}`,
    request: {
      params: ChangeParam,
      headers: DecisionHeaders,
      body: { content: { "application/json": { schema: DecisionBody } }, required: false },
    },
    responses: { 200: withEtag(ChangeSchema, action === "approve" ? "the approved change" : "the rejected change"), ...decisionProblems },
  });

const historyRoute = createRoute({
  method: "get",
  path: "/v1/pricing/items/{item_id}/history",
  operationId: "getItemPriceHistory",
  tags: ["pricing"],
  summary: "The price history of an item: every transition of every change, newest first",
  description: `${WORKFLOW} 404 when the item is not in your catalog. Pages of \`limit\` with \`next_cursor\`. ${FORMULA} ${MAPPING}`,
  request: { params: ItemParam, query: PageQuery },
  responses: { 200: json(ItemHistory, "one page of transitions"), ...pricingProblems },
});

const TimeCursor = z.object({ t: z.iso.datetime(), i: z.uuid(), v: z.number().int().optional() });
function cursorOf(cursor: string | undefined, operation: string) {
  if (cursor === undefined) return undefined;
  const v = decodeCursor(cursor, TimeCursor);
  if (!v)
    throw new HttpProblem(400, "cursor: not a cursor of this list", {
      errors: [{ path: "cursor", message: `not a next_cursor of ${operation}` }],
    });
  return v;
}

async function decision(
  c: Context<AppEnv>,
  to: "approved" | "rejected",
  changeId: string,
  ifMatch: string | undefined,
  reason: string | undefined,
) {
  const deps = c.get("deps");
  const p = c.get("principal");
  const change = await decide(deps, { tenantId: p.tenantId, sub: p.sub, changeId, ifMatch, reason: reason ?? null, to });
  await bumpGeneration(deps.cache, [p.tenantId], { logger: c.get("logger") });
  return change;
}

export const changesRoutes = new OpenAPIHono<AppEnv>()
  .openapi(proposeRoute, async (c) => {
    const deps = c.get("deps");
    const p = c.get("principal");
    const { "idempotency-key": key } = c.req.valid("header");
    const out = await propose(deps, { tenantId: p.tenantId, sub: p.sub, key, body: c.req.valid("json") });
    if (!out.replayed) await bumpGeneration(deps.cache, [p.tenantId], { logger: c.get("logger") });
    const headers: Record<string, string> = { ETag: out.body.etag, Location: `/v1/pricing/changes/${out.body.id}` };
    if (out.replayed) headers["Idempotent-Replayed"] = "true";
    return c.json(out.body, 201, headers);
  })
  .openapi(listRoute, async (c) => {
    const q = c.req.valid("query");
    const cur = cursorOf(q.cursor, "listPriceChanges");
    const rows = await withTenant(c.get("deps").sql, c.get("principal").tenantId, (tx) =>
      listChanges(tx, { status: q.status, item_id: q.item_id, limit: q.limit, after: cur ? { at: cur.t, id: cur.i } : undefined }),
    );
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    const next = rows.length > q.limit && last ? encodeCursor({ t: last.proposed_at.toISOString(), i: last.id }) : null;
    return c.json({ data: page.map(changeOf), next_cursor: next }, 200);
  })
  .openapi(getRoute, async (c) => {
    const { change_id } = c.req.valid("param");
    const out = await withTenant(c.get("deps").sql, c.get("principal").tenantId, async (tx) => {
      const change = await changeById(tx, change_id);
      return change ? { change, history: await historyOfChange(tx, change_id) } : undefined;
    });
    if (!out)
      throw new HttpProblem(404, "change_id: no such price change in your tenant", {
        errors: [{ path: "change_id", message: "not found" }],
      });
    const body = { ...changeOf(out.change), history: out.history.map(transitionOf) };
    return c.json(body, 200, { ETag: body.etag });
  })
  .openapi(decisionRoute("approve"), async (c) => {
    const { change_id } = c.req.valid("param");
    const body = changeOf(await decision(c, "approved", change_id, c.req.valid("header")["if-match"], c.req.valid("json").reason));
    return c.json(body, 200, { ETag: body.etag });
  })
  .openapi(decisionRoute("reject"), async (c) => {
    const { change_id } = c.req.valid("param");
    const body = changeOf(await decision(c, "rejected", change_id, c.req.valid("header")["if-match"], c.req.valid("json").reason));
    return c.json(body, 200, { ETag: body.etag });
  })
  .openapi(historyRoute, async (c) => {
    const { item_id } = c.req.valid("param");
    const q = c.req.valid("query");
    const cur = cursorOf(q.cursor, "getItemPriceHistory");
    const rows = await withTenant(c.get("deps").sql, c.get("principal").tenantId, async (tx) => {
      if (!(await catalogItem(tx, item_id))) return undefined;
      return historyOfItem(tx, item_id, q.limit, cur ? { at: cur.t, id: cur.i, v: cur.v ?? 2 ** 31 - 1 } : undefined);
    });
    if (!rows)
      throw new HttpProblem(404, "item_id: no such item in your catalog", {
        errors: [{ path: "item_id", message: "not in your catalog" }],
      });
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    const next = rows.length > q.limit && last ? encodeCursor({ t: last.at.toISOString(), i: last.change_id, v: last.version }) : null;
    return c.json({ item_id, data: page.map(transitionOf), next_cursor: next }, 200);
  });
