/** Query and answer schemas of getRefundMetrics; the definitions are in its description (refunds.routes.ts). */
import { z } from "@hono/zod-openapi";
import { analyticsQuery, filterShape } from "../shared/params.ts";
import { count, share, currencyCode as currency } from "../shared/schemas.ts";

export const RefundData = z
  .object({
    orders: count("distinct order_id of order.completed in [from, to)"),
    refunded_orders: count("of those, orders with an order.refunded of the same order_id (at or after from, up to now)"),
    refund_rate: share("refunded_orders / orders; null without orders"),
    amounts: z.array(
      z.object({
        currency,
        refunds: count("order.refunded events in [from, to)"),
        amount_minor: z.number().int().openapi({ description: "Σ amount_minor", example: 3500 }),
      }),
    ),
    by_reason: z.array(
      z.object({
        reason: z.string().openapi({ description: "the refund's reason; 'unspecified' when missing or empty", example: "damaged" }),
        currency,
        refunds: count("order.refunded events in [from, to) with this reason"),
        amount_minor: z.number().int().openapi({ description: "Σ amount_minor", example: 3000 }),
      }),
    ),
  })
  .openapi("RefundMetrics");

export const RefundsQuery = analyticsQuery({ currency: filterShape.currency });
