/**
 * Demand and outcomes: GET /v1/pricing/recommendations (listPriceRecommendations), GET
 * /v1/pricing/items/{item_id}/demand (getItemDemand), POST /v1/pricing/scores/refresh
 * (refreshDemandScores), GET /v1/pricing/outcomes (listPriceChangeOutcomes). Roles and budgets: the
 * matrix (src/http/roles.ts). Definitions: definitions.ts, quoted in each description.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { bumpGeneration } from "../analytics/shared/generation.ts";
import { withTenant } from "../db/tenant.ts";
import type { AppEnv } from "../http/env.ts";
import { HttpProblem } from "../http/problem.ts";
import { decodeCursor, encodeCursor } from "../http/query.ts";
import { FORMULA, MAPPING, OUTCOME } from "./definitions.ts";
import { OutcomeList } from "./changes.schemas.ts";
import { outcomeRows } from "./outcomes.queries.ts";
import { demandItem, pctChange } from "./present.ts";
import {
  catalogItem,
  countDemandRows,
  demandKey,
  demandOfItem,
  demandRows,
  demandScoredAt,
  num,
  refreshTenantDemand,
} from "./pricing.queries.ts";
import {
  type CatalogItemSchema,
  DemandList,
  ItemDemandAnswer,
  ItemParam,
  json,
  OutcomesQuery,
  pricingProblems,
  RecommendationsQuery,
  RefreshAnswer,
} from "./pricing.schemas.ts";

const listRoute = createRoute({
  method: "get",
  path: "/v1/pricing/recommendations",
  operationId: "listPriceRecommendations",
  tags: ["pricing"],
  summary: "Demand scores with their inputs and a bounded price recommendation, per item and currency",
  description:
    `${FORMULA} ${MAPPING} Filters: currency, category, kind, reason, item_id, min_score/max_score; sort score (default), ` +
    "confidence or item_id, desc (default) or asc; pages of `limit` with `next_cursor`.",
  request: { query: RecommendationsQuery },
  responses: { 200: json(DemandList, "one page of scored items"), ...pricingProblems },
});

const itemRoute = createRoute({
  method: "get",
  path: "/v1/pricing/items/{item_id}/demand",
  operationId: "getItemDemand",
  tags: ["pricing"],
  summary: "One item's demand: score, every input and sub-score, confidence and recommendation",
  description: `${FORMULA} ${MAPPING} 404 when the item is not in your catalog.`,
  request: { params: ItemParam },
  responses: { 200: json(ItemDemandAnswer, "the item and its rows"), ...pricingProblems },
});

const refreshRoute = createRoute({
  method: "post",
  path: "/v1/pricing/scores/refresh",
  operationId: "refreshDemandScores",
  tags: ["pricing"],
  summary: "Recompute your tenant's demand scores now",
  description:
    "Runs the hourly job's procedure (refresh_demand_scores) for your tenant at once; a run counts towards the stability of " +
    `later ones. ${FORMULA} ${MAPPING} Roles: analyst, pricing_manager, admin.`,
  responses: { 200: json(RefreshAnswer, "the scores were computed"), ...pricingProblems },
});

const outcomesRoute = createRoute({
  method: "get",
  path: "/v1/pricing/outcomes",
  operationId: "listPriceChangeOutcomes",
  tags: ["pricing"],
  summary: "Did past price changes work? Units per day and conversion before vs after each applied change",
  description:
    `${OUTCOME} Applied changes, newest applied first; filter item_id; pages of \`limit\` with \`next_cursor\`. ` + `${FORMULA} ${MAPPING}`,
  request: { query: OutcomesQuery },
  responses: { 200: json(OutcomeList, "one page of outcomes"), ...pricingProblems },
});

const DemandCursor = z.object({ k: z.union([z.number(), z.string().max(300)]), i: z.string().max(300), c: z.string().regex(/^[A-Z]{3}$/) });
const TimeCursor = z.object({ t: z.iso.datetime(), i: z.uuid() });
function badCursor(operation: string): never {
  throw new HttpProblem(400, "cursor: not a cursor of this list", {
    errors: [{ path: "cursor", message: `not a next_cursor of ${operation}` }],
  });
}
const round = (v: number, places: number) => Math.round(v * 10 ** places) / 10 ** places;
const DAY_MS = 86_400_000;

function windowOf(from: Date, to: Date, units: number, orders: number, views: number) {
  const days = (to.getTime() - from.getTime()) / DAY_MS;
  return {
    from: from.toISOString(),
    to: to.toISOString(),
    days: round(days, 2),
    units,
    units_per_day: days > 0 ? round(units / days, 4) : null,
    orders,
    views,
    conversion: views > 0 ? round(orders / views, 4) : null,
  };
}

export const demandRoutes = new OpenAPIHono<AppEnv>()
  .openapi(listRoute, async (c) => {
    const q = c.req.valid("query");
    const after = q.cursor === undefined ? undefined : (decodeCursor(q.cursor, DemandCursor) ?? badCursor("listPriceRecommendations"));
    const deps = c.get("deps");
    const now = new Date();
    const { rows, scoredAt } = await withTenant(deps.sql, c.get("principal").tenantId, async (tx) => ({
      rows: await demandRows(tx, { ...q, after }),
      scoredAt: await demandScoredAt(tx),
    }));
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    const next = rows.length > q.limit && last ? encodeCursor({ k: demandKey(last, q.sort), i: last.item_id, c: last.currency }) : null;
    return c.json(
      {
        as_of: now.toISOString(),
        scored_at: scoredAt?.toISOString() ?? null,
        data: page.map((r) => demandItem(r, deps.config.pricing, now)),
        next_cursor: next,
      },
      200,
    );
  })
  .openapi(itemRoute, async (c) => {
    const { item_id } = c.req.valid("param");
    const deps = c.get("deps");
    const now = new Date();
    const out = await withTenant(deps.sql, c.get("principal").tenantId, async (tx) => {
      const item = await catalogItem(tx, item_id);
      if (!item) return undefined;
      return { item, rows: await demandOfItem(tx, item_id), scoredAt: await demandScoredAt(tx) };
    });
    if (!out)
      throw new HttpProblem(404, "item_id: no such item in your catalog", {
        errors: [{ path: "item_id", message: "not in your catalog" }],
      });
    const i = out.item;
    const item: z.infer<typeof CatalogItemSchema> = {
      item_id: i.item_id,
      name: i.name,
      category: i.category,
      kind: i.kind as "ticketed_event" | "product",
      currency: i.currency,
      base_price_minor: num(i.base_price_minor),
      min_price_minor: i.min_price_minor === null ? null : num(i.min_price_minor),
      max_price_minor: i.max_price_minor === null ? null : num(i.max_price_minor),
      capacity: i.capacity,
      starts_at: i.starts_at?.toISOString() ?? null,
    };
    return c.json(
      {
        as_of: now.toISOString(),
        scored_at: out.scoredAt?.toISOString() ?? null,
        item,
        data: out.rows.map((r) => demandItem(r, deps.config.pricing, now)),
      },
      200,
    );
  })
  .openapi(refreshRoute, async (c) => {
    const deps = c.get("deps");
    const tenantId = c.get("principal").tenantId;
    const started = performance.now();
    await refreshTenantDemand(deps.sql, tenantId);
    await bumpGeneration(deps.cache, [tenantId], { logger: c.get("logger") });
    const out = await withTenant(deps.sql, tenantId, async (tx) => ({
      scoredAt: await demandScoredAt(tx),
      rows: await countDemandRows(tx),
    }));
    c.get("logger").info({ duration_ms: Math.round(performance.now() - started), rows: out.rows }, "demand scores refreshed");
    return c.json({ scored_at: (out.scoredAt ?? new Date()).toISOString(), rows: out.rows }, 200);
  })
  .openapi(outcomesRoute, async (c) => {
    const q = c.req.valid("query");
    const cur = q.cursor === undefined ? undefined : (decodeCursor(q.cursor, TimeCursor) ?? badCursor("listPriceChangeOutcomes"));
    const deps = c.get("deps");
    const asOf = new Date();
    const rows = await withTenant(deps.sql, c.get("principal").tenantId, (tx) =>
      outcomeRows(tx, { asOf, itemId: q.item_id, limit: q.limit, after: cur ? { at: cur.t, id: cur.i } : undefined }),
    );
    const page = rows.slice(0, q.limit);
    const data = page.map((r) => {
      const oldPrice = num(r.old_price_minor);
      const newPrice = num(r.new_price_minor);
      const before = windowOf(
        new Date(r.applied_at.getTime() - 7 * DAY_MS),
        r.applied_at,
        num(r.units_before),
        num(r.orders_before),
        num(r.views_before),
      );
      const after = windowOf(r.applied_at, r.after_end, num(r.units_after), num(r.orders_after), num(r.views_after));
      const afterDays = (r.after_end.getTime() - r.applied_at.getTime()) / DAY_MS;
      const perDayBefore = num(r.units_before) / 7;
      const perDayAfter = afterDays > 0 ? num(r.units_after) / afterDays : 0;
      // exact shares first, rounded only for the answer
      const unitsShare = perDayBefore > 0 && afterDays >= 1 ? (perDayAfter - perDayBefore) / perDayBefore : null;
      const priceShare = (newPrice - oldPrice) / oldPrice;
      return {
        id: r.id,
        item_id: r.item_id,
        currency: r.currency,
        old_price_minor: oldPrice,
        new_price_minor: newPrice,
        price_change_pct: pctChange(oldPrice, newPrice),
        applied_at: r.applied_at.toISOString(),
        before,
        after,
        units_per_day_change_pct: unitsShare === null ? null : round(unitsShare * 100, 2),
        elasticity: unitsShare === null || priceShare === 0 ? null : round(unitsShare / priceShare, 4),
        status: afterDays < 1 ? ("too_early" as const) : afterDays < 7 ? ("partial" as const) : ("complete" as const),
      };
    });
    const last = page.at(-1);
    const next = rows.length > q.limit && last ? encodeCursor({ t: last.applied_at.toISOString(), i: last.id }) : null;
    return c.json({ as_of: asOf.toISOString(), data, next_cursor: next }, 200);
  });
