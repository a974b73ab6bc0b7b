/** Request shapes of the pricing operations and the demand answers (zod: the types and the spec); changes.schemas.ts has the rest. */
import { z } from "@hono/zod-openapi";
import { PROBLEM_CONTENT_TYPE, ProblemSchema, problemResponses } from "../http/problem.ts";
import { CHANGE_STATUSES, DEMAND_SORTS, SCORE_REASONS } from "./pricing.queries.ts";

export const ts = (description: string) => z.string().openapi({ description, example: "2026-11-21T12:00:00.000Z" });
export const money = (description: string) => z.number().int().openapi({ description, example: 2500 });
export const count = (description: string) => z.number().int().openapi({ description, example: 12 });
export const ratio = (description: string) => z.number().nullable().openapi({ description, example: 0.42 });
export const currency = z.string().openapi({ description: "ISO-4217", example: "EUR" });
const itemId = z.string().min(1).max(128).openapi({ example: "show-1" });
const cursor = z.string().max(512).optional().openapi({ description: "next_cursor of the previous page" });
const limit = z.coerce.number().int().min(1).max(500).default(50).openapi({ description: "page size (1–500)", example: 50 });
export const nextCursor = z.string().nullable().openapi({ description: "pass as `cursor` for the next page; null on the last" });

export const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { "application/json": { schema } } });
const problem = (description: string) => ({ description, content: { [PROBLEM_CONTENT_TYPE]: { schema: ProblemSchema } } });
export const pricingProblems = {
  ...problemResponses,
  404: problem("No such item or change in your tenant"),
} as const;
export const proposeProblems = {
  ...pricingProblems,
  422: problem(
    "price_minor outside the bounds, nothing to propose (the recommendation holds), a started item, " +
      "or an Idempotency-Key reused with another body",
  ),
} as const;
export const decisionProblems = {
  ...pricingProblems,
  409: problem("The change is no longer pending (approved, applied, rejected, superseded or expired)"),
  412: problem("If-Match does not name the change's current ETag: read it again"),
  428: problem("If-Match is missing: decisions need the change's ETag"),
} as const;

// ─── parameters ──────────────────────────────────────────────────────────────────────────────────────

export const ItemParam = z.object({
  item_id: itemId.openapi({ param: { name: "item_id", in: "path" }, description: "a catalog item_id" }),
});
export const ChangeParam = z.object({
  change_id: z
    .uuid()
    .openapi({ param: { name: "change_id", in: "path" }, description: "the change's id", example: "7b0e8a4c-1f0e-4c55-9d8b-3d6f3f0d9c1a" }),
});

export const RecommendationsQuery = z
  .object({
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/, "an ISO-4217 code: three uppercase letters, e.g. EUR")
      .optional()
      .openapi({ description: "only rows in this currency", example: "EUR" }),
    category: z.string().min(1).max(100).optional().openapi({ description: "only items of this catalog category", example: "concert" }),
    kind: z.enum(["ticketed_event", "product"]).optional().openapi({ description: "only items of this kind" }),
    reason: z.enum(SCORE_REASONS).optional().openapi({ description: "only rows whose score has this reason" }),
    item_id: itemId.optional().openapi({ description: "only this item" }),
    min_score: z.coerce
      .number()
      .min(0)
      .max(100)
      .optional()
      .openapi({ description: "only scores ≥ this (null scores excluded)", example: 60 }),
    max_score: z.coerce
      .number()
      .min(0)
      .max(100)
      .optional()
      .openapi({ description: "only scores ≤ this (null scores excluded)", example: 40 }),
    sort: z
      .enum(DEMAND_SORTS)
      .default("score")
      .openapi({ description: "sort key (null scores and confidences sort as −1); ties by item_id, currency", example: "score" }),
    order: z.enum(["asc", "desc"]).default("desc").openapi({ description: "sort direction", example: "desc" }),
    limit,
    cursor,
  })
  .refine((q) => q.min_score === undefined || q.max_score === undefined || q.min_score <= q.max_score, {
    message: "min_score must not be above max_score",
    path: ["min_score"],
  });

export const ChangesQuery = z.object({
  status: z.enum(CHANGE_STATUSES).optional().openapi({ description: "only changes in this state" }),
  item_id: itemId.optional().openapi({ description: "only changes of this item" }),
  limit,
  cursor,
});
export const PageQuery = z.object({ limit, cursor });
export const OutcomesQuery = z.object({ item_id: itemId.optional().openapi({ description: "only changes of this item" }), limit, cursor });

export const ProposeHeaders = z.object({
  "idempotency-key": z
    .string()
    .regex(/^[\x21-\x7e]{1,200}$/, "1–200 visible ASCII characters")
    .optional()
    .openapi({
      param: { name: "idempotency-key", in: "header" },
      description: "the same key with the same body within 24 hours answers the first answer again; with another body 422",
      example: "propose-2026-11-21-show-1",
    }),
});
export const DecisionHeaders = z.object({
  "if-match": z
    .string()
    .max(200)
    .optional()
    .openapi({
      param: { name: "if-match", in: "header" },
      description: "the change's ETag (from the proposal, GET or list); required: missing ⇒ 428, stale ⇒ 412",
      example: '"1"',
    }),
});

const reasonText = z
  .string()
  .min(1)
  .max(500)
  .optional()
  .openapi({ description: "why (kept in the history)", example: "sold faster than planned" });
export const ProposeBody = z
  .object({
    item_id: itemId.openapi({ description: "the catalog item; the change is in its catalog currency" }),
    price_minor: z.number().int().min(1).max(1_000_000_000_000).optional().openapi({
      description: "a manual price (minor units); omit to propose the current recommendation",
      example: 2750,
    }),
    reason: reasonText,
  })
  .openapi("PriceChangeProposal");
export const DecisionBody = z.object({ reason: reasonText }).openapi("PriceChangeDecision");

// ─── demand ──────────────────────────────────────────────────────────────────────────────────────────

export const RecommendationSchema = z
  .object({
    action: z.enum(["raise", "lower", "hold"]),
    current_price_minor: money("the catalog's base_price_minor"),
    recommended_price_minor: money("the recommended price (the current one on hold)"),
    change_pct: z.number().openapi({ description: "(recommended − current) / current × 100, 2 decimals", example: 10 }),
    bound: z
      .enum(["none", "step", "min", "max"])
      .openapi({ description: "the limit that applied: PRICING_MAX_STEP_PCT, min_price_minor, max_price_minor" }),
    grid_minor: count("the price grid of the currency (PRICING_PRICE_GRID)"),
    reason: z.string().openapi({
      description:
        "demand_above_expected, demand_below_expected; holds: started, sold_out, no_data, brand_new, insufficient_data, " +
        "not_catalog_currency, low_confidence, as_expected, at_bound, below_grid",
      example: "demand_above_expected",
    }),
  })
  .openapi("PriceRecommendation");

const Component = z
  .object({
    score: z.number().nullable().openapi({ description: "the sub-score (0–100, 2 decimals) or null", example: 66.67 }),
    weight: z.number().openapi({ example: 0.4 }),
    note: z.string().optional().openapi({ description: "why the sub-score is null" }),
    ratio: z.number().optional(),
    elapsed_share: z.number().optional(),
    sold_share: z.number().optional(),
    per_day_7d: z.number().optional(),
    per_day_28d: z.number().optional(),
    rate: z.number().optional(),
    tenant_rate: z.number().optional(),
  })
  .openapi("DemandComponent");

export const DemandInputs = z
  .object({
    on_sale_since: ts("the first stored sale or item view").nullable(),
    days_on_sale: z.number().nullable().openapi({ description: "scored_at − on_sale_since in days (2 decimals)", example: 10 }),
    selling_window_days: z.number().nullable().openapi({ description: "starts_at − on_sale_since in days (2 decimals)", example: 20 }),
    sold: count("units sold, every currency, stored order lines"),
    capacity: z.number().int().nullable(),
    remaining: z.number().int().nullable().openapi({ description: "capacity − sold (≥ 0), null without capacity", example: 60 }),
    units_7d: count("units in the last 7 days, this currency"),
    units_28d: count("units in the last 28 days, this currency"),
    views_14d: count("item.viewed in the last 14 days"),
    carts_14d: count("cart.item_added in the last 14 days, every currency"),
    orders_14d: count("distinct orders with a line of the item in the last 14 days, every currency"),
    tenant_conversion_14d: ratio("Σ orders_14d / Σ views_14d over the tenant's catalog items"),
    evidence: z.number().openapi({ description: "min(1, (units_28d + views_14d/10) / 20)", example: 1 }),
    stability: ratio("over this and the two latest earlier scores; null with a null score"),
    recent_scores: z.array(z.number()).openapi({ description: "the latest non-null scores, newest first (≤ 5)" }),
  })
  .openapi("DemandInputs");

export const DemandItem = z
  .object({
    item_id: z.string(),
    name: z.string(),
    category: z.string(),
    kind: z.enum(["ticketed_event", "product"]),
    currency,
    score: z.number().nullable().openapi({ description: "0–100 (1 decimal); null with a reason", example: 71.4 }),
    reason: z.enum(SCORE_REASONS),
    confidence: ratio("0–1 (2 decimals); null with a null score"),
    scored_at: ts("when this row was computed"),
    inputs: DemandInputs,
    components: z.object({ pacing: Component, velocity: Component, conversion: Component, scarcity: Component }),
    recommendation: RecommendationSchema,
  })
  .openapi("ItemDemand");

export const DemandList = z
  .object({
    as_of: ts("when this answer was computed (recommendations hold started items as of it)"),
    scored_at: ts("when your tenant's scores were last computed; null when never").nullable(),
    data: z.array(DemandItem),
    next_cursor: nextCursor,
  })
  .openapi("DemandList");

export const CatalogItemSchema = z
  .object({
    item_id: z.string(),
    name: z.string(),
    category: z.string(),
    kind: z.enum(["ticketed_event", "product"]),
    currency,
    base_price_minor: money("the current price"),
    min_price_minor: money("lowest allowed price").nullable(),
    max_price_minor: money("highest allowed price").nullable(),
    capacity: z.number().int().nullable(),
    starts_at: ts("start of a ticketed item").nullable(),
  })
  .openapi("PricingCatalogItem");

export const ItemDemandAnswer = z
  .object({
    as_of: ts("when this answer was computed"),
    scored_at: ts("when your tenant's scores were last computed; null when never").nullable(),
    item: CatalogItemSchema,
    data: z
      .array(DemandItem)
      .openapi({ description: "one row per scored currency, the catalog currency first; empty before the first scoring" }),
  })
  .openapi("ItemDemandAnswer");

export const RefreshAnswer = z
  .object({ scored_at: ts("when the scores were computed"), rows: count("(item, currency) rows scored") })
  .openapi("DemandScoresRefresh");
