/**
 * The projection maths of getRevenueProjection (src/analytics/revenue/projection.ts) against values worked
 * out by hand on tiny series.
 */
import { describe, expect, test } from "bun:test";
import { forecast, linearFit, mape, project, projectionWindow, roundMinor } from "../../src/analytics/revenue/projection.ts";
import { localMidnight } from "../../src/analytics/shared/days.ts";
import { growth } from "../../src/analytics/sales/sales.queries.ts";

describe("linear trend", () => {
  test("the OLS fit of 1, 3, 2, 4 has slope 0.8, intercept 1.3 and residual sd √0.9", () => {
    // x = 0..3, x̄ = 1.5, ȳ = 2.5
    // Sxy = (−1.5)(−1.5) + (−0.5)(0.5) + (0.5)(−0.5) + (1.5)(1.5) = 2.25 − 0.25 − 0.25 + 2.25 = 4
    // Sxx = 2.25 + 0.25 + 0.25 + 2.25 = 5 ⇒ b = 0.8; a = 2.5 − 0.8 × 1.5 = 1.3
    // fitted 1.3, 2.1, 2.9, 3.7 ⇒ residuals −0.3, 0.9, −0.9, 0.3 ⇒ SSE = 0.09 + 0.81 + 0.81 + 0.09 = 1.8
    // σ = √(1.8 / (4 − 2)) = √0.9 = 0.9486832980505138
    const fit = linearFit([1, 3, 2, 4]);
    expect(fit.slope).toBeCloseTo(0.8, 12);
    expect(fit.intercept).toBeCloseTo(1.3, 12);
    expect(fit.sigma).toBeCloseTo(0.9486832980505138, 12);
    expect(fit.n).toBe(4);
    // ŷ(4) = 1.3 + 0.8 × 4 = 4.5; ŷ(5) = 5.3
    const next = forecast(fit, 4, 2);
    expect(next[0]).toBeCloseTo(4.5, 12);
    expect(next[1]).toBeCloseTo(5.3, 12);
  });

  test("a flat series of zeros fits a = b = σ = 0, and an empty one does not throw", () => {
    expect(linearFit([0, 0, 0])).toEqual({ intercept: 0, slope: 0, sigma: 0, n: 3 });
    expect(linearFit([])).toEqual({ intercept: 0, slope: 0, sigma: 0, n: 0 });
  });
});

describe("MAPE", () => {
  test("MAPE skips zero actuals and averages the others in percent", () => {
    // |4 − 5| / 4 = 0.25; actual 0 skipped; |5 − 4| / 5 = 0.2 ⇒ (0.25 + 0.2) / 2 × 100 = 22.5 %
    expect(mape([4, 0, 5], [5, 1, 4])).toEqual({ mape_percent: 22.5, days_compared: 2, zero_actual_days_skipped: 1 });
  });

  test("MAPE is null when every actual is zero", () => {
    expect(mape([0, 0], [3, 4])).toEqual({ mape_percent: null, days_compared: 0, zero_actual_days_skipped: 2 });
  });
});

describe("projection", () => {
  test("project() fits the whole history, bands ±1.96σ and backtests the held-out tail", () => {
    // history 1, 3, 2, 4, 5, 0 (x = 0..5): x̄ = 2.5, ȳ = 15 / 6 = 2.5
    // Sxx = 6.25 + 2.25 + 0.25 + 0.25 + 2.25 + 6.25 = 17.5
    // Sxy = (−2.5)(−1.5) + (−1.5)(0.5) + (−0.5)(−0.5) + (0.5)(1.5) + (1.5)(2.5) + (2.5)(−2.5)
    //     = 3.75 − 0.75 + 0.25 + 0.75 + 3.75 − 6.25 = 1.5
    // b = 1.5 / 17.5 = 3/35; a = 2.5 − 3/35 × 2.5 = 80/35 = 16/7
    // fitted ×35: 80, 83, 86, 89, 92, 95; y ×35: 35, 105, 70, 140, 175, 0
    // residuals ×35: −45, 22, −16, 51, 83, −95 ⇒ Σ squares = 2025 + 484 + 256 + 2601 + 6889 + 9025 = 21280
    // SSE = 21280 / 1225 = 17.3714…; σ = √(17.3714… / 4) = 2.0839522890…
    // ŷ(6) = (80 + 18) / 35 = 2.8; ŷ(7) = 101 / 35 = 2.885714…
    // bounds of ŷ(6): 2.8 ∓ 1.96 × 2.0839522890 = 2.8 ∓ 4.0845464864 ⇒ −1.2845464864 … 6.8845464864
    const p = project([1, 3, 2, 4, 5, 0], 2, 2);
    expect(p.fit.slope).toBeCloseTo(3 / 35, 12);
    expect(p.fit.intercept).toBeCloseTo(16 / 7, 12);
    expect(p.fit.sigma).toBeCloseTo(2.083952289, 8);
    expect(p.points).toHaveLength(2);
    expect(p.points[0]!.value).toBeCloseTo(2.8, 12);
    expect(p.points[0]!.lower).toBeCloseTo(-1.2845464864, 8);
    expect(p.points[0]!.upper).toBeCloseTo(6.8845464864, 8);
    expect(p.points[1]!.value).toBeCloseTo(101 / 35, 12);
    // backtest: fit on 1, 3, 2, 4 (a = 1.3, b = 0.8) forecasts 4.5 and 5.3 for actuals 5 and 0:
    // |5 − 4.5| / 5 = 0.1 ⇒ MAPE 10 %, the zero day skipped
    expect(p.backtest.fit_days).toBe(4);
    expect(p.backtest.test_days).toBe(2);
    expect(p.backtest.days_compared).toBe(1);
    expect(p.backtest.zero_actual_days_skipped).toBe(1);
    expect(p.backtest.mape_percent).toBeCloseTo(10, 10);
  });

  test("projected values round to integer minor units with halves up", () => {
    expect(roundMinor(2.5)).toBe(3);
    expect(roundMinor(2.49)).toBe(2);
    expect(roundMinor(-2.5)).toBe(-2);
    expect(roundMinor(-2.51)).toBe(-3);
  });

  test("the history window is the 56 complete local days before today, DST-correct", () => {
    // 2026-11-21 10:00 UTC is 11:00 in Berlin (CET, +01:00): today = 2026-11-21, local midnight 23:00 UTC the day before
    // 56 days before: 2026-09-26, still CEST (+02:00) ⇒ midnight = 2026-09-25T22:00Z
    const w = projectionWindow("Europe/Berlin", new Date("2026-11-21T10:00:00Z"));
    expect(w.today).toBe("2026-11-21");
    expect(w.historyTo.toISOString()).toBe("2026-11-20T23:00:00.000Z");
    expect(w.historyFrom.toISOString()).toBe("2026-09-25T22:00:00.000Z");
    expect(w.historyDates).toHaveLength(56);
    expect(w.historyDates[0]).toBe("2026-09-26");
    expect(w.historyDates[55]).toBe("2026-11-20");
    // the day of the October change starts at 22:00 UTC (CEST) and the next at 23:00 UTC (CET): 25 hours
    expect(localMidnight("Europe/Berlin", "2026-10-25").toISOString()).toBe("2026-10-24T22:00:00.000Z");
    expect(localMidnight("Europe/Berlin", "2026-10-26").toISOString()).toBe("2026-10-25T23:00:00.000Z");
  });

  test("the window is kept for the rest of the local day and is a new one from local midnight on (and for an earlier day)", () => {
    const a = projectionWindow("Europe/Berlin", new Date("2026-11-21T10:00:00Z"));
    // 23:59:59.999 in Berlin on the 21st: the same window object
    expect(projectionWindow("Europe/Berlin", new Date("2026-11-21T22:59:59.999Z"))).toBe(a);
    // 00:00 in Berlin on the 22nd
    const next = projectionWindow("Europe/Berlin", new Date("2026-11-21T23:00:00Z"));
    expect(next.today).toBe("2026-11-22");
    expect(next.historyTo.toISOString()).toBe("2026-11-21T23:00:00.000Z");
    expect(next.historyDates[55]).toBe("2026-11-21");
    // 23:59:59 in Berlin on the 20th: the day before
    const earlier = projectionWindow("Europe/Berlin", new Date("2026-11-20T22:59:59Z"));
    expect(earlier.today).toBe("2026-11-20");
    expect(earlier.historyTo.toISOString()).toBe("2026-11-19T23:00:00.000Z");
    // another zone at the same instant: 05:00 in New York on the 21st, midnight there 05:00 UTC
    const ny = projectionWindow("America/New_York", new Date("2026-11-21T10:00:00Z"));
    expect(ny.today).toBe("2026-11-21");
    expect(ny.historyTo.toISOString()).toBe("2026-11-21T05:00:00.000Z");
    expect(Object.isFrozen(ny)).toBe(true);
  });
});

describe("growth", () => {
  test("growth is (current − previous) / |previous|, null when previous is 0", () => {
    // (150 − 100) / 100 = 0.5; (50 − 100) / 100 = −0.5; (−50 − (−100)) / 100 = 0.5 (a smaller loss)
    expect(growth(150n, 100n)).toBe(0.5);
    expect(growth(50n, 100n)).toBe(-0.5);
    expect(growth(-50n, -100n)).toBe(0.5);
    expect(growth(10n, 0n)).toBeNull();
  });
});
