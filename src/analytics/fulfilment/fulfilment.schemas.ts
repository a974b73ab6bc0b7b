/** Query and answer schemas of getFulfillmentMetrics; the definitions are in its description (fulfilment.routes.ts). */
import { z } from "@hono/zod-openapi";
import { analyticsQuery, filterShape } from "../shared/params.ts";
import { count } from "../shared/schemas.ts";

const seconds = (description: string) => z.number().nullable().openapi({ description, example: 14400 });

export const FulfillmentData = z
  .object({
    orders: count("distinct order_id of order.completed with event time in [from, to)"),
    fulfilled: count("of those, orders with an order.fulfilled of the same order_id at or after placement (up to now)"),
    unfulfilled: count("orders − fulfilled"),
    p50_seconds: seconds("median time to fulfil (first order.fulfilled − order.completed), seconds; null without fulfilled orders"),
    p95_seconds: seconds("95th percentile of the time to fulfil, seconds; null without fulfilled orders"),
  })
  .openapi("FulfillmentMetrics");

export const FulfilmentQuery = analyticsQuery({ channel: filterShape.channel, currency: filterShape.currency });
