/**
 * The recommendation: a demand score (0–100, sql/0013_pricing.sql) becomes a bounded price. Pure
 * integer arithmetic on minor units (BigInt: a price times a factor never loses a unit); the wording of
 * MAPPING is the definition, quoted in the operations' descriptions and docs/pricing.md.
 */

export const MAPPING =
  "Recommendation: hold when the score is null (its reason), the item is sold out or has started, the row's currency is not the " +
  "item's catalog currency, the confidence is below PRICING_MIN_CONFIDENCE (low_confidence), or |score − 50| < 5 (as_expected). " +
  "Otherwise change % = (score − 50) / 2 (score 70 ⇒ +10 %, 30 ⇒ −10 %), clipped to ±PRICING_MAX_STEP_PCT (bound step); target = " +
  "current × (1 + change % / 100), clipped to [min_price_minor, max_price_minor] (bound min / max); then rounded to the nearest " +
  "multiple of the currency's price grid (PRICING_PRICE_GRID; halves up) and moved one grid step back towards the current price " +
  "when the rounding crossed the step limit or a price bound. A result equal to the current price (or on the wrong side of it) is " +
  "a hold (at_bound when a bound left no room, below_grid when the move is smaller than the grid). `bound` says which limit applied.";

export type Action = "raise" | "lower" | "hold";
export type Bound = "none" | "step" | "min" | "max";

export interface RecommendInput {
  /** the score as stored (numeric text with one decimal, e.g. "72.5"), or null */
  score: string | null;
  /** the score's reason (scored, sold_out, started, no_data, brand_new, insufficient_data) */
  scoreReason: string;
  confidence: number | null;
  /** the row's currency and the item's catalog currency */
  currency: string;
  catalogCurrency: string;
  currentPriceMinor: number;
  minPriceMinor: number | null;
  maxPriceMinor: number | null;
  kind: string;
  startsAt: Date | null;
  now: Date;
}

export interface RecommendSettings {
  maxStepPct: number;
  minConfidence: number;
  /** the price grid of the row's currency, minor units */
  grid: number;
}

export interface Recommendation {
  action: Action;
  current_price_minor: number;
  /** equals current_price_minor on hold */
  recommended_price_minor: number;
  /** (recommended − current) / current × 100, rounded to 2 decimals */
  change_pct: number;
  bound: Bound;
  grid_minor: number;
  reason: string;
}

/** "72.5" → 725 (tenths of a point), exactly */
export function tenths(score: string): number {
  const m = /^(-?)(\d+)(?:\.(\d))?\d*$/.exec(score.trim());
  if (!m) throw new RangeError(`not a score: ${score}`);
  const v = Number(m[2]) * 10 + Number(m[3] ?? 0);
  return m[1] ? -v : v;
}

/** the lowest and highest price a change from `current` may set: the step limit and the catalog bounds */
export function priceLimits(current: number, min: number | null, max: number | null, maxStepPct: number): { low: number; high: number } {
  const c = BigInt(current);
  const s = BigInt(maxStepPct);
  // current × (100 ± S) / 100, rounded inwards (never past the step)
  const stepHigh = Number((c * (100n + s)) / 100n);
  const stepLow = Number((c * (100n - s) + 99n) / 100n);
  return { low: Math.max(stepLow, min ?? 1, 1), high: Math.min(stepHigh, max ?? Number.MAX_SAFE_INTEGER) };
}

function hold(i: RecommendInput, grid: number, reason: string, bound: Bound = "none"): Recommendation {
  return {
    action: "hold",
    current_price_minor: i.currentPriceMinor,
    recommended_price_minor: i.currentPriceMinor,
    change_pct: 0,
    bound,
    grid_minor: grid,
    reason,
  };
}

export function recommend(i: RecommendInput, s: RecommendSettings): Recommendation {
  const g = s.grid;
  if (i.kind === "ticketed_event" && i.startsAt !== null && i.startsAt <= i.now) return hold(i, g, "started");
  if (i.score === null) return hold(i, g, i.scoreReason);
  if (i.scoreReason === "sold_out") return hold(i, g, "sold_out");
  if (i.currency !== i.catalogCurrency) return hold(i, g, "not_catalog_currency");
  if (i.confidence === null || i.confidence < s.minConfidence) return hold(i, g, "low_confidence");
  const n = tenths(i.score) - 500; // (score − 50) in tenths of a point; change % = n / 20
  if (Math.abs(n) < 50) return hold(i, g, "as_expected");

  const current = BigInt(i.currentPriceMinor);
  const limit = 20n * BigInt(s.maxStepPct);
  let k = BigInt(n);
  let bound: Bound = "none";
  if (k > limit || k < -limit) {
    k = k > 0n ? limit : -limit;
    bound = "step";
  }
  // target = current × (2000 + k) / 2000, as the fraction num / den
  const den = 2000n;
  let num = current * (den + k);
  if (i.maxPriceMinor !== null && num > BigInt(i.maxPriceMinor) * den) {
    num = BigInt(i.maxPriceMinor) * den;
    bound = "max";
  } else if (i.minPriceMinor !== null && num < BigInt(i.minPriceMinor) * den) {
    num = BigInt(i.minPriceMinor) * den;
    bound = "min";
  }
  const grid = BigInt(g);
  // nearest multiple of the grid, halves up: floor((2·num + den·g) / (2·den·g)) · g
  let rec = ((2n * num + den * grid) / (2n * den * grid)) * grid;
  const { low, high } = priceLimits(i.currentPriceMinor, i.minPriceMinor, i.maxPriceMinor, s.maxStepPct);
  if (rec > BigInt(high)) rec -= grid;
  else if (rec < BigInt(low)) rec += grid;
  const up = n > 0;
  const moved = up ? rec > current : rec < current;
  if (!moved || rec < BigInt(low) || rec > BigInt(high))
    return hold(i, g, bound === "max" || bound === "min" ? "at_bound" : "below_grid", bound);
  const recommended = Number(rec);
  return {
    action: up ? "raise" : "lower",
    current_price_minor: i.currentPriceMinor,
    recommended_price_minor: recommended,
    change_pct: Math.round(((recommended - i.currentPriceMinor) / i.currentPriceMinor) * 10_000) / 100,
    bound,
    grid_minor: g,
    reason: up ? "demand_above_expected" : "demand_below_expected",
  };
}
