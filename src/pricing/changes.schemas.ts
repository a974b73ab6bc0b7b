/** Response shapes of the price-change operations and outcomes (zod: the types and the spec). */
import { z } from "@hono/zod-openapi";
import { CHANGE_STATUSES } from "./pricing.queries.ts";
import { count, currency, money, nextCursor, ratio, ts } from "./pricing.schemas.ts";

const snapshot = z
  .record(z.string(), z.unknown())
  .nullable()
  .openapi({ description: "the demand row (score, inputs, recommendation) when proposed" });

export const HistoryEntry = z
  .object({
    id: z.string().openapi({ description: "the change" }),
    version: count("the change's version after this transition"),
    item_id: z.string(),
    currency,
    from_status: z.enum(CHANGE_STATUSES).nullable(),
    to_status: z.enum(CHANGE_STATUSES),
    actor: z.string().openapi({ description: "the token subject, or system (applied, expired)", example: "manager-1" }),
    at: ts("when"),
    reason: z.string().nullable(),
    old_price_minor: money("the price when proposed"),
    new_price_minor: money("the proposed price"),
    recommendation: snapshot,
  })
  .openapi("PriceChangeTransition");

export const ChangeSchema = z
  .object({
    id: z.string().openapi({ description: "the change id (uuid)" }),
    etag: z.string().openapi({ description: "the ETag (also in the ETag header): send it as If-Match to decide", example: '"1"' }),
    version: count("+1 on every transition"),
    item_id: z.string(),
    currency,
    status: z.enum(CHANGE_STATUSES),
    source: z.enum(["recommendation", "manual"]),
    old_price_minor: money("the catalog price when proposed"),
    new_price_minor: money("the proposed price"),
    change_pct: z.number().openapi({ description: "(new − old) / old × 100, 2 decimals", example: 10 }),
    reason: z.string().nullable(),
    recommendation: snapshot,
    proposed_by: z.string(),
    proposed_at: ts("when proposed"),
    expires_at: ts("a pending change expires then"),
    decided_by: z.string().nullable(),
    decided_at: ts("when approved or rejected").nullable(),
    decision_reason: z.string().nullable(),
    applied_at: ts("when the new price arrived in the catalog").nullable(),
    published_at: ts("when price.change_approved was published on NATS").nullable(),
    superseded_by: z.string().nullable().openapi({ description: "the change that superseded it" }),
  })
  .openapi("PriceChange");

export const ChangeWithHistory = ChangeSchema.extend({ history: z.array(HistoryEntry) }).openapi("PriceChangeWithHistory");
export const ChangeList = z.object({ data: z.array(ChangeSchema), next_cursor: nextCursor }).openapi("PriceChangeList");
export const ItemHistory = z
  .object({ item_id: z.string(), data: z.array(HistoryEntry), next_cursor: nextCursor })
  .openapi("ItemPriceHistory");

const Window = z
  .object({
    from: ts("start (inclusive)"),
    to: ts("end (exclusive)"),
    days: z.number().openapi({ description: "length in days (2 decimals)", example: 7 }),
    units: count("Σ quantity"),
    units_per_day: z.number().nullable().openapi({ description: "units / days (4 decimals); null for an empty window", example: 4.2857 }),
    orders: count("distinct orders"),
    views: count("item.viewed"),
    conversion: ratio("orders / views (4 decimals); null without views"),
  })
  .openapi("OutcomeWindow");

export const OutcomeSchema = z
  .object({
    id: z.string().openapi({ description: "the change" }),
    item_id: z.string(),
    currency,
    old_price_minor: money("price before"),
    new_price_minor: money("price after"),
    price_change_pct: z.number().openapi({ example: 10 }),
    applied_at: ts("when the new price arrived"),
    before: Window,
    after: Window,
    units_per_day_change_pct: z.number().nullable().openapi({ description: "2 decimals; null without units before", example: -5 }),
    elasticity: z.number().nullable().openapi({ description: "units_per_day_change_pct / price_change_pct (4 decimals)", example: -0.5 }),
    status: z.enum(["too_early", "partial", "complete"]),
  })
  .openapi("PriceChangeOutcome");
export const OutcomeList = z
  .object({ as_of: ts("when computed"), data: z.array(OutcomeSchema), next_cursor: nextCursor })
  .openapi("PriceChangeOutcomes");
