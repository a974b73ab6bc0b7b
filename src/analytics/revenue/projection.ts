/**
 * The maths of getRevenueProjection (pure: no SQL; the daily series comes from revenue.queries.ts).
 *
 * PROJECTION — ordinary least-squares linear trend y = a + b·x on the daily net revenue of the last
 *   HISTORY_DAYS (56) complete local days before today (x = 0 … 55, a day without sales or refunds is
 *   0), per currency. Forecast for today and the following days: ŷ(x) = a + b·x for x = 56, 57, …;
 *   bounds ŷ ± 1.96·σ, σ = √(Σ residual² / (n − 2)) the residual standard deviation (a constant-width
 *   ≈95 % band that ignores the uncertainty of a and b). Values are rounded to integer minor units
 *   (halves towards +∞). Backtest: the same method fitted on the first 28 history days forecasts the
 *   last 28; MAPE = mean(|actual − forecast| / |actual|) × 100 over those days, days whose actual is 0
 *   skipped (their count is reported), null when every day is 0.
 */
import { LRUCache } from "lru-cache";
import { addDays, localDate, localMidnight } from "../shared/days.ts";

export const HISTORY_DAYS = 56;
export const BACKTEST_DAYS = 28;
export const Z_95 = 1.96;
export const PROJECTION_METHOD = "ols_linear_trend" as const;

export interface LinearFit {
  /** a: the fitted value at x = 0 */
  intercept: number;
  /** b: change per day */
  slope: number;
  /** residual standard deviation √(SSE / (n − 2)); 0 when n ≤ 2 */
  sigma: number;
  n: number;
}

/** OLS fit of y = a + b·x with x = 0 … n − 1 */
export function linearFit(ys: readonly number[]): LinearFit {
  const n = ys.length;
  if (n === 0) return { intercept: 0, slope: 0, sigma: 0, n };
  const xMean = (n - 1) / 2;
  const yMean = ys.reduce((s, y) => s + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  ys.forEach((y, x) => {
    sxy += (x - xMean) * (y - yMean);
    sxx += (x - xMean) ** 2;
  });
  const slope = sxx === 0 ? 0 : sxy / sxx;
  const intercept = yMean - slope * xMean;
  const sse = ys.reduce((s, y, x) => s + (y - (intercept + slope * x)) ** 2, 0);
  return { intercept, slope, sigma: n > 2 ? Math.sqrt(sse / (n - 2)) : 0, n };
}

/** ŷ(x) = a + b·x for x = fromX … fromX + count − 1 */
export function forecast(fit: LinearFit, fromX: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => fit.intercept + fit.slope * (fromX + i));
}

export interface Mape {
  /** percent; null when every actual is 0 */
  mape_percent: number | null;
  days_compared: number;
  zero_actual_days_skipped: number;
}

/** mean(|actual − forecast| / |actual|) × 100, zero actuals skipped */
export function mape(actual: readonly number[], predicted: readonly number[]): Mape {
  let sum = 0;
  let compared = 0;
  let skipped = 0;
  actual.forEach((a, i) => {
    if (a === 0) {
      skipped += 1;
      return;
    }
    sum += Math.abs(a - predicted[i]!) / Math.abs(a);
    compared += 1;
  });
  return { mape_percent: compared === 0 ? null : (sum / compared) * 100, days_compared: compared, zero_actual_days_skipped: skipped };
}

export interface Projection {
  fit: LinearFit;
  points: Array<{ value: number; lower: number; upper: number }>;
  backtest: Mape & { fit_days: number; test_days: number };
}

/** fit on `history`, forecast `horizon` days after it, backtest on its last `backtestDays` */
export function project(history: readonly number[], horizon: number, backtestDays = BACKTEST_DAYS): Projection {
  const fit = linearFit(history);
  const points = forecast(fit, history.length, horizon).map((v) => ({
    value: v,
    lower: v - Z_95 * fit.sigma,
    upper: v + Z_95 * fit.sigma,
  }));
  const trainN = history.length - backtestDays;
  const trainFit = linearFit(history.slice(0, trainN));
  const test = history.slice(trainN);
  return { fit, points, backtest: { ...mape(test, forecast(trainFit, trainN, test.length)), fit_days: trainN, test_days: test.length } };
}

/** integer minor units, halves towards +∞ */
export const roundMinor = (v: number): number => Math.floor(v + 0.5);

export interface ProjectionWindow {
  today: string;
  historyFrom: Date;
  historyTo: Date;
  historyDates: string[];
}

/** per time zone: the last window computed and the end of the local day it holds for */
const windows = new LRUCache<string, { window: ProjectionWindow; until: number }>({ max: 1_000 });

/**
 * The HISTORY_DAYS complete local days before `now`'s local date. The same for a whole local day, so
 * it is kept per time zone until that day ends (a cached projection's key needs it on every request).
 * The window is frozen: callers share it.
 */
export function projectionWindow(tz: string, now: Date): ProjectionWindow {
  const t = now.getTime();
  const known = windows.get(tz);
  if (known && t >= known.window.historyTo.getTime() && t < known.until) return known.window;
  const today = localDate(tz, now);
  const first = addDays(today, -HISTORY_DAYS);
  const window: ProjectionWindow = Object.freeze({
    today,
    historyFrom: localMidnight(tz, first),
    historyTo: localMidnight(tz, today),
    historyDates: Object.freeze(Array.from({ length: HISTORY_DAYS }, (_, i) => addDays(first, i))) as string[],
  });
  windows.set(tz, { window, until: localMidnight(tz, addDays(today, 1)).getTime() });
  return window;
}
