/**
 * Customers: GET /v1/customers/metrics (getCustomerMetrics), GET /v1/customers (listCustomers),
 * GET /v1/customers/segments (getRfmSegments), GET /v1/customers/churn-risk (getChurnRisk),
 * GET /v1/customers/ltv (getCustomerLtv), POST /v1/customers/scores/refresh (refreshCustomerScores).
 * Roles come from the matrix (src/http/roles.ts): readers for the reads, analyst/admin for the refresh.
 * Definitions: customers.queries.ts header, each description, README "Customers".
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { withTenant } from "../db/tenant.ts";
import type { AppEnv } from "../http/env.ts";
import { HttpProblem } from "../http/problem.ts";
import { decodeCursor, encodeCursor } from "../http/query.ts";
import {
  churnCounts,
  customerMetricsFigures,
  customerRows,
  divHalfUp,
  ltvRows,
  refreshTenantScores,
  roundHalfUp,
  scoresMeta,
  SEGMENTS,
  segmentRows,
  TIERS,
  type ScoresMeta,
} from "./customers.queries.ts";
import { bumpGeneration } from "./generation.ts";
import { analyticsEnvelope, analyticsProblemResponses, analyticsQuery, BUCKETS, checkBucketCount, filterShape, listShape, normaliseParams, parseRange } from "./params.ts";
import { analyticsJson, analyticsDataJson } from "./read.ts";

const int = (v: bigint): number => {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new RangeError(`value ${v} is beyond exact JSON numbers`);
  return n;
};
const intOrNull = (v: bigint | null): number | null => (v === null ? null : int(v));

const SCORES =
  "Scores come from `customer_scores`, one row per (customer, currency), precomputed by the TimescaleDB job refresh_customer_scores (hourly) and by POST /v1/customers/scores/refresh; `scored_at` says when. orders (F) = count of the customer's order.completed; net (M) = Σ their total_minor − Σ order.refunded amount_minor of those orders (integer minor units of `currency`; a customer buying in two currencies has two rows, never a mixed sum). Orders are archived into the scores before retention (RETENTION_DAYS) drops the raw events, so a customer's last order, orders and net are never forgotten. r/f/m_score = 6 − NTILE(5) over the tenant's rows of the same currency with ≥ 1 order, ordered by last order / orders / net DESCENDING, ties by customer_id ascending (the best row is always 5; with fewer than 5 rows the lowest scores are unused).";
const SEGMENT_MAP =
  "Segments (the common R×F map): champions R5 F4–5; loyal R3–4 F4–5; potential_loyalist R4–5 F2–3; new R5 F1; promising R4 F1; need_attention R3 F3; about_to_sleep R3 F1–2; cant_lose R1–2 F5; at_risk R1–2 F3–4; hibernating R1–2 F1–2.";
const TIER_DEF =
  "Churn tier (per customer, by their last order in any currency): days = whole days (floor) from the last order to `as_of`; high > 90, medium 30–90, low < 30. Retention (RETENTION_DAYS, default 90) rejects older events, so `high` fills over time from the scores' remembered last orders.";
const CLV_DEF =
  "CLV per currency (simple CLV = average order value × purchase frequency × expected lifespan): AOV = net / orders; PF = orders / customers; churn rate = customers in the high tier / customers; expected lifespan = 1 / churn rate (in units of the observed history); average CLV = AOV × PF × lifespan = net / churned customers; a customer's CLV = their net × lifespan, rounded half-up. With no churned customer the lifespan and every CLV are null (not estimable).";
const SNAPSHOT =
  "A snapshot of the scores (no from/to): `as_of` = the instant tiers are computed for, `watermark` = the newest order included in the scores, `scored_at` = the last refresh. Cached (ANALYTICS_CACHE_TTL_SECONDS) and invalidated by ingest and by a refresh; a scheduled refresh shows after at most the TTL.";

const ts = (description: string) => z.string().openapi({ description, example: "2026-11-21T12:00:00.000Z" });
const count = (description: string) => z.number().int().openapi({ description, example: 12 });
const money = (description: string) => z.number().int().openapi({ description, example: 125000 });
const currency = z.string().openapi({ description: "ISO-4217", example: "EUR" });
const segmentEnum = z.enum(SEGMENTS).openapi({ description: "RFM segment", example: "champions" });
const tierEnum = z.enum(TIERS).openapi({ description: "churn tier", example: "medium" });

function snapshotEnvelope<T extends z.ZodType>(data: T, extra: z.ZodRawShape = {}) {
  return z.object({
    as_of: ts("when this answer was computed; tiers and days are as of this instant"),
    watermark: ts("the newest order included in the scores (ISO-8601), null when none").nullable(),
    scored_at: ts("when the scores were last refreshed (ISO-8601), null when never").nullable(),
    data,
    ...extra,
  });
}
const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { "application/json": { schema } } });

// ---------------------------------------------------------------- getCustomerMetrics
const MetricsFigures = {
  customers: count("customers with an order.completed in it"),
  new_customers: count("of those, customers whose first order ever is in it"),
  returning_customers: count("of those, customers who had ordered before it"),
  orders: count("their order.completed in it"),
};
const MetricsData = z
  .object({
    ...MetricsFigures,
    customers_with_orders: count("customers with ≥ 1 order before `to`"),
    repeat_customers: count("customers with ≥ 2 orders before `to`"),
    repeat_rate: z.number().nullable().openapi({ description: "repeat_customers / customers_with_orders (0–1), null when no customer", example: 0.5 }),
    buckets: z.array(z.object({ bucket_start: ts("local start of the bucket as an instant"), ...MetricsFigures }).openapi("CustomerMetricsBucket")).openapi({
      description: "per local bucket when `bucket` is given (buckets without orders left out), else empty",
    }),
  })
  .openapi("CustomerMetrics");
const MetricsQuery = analyticsQuery({
  bucket: z.enum(BUCKETS).optional().openapi({ description: "per-bucket figures in `timezone` (5m, hour, day, week, month); omit for the range only", example: "week" }),
});
const metricsRoute = createRoute({
  method: "get",
  path: "/v1/customers/metrics",
  operationId: "getCustomerMetrics",
  tags: ["analytics"],
  summary: "New vs returning customers and the repeat rate",
  description:
    "A customer's first order = their earliest known order.completed (stored events, or customer_scores for orders older than retention). In the range [from, to) — or in each local bucket when `bucket` is given (the first bucket counts from `from`): customers = customers with an order in it; new = those whose first order is in it; returning = those who ordered before it (new + returning = customers). Repeat rate = customers with ≥ 2 orders before `to` / customers with ≥ 1 order before `to` (orders counted from the stored events, plus what the scores remember of older ones). Customer counts are not per currency.",
  request: { query: MetricsQuery },
  responses: { 200: json(analyticsEnvelope(MetricsData), "customer figures"), ...analyticsProblemResponses },
});

// ---------------------------------------------------------------- listCustomers
const CustomerItem = z
  .object({
    customer_id: z.string().openapi({ example: "c-1042" }),
    currency,
    first_order_at: ts("the customer's first order in this currency"),
    last_order_at: ts("the customer's last order in this currency"),
    days_since_last_order: count("whole days from last_order_at to as_of (R)"),
    orders: count("F: order.completed in this currency"),
    net_minor: money("M: Σ total_minor − refunds of those orders"),
    r_score: z.number().int().nullable().openapi({ description: "1–5, null until scored", example: 5 }),
    f_score: z.number().int().nullable().openapi({ description: "1–5", example: 4 }),
    m_score: z.number().int().nullable().openapi({ description: "1–5", example: 4 }),
    segment: segmentEnum.nullable(),
    churn_tier: tierEnum,
    clv_minor: money("net_minor × expected lifespan of the currency, half-up; null when not estimable").nullable(),
  })
  .openapi("CustomerScore");
const ListQuery = z.object({
  segment: segmentEnum.optional(),
  tier: tierEnum.optional(),
  currency: filterShape.currency,
  ...listShape,
});
const listRoute = createRoute({
  method: "get",
  path: "/v1/customers",
  operationId: "listCustomers",
  tags: ["analytics"],
  summary: "Customers with R/F/M scores, segment, CLV, churn tier and last order",
  description: `${SCORES} ${SEGMENT_MAP} ${TIER_DEF} ${CLV_DEF} Rows ordered by customer_id, then currency; filters segment, tier, currency; pages of \`limit\` with \`next_cursor\`. ${SNAPSHOT}`,
  request: { query: ListQuery },
  responses: {
    200: json(
      snapshotEnvelope(z.array(CustomerItem), { next_cursor: z.string().nullable().openapi({ description: "pass as `cursor` for the next page; null on the last" }) }),
      "one page of scored customers",
    ),
    ...analyticsProblemResponses,
  },
});

// ---------------------------------------------------------------- getRfmSegments
const SegmentItem = z
  .object({ segment: segmentEnum, currency, customers: count("scored rows in the segment"), net_minor: money("Σ their net") })
  .openapi("RfmSegment");
const CurrencyQuery = z.object({ currency: filterShape.currency });
const segmentsRoute = createRoute({
  method: "get",
  path: "/v1/customers/segments",
  operationId: "getRfmSegments",
  tags: ["analytics"],
  summary: "Customers and net revenue per RFM segment and currency",
  description: `${SCORES} ${SEGMENT_MAP} One row per (segment, currency) with customers (segments without any are left out), in the order of the map. ${SNAPSHOT}`,
  request: { query: CurrencyQuery },
  responses: { 200: json(snapshotEnvelope(z.array(SegmentItem)), "segments"), ...analyticsProblemResponses },
});

// ---------------------------------------------------------------- getChurnRisk
const ChurnData = z
  .object({ high: count("last order > 90 days ago"), medium: count("30–90 days"), low: count("< 30 days") })
  .openapi("ChurnRisk");
const churnRoute = createRoute({
  method: "get",
  path: "/v1/customers/churn-risk",
  operationId: "getChurnRisk",
  tags: ["analytics"],
  summary: "Customers per churn tier",
  description: `${TIER_DEF} Each customer counts once. ${SNAPSHOT}`,
  responses: { 200: json(snapshotEnvelope(ChurnData), "counts per tier"), ...analyticsProblemResponses },
});

// ---------------------------------------------------------------- getCustomerLtv
const percentiles = (description: string) =>
  z
    .object({ p25: z.number().int(), p50: z.number().int(), p75: z.number().int(), p90: z.number().int(), min: z.number().int(), max: z.number().int() })
    .openapi({ description });
const LtvItem = z
  .object({
    currency,
    customers: count("scored customers in this currency"),
    orders: count("Σ their orders"),
    net_minor: money("Σ their net"),
    churned_customers: count("of them in the high churn tier"),
    average_order_minor: money("AOV = net / orders, half-up").nullable(),
    purchase_frequency: z.number().openapi({ description: "PF = orders / customers", example: 2.2 }),
    churn_rate: z.number().openapi({ description: "churned_customers / customers", example: 0.2 }),
    expected_lifespan: z.number().nullable().openapi({ description: "1 / churn_rate, null without churn", example: 5 }),
    average_clv_minor: money("AOV × PF × lifespan = net / churned, half-up; null without churn").nullable(),
    net_distribution: percentiles("the customers' net_minor: percentile_cont (continuous, linear interpolation) p25/p50/p75/p90, half-up, and min/max"),
    clv_distribution: percentiles("the customers' CLV, same percentiles; null without churn").nullable(),
  })
  .openapi("CustomerLtv");
const ltvRoute = createRoute({
  method: "get",
  path: "/v1/customers/ltv",
  operationId: "getCustomerLtv",
  tags: ["analytics"],
  summary: "Customer lifetime value per currency: the distribution and its inputs",
  description: `${CLV_DEF} ${SCORES} ${TIER_DEF} Percentiles are percentile_cont (continuous). One row per currency. ${SNAPSHOT}`,
  request: { query: CurrencyQuery },
  responses: { 200: json(snapshotEnvelope(z.array(LtvItem)), "one row per currency"), ...analyticsProblemResponses },
});

// ---------------------------------------------------------------- refreshCustomerScores
const refreshRoute = createRoute({
  method: "post",
  path: "/v1/customers/scores/refresh",
  operationId: "refreshCustomerScores",
  tags: ["analytics"],
  summary: "Recompute your tenant's customer scores now",
  description:
    "Runs the scoring procedure of the hourly job (refresh_customer_scores) for your tenant at once, then invalidates your cached answers. Roles: analyst, admin.",
  responses: {
    200: json(
      z.object({ scored_at: ts("when the scores were computed"), customers: count("scored (customer, currency) rows") }).openapi("CustomerScoresRefresh"),
      "the scores were refreshed",
    ),
    ...analyticsProblemResponses,
  },
});

// ---------------------------------------------------------------- handlers
const iso = (d: Date | null) => (d ? d.toISOString() : null);
function snapshot<T>(meta: ScoresMeta, asOf: Date, data: T) {
  return { as_of: asOf.toISOString(), watermark: iso(meta.newest_order_at), scored_at: iso(meta.scored_at), data };
}
const CursorShape = z.object({ c: z.string().max(300), k: z.string().regex(/^[A-Z]{3}$/) });
function afterOf(cursor: string | undefined) {
  if (cursor === undefined) return undefined;
  const v = decodeCursor(cursor, CursorShape);
  if (!v) throw new HttpProblem(400, "cursor: not a cursor of this list", { errors: [{ path: "cursor", message: "not a next_cursor of listCustomers" }] });
  return { customer_id: v.c, currency: v.k };
}
const pct = (values: readonly number[], min: bigint, max: bigint) => ({
  p25: roundHalfUp(values[0]!),
  p50: roundHalfUp(values[1]!),
  p75: roundHalfUp(values[2]!),
  p90: roundHalfUp(values[3]!),
  min: int(min),
  max: int(max),
});
const fromParams = (c: Context<AppEnv>, q: { from: string; to: string; timezone: string }) => parseRange(q, c.get("deps").config.analytics.maxSpanDays);

export const customersRoutes = new OpenAPIHono<AppEnv>()
  .openapi(metricsRoute, async (c) => {
    const q = c.req.valid("query");
    const range = fromParams(c, q);
    if (q.bucket) checkBucketCount(range, q.bucket);
    const params = normaliseParams({ from: range.from, to: range.to, timezone: q.bucket ? range.timezone : undefined, bucket: q.bucket });
    return analyticsJson(
      c,
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
  })
  .openapi(listRoute, async (c) => {
    const q = c.req.valid("query");
    const after = afterOf(q.cursor);
    const params = normaliseParams({ segment: q.segment, tier: q.tier, currency: q.currency, limit: q.limit, cursor: q.cursor });
    return analyticsDataJson(c, "listCustomers", params, async (tx) => {
      const asOf = new Date();
      const rows = await customerRows(tx, { asOf, limit: q.limit, after, segment: q.segment, tier: q.tier, currency: q.currency });
      const page = rows.slice(0, q.limit);
      const last = page.at(-1);
      const next = rows.length > q.limit && last ? encodeCursor({ c: last.customer_id, k: last.currency }) : null;
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
      return { ...snapshot(await scoresMeta(tx), asOf, items), next_cursor: next };
    });
  })
  .openapi(segmentsRoute, async (c) => {
    const q = c.req.valid("query");
    return analyticsDataJson(c, "getRfmSegments", normaliseParams({ currency: q.currency }), async (tx) => {
      const asOf = new Date();
      const rows = (await segmentRows(tx, q.currency)).map((r) => ({ segment: r.segment, currency: r.currency, customers: int(r.customers), net_minor: int(r.net) }));
      return snapshot(await scoresMeta(tx), asOf, rows);
    });
  })
  .openapi(churnRoute, async (c) => {
    return analyticsDataJson(c, "getChurnRisk", normaliseParams({}), async (tx) => {
      const asOf = new Date();
      const t = await churnCounts(tx, asOf);
      return snapshot(await scoresMeta(tx), asOf, { high: int(t.high), medium: int(t.medium), low: int(t.low) });
    });
  })
  .openapi(ltvRoute, async (c) => {
    const q = c.req.valid("query");
    return analyticsDataJson(c, "getCustomerLtv", normaliseParams({ currency: q.currency }), async (tx) => {
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
          clv_distribution: r.clv_percentiles && r.clv_min !== null && r.clv_max !== null ? pct(r.clv_percentiles, r.clv_min, r.clv_max) : null,
        };
      });
      return snapshot(await scoresMeta(tx), asOf, rows);
    });
  })
  .openapi(refreshRoute, async (c) => {
    const deps = c.get("deps");
    const principal = c.get("principal");
    const logger = c.get("logger");
    const tenantId = principal.tenantId;
    const started = performance.now();
    await refreshTenantScores(deps.sql, tenantId, Math.max(1, deps.config.storage.retentionDays - 2));
    await bumpGeneration(deps.cache, [tenantId], { logger });
    const out = await withTenant(deps.sql, tenantId, async (tx) => {
      const [row] = await tx`
        select (select scored_at from customer_scores_runs) as scored_at,
               (select count(*) from customer_scores where orders >= 1) as customers`;
      return { scored_at: (row!.scored_at as Date).toISOString(), customers: Number(row!.customers) };
    });
    logger.info({ duration_ms: Math.round(performance.now() - started), customers: out.customers }, "customer scores refreshed");
    return c.json(out, 200);
  });


