/**
 * getSalesMetrics and getRevenueProjection over HTTP, on hand-made fixtures ingested through the real
 * pipeline and read from the continuous aggregates (UTC days ⇒ the daily level).
 *
 * Tenant S (D = today's UTC midnight; current period [D − 2 d, D), previous [D − 4 d, D − 2 d)):
 *   p1 D−4d 10:00 web    EUR 2 × 1000 = 2000 (units 2)      refund of p1 500 EUR at D−3d 12:00
 *   p2 D−3d 10:00 web    EUR 1 × 2000 = 2000 (units 1)
 *   c1 D−2d 10:00 web    EUR 3 × 1000 = 3000 (units 3)      refund of c1 1000 EUR at D−1d 12:00
 *   c2 D−2d 11:00 mobile EUR 1 × 2500 = 2500 (units 1)
 *   c3 D−1d 09:00 web    USD 1 × 4000 = 4000 (units 1)
 * Tenant P (projection, in zone TZ): for k = 0 … 55, on the local day (today − 56 + k) at local noon,
 *   one EUR order of 1000 + 10·k; one USD order of 5000 on the day k = 50 only.
 * Tenant E: nothing.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import type { Deps } from "../../../src/deps.ts";
import { ingestAccepted, refreshAggregates, testApp, token } from "../../helpers/deps.ts";
import { type CloudEvent, orderCompleted, orderRefunded } from "../../helpers/events.ts";

let app: Awaited<ReturnType<typeof testApp>>["app"];
let deps: Deps;
const S = crypto.randomUUID();
const P = crypto.randomUUID();
const E = crypto.randomUUID();

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const D = Math.floor(Date.now() / DAY) * DAY;
const at = (days: number, hours: number) => new Date(D + days * DAY + hours * HOUR).toISOString();
const CURRENT = { from: at(-2, 0), to: at(0, 0) };

// a zone whose local time is at least 3 hours away from midnight while the test runs (no DST in either)
const utcHour = new Date().getUTCHours();
const TZ = utcHour >= 6 && utcHour < 18 ? "UTC" : "Asia/Tokyo";
const OFFSET_H = TZ === "UTC" ? 0 : 9;
const todayLocal = new Date(Date.now() + OFFSET_H * HOUR).toISOString().slice(0, 10);
const localDay = (k: number) => {
  const [y, m, d] = todayLocal.split("-").map(Number);
  return new Date(Date.UTC(y!, m! - 1, d! + k)).toISOString().slice(0, 10);
};
const localNoon = (k: number) => new Date(Date.parse(`${localDay(k)}T12:00:00Z`) - OFFSET_H * HOUR).toISOString();

const order = (t: string, id: string, time: string, currency: string, quantity: number, price: number, channel = "web") =>
  orderCompleted(
    t,
    { time },
    {
      order_id: id,
      channel,
      currency,
      lines: [{ item_id: "show-1", quantity, unit_price_minor: price }],
      discount_minor: 0,
      total_minor: quantity * price,
    },
  );

const ingest = (events: CloudEvent[]) => ingestAccepted(deps, events);

async function get(path: string, params: Record<string, string>, tenantId: string) {
  const res = await app.request(`${path}?${new URLSearchParams(params)}`, {
    headers: { authorization: `Bearer ${await token({ tenantId, roles: ["viewer"] })}` },
  });
  return { res, body: (await res.json()) as any };
}

beforeAll(async () => {
  ({ app, deps } = await testApp());
  await ingest([
    order(S, "p1", at(-4, 10), "EUR", 2, 1000),
    order(S, "p2", at(-3, 10), "EUR", 1, 2000),
    orderRefunded(S, "p1", 500, { time: at(-3, 12) }),
    order(S, "c1", at(-2, 10), "EUR", 3, 1000),
    order(S, "c2", at(-2, 11), "EUR", 1, 2500, "mobile"),
    order(S, "c3", at(-1, 9), "USD", 1, 4000),
    orderRefunded(S, "c1", 1000, { time: at(-1, 12) }),
  ]);
  const history: CloudEvent[] = [];
  for (let k = 0; k < 56; k++) history.push(order(P, `e${k}`, localNoon(k - 56), "EUR", 1, 1000 + 10 * k));
  history.push(order(P, "u50", localNoon(50 - 56), "USD", 1, 5000));
  await ingest(history);
  // as the refresh policies would (another test file may have moved the aggregates' watermarks)
  await refreshAggregates(deps.sql, new Date(Date.now() - 60 * 86_400_000), new Date());
}, 60_000);

describe("sales metrics", () => {
  test("per day: orders, units and revenue per currency, and growth vs the previous equal period", async () => {
    const { res, body } = await get("/v1/sales/metrics", { ...CURRENT, bucket: "day" }, S);
    expect(res.status).toBe(200);
    expect(body.data.previous_from).toBe(at(-4, 0));
    expect(body.data.previous_to).toBe(at(-2, 0));
    // D−2d EUR: c1 + c2 = 2 orders, 3 + 1 = 4 units, 3000 + 2500 = 5500
    // D−1d EUR: no order, the 1000 refund of c1 ⇒ net −1000; D−1d USD: c3 4000
    expect(body.data.buckets).toEqual([
      { bucket_start: at(-2, 0), currency: "EUR", orders: 2, units: 4, gross_minor: 5500, refunds_minor: 0, net_minor: 5500 },
      { bucket_start: at(-1, 0), currency: "EUR", orders: 0, units: 0, gross_minor: 0, refunds_minor: 1000, net_minor: -1000 },
      { bucket_start: at(-1, 0), currency: "USD", orders: 1, units: 1, gross_minor: 4000, refunds_minor: 0, net_minor: 4000 },
    ]);
    // EUR current: 2 orders, 4 units, gross 5500, refunds 1000, net 4500
    // EUR previous: p1 + p2 = 2 orders, 2 + 1 = 3 units, gross 4000, refund 500, net 3500
    // growth: orders (2 − 2) / 2 = 0; units (4 − 3) / 3 = 1/3; gross 1500 / 4000 = 0.375; net 1000 / 3500 = 2/7
    // USD: nothing before ⇒ growth null
    const [eur, usd] = body.data.totals;
    expect(eur.currency).toBe("EUR");
    expect(eur.current).toEqual({ orders: 2, units: 4, gross_minor: 5500, refunds_minor: 1000, net_minor: 4500 });
    expect(eur.previous).toEqual({ orders: 2, units: 3, gross_minor: 4000, refunds_minor: 500, net_minor: 3500 });
    expect(eur.growth.orders).toBe(0);
    expect(eur.growth.units).toBeCloseTo(1 / 3, 12);
    expect(eur.growth.gross).toBe(0.375);
    expect(eur.growth.net).toBeCloseTo(2 / 7, 12);
    expect(usd).toEqual({
      currency: "USD",
      current: { orders: 1, units: 1, gross_minor: 4000, refunds_minor: 0, net_minor: 4000 },
      previous: { orders: 0, units: 0, gross_minor: 0, refunds_minor: 0, net_minor: 0 },
      growth: { orders: null, units: null, gross: null, net: null },
    });
    // the newest order/refund in range: c1's refund
    expect(body.watermark).toBe(at(-1, 12));
  });

  test("the materialised aggregates give the same totals as the real-time ones", async () => {
    // (never a refresh to NULL: that would materialise the current bucket and hide later events of it)
    await refreshAggregates(deps.sql, new Date(Date.now() - 60 * 86_400_000), new Date());
    const { body } = await get("/v1/sales/metrics", { ...CURRENT, bucket: "day", currency: "EUR" }, S);
    expect(body.data.totals).toHaveLength(1);
    expect(body.data.totals[0].current).toEqual({ orders: 2, units: 4, gross_minor: 5500, refunds_minor: 1000, net_minor: 4500 });
  }, 30_000);

  test("a channel filter keeps that channel's orders and the refunds of its orders", async () => {
    const { body } = await get("/v1/sales/metrics", { ...CURRENT, bucket: "day", channel: "mobile" }, S);
    // mobile: c2 only (2500 EUR); previous period has no mobile order ⇒ growth null
    expect(body.data.buckets).toEqual([
      { bucket_start: at(-2, 0), currency: "EUR", orders: 1, units: 1, gross_minor: 2500, refunds_minor: 0, net_minor: 2500 },
    ]);
    expect(body.data.totals[0].growth).toEqual({ orders: null, units: null, gross: null, net: null });
  });

  test("an empty tenant gets empty buckets and totals; a bad bucket is a 400 naming bucket", async () => {
    const empty = await get("/v1/sales/metrics", CURRENT, E);
    expect(empty.res.status).toBe(200);
    expect(empty.body.data.buckets).toEqual([]);
    expect(empty.body.data.totals).toEqual([]);
    const bad = await get("/v1/sales/metrics", { ...CURRENT, bucket: "fortnight" }, S);
    expect(bad.res.status).toBe(400);
    expect(bad.body.errors.map((e: { path: string }) => e.path)).toContain("bucket");
  });
});

describe("revenue projection", () => {
  test("a linear history is projected exactly with a zero-width band and a zero backtest error", async () => {
    const { res, body } = await get("/v1/revenue/projection", { horizon: "30", timezone: TZ, currency: "EUR" }, P);
    expect(res.status).toBe(200);
    expect(body.data.method).toBe("ols_linear_trend");
    expect(body.data.horizon_days).toBe(30);
    expect(body.data.history.days).toBe(56);
    expect(body.data.note).toBeNull();
    expect(body.data.currencies).toHaveLength(1);
    const eur = body.data.currencies[0];
    // y_k = 1000 + 10k exactly ⇒ a = 1000, b = 10, σ = 0
    expect(eur.intercept_minor).toBeCloseTo(1000, 6);
    expect(eur.slope_minor_per_day).toBeCloseTo(10, 8);
    expect(eur.sigma_minor).toBeCloseTo(0, 6);
    expect(eur.history[0]).toEqual({ date: localDay(-56), net_minor: 1000 });
    expect(eur.history[55]).toEqual({ date: localDay(-1), net_minor: 1550 });
    // today is x = 56 ⇒ 1000 + 560 = 1560; the 30th day x = 85 ⇒ 1850
    expect(eur.points).toHaveLength(30);
    expect(eur.points[0]).toEqual({ date: localDay(0), net_minor: 1560, lower_minor: 1560, upper_minor: 1560 });
    expect(eur.points[29]).toEqual({ date: localDay(29), net_minor: 1850, lower_minor: 1850, upper_minor: 1850 });
    // backtest: the first 28 days fit the same line, so the last 28 are forecast exactly
    expect(eur.backtest.mape_percent).toBeCloseTo(0, 8);
    expect(eur.backtest).toMatchObject({ days_compared: 28, zero_actual_days_skipped: 0, fit_days: 28, test_days: 28 });
  });

  test("a single sale: the trend, its ±1.96σ band and a backtest that skips the zero days", async () => {
    const { body } = await get("/v1/revenue/projection", { horizon: "90", timezone: TZ, currency: "USD" }, P);
    const usd = body.data.currencies[0];
    expect(usd.currency).toBe("USD");
    // y = 0 except y50 = 5000; n = 56, x̄ = 27.5, ȳ = 5000 / 56 = 89.2857…
    // Sxy = (50 − 27.5) × 5000 = 112500; Sxx = n(n² − 1)/12 = 56 × 3135 / 12 = 14630
    // b = 112500 / 14630 = 7.6896787…; a = 89.2857… − 7.6896787 × 27.5 = −122.1804511…
    // SSE = Syy − b·Sxy = (25 000 000 − 5000²/56) − 7.6896787 × 112500 = 24 553 571.43 − 865 088.86 = 23 688 482.57
    // σ = √(23 688 482.57 / 54) = 662.3259…
    // ŷ(56) = a + 56b = 308.4416 ⇒ 308; bounds 308.4416 ∓ 1.96 × 662.3259 = 308.4416 ∓ 1298.1588 ⇒ −989.7 → −990, 1606.6 → 1607
    expect(usd.slope_minor_per_day).toBeCloseTo(7.6896787, 6);
    expect(usd.intercept_minor).toBeCloseTo(-122.1804511, 6);
    expect(usd.sigma_minor).toBeCloseTo(662.3259, 3);
    expect(usd.points).toHaveLength(90);
    expect(usd.points[0]).toEqual({ date: localDay(0), net_minor: 308, lower_minor: -990, upper_minor: 1607 });
    // backtest: the first 28 days are all 0 ⇒ forecast 0; of the last 28, 27 actuals are 0 (skipped) and
    // day 50 has 5000: |5000 − 0| / 5000 = 100 %
    expect(usd.backtest).toEqual({ mape_percent: 100, days_compared: 1, zero_actual_days_skipped: 27, fit_days: 28, test_days: 28 });
  });

  test("an empty history gives an empty projection with a note, not an error", async () => {
    const { res, body } = await get("/v1/revenue/projection", { horizon: "30" }, E);
    expect(res.status).toBe(200);
    expect(body.data.currencies).toEqual([]);
    expect(body.data.note).toContain("no sales or refunds");
    expect(body.watermark).toBeNull();
  });

  test("a horizon other than 30 or 90 is a 400 naming horizon", async () => {
    const { res, body } = await get("/v1/revenue/projection", { horizon: "45" }, P);
    expect(res.status).toBe(400);
    expect(body.errors.map((e: { path: string }) => e.path)).toContain("horizon");
  });
});
