/**
 * GET /v1/revenue/summary (getRevenueSummary), /v1/revenue/timeseries (getRevenueTimeseries),
 * /v1/revenue/by-channel (getRevenueByChannel), /v1/revenue/by-category (getRevenueByCategory).
 * Roles: viewer and above, enforced for every operation by the role matrix (src/http/roles.ts,
 * `authorize`). The definitions are in revenue.queries.ts and in each description.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../http/env.ts";
import { chooseSource } from "./buckets.ts";
import {
  analyticsEnvelope,
  analyticsProblemResponses,
  analyticsQuery,
  bucketShape,
  checkBucketCount,
  filterShape,
  normaliseParams,
  parseRange,
} from "./params.ts";
import { analyticsJson } from "./read.ts";
import { categoryRows, revenueRows, type RevenueFigures } from "./revenue.queries.ts";

const REVENUE_TYPES = ["order.completed", "order.refunded"] as const;

const DEFINITIONS = [
  "Definitions: gross = Σ total_minor of `order.completed` with event time in [from, to); refunds = Σ amount_minor of `order.refunded` in [from, to);",
  "net = gross − refunds; orders = count of `order.completed`; units = Σ line quantities of those orders;",
  "average order = gross / orders rounded half-up to an integer (null when there are no orders).",
  "Money is integer minor units; one row per currency, never a mixed sum. Roles: viewer, analyst, pricing_manager, admin, ops.",
  "Answers are cached (ANALYTICS_CACHE_TTL_SECONDS) and invalidated when your data changes; `as_of` says when it was computed and `watermark` the newest event time included.",
].join(" ");
const REFUND_CHANNEL =
  "Refund events carry no channel: a refund counts for the channel of its order (the `order.completed` with the same order_id), else 'unknown'.";

const money = (description: string) => z.number().int().openapi({ description, example: 125000 });
const figures = {
  gross_minor: money("Σ total_minor of order.completed in range"),
  refunds_minor: money("Σ amount_minor of order.refunded in range"),
  net_minor: money("gross_minor − refunds_minor"),
  orders: z.number().int().openapi({ description: "count of order.completed", example: 42 }),
  units: z.number().int().openapi({ description: "Σ line quantities of those orders", example: 97 }),
};
const currency = z.string().openapi({ description: "ISO-4217", example: "EUR" });

const SummaryRow = z
  .object({ currency, ...figures, average_order_minor: z.number().int().nullable().openapi({ description: "gross / orders, rounded half-up; null without orders", example: 2976 }) })
  .openapi("RevenueSummaryRow");
const TimeseriesRow = z
  .object({ bucket_start: z.string().openapi({ description: "local start of the bucket as an instant (ISO-8601 UTC)", example: "2026-10-24T22:00:00.000Z" }), currency, ...figures })
  .openapi("RevenueTimeseriesRow");
const ChannelRow = z
  .object({ channel: z.string().openapi({ example: "web" }), currency, ...figures, average_order_minor: SummaryRow.shape.average_order_minor })
  .openapi("RevenueByChannelRow");
const CategoryRow = z
  .object({
    category: z.string().openapi({ description: "catalog category; 'uncategorised' for items not in the catalog", example: "concert" }),
    currency,
    ...figures,
    gross_minor: money("Σ net_line_minor of the category's lines (line totals less their share of the order discount)"),
    refunds_minor: money("order refunds split over the order's categories in proportion to net_line_minor (largest remainder)"),
    orders: z.number().int().openapi({ description: "orders with at least one line in the category", example: 12 }),
    lines: z.number().int().openapi({ description: "order lines", example: 15 }),
  })
  .openapi("RevenueByCategoryRow");

const { channel, currency: currencyFilter, category } = filterShape;
const SummaryQuery = analyticsQuery({ channel, currency: currencyFilter });
const TimeseriesQuery = analyticsQuery({ ...bucketShape, channel, currency: currencyFilter });
const CategoryQuery = analyticsQuery({ channel, currency: currencyFilter, category });

const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { "application/json": { schema: analyticsEnvelope(schema) } } });

const summaryRoute = createRoute({
  method: "get",
  path: "/v1/revenue/summary",
  operationId: "getRevenueSummary",
  tags: ["analytics"],
  summary: "Gross, refunds, net, orders, units and average order in [from, to), one row per currency",
  description: `${DEFINITIONS} Filters: channel (${REFUND_CHANNEL}), currency. timezone does not change a total.`,
  request: { query: SummaryQuery },
  responses: { 200: json(z.array(SummaryRow), "one row per currency with sales or refunds in range (none: an empty list)"), ...analyticsProblemResponses },
});

const timeseriesRoute = createRoute({
  method: "get",
  path: "/v1/revenue/timeseries",
  operationId: "getRevenueTimeseries",
  tags: ["analytics"],
  summary: "Revenue per local bucket and currency",
  description: `${DEFINITIONS} Buckets are local to \`timezone\` and DST-correct (a day on a DST change has 23 or 25 hours; weeks start Monday; months are calendar months); buckets without sales or refunds are left out; the first/last bucket covers only its part inside [from, to). Filters: channel (${REFUND_CHANNEL}), currency.`,
  request: { query: TimeseriesQuery },
  responses: { 200: json(z.array(TimeseriesRow), "rows ordered by bucket_start, then currency"), ...analyticsProblemResponses },
});

const byChannelRoute = createRoute({
  method: "get",
  path: "/v1/revenue/by-channel",
  operationId: "getRevenueByChannel",
  tags: ["analytics"],
  summary: "Revenue per channel and currency in [from, to)",
  description: `${DEFINITIONS} ${REFUND_CHANNEL} Filters: channel, currency.`,
  request: { query: SummaryQuery },
  responses: { 200: json(z.array(ChannelRow), "rows ordered by channel, then currency"), ...analyticsProblemResponses },
});

const byCategoryRoute = createRoute({
  method: "get",
  path: "/v1/revenue/by-category",
  operationId: "getRevenueByCategory",
  tags: ["analytics"],
  summary: "Revenue per catalog category and currency in [from, to), from the order lines",
  description: `${DEFINITIONS} Per category: gross = Σ net_line_minor of its lines (line totals less their share of the order discount, so an order's categories add up to its total_minor); units = Σ line quantities; orders = orders with at least one line in the category; a refund (order-level) is split over its order's categories in proportion to their net_line_minor, largest remainder first, so the shares add up exactly. Items not in the catalog count as 'uncategorised'. Filters: channel, currency, category.`,
  request: { query: CategoryQuery },
  responses: { 200: json(z.array(CategoryRow), "rows ordered by category, then currency"), ...analyticsProblemResponses },
});

/** bigint minor units → JSON number (exact up to 2^53 − 1 minor units) */
export function int(v: bigint): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new RangeError(`value ${v} is beyond exact JSON numbers`);
  return n;
}

/** gross / orders rounded half-up; null without orders */
export function averageOrder(gross: bigint, orders: bigint): number | null {
  if (orders === 0n) return null;
  const sign = gross < 0n ? -1n : 1n;
  const abs = gross * sign;
  return int(sign * ((2n * abs + orders) / (2n * orders)));
}

function figuresOut(f: RevenueFigures) {
  return { gross_minor: int(f.gross), refunds_minor: int(f.refunds), net_minor: int(f.gross - f.refunds), orders: int(f.orders), units: int(f.units) };
}

function rangeOf(c: Context<AppEnv>, q: { from: string; to: string; timezone: string }) {
  return parseRange(q, c.get("deps").config.analytics.maxSpanDays);
}

export const revenueRoutes = new OpenAPIHono<AppEnv>()
  .openapi(summaryRoute, async (c) => {
    const q = c.req.valid("query");
    const range = rangeOf(c, q);
    const source = chooseSource(range);
    // timezone does not change an unbucketed total: left out of the cache key
    const params = normaliseParams({ from: range.from, to: range.to, channel: q.channel, currency: q.currency });
    return analyticsJson(
      c,
      "getRevenueSummary",
      params,
      async (tx) =>
        (await revenueRows(tx, { range, source, channel: q.channel, currency: q.currency })).map((r) => ({
          currency: r.currency,
          ...figuresOut(r),
          average_order_minor: averageOrder(r.gross, r.orders),
        })),
      { watermarkTypes: REVENUE_TYPES },
    );
  })
  .openapi(timeseriesRoute, async (c) => {
    const q = c.req.valid("query");
    const range = rangeOf(c, q);
    checkBucketCount(range, q.bucket);
    const source = chooseSource(range, q.bucket);
    const params = normaliseParams({ from: range.from, to: range.to, timezone: range.timezone, bucket: q.bucket, channel: q.channel, currency: q.currency });
    return analyticsJson(
      c,
      "getRevenueTimeseries",
      params,
      async (tx) =>
        (await revenueRows(tx, { range, source, bucket: q.bucket, channel: q.channel, currency: q.currency })).map((r) => ({
          bucket_start: r.bucket_start!.toISOString(),
          currency: r.currency,
          ...figuresOut(r),
        })),
      { watermarkTypes: REVENUE_TYPES },
    );
  })
  .openapi(byChannelRoute, async (c) => {
    const q = c.req.valid("query");
    const range = rangeOf(c, q);
    const source = chooseSource(range);
    const params = normaliseParams({ from: range.from, to: range.to, channel: q.channel, currency: q.currency });
    return analyticsJson(
      c,
      "getRevenueByChannel",
      params,
      async (tx) =>
        (await revenueRows(tx, { range, source, byChannel: true, channel: q.channel, currency: q.currency })).map((r) => ({
          channel: r.channel ?? "unknown",
          currency: r.currency,
          ...figuresOut(r),
          average_order_minor: averageOrder(r.gross, r.orders),
        })),
      { watermarkTypes: REVENUE_TYPES },
    );
  })
  .openapi(byCategoryRoute, async (c) => {
    const q = c.req.valid("query");
    const range = rangeOf(c, q);
    const source = chooseSource(range);
    const params = normaliseParams({ from: range.from, to: range.to, channel: q.channel, currency: q.currency, category: q.category });
    return analyticsJson(
      c,
      "getRevenueByCategory",
      params,
      async (tx) =>
        (await categoryRows(tx, { range, source, channel: q.channel, currency: q.currency, category: q.category })).map((r) => ({
          category: r.category,
          currency: r.currency,
          ...figuresOut(r),
          lines: int(r.lines),
        })),
      { watermarkTypes: REVENUE_TYPES },
    );
  });
