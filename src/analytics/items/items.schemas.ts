/** Query and answer schemas of getItemPerformance; the definitions are in its description (items.routes.ts). */
import { z } from "@hono/zod-openapi";
import { analyticsQuery, filterShape, listShape } from "../shared/params.ts";

export const ITEM_SORTS = ["units", "revenue", "utilisation", "item_id"] as const;
export type ItemSort = (typeof ITEM_SORTS)[number];

export const ItemsQuery = analyticsQuery({
  ...filterShape,
  ...listShape,
  sort: z.enum(ITEM_SORTS).default("revenue").openapi({ description: "sort key", example: "revenue" }),
  order: z.enum(["asc", "desc"]).default("desc").openapi({ description: "sort direction", example: "desc" }),
});

export const ItemPerformance = z
  .object({
    item_id: z.string().openapi({ example: "show-1" }),
    name: z.string().nullable().openapi({ description: "catalog name; null for items not in the catalog", example: "Late show" }),
    category: z.string().openapi({ description: "catalog category; 'uncategorised' for items not in the catalog", example: "concert" }),
    kind: z.enum(["ticketed_event", "product"]).nullable().openapi({ example: "ticketed_event" }),
    capacity: z.number().int().nullable().openapi({ example: 300 }),
    starts_at: z.string().nullable().openapi({ description: "catalog start (ISO-8601)", example: "2026-12-24T20:00:00.000Z" }),
    units: z.number().int().openapi({ description: "units sold in range", example: 120 }),
    revenue: z
      .array(
        z.object({
          currency: z.string().openapi({ example: "EUR" }),
          net_minor: z.number().int().openapi({ description: "Σ net_line_minor", example: 300000 }),
        }),
      )
      .openapi({ description: "per currency, sorted by currency; empty without sales" }),
    capacity_utilisation: z
      .number()
      .nullable()
      .openapi({ description: "units / capacity (4 decimals); null without capacity", example: 0.4 }),
    sold_out: z.boolean().openapi({ description: "capacity set and units ≥ capacity", example: false }),
    days_on_sale: z
      .number()
      .openapi({ description: "days of [from, min(to, as_of, starts_at of a ticketed item)) (4 decimals)", example: 30 }),
    sell_through_per_day: z
      .number()
      .nullable()
      .openapi({ description: "units / days_on_sale (4 decimals); null when days_on_sale is 0", example: 4 }),
    time_to_start_seconds: z
      .number()
      .int()
      .nullable()
      .openapi({ description: "starts_at − as_of in seconds, ticketed items only", example: 2851200 }),
  })
  .openapi("ItemPerformance");
