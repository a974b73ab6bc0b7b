/**
 * Query and answer schemas of the revenue operations (getRevenueSummary, getRevenueTimeseries,
 * getRevenueByChannel, getRevenueByCategory, getRevenueProjection). The definitions are in each
 * operation's description (revenue.routes.ts).
 */
import { z } from "@hono/zod-openapi";
import { analyticsQuery, bucketShape, filterShape, timezoneParam } from "../shared/params.ts";
import { count, currencyCode as currency, instant, money } from "../shared/schemas.ts";
import { PROJECTION_METHOD, Z_95 } from "./projection.ts";

const figures = {
  gross_minor: money("Σ total_minor of order.completed in range"),
  refunds_minor: money("Σ amount_minor of order.refunded in range"),
  net_minor: money("gross_minor − refunds_minor"),
  orders: z.number().int().openapi({ description: "count of order.completed", example: 42 }),
  units: z.number().int().openapi({ description: "Σ line quantities of those orders", example: 97 }),
};
const averageOrder = z
  .number()
  .int()
  .nullable()
  .openapi({ description: "gross / orders, rounded half-up; null without orders", example: 2976 });

export const SummaryRow = z.object({ currency, ...figures, average_order_minor: averageOrder }).openapi("RevenueSummaryRow");
export const TimeseriesRow = z
  .object({ bucket_start: instant("local start of the bucket as an instant (ISO-8601 UTC)"), currency, ...figures })
  .openapi("RevenueTimeseriesRow");
export const ChannelRow = z
  .object({ channel: z.string().openapi({ example: "web" }), currency, ...figures, average_order_minor: averageOrder })
  .openapi("RevenueByChannelRow");
export const CategoryRow = z
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
export const SummaryQuery = analyticsQuery({ channel, currency: currencyFilter });
export const TimeseriesQuery = analyticsQuery({ ...bucketShape, channel, currency: currencyFilter });
export const CategoryQuery = analyticsQuery({ channel, currency: currencyFilter, category });

export const ProjectionQuery = z.object({
  horizon: z.enum(["30", "90"]).default("30").openapi({ description: "days to project: 30 or 90", example: "30" }),
  timezone: timezoneParam,
  currency: filterShape.currency,
});

export const Projection = z.object({
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
});
