/**
 * GET /v1/sales/metrics (getSalesMetrics) and /v1/revenue/projection (getRevenueProjection).
 * Roles: viewer and above, by the role matrix (src/http/roles.ts). Definitions in sales.queries.ts
 * and in each description; both read the revenue aggregates through revenue.queries.ts.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../http/env.ts";
import { analyticsEnvelope, analyticsProblemResponses, analyticsQuery, bucketShape, checkBucketCount, filterShape, normaliseParams, parseRange, timezoneParam } from "./params.ts";
import { analyticsJson } from "./read.ts";
import type { RevenueRow } from "./revenue.queries.ts";
import {
  addDays,
  BACKTEST_DAYS,
  dailyNet,
  growth,
  HISTORY_DAYS,
  previousRange,
  project,
  projectionWindow,
  roundMinor,
  salesData,
  Z_95,
} from "./sales.queries.ts";

const REVENUE_TYPES = ["order.completed", "order.refunded"] as const;
const ROLES = "Roles: viewer, analyst, pricing_manager, admin, ops.";
const CACHED =
  "Cached (ANALYTICS_CACHE_TTL_SECONDS) and invalidated when your data changes; `as_of` says when it was computed and `watermark` the newest order/refund time included.";
const FIGURES =
  "orders = count of `order.completed`; units = Σ their line quantities; gross = Σ total_minor; refunds = Σ amount_minor of `order.refunded`; net = gross − refunds (the revenue API's definitions); money in integer minor units, one row per currency.";

function int(v: bigint): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new RangeError(`value ${v} is beyond exact JSON numbers`);
  return n;
}

const count = (description: string) => z.number().int().openapi({ description, example: 42 });
const money = (description: string) => z.number().int().openapi({ description, example: 125000 });
const rate = (description: string) => z.number().nullable().openapi({ description, example: 0.25 });
const currency = z.string().openapi({ description: "ISO-4217", example: "EUR" });
const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { "application/json": { schema: analyticsEnvelope(schema) } } });

const figures = {
  orders: count("count of order.completed"),
  units: count("Σ line quantities of those orders"),
  gross_minor: money("Σ total_minor of order.completed"),
  refunds_minor: money("Σ amount_minor of order.refunded"),
  net_minor: money("gross_minor − refunds_minor"),
};
const Figures = z.object(figures);
const figuresOut = (r: RevenueRow | undefined) => ({
  orders: r ? int(r.orders) : 0,
  units: r ? int(r.units) : 0,
  gross_minor: r ? int(r.gross) : 0,
  refunds_minor: r ? int(r.refunds) : 0,
  net_minor: r ? int(r.gross - r.refunds) : 0,
});

// ─── sales metrics ──────────────────────────────────────────────────────────────────────────────────

const SalesBucket = z
  .object({ bucket_start: z.string().openapi({ description: "local start of the bucket as an instant (ISO-8601 UTC)", example: "2026-10-24T22:00:00.000Z" }), currency, ...figures })
  .openapi("SalesBucket");
const SalesTotal = z
  .object({
    currency,
    current: Figures,
    previous: Figures,
    growth: z.object({
      orders: rate("(current − previous) / |previous| of orders; null when previous is 0"),
      units: rate("the same for units"),
      gross: rate("the same for gross_minor"),
      net: rate("the same for net_minor"),
    }),
  })
  .openapi("SalesTotal");

const salesRoute = createRoute({
  method: "get",
  path: "/v1/sales/metrics",
  operationId: "getSalesMetrics",
  tags: ["analytics"],
  summary: "Orders, units and revenue per local bucket and currency, with growth vs the previous equal period",
  description: `Per bucket and currency: ${FIGURES} Buckets are local to \`timezone\` and DST-correct (weeks start Monday, months are calendar months); buckets without sales or refunds are left out. totals: per currency, the figures of [from, to) (\`current\`), of the previous equal period [from − (to − from), from) (\`previous\`), and growth = (current − previous) / |previous| for orders, units, gross and net (= (current − previous) / previous whenever previous > 0; null when previous is 0). A currency appears in totals when it has sales or refunds in either period. Filters: channel, currency. ${ROLES} ${CACHED}`,
  request: { query: analyticsQuery({ ...bucketShape, channel: filterShape.channel, currency: filterShape.currency }) },
  responses: {
    200: json(
      z.object({
        previous_from: z.string().openapi({ description: "start of the previous equal period (ISO-8601 UTC)" }),
        previous_to: z.string().openapi({ description: "end of the previous equal period (= from)" }),
        buckets: z.array(SalesBucket),
        totals: z.array(SalesTotal),
      }),
      "buckets ordered by bucket_start then currency; totals by currency",
    ),
    ...analyticsProblemResponses,
  },
});

// ─── projection ─────────────────────────────────────────────────────────────────────────────────────

const PROJECTION_METHOD = "ols_linear_trend" as const;
const projectionRoute = createRoute({
  method: "get",
  path: "/v1/revenue/projection",
  operationId: "getRevenueProjection",
  tags: ["analytics"],
  summary: "Daily net revenue for the next 30 or 90 days, per currency, with lower/upper bounds and a backtest",
  description: `Method \`${PROJECTION_METHOD}\`: an ordinary least-squares linear trend y = a + b·x fitted on the daily net revenue (gross − refunds, the revenue API's definitions) of the last ${HISTORY_DAYS} complete local days before today in \`timezone\` (x = 0 … ${HISTORY_DAYS - 1}; a day without sales or refunds counts as 0), per currency. The projection covers today and the following days (horizon 30 or 90): ŷ = a + b·x, lower/upper = ŷ ∓ ${Z_95}·σ with σ = √(Σ residual² / (n − 2)), the residual standard deviation (a constant-width ≈95 % band that ignores the uncertainty of a and b); values rounded to integer minor units (halves up). The bounds may be negative (refunds can exceed sales). Backtest: the same method fitted on the first ${HISTORY_DAYS - BACKTEST_DAYS} history days forecasts the last ${BACKTEST_DAYS}; MAPE = mean(|actual − forecast| / |actual|) × 100 over those days, days whose actual is 0 are skipped (counted in zero_actual_days_skipped), null when all are 0. A currency without any sale or refund in the history gets no projection; no history at all ⇒ an empty list and a note. Filter: currency. ${ROLES} ${CACHED}`,
  request: {
    query: z.object({
      horizon: z.enum(["30", "90"]).default("30").openapi({ description: "days to project: 30 or 90", example: "30" }),
      timezone: timezoneParam,
      currency: filterShape.currency,
    }),
  },
  responses: {
    200: json(
      z.object({
        method: z.literal(PROJECTION_METHOD),
        horizon_days: count("days projected"),
        history: z.object({
          from: z.string().openapi({ description: "start of the history window (local midnight, ISO-8601 UTC)" }),
          to: z.string().openapi({ description: "end of the history window: today's local midnight (exclusive)" }),
          days: count("days in the history window"),
        }),
        parameters: z.object({
          z: z.number().openapi({ description: "the multiple of σ in the bounds", example: Z_95 }),
          backtest_days: count("days held out by the backtest"),
        }),
        note: z.string().nullable().openapi({ description: "why the projection is empty, else null" }),
        currencies: z.array(
          z
            .object({
              currency,
              intercept_minor: z.number().openapi({ description: "a: fitted daily net at the first history day" }),
              slope_minor_per_day: z.number().openapi({ description: "b: change of daily net per day" }),
              sigma_minor: z.number().openapi({ description: "σ: residual standard deviation" }),
              history: z.array(z.object({ date: z.string().openapi({ example: "2026-11-20" }), net_minor: money("daily net revenue") })),
              backtest: z.object({
                mape_percent: z.number().nullable().openapi({ description: "MAPE in percent, null when every actual is 0" }),
                days_compared: count("days with a non-zero actual"),
                zero_actual_days_skipped: count("days skipped because their actual is 0"),
                fit_days: count("days the backtest fit used"),
                test_days: count("days forecast by the backtest"),
              }),
              points: z.array(
                z.object({
                  date: z.string().openapi({ description: "local date", example: "2026-11-21" }),
                  net_minor: money("projected net revenue"),
                  lower_minor: money("ŷ − 1.96·σ"),
                  upper_minor: money("ŷ + 1.96·σ"),
                }),
              ),
            })
            .openapi("RevenueProjection"),
        ),
      }),
      "the projection per currency",
    ),
    ...analyticsProblemResponses,
  },
});

export const salesRoutes = new OpenAPIHono<AppEnv>()
  .openapi(salesRoute, async (c) => {
    const q = c.req.valid("query");
    const range = parseRange(q, c.get("deps").config.analytics.maxSpanDays);
    checkBucketCount(range, q.bucket);
    const prev = previousRange(range);
    const params = normaliseParams({ from: range.from, to: range.to, timezone: range.timezone, bucket: q.bucket, channel: q.channel, currency: q.currency });
    return analyticsJson(
      c,
      "getSalesMetrics",
      params,
      async (tx) => {
        const d = await salesData(tx, range, q.bucket, { channel: q.channel, currency: q.currency });
        const currencies = [...new Set([...d.current, ...d.previous].map((r) => r.currency))].sort();
        return {
          previous_from: prev.from.toISOString(),
          previous_to: prev.to.toISOString(),
          buckets: d.buckets.map((r) => ({ bucket_start: r.bucket_start!.toISOString(), currency: r.currency, ...figuresOut(r) })),
          totals: currencies.map((cur) => {
            const now = d.current.find((r) => r.currency === cur);
            const before = d.previous.find((r) => r.currency === cur);
            const z0 = 0n;
            return {
              currency: cur,
              current: figuresOut(now),
              previous: figuresOut(before),
              growth: {
                orders: growth(now?.orders ?? z0, before?.orders ?? z0),
                units: growth(now?.units ?? z0, before?.units ?? z0),
                gross: growth(now?.gross ?? z0, before?.gross ?? z0),
                net: growth(now ? now.gross - now.refunds : z0, before ? before.gross - before.refunds : z0),
              },
            };
          }),
        };
      },
      { watermarkTypes: REVENUE_TYPES },
    );
  })
  .openapi(projectionRoute, async (c) => {
    const q = c.req.valid("query");
    const horizon = Number(q.horizon);
    const w = projectionWindow(q.timezone, new Date());
    // from/to (the history window) make the key change every local day and give the watermark
    const params = normaliseParams({ from: w.historyFrom, to: w.historyTo, timezone: q.timezone, horizon, currency: q.currency });
    return analyticsJson(
      c,
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
            points: p.points.map((pt, i) => ({ date: addDays(w.today, i), net_minor: roundMinor(pt.value), lower_minor: roundMinor(pt.lower), upper_minor: roundMinor(pt.upper) })),
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
  });
