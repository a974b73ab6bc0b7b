/**
 * The definitions shared by the customer operations' descriptions (customers.routes.ts puts them
 * together per operation): each definition's one home, shown by /docs and /openapi.json.
 */

export const SCORES =
  "Scores come from `customer_scores`, one row per (customer, currency), precomputed by the TimescaleDB " +
  "job refresh_customer_scores (hourly) and by POST /v1/customers/scores/refresh; `scored_at` says when. " +
  "orders (F) = count of the customer's order.completed; net (M) = Σ their total_minor − Σ order.refunded " +
  "amount_minor of those orders (integer minor units of `currency`; a customer buying in two currencies " +
  "has two rows, never a mixed sum). Orders are archived into the scores before retention (RETENTION_DAYS) " +
  "drops the raw events, so a customer's last order, orders and net are never forgotten. r/f/m_score = " +
  "6 − NTILE(5) over the tenant's rows of the same currency with ≥ 1 order, ordered by last order / orders " +
  "/ net DESCENDING, ties by customer_id ascending (the best row is always 5; with fewer than 5 rows the " +
  "lowest scores are unused).";
export const SEGMENT_MAP =
  "Segments (the common R×F map): champions R5 F4–5; loyal R3–4 F4–5; potential_loyalist R4–5 F2–3; new " +
  "R5 F1; promising R4 F1; need_attention R3 F3; about_to_sleep R3 F1–2; cant_lose R1–2 F5; at_risk R1–2 " +
  "F3–4; hibernating R1–2 F1–2.";
export const TIER_DEF =
  "Churn tier (per customer, by their last order in any currency): days = whole days (floor) from the last " +
  "order to `as_of`; high > 90, medium 30–90, low < 30. Retention (RETENTION_DAYS, default 90) rejects " +
  "older events, so `high` fills over time from the scores' remembered last orders.";
export const CLV_DEF =
  "CLV per currency (simple CLV = average order value × purchase frequency × expected lifespan): AOV = " +
  "net / orders; PF = orders / customers; churn rate = customers in the high tier / customers; expected " +
  "lifespan = 1 / churn rate (in units of the observed history); average CLV = AOV × PF × lifespan = net " +
  "/ churned customers; a customer's CLV = their net × lifespan, rounded half-up. With no churned customer " +
  "the lifespan and every CLV are null (not estimable).";
export const SNAPSHOT =
  "A snapshot of the scores (no from/to): `as_of` = the instant tiers are computed for, `watermark` = the " +
  "newest order included in the scores, `scored_at` = the last refresh. Cached (ANALYTICS_CACHE_TTL_SECONDS) " +
  "and invalidated by ingest and by a refresh; a scheduled refresh shows after at most the TTL.";
