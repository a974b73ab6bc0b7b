/** The answer schema of getRealtimeMetrics (and of each streamRealtimeMetrics message's data). */
import { z } from "@hono/zod-openapi";

const Figures = {
  revenue: z
    .array(z.object({ currency: z.string().openapi({ example: "EUR" }), gross_minor: z.number().int().openapi({ example: 12500 }) }))
    .openapi({ description: "Σ total_minor of order.completed per currency, sorted by currency" }),
  orders: z.number().int().openapi({ example: 3 }),
  units: z.number().int().openapi({ example: 7 }),
  visitors: z.number().int().openapi({ example: 41 }),
  conversion_rate: z.number().openapi({ description: "orders / visitors (4 decimals; 0 without visitors)", example: 0.0732 }),
};
export const RealtimeSchema = z
  .object({
    window_start: z.string().openapi({ description: "start of the first bucket (ISO-8601)", example: "2026-11-21T11:05:00.000Z" }),
    window_end: z.string().openapi({ description: "end of the current bucket (exclusive)", example: "2026-11-21T12:05:00.000Z" }),
    bucket_minutes: z.number().int().openapi({ example: 5 }),
    buckets: z.array(z.object({ bucket_start: z.string().openapi({ example: "2026-11-21T12:00:00.000Z" }), ...Figures })),
    totals: z.object(Figures),
  })
  .openapi("RealtimeMetrics");
