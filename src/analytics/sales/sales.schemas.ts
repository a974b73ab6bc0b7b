/** Query and answer schemas of getSalesMetrics; the definitions are in its description (sales.routes.ts). */
import { z } from "@hono/zod-openapi";
import { analyticsQuery, bucketShape, filterShape } from "../shared/params.ts";
import { count, currencyCode as currency, instant, money, share as rate } from "../shared/schemas.ts";

export const figures = {
  orders: count("count of order.completed"),
  units: count("Σ line quantities of those orders"),
  gross_minor: money("Σ total_minor of order.completed"),
  refunds_minor: money("Σ amount_minor of order.refunded"),
  net_minor: money("gross_minor − refunds_minor"),
};
const Figures = z.object(figures);

export const SalesBucket = z
  .object({ bucket_start: instant("local start of the bucket as an instant (ISO-8601 UTC)"), currency, ...figures })
  .openapi("SalesBucket");
export const SalesTotal = z
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

export const SalesQuery = analyticsQuery({ ...bucketShape, channel: filterShape.channel, currency: filterShape.currency });

export const SalesMetrics = z.object({
  previous_from: z.string().openapi({ description: "start of the previous equal period (ISO-8601 UTC)" }),
  previous_to: z.string().openapi({ description: "end of the previous equal period (= from)" }),
  buckets: z.array(SalesBucket),
  totals: z.array(SalesTotal),
});
