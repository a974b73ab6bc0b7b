/** Query and answer schemas of the customer operations; the definitions are in each description (customers.routes.ts). */
import { z } from "@hono/zod-openapi";
import { analyticsQuery, BUCKETS, filterShape, listShape } from "../shared/params.ts";
import { count, currencyCode as currency, instant as ts, money } from "../shared/schemas.ts";
import { SEGMENTS, TIERS } from "./customers.queries.ts";

export const segmentEnum = z.enum(SEGMENTS).openapi({ description: "RFM segment", example: "champions" });
export const tierEnum = z.enum(TIERS).openapi({ description: "churn tier", example: "medium" });

export function snapshotEnvelope<T extends z.ZodType>(data: T, extra: z.ZodRawShape = {}) {
  return z.object({
    as_of: ts("when this answer was computed; tiers and days are as of this instant"),
    watermark: ts("the newest order included in the scores (ISO-8601), null when none").nullable(),
    scored_at: ts("when the scores were last refreshed (ISO-8601), null when never").nullable(),
    data,
    ...extra,
  });
}

export const MetricsFigures = {
  customers: count("customers with an order.completed in it"),
  new_customers: count("of those, customers whose first order ever is in it"),
  returning_customers: count("of those, customers who had ordered before it"),
  orders: count("their order.completed in it"),
};
export const MetricsData = z
  .object({
    ...MetricsFigures,
    customers_with_orders: count("customers with ≥ 1 order before `to`"),
    repeat_customers: count("customers with ≥ 2 orders before `to`"),
    repeat_rate: z
      .number()
      .nullable()
      .openapi({ description: "repeat_customers / customers_with_orders (0–1), null when no customer", example: 0.5 }),
    buckets: z
      .array(z.object({ bucket_start: ts("local start of the bucket as an instant"), ...MetricsFigures }).openapi("CustomerMetricsBucket"))
      .openapi({
        description: "per local bucket when `bucket` is given (buckets without orders left out), else empty",
      }),
  })
  .openapi("CustomerMetrics");
export const MetricsQuery = analyticsQuery({
  bucket: z
    .enum(BUCKETS)
    .optional()
    .openapi({ description: "per-bucket figures in `timezone` (5m, hour, day, week, month); omit for the range only", example: "week" }),
});
export const CustomerItem = z
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
export const ListQuery = z.object({
  segment: segmentEnum.optional(),
  tier: tierEnum.optional(),
  currency: filterShape.currency,
  ...listShape,
});
export const SegmentItem = z
  .object({ segment: segmentEnum, currency, customers: count("scored rows in the segment"), net_minor: money("Σ their net") })
  .openapi("RfmSegment");
export const CurrencyQuery = z.object({ currency: filterShape.currency });
export const ChurnData = z
  .object({ high: count("last order > 90 days ago"), medium: count("30–90 days"), low: count("< 30 days") })
  .openapi("ChurnRisk");
const percentiles = (description: string) =>
  z
    .object({
      p25: z.number().int(),
      p50: z.number().int(),
      p75: z.number().int(),
      p90: z.number().int(),
      min: z.number().int(),
      max: z.number().int(),
    })
    .openapi({ description });
export const LtvItem = z
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
    net_distribution: percentiles(
      "the customers' net_minor: percentile_cont (continuous, linear interpolation) p25/p50/p75/p90, half-up, and min/max",
    ),
    clv_distribution: percentiles("the customers' CLV, same percentiles; null without churn").nullable(),
  })
  .openapi("CustomerLtv");
