/**
 * The definitions every pricing operation's description quotes (the one home of each: docs/pricing.md
 * links here and repeats them with worked examples). The SQL that computes the score is
 * sql/0013_pricing.sql (demand_score_rows); the mapping is recommend.ts.
 */
export { MAPPING } from "./recommend.ts";

export const FORMULA =
  "Demand score (0–100 per item and currency; 50 = selling as expected), precomputed hourly by the TimescaleDB job " +
  "refresh_demand_scores and on demand (POST /v1/pricing/scores/refresh); `scored_at` says when. Inputs, from the stored " +
  "events before the scoring instant s: on_sale_since = the item's first stored sale or item view; days_on_sale = s − on_sale_since; " +
  "sold = Σ quantity of its order lines (every currency); units_7d / units_28d = Σ quantity in the last 7 / 28 days (this currency); " +
  "views_14d = item.viewed, carts_14d = cart.item_added, orders_14d = distinct orders with a line of it, in the last 14 days " +
  "(every currency: views have none, so conversion is the item's). " +
  "Sub-scores, each a ratio r mapped to 100·r/(1+r) (r = 1 ⇒ 50): pacing (ticketed item with capacity and starts_at) r = " +
  "min(1, sold/capacity) / (days_on_sale / days from on_sale_since to starts_at); velocity (≥ 7 days on sale, units_28d > 0) r = " +
  "(units_7d/7) / (units_28d / min(28, days_on_sale)); conversion (views_14d > 0) r = (orders_14d/views_14d) / (the tenant's " +
  "Σ orders_14d / Σ views_14d over its catalog items); and scarcity (capacity > 0) = 100·min(1, sold/capacity). " +
  "Score = Σ weight·sub-score / Σ weights of the sub-scores that exist, rounded to 1 decimal; weights pacing 0.40, velocity 0.25, " +
  "conversion 0.20, scarcity 0.15. Cases, in order: a ticketed item past starts_at ⇒ null, reason started; capacity reached ⇒ 100, " +
  "sold_out; no stored sale or view ⇒ null, no_data; under 1 day on sale ⇒ null, brand_new; no sub-score ⇒ null, insufficient_data; " +
  "else scored. Confidence (0–1) = round(evidence × stability, 2): evidence = min(1, (units_28d + views_14d/10) / 20); stability = " +
  "1 − min(1, (max − min)/25) over this score and the two latest earlier ones (0.5 for a first score). Rows: the catalog currency " +
  "plus every currency the item sold in during the last 28 days.";

export const WORKFLOW =
  "Workflow: pending → approved → applied, or rejected, superseded (a newer proposal for the item, or a newer approval), expired " +
  "(not decided within PRICING_PENDING_TTL_HOURS). Proposing (analyst, pricing_manager, admin): from the recommendation (no " +
  "price_minor) or a manual price_minor, which must stay within [min_price_minor, max_price_minor] and ±PRICING_MAX_STEP_PCT of " +
  "the current price (else 422 naming price_minor). Deciding (pricing_manager, admin; never the proposer: 403) needs If-Match with " +
  "the change's ETag (missing 428, stale 412); a change that is no longer pending answers 409. Approval writes the " +
  "price.change_approved CloudEvent to an outbox in the same transaction; the pricing worker publishes it on NATS (Nats-Msg-Id = " +
  "change id) and marks the change applied once an item.upserted with the new price arrives. Every transition is kept in the " +
  "history (who, when, why, from/to price, the recommendation snapshot) and bumps the tenant's data generation.";

export const OUTCOME =
  "Outcome of an applied change: before = [applied_at − 7 d, applied_at), after = [applied_at, min(applied_at + 7 d, as_of)); " +
  "in each, units (Σ quantity of the item's order lines in the change's currency), units_per_day = units / the window's days, " +
  "orders (distinct), views (item.viewed) and conversion = orders / views (null without views). price_change_pct = (new − old) / old " +
  "× 100; units_per_day_change_pct = (after − before) / before × 100; elasticity = units_per_day_change_pct / price_change_pct " +
  "(null without units before or with under 1 day after). status: too_early (< 1 day after), partial (< 7 days), complete.";
