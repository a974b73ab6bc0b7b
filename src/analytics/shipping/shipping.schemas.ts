/** Query and answer schemas of getShippingMetrics; the definitions are in its description (shipping.routes.ts). */
import { z } from "@hono/zod-openapi";
import { analyticsQuery, listShape } from "../shared/params.ts";
import { count, share } from "../shared/schemas.ts";

const seconds = (description: string) => z.number().nullable().openapi({ description, example: 14400 });

export const CarrierRow = z
  .object({
    carrier: z.string().openapi({ description: "carrier of the dispatch ('unknown' when empty)", example: "dhl" }),
    shipments: count("distinct shipment_id of shipment.dispatched in [from, to)"),
    delivered: count("shipments with a shipment.delivered of the same shipment_id at or after dispatch"),
    undelivered: count("shipments − delivered"),
    p50_seconds: seconds("median dispatch → delivery, seconds; null without deliveries"),
    p95_seconds: seconds("95th percentile dispatch → delivery, seconds; null without deliveries"),
    with_promise: count("shipments whose dispatch carries promised_by"),
    on_time: count("delivered at or before promised_by"),
    late: count("delivered after promised_by, or not delivered while promised_by has passed"),
    pending: count("not delivered, promised_by still in the future"),
    on_time_share: share("on_time / (on_time + late); null when both are 0"),
  })
  .openapi("CarrierMetrics");

export const ShippingQuery = analyticsQuery({
  carrier: z.string().min(1).max(200).optional().openapi({ description: "only this carrier", example: "dhl" }),
  ...listShape,
});
