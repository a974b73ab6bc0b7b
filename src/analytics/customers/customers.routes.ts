/**
 * Customers: GET /v1/customers/metrics (getCustomerMetrics), GET /v1/customers (listCustomers),
 * GET /v1/customers/segments (getRfmSegments), GET /v1/customers/churn-risk (getChurnRisk),
 * GET /v1/customers/ltv (getCustomerLtv), POST /v1/customers/scores/refresh (refreshCustomerScores).
 * Roles come from the matrix (src/http/roles.ts): readers for the reads, analyst/admin for the refresh.
 * Definitions: each description (and the customers.queries.ts header for how they are computed).
 * About 310 lines: six operations, each a createRoute and its answer function.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { LRUCache } from "lru-cache";
import type { TxSql } from "../../db/client.ts";
import { withTenant } from "../../db/tenant.ts";
import type { AppEnv } from "../../http/env.ts";
import { HttpProblem } from "../../http/problem.ts";
import { decodeCursor, encodeCursor } from "../../http/query.ts";
import { divHalfUp, int, intOrNull, roundHalfUp } from "../../lib/numbers.ts";
import { bumpGeneration } from "../shared/generation.ts";
import { analyticsOperation } from "../shared/operation.ts";
import { checkBucketCount, normaliseParams, rangeOf } from "../shared/params.ts";
import { dataAnswer, envelopeAnswer, type ReadContext, readContext, sendAnswer } from "../shared/read.ts";
import { analyticsEnvelope, analyticsProblemResponses, count, instant as ts, plainJson } from "../shared/schemas.ts";
import {
  churnCounts,
  currencyPopulation,
  customerRows,
  ltvRows,
  refreshTenantScores,
  type Population,
  type ScoresMeta,
  scoresMeta,
  scoresSummary,
  segmentRows,
} from "./customers.queries.ts";
import { customerMetricsFigures } from "./metrics.queries.ts";
import {
  ChurnData,
  CurrencyQuery,
  CustomerItem,
  ListQuery,
  LtvItem,
  MetricsData,
  MetricsQuery,
  SegmentItem,
  snapshotEnvelope,
} from "./customers.schemas.ts";
import { CLV_DEF, SCORES, SEGMENT_MAP, SNAPSHOT, TIER_DEF } from "./definitions.ts";

const metricsRoute = createRoute({
  method: "get",
  path: "/v1/customers/metrics",
  operationId: "getCustomerMetrics",
  tags: ["analytics"],
  summary: "New vs returning customers and the repeat rate",
  description:
    "A customer's first order = their earliest known order.completed (stored events, or customer_scores for " +
    "orders older than retention). In the range [from, to) — or in each local bucket when `bucket` is given " +
    "(the first bucket counts from `from`): customers = customers with an order in it; new = those whose " +
    "first order is in it; returning = those who ordered before it (new + returning = customers). Repeat " +
    "rate = customers with ≥ 2 orders before `to` / customers with ≥ 1 order before `to` (orders counted " +
    "from the stored events, plus what the scores remember of older ones). Customer counts are not per currency.",
  request: { query: MetricsQuery },
  responses: { 200: plainJson(analyticsEnvelope(MetricsData), "customer figures"), ...analyticsProblemResponses },
});

const listRoute = createRoute({
  method: "get",
  path: "/v1/customers",
  operationId: "listCustomers",
  tags: ["analytics"],
  summary: "Customers with R/F/M scores, segment, CLV, churn tier and last order",
  description:
    `${SCORES} ${SEGMENT_MAP} ${TIER_DEF} ${CLV_DEF} Rows ordered by customer_id, then currency; filters ` +
    `segment, tier, currency; pages of \`limit\` with \`next_cursor\`. ${SNAPSHOT}`,
  request: { query: ListQuery },
  responses: {
    200: plainJson(
      snapshotEnvelope(z.array(CustomerItem), {
        next_cursor: z.string().nullable().openapi({ description: "pass as `cursor` for the next page; null on the last" }),
      }),
      "one page of scored customers",
    ),
    ...analyticsProblemResponses,
  },
});

const segmentsRoute = createRoute({
  method: "get",
  path: "/v1/customers/segments",
  operationId: "getRfmSegments",
  tags: ["analytics"],
  summary: "Customers and net revenue per RFM segment and currency",
  description:
    `${SCORES} ${SEGMENT_MAP} One row per (segment, currency) with customers (segments without any are left ` +
    `out), in the order of the map. ${SNAPSHOT}`,
  request: { query: CurrencyQuery },
  responses: { 200: plainJson(snapshotEnvelope(z.array(SegmentItem)), "segments"), ...analyticsProblemResponses },
});

const churnRoute = createRoute({
  method: "get",
  path: "/v1/customers/churn-risk",
  operationId: "getChurnRisk",
  tags: ["analytics"],
  summary: "Customers per churn tier",
  description: `${TIER_DEF} Each customer counts once. ${SNAPSHOT}`,
  responses: { 200: plainJson(snapshotEnvelope(ChurnData), "counts per tier"), ...analyticsProblemResponses },
});

const ltvRoute = createRoute({
  method: "get",
  path: "/v1/customers/ltv",
  operationId: "getCustomerLtv",
  tags: ["analytics"],
  summary: "Customer lifetime value per currency: the distribution and its inputs",
  description: `${CLV_DEF} ${SCORES} ${TIER_DEF} Percentiles are percentile_cont (continuous). One row per currency. ${SNAPSHOT}`,
  request: { query: CurrencyQuery },
  responses: { 200: plainJson(snapshotEnvelope(z.array(LtvItem)), "one row per currency"), ...analyticsProblemResponses },
});

const refreshRoute = createRoute({
  method: "post",
  path: "/v1/customers/scores/refresh",
  operationId: "refreshCustomerScores",
  tags: ["analytics"],
  summary: "Recompute your tenant's customer scores now",
  description:
    "Runs the scoring procedure of the hourly job (refresh_customer_scores) for your tenant at once, then " +
    "invalidates your cached answers. Roles: analyst, admin.",
  responses: {
    200: plainJson(
      z
        .object({ scored_at: ts("when the scores were computed"), customers: count("scored (customer, currency) rows") })
        .openapi("CustomerScoresRefresh"),
      "the scores were refreshed",
    ),
    ...analyticsProblemResponses,
  },
});

const iso = (d: Date | null) => (d ? d.toISOString() : null);
function snapshot<T>(meta: ScoresMeta, asOf: Date, data: T) {
  return { as_of: asOf.toISOString(), watermark: iso(meta.newest_order_at), scored_at: iso(meta.scored_at), data };
}
/** a listCustomers cursor: the last row's key, and `t` the first page's as_of (one snapshot for every page) */
const CursorShape = z.object({
  c: z.string().max(300),
  k: z.string().regex(/^[A-Z]{3}$/),
  t: z.number().int().positive().max(8_640_000_000_000_000).optional(), // a valid Date
});
function afterOf(cursor: string | undefined) {
  if (cursor === undefined) return undefined;
  const v = decodeCursor(cursor, CursorShape);
  if (!v)
    throw new HttpProblem(400, "cursor: not a cursor of this list", {
      errors: [{ path: "cursor", message: "not a next_cursor of listCustomers" }],
    });
  return { customer_id: v.c, currency: v.k, asOf: v.t === undefined ? undefined : new Date(v.t) };
}

/**
 * The CLV inputs of a listing's snapshot, by tenant, as_of and scores run: computed by its first page
 * and reused by the next ones (one pass over the scores per listing, not one per page).
 */
const populations = new LRUCache<string, Population>({ max: 1_000 });
async function populationOf(tx: TxSql, tenantId: string, asOf: Date, meta: ScoresMeta): Promise<Population> {
  const key = `${tenantId}|${asOf.getTime()}|${meta.scored_at?.getTime() ?? "-"}`;
  let pop = populations.get(key);
  if (pop === undefined) {
    pop = await currencyPopulation(tx, asOf);
    populations.set(key, pop);
  }
  return pop;
}
const pct = (values: readonly number[], min: bigint, max: bigint) => ({
  p25: roundHalfUp(values[0]!),
  p50: roundHalfUp(values[1]!),
  p75: roundHalfUp(values[2]!),
  p90: roundHalfUp(values[3]!),
  min: int(min),
  max: int(max),
});

async function customerMetrics(ctx: ReadContext, q: z.output<typeof MetricsQuery>) {
  const range = rangeOf(ctx, q);
  if (q.bucket) checkBucketCount(range, q.bucket);
  const params = normaliseParams({ from: range.from, to: range.to, timezone: q.bucket ? range.timezone : undefined, bucket: q.bucket });
  return envelopeAnswer(
    ctx,
    "getCustomerMetrics",
    params,
    async (tx) => {
      const { total, buckets, repeat: rep } = await customerMetricsFigures(tx, range, q.bucket);
      const figs = (r: { customers: bigint; new_customers: bigint; returning_customers: bigint; orders: bigint } | undefined) => ({
        customers: int(r?.customers ?? 0n),
        new_customers: int(r?.new_customers ?? 0n),
        returning_customers: int(r?.returning_customers ?? 0n),
        orders: int(r?.orders ?? 0n),
      });
      return {
        ...figs(total),
        customers_with_orders: int(rep.customers_with_orders),
        repeat_customers: int(rep.repeat_customers),
        repeat_rate: rep.customers_with_orders === 0n ? null : Number(rep.repeat_customers) / Number(rep.customers_with_orders),
        buckets: buckets.map((b) => ({ bucket_start: b.bucket_start!.toISOString(), ...figs(b) })),
      };
    },
    { watermarkTypes: ["order.completed"] },
  );
}

async function listCustomers(ctx: ReadContext, q: z.output<typeof ListQuery>) {
  const after = afterOf(q.cursor);
  const params = normaliseParams({ segment: q.segment, tier: q.tier, currency: q.currency, limit: q.limit, cursor: q.cursor });
  return dataAnswer(ctx, "listCustomers", params, async (tx) => {
    const asOf = after?.asOf ?? new Date();
    // the scores' meta and the page's rows in one round trip (pipelined); the CLV inputs, which depend
    // on the meta, once the rows are in (computed by a listing's first page only)
    const metaRead = scoresMeta(tx);
    metaRead.catch(() => undefined); // a failed meta aborts the transaction: the rows' read fails too and is what rejects
    const query = { asOf, limit: q.limit, after, segment: q.segment, tier: q.tier, currency: q.currency };
    const rows = await customerRows(tx, query, async () => populationOf(tx, ctx.tenantId, asOf, await metaRead));
    const meta = await metaRead;
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    const next = rows.length > q.limit && last ? encodeCursor({ c: last.customer_id, k: last.currency, t: asOf.getTime() }) : null;
    const items = page.map((r) => ({
      customer_id: r.customer_id,
      currency: r.currency,
      first_order_at: r.first_order_at.toISOString(),
      last_order_at: r.last_order_at.toISOString(),
      days_since_last_order: r.days_since_last_order,
      orders: int(r.orders),
      net_minor: int(r.net),
      r_score: r.r_score,
      f_score: r.f_score,
      m_score: r.m_score,
      segment: r.segment,
      churn_tier: r.churn_tier,
      clv_minor: intOrNull(r.clv),
    }));
    return { ...snapshot(meta, asOf, items), next_cursor: next };
  });
}

async function rfmSegments(ctx: ReadContext, q: z.output<typeof CurrencyQuery>) {
  return dataAnswer(ctx, "getRfmSegments", normaliseParams({ currency: q.currency }), async (tx) => {
    const asOf = new Date();
    const rows = (await segmentRows(tx, q.currency)).map((r) => ({
      segment: r.segment,
      currency: r.currency,
      customers: int(r.customers),
      net_minor: int(r.net),
    }));
    return snapshot(await scoresMeta(tx), asOf, rows);
  });
}

async function churnRisk(ctx: ReadContext) {
  return dataAnswer(ctx, "getChurnRisk", normaliseParams({}), async (tx) => {
    const asOf = new Date();
    const t = await churnCounts(tx, asOf);
    return snapshot(await scoresMeta(tx), asOf, { high: int(t.high), medium: int(t.medium), low: int(t.low) });
  });
}

async function customerLtv(ctx: ReadContext, q: z.output<typeof CurrencyQuery>) {
  return dataAnswer(ctx, "getCustomerLtv", normaliseParams({ currency: q.currency }), async (tx) => {
    const asOf = new Date();
    const rows = (await ltvRows(tx, asOf, q.currency)).map((r) => {
      const churned = r.churned;
      return {
        currency: r.currency,
        customers: int(r.customers),
        orders: int(r.orders),
        net_minor: int(r.net),
        churned_customers: int(churned),
        average_order_minor: r.orders === 0n ? null : int(divHalfUp(r.net, r.orders)),
        purchase_frequency: Number(r.orders) / Number(r.customers),
        churn_rate: Number(churned) / Number(r.customers),
        expected_lifespan: churned === 0n ? null : Number(r.customers) / Number(churned),
        average_clv_minor: churned === 0n ? null : int(divHalfUp(r.net, churned)),
        net_distribution: pct(r.net_percentiles, r.net_min, r.net_max),
        clv_distribution:
          r.clv_percentiles && r.clv_min !== null && r.clv_max !== null ? pct(r.clv_percentiles, r.clv_min, r.clv_max) : null,
      };
    });
    return snapshot(await scoresMeta(tx), asOf, rows);
  });
}

/** a page's customers and its next cursor */
const customersList = {
  rows: (body: unknown) => (body as { data: unknown[] }).data,
  next: (body: unknown) => (body as { next_cursor: string | null }).next_cursor,
};

export const customersOperations = [
  analyticsOperation(metricsRoute, customerMetrics),
  analyticsOperation(listRoute, listCustomers, customersList),
  analyticsOperation(segmentsRoute, rfmSegments),
  analyticsOperation(churnRoute, churnRisk),
  analyticsOperation(ltvRoute, customerLtv),
];

export const customersRoutes = new OpenAPIHono<AppEnv>()
  .openapi(metricsRoute, async (c) => sendAnswer(c, await customerMetrics(readContext(c), c.req.valid("query"))))
  .openapi(listRoute, async (c) => sendAnswer(c, await listCustomers(readContext(c), c.req.valid("query"))))
  .openapi(segmentsRoute, async (c) => sendAnswer(c, await rfmSegments(readContext(c), c.req.valid("query"))))
  .openapi(churnRoute, async (c) => sendAnswer(c, await churnRisk(readContext(c))))
  .openapi(ltvRoute, async (c) => sendAnswer(c, await customerLtv(readContext(c), c.req.valid("query"))))
  .openapi(refreshRoute, async (c) => {
    const deps = c.get("deps");
    const logger = c.get("logger");
    const tenantId = c.get("principal").tenantId;
    const started = performance.now();
    await refreshTenantScores(deps.sql, tenantId, Math.max(1, deps.config.storage.retentionDays - 2));
    await bumpGeneration(deps.cache, [tenantId], { logger });
    const out = await withTenant(deps.sql, tenantId, scoresSummary);
    logger.info({ duration_ms: Math.round(performance.now() - started), customers: out.customers }, "customer scores refreshed");
    return c.json(out, 200);
  });
