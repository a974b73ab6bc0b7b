/**
 * GET /v1/revenue/summary (getRevenueSummary), /v1/revenue/timeseries (getRevenueTimeseries),
 * /v1/revenue/by-channel (getRevenueByChannel), /v1/revenue/by-category (getRevenueByCategory) and
 * /v1/revenue/projection (getRevenueProjection). Roles: viewer and above, enforced for every operation
 * by the role matrix (src/http/roles.ts, `authorize`). The definitions are in each description.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/env.ts";
import { divHalfUp, int } from "../../lib/numbers.ts";
import { chooseSource } from "../shared/buckets.ts";
import { analyticsOperation } from "../shared/operation.ts";
import { bucketedRange, normaliseParams, rangeOf } from "../shared/params.ts";
import { envelopeAnswer, type ReadContext, readContext, sendAnswer } from "../shared/read.ts";
import { analyticsProblemResponses, envelopeJson } from "../shared/schemas.ts";
import { addDays } from "../shared/days.ts";
import { BACKTEST_DAYS, HISTORY_DAYS, PROJECTION_METHOD, project, projectionWindow, roundMinor, Z_95 } from "./projection.ts";
import { categoryRows, dailyNet, revenueRows, type RevenueFigures } from "./revenue.queries.ts";
import {
  CategoryQuery,
  CategoryRow,
  ChannelRow,
  Projection,
  ProjectionQuery,
  SummaryQuery,
  SummaryRow,
  TimeseriesQuery,
  TimeseriesRow,
} from "./revenue.schemas.ts";

export const REVENUE_TYPES = ["order.completed", "order.refunded"] as const;

const DEFINITIONS = [
  "Definitions: gross = Σ total_minor of `order.completed` with event time in [from, to); refunds = Σ amount_minor " +
    "of `order.refunded` in [from, to);",
  "net = gross − refunds; orders = count of `order.completed`; units = Σ line quantities of those orders;",
  "average order = gross / orders rounded half-up to an integer (null when there are no orders).",
  "Money is integer minor units; one row per currency, never a mixed sum. Roles: viewer, analyst, pricing_manager, admin, ops.",
  "Answers are cached (ANALYTICS_CACHE_TTL_SECONDS) and invalidated when your data changes; `as_of` says " +
    "when it was computed and `watermark` the newest event time included.",
].join(" ");
const REFUND_CHANNEL =
  "Refund events carry no channel: a refund counts for the channel of its order (the `order.completed` " +
  "with the same order_id), else 'unknown'.";

const ROLES = "Roles: viewer, analyst, pricing_manager, admin, ops.";
const CACHED_SHORT =
  "Cached (ANALYTICS_CACHE_TTL_SECONDS) and invalidated when your data changes; `as_of` says when it was " +
  "computed and `watermark` the newest order/refund time included.";

const summaryRoute = createRoute({
  method: "get",
  path: "/v1/revenue/summary",
  operationId: "getRevenueSummary",
  tags: ["analytics"],
  summary: "Gross, refunds, net, orders, units and average order in [from, to), one row per currency",
  description: `${DEFINITIONS} Filters: channel (${REFUND_CHANNEL}), currency. timezone does not change a total.`,
  request: { query: SummaryQuery },
  responses: {
    200: envelopeJson(z.array(SummaryRow), "one row per currency with sales or refunds in range (none: an empty list)"),
    ...analyticsProblemResponses,
  },
});

const timeseriesRoute = createRoute({
  method: "get",
  path: "/v1/revenue/timeseries",
  operationId: "getRevenueTimeseries",
  tags: ["analytics"],
  summary: "Revenue per local bucket and currency",
  description:
    `${DEFINITIONS} Buckets are local to \`timezone\` and DST-correct (a day on a DST change has 23 or 25 ` +
    `hours; weeks start Monday; months are calendar months); buckets without sales or refunds are left out; ` +
    `the first/last bucket covers only its part inside [from, to). Filters: channel (${REFUND_CHANNEL}), ` +
    `currency.`,
  request: { query: TimeseriesQuery },
  responses: { 200: envelopeJson(z.array(TimeseriesRow), "rows ordered by bucket_start, then currency"), ...analyticsProblemResponses },
});

const byChannelRoute = createRoute({
  method: "get",
  path: "/v1/revenue/by-channel",
  operationId: "getRevenueByChannel",
  tags: ["analytics"],
  summary: "Revenue per channel and currency in [from, to)",
  description: `${DEFINITIONS} ${REFUND_CHANNEL} Filters: channel, currency.`,
  request: { query: SummaryQuery },
  responses: { 200: envelopeJson(z.array(ChannelRow), "rows ordered by channel, then currency"), ...analyticsProblemResponses },
});

const byCategoryRoute = createRoute({
  method: "get",
  path: "/v1/revenue/by-category",
  operationId: "getRevenueByCategory",
  tags: ["analytics"],
  summary: "Revenue per catalog category and currency in [from, to), from the order lines",
  description:
    `${DEFINITIONS} Per category: gross = Σ net_line_minor of its lines (line totals less their share of ` +
    `the order discount, so an order's categories add up to its total_minor); units = Σ line quantities; ` +
    `orders = orders with at least one line in the category; a refund (order-level) is split over its order's ` +
    `categories in proportion to their net_line_minor, largest remainder first, so the shares add up exactly. ` +
    `Items not in the catalog count as 'uncategorised'. Filters: channel, currency, category.`,
  request: { query: CategoryQuery },
  responses: { 200: envelopeJson(z.array(CategoryRow), "rows ordered by category, then currency"), ...analyticsProblemResponses },
});

const projectionRoute = createRoute({
  method: "get",
  path: "/v1/revenue/projection",
  operationId: "getRevenueProjection",
  tags: ["analytics"],
  summary: "Daily net revenue for the next 30 or 90 days, per currency, with lower/upper bounds and a backtest",
  description:
    `Method \`${PROJECTION_METHOD}\`: an ordinary least-squares linear trend y = a + b·x fitted on the daily ` +
    `net revenue (gross − refunds, the revenue API's definitions) of the last ${HISTORY_DAYS} complete local ` +
    `days before today in \`timezone\` (x = 0 … ${HISTORY_DAYS - 1}; a day without sales or refunds counts ` +
    `as 0), per currency. The projection covers today and the following days (horizon 30 or 90): ŷ = a + ` +
    `b·x, lower/upper = ŷ ∓ ${Z_95}·σ with σ = √(Σ residual² / (n − 2)), the residual standard deviation ` +
    `(a constant-width ≈95 % band that ignores the uncertainty of a and b); values rounded to integer minor ` +
    `units (halves up). The bounds may be negative (refunds can exceed sales). Backtest: the same method ` +
    `fitted on the first ${HISTORY_DAYS - BACKTEST_DAYS} history days forecasts the last ${BACKTEST_DAYS}; ` +
    `MAPE = mean(|actual − forecast| / |actual|) × 100 over those days, days whose actual is 0 are skipped ` +
    `(counted in zero_actual_days_skipped), null when all are 0. A currency without any sale or refund in ` +
    `the history gets no projection; no history at all ⇒ an empty list and a note. Filter: currency. ${ROLES} ` +
    `${CACHED_SHORT}`,
  request: { query: ProjectionQuery },
  responses: {
    200: envelopeJson(Projection, "the projection per currency"),
    ...analyticsProblemResponses,
  },
});

/** gross / orders rounded half-up; null without orders */
export function averageOrder(gross: bigint, orders: bigint): number | null {
  return orders === 0n ? null : int(divHalfUp(gross, orders));
}

function figuresOut(f: RevenueFigures) {
  return {
    gross_minor: int(f.gross),
    refunds_minor: int(f.refunds),
    net_minor: int(f.gross - f.refunds),
    orders: int(f.orders),
    units: int(f.units),
  };
}

async function summary(ctx: ReadContext, q: z.output<typeof SummaryQuery>) {
  const range = rangeOf(ctx, q);
  const source = chooseSource(range);
  // timezone does not change an unbucketed total: left out of the cache key
  const params = normaliseParams({ from: range.from, to: range.to, channel: q.channel, currency: q.currency });
  return envelopeAnswer(
    ctx,
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
}

async function timeseries(ctx: ReadContext, q: z.output<typeof TimeseriesQuery>) {
  const { range, params } = bucketedRange(ctx, q);
  const source = chooseSource(range, q.bucket);
  return envelopeAnswer(
    ctx,
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
}

async function byChannel(ctx: ReadContext, q: z.output<typeof SummaryQuery>) {
  const range = rangeOf(ctx, q);
  const source = chooseSource(range);
  const params = normaliseParams({ from: range.from, to: range.to, channel: q.channel, currency: q.currency });
  return envelopeAnswer(
    ctx,
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
}

async function byCategory(ctx: ReadContext, q: z.output<typeof CategoryQuery>) {
  const range = rangeOf(ctx, q);
  const source = chooseSource(range);
  const params = normaliseParams({ from: range.from, to: range.to, channel: q.channel, currency: q.currency, category: q.category });
  return envelopeAnswer(
    ctx,
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
}

async function projection(ctx: ReadContext, q: z.output<typeof ProjectionQuery>) {
  const horizon = Number(q.horizon);
  const w = projectionWindow(q.timezone, new Date());
  // from/to (the history window) make the key change every local day and give the watermark
  const params = normaliseParams({ from: w.historyFrom, to: w.historyTo, timezone: q.timezone, horizon, currency: q.currency });
  return envelopeAnswer(
    ctx,
    "getRevenueProjection",
    params,
    async (tx) => {
      const series = await dailyNet(tx, w, q.timezone, q.currency);
      const currencies = [...series.entries()].map(([cur, history]) => {
        const p = project(history, horizon, BACKTEST_DAYS);
        return {
          currency: cur,
          intercept_minor: p.fit.intercept,
          slope_minor_per_day: p.fit.slope,
          sigma_minor: p.fit.sigma,
          history: history.map((v, i) => ({ date: w.historyDates[i]!, net_minor: v })),
          backtest: p.backtest,
          points: p.points.map((pt, i) => ({
            date: addDays(w.today, i),
            net_minor: roundMinor(pt.value),
            lower_minor: roundMinor(pt.lower),
            upper_minor: roundMinor(pt.upper),
          })),
        };
      });
      return {
        method: PROJECTION_METHOD,
        horizon_days: horizon,
        history: { from: w.historyFrom.toISOString(), to: w.historyTo.toISOString(), days: HISTORY_DAYS },
        parameters: { z: Z_95, backtest_days: BACKTEST_DAYS },
        note: currencies.length === 0 ? `no sales or refunds in the ${HISTORY_DAYS} days before today: nothing to project` : null,
        currencies,
      };
    },
    { watermarkTypes: REVENUE_TYPES },
  );
}

export const revenueOperations = [
  analyticsOperation(summaryRoute, summary),
  analyticsOperation(timeseriesRoute, timeseries),
  analyticsOperation(byChannelRoute, byChannel),
  analyticsOperation(byCategoryRoute, byCategory),
  analyticsOperation(projectionRoute, projection),
];

export const revenueRoutes = new OpenAPIHono<AppEnv>()
  .openapi(summaryRoute, async (c) => sendAnswer(c, await summary(readContext(c), c.req.valid("query"))))
  .openapi(timeseriesRoute, async (c) => sendAnswer(c, await timeseries(readContext(c), c.req.valid("query"))))
  .openapi(byChannelRoute, async (c) => sendAnswer(c, await byChannel(readContext(c), c.req.valid("query"))))
  .openapi(byCategoryRoute, async (c) => sendAnswer(c, await byCategory(readContext(c), c.req.valid("query"))))
  .openapi(projectionRoute, async (c) => sendAnswer(c, await projection(readContext(c), c.req.valid("query"))));
