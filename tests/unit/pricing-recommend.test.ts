/**
 * The recommendation mapping (src/pricing/recommend.ts) on hand-computed cases: change % = (score − 50)/2,
 * the step limit, the catalog bounds, the price grid (halves up, pulled back inside a limit) and every hold.
 */
import { describe, expect, test } from "bun:test";
import { priceLimits, type RecommendInput, recommend, tenths } from "../../src/pricing/recommend.ts";

const NOW = new Date("2026-11-21T12:00:00Z");
const base: RecommendInput = {
  score: "70.0",
  scoreReason: "scored",
  confidence: 0.8,
  currency: "EUR",
  catalogCurrency: "EUR",
  currentPriceMinor: 2000,
  minPriceMinor: null,
  maxPriceMinor: null,
  kind: "product",
  startsAt: null,
  now: NOW,
};
const settings = { maxStepPct: 15, minConfidence: 0.3, grid: 50 };
const rec = (over: Partial<RecommendInput>, s: Partial<typeof settings> = {}) => recommend({ ...base, ...over }, { ...settings, ...s });

describe("recommend", () => {
  test("score 70 raises by (70 − 50)/2 = 10 %: 2000 ⇒ 2200", () => {
    expect(rec({})).toEqual({
      action: "raise",
      current_price_minor: 2000,
      recommended_price_minor: 2200,
      change_pct: 10,
      bound: "none",
      grid_minor: 50,
      reason: "demand_above_expected",
    });
  });

  test("score 30 lowers by 10 %: 2000 ⇒ 1800", () => {
    expect(rec({ score: "30.0" })).toMatchObject({ action: "lower", recommended_price_minor: 1800, change_pct: -10, bound: "none" });
  });

  test("score 95 would be +22.5 %: the 15 % step limit gives 2300 (bound step)", () => {
    expect(rec({ score: "95.0" })).toMatchObject({ action: "raise", recommended_price_minor: 2300, bound: "step" });
  });

  test("the catalog max wins over the step: 2000 + 15 % = 2300 > max 2120 ⇒ 2120 ⇒ grid 2100 (rounding stays below max)", () => {
    // 2120 / 50 = 42.4 ⇒ 42 ⇒ 2100
    expect(rec({ score: "95.0", maxPriceMinor: 2120 })).toMatchObject({ recommended_price_minor: 2100, bound: "max" });
  });

  test("rounding up past a bound is pulled back one grid step: max 2140 ⇒ nearest 2150 > 2140 ⇒ 2100", () => {
    // 2140 / 50 = 42.8 ⇒ 43 ⇒ 2150 > max ⇒ 2150 − 50 = 2100
    expect(rec({ score: "95.0", maxPriceMinor: 2140 })).toMatchObject({ recommended_price_minor: 2100, bound: "max" });
  });

  test("the grid rounds halves up: score 56.5 ⇒ +3.25 % ⇒ 2065 ⇒ 2050 (41.3) and score 57.5 ⇒ 2075 ⇒ 2100 (41.5 up)", () => {
    expect(rec({ score: "56.5" })).toMatchObject({ recommended_price_minor: 2050, change_pct: 2.5 });
    expect(rec({ score: "57.5" })).toMatchObject({ recommended_price_minor: 2100, change_pct: 5 });
  });

  test("score 55.2 ⇒ +2.6 % ⇒ 2052: grid 100 rounds it to 2100 (a raise), grid 500 back to 2000 (hold, below_grid)", () => {
    // grid 100: 2052 / 100 = 20.52 ⇒ 21 ⇒ 2100 (+5 %, inside the step): a raise
    expect(rec({ score: "55.2" }, { grid: 100 })).toMatchObject({ action: "raise", recommended_price_minor: 2100 });
    // grid 500: 2052 / 500 = 4.104 ⇒ 4 ⇒ 2000 = the current price ⇒ hold
    expect(rec({ score: "55.2" }, { grid: 500 })).toMatchObject({ action: "hold", recommended_price_minor: 2000, reason: "below_grid" });
  });

  test("at the max price a high score holds (at_bound)", () => {
    expect(rec({ score: "90.0", maxPriceMinor: 2000 })).toMatchObject({ action: "hold", reason: "at_bound", bound: "max" });
  });

  test("holds: within ±5 of 50, low confidence, a null score, sold out, a second currency, a started show", () => {
    expect(rec({ score: "54.9" }).reason).toBe("as_expected");
    expect(rec({ score: "45.1" }).reason).toBe("as_expected");
    expect(rec({ score: "55.0" }).action).toBe("raise");
    expect(rec({ confidence: 0.29 }).reason).toBe("low_confidence");
    expect(rec({ confidence: null }).reason).toBe("low_confidence");
    expect(rec({ score: null, scoreReason: "brand_new" }).reason).toBe("brand_new");
    expect(rec({ score: "100.0", scoreReason: "sold_out" }).reason).toBe("sold_out");
    expect(rec({ currency: "USD" }).reason).toBe("not_catalog_currency");
    expect(rec({ kind: "ticketed_event", startsAt: new Date(NOW.getTime() - 1) }).reason).toBe("started");
    for (const r of [rec({ score: "54.9" }), rec({ confidence: 0.1 })])
      expect(r).toMatchObject({ action: "hold", recommended_price_minor: 2000, change_pct: 0 });
  });

  test("large prices stay exact (no float): 123456789 × 1.1 = 135802467.9 ⇒ grid 50 ⇒ 135802450", () => {
    // 135802467.9 / 50 = 2716049.358 ⇒ 2716049 ⇒ 135802450
    expect(rec({ currentPriceMinor: 123_456_789 })).toMatchObject({ recommended_price_minor: 135_802_450 });
  });
});

describe("priceLimits and tenths", () => {
  test("the step limit rounds inwards and the catalog bounds apply", () => {
    expect(priceLimits(2001, null, null, 15)).toEqual({ low: 1701, high: 2301 }); // 1700.85 ⇒ 1701, 2301.15 ⇒ 2301
    expect(priceLimits(2000, 1900, 2100, 15)).toEqual({ low: 1900, high: 2100 });
  });

  test("scores are read as exact tenths", () => {
    expect([tenths("62.4"), tenths("100.0"), tenths("0"), tenths("7.5")]).toEqual([624, 1000, 0, 75]);
    expect(() => tenths("abc")).toThrow();
  });
});
