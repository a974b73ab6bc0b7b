/**
 * Demand scores and recommendations on hand-made fixtures, ingested through the real pipeline and
 * scored by the job's procedure (refresh_demand_scores) as of a fixed instant S, read through the API.
 * d = days before S. Sub-score of a ratio r: 100·r/(1+r). Weights: pacing .40, velocity .25,
 * conversion .20, scarcity .15. Defaults: PRICING_MAX_STEP_PCT 15, PRICING_MIN_CONFIDENCE 0.3, grid 50.
 *
 * Tenant T1, two shows (EUR), tenant conversion = Σ orders_14d / Σ views_14d = (21 + 2) / (40 + 40) = 23/80.
 *   fast-show (fast, close to its date): capacity 200, starts S + 2 d, price 5000 [4000, 6000];
 *     first view −18 d; 40 views in the last 14 d; 17 orders × 5 at −15 d, 21 orders × 5 at −2 d
 *     ⇒ sold 190, units_7d 105, units_28d 190, orders_14d 21, days_on_sale 18, window 20 d
 *     pacing     r = (190/200) / (18/20) = 19/18            ⇒ 100·19/37  = 51.3514
 *     velocity   r = (105/7) / (190/18) = 27/19             ⇒ 100·27/46  = 58.6957
 *     conversion r = (21/40) / (23/80) = 42/23              ⇒ 100·42/65  = 64.6154
 *     scarcity   = 100 · 190/200                            = 95
 *     score = .4·51.3514 + .25·58.6957 + .2·64.6154 + .15·95 = 62.3875 ⇒ 62.4
 *     evidence = min(1, (190 + 40/10)/20) = 1; first run: stability 0.5 ⇒ confidence 0.50
 *     recommendation: +(62.4 − 50)/2 = +6.2 % ⇒ 5000 · 1.062 = 5310 ⇒ grid 50 ⇒ 5300 (raise, bound none, +6 %)
 *   slow-show (slow, far from its date): capacity 500, starts S + 40 d, price 3000 [2000, 4000];
 *     first view −20 d; 40 views in 14 d; 10 orders × 2 at −19 d, 2 orders × 2 at −3 d
 *     ⇒ sold 24, units_7d 4, units_28d 24, orders_14d 2, days_on_sale 20, window 60 d
 *     pacing     r = (24/500) / (20/60) = 0.144              ⇒ 14.4/1.144 = 12.5874
 *     velocity   r = (4/7) / (24/20) = 10/21                 ⇒ 100·10/31  = 32.2581
 *     conversion r = (2/40) / (23/80) = 4/23                 ⇒ 100·4/27   = 14.8148
 *     scarcity   = 100 · 24/500                             = 4.8
 *     score = .4·12.5874 + .25·32.2581 + .2·14.8148 + .15·4.8 = 16.7824 ⇒ 16.8; confidence 0.50
 *     recommendation: (16.8 − 50)/2 = −16.6 % ⇒ step −15 % ⇒ 3000 · 0.85 = 2550 (lower, bound step)
 * Tenant T3, two products without capacity (EUR, price 2000), tenant conversion (10 + 3)/(50 + 50) = 13/100.
 *   rising: max 2150; first view −27 d; 50 views in 14 d; 5 orders × 2 at −20 d, 10 orders × 3 at −2 d
 *     velocity r = (30/7) / (40/27) = 81/28 ⇒ 100·81/109 = 74.3119; conversion r = (10/50)/(13/100) = 20/13
 *     ⇒ 100·20/33 = 60.6061; score = (.25·74.3119 + .2·60.6061)/.45 = 68.2204 ⇒ 68.2 (pacing, scarcity: none)
 *     recommendation: +9.1 % ⇒ 2182 > max 2150 ⇒ 2150 (raise, bound max)
 *   falling: min 1900; first view −27 d; 50 views in 14 d; 12 orders × 3 at −20 d, 3 orders × 1 at −2 d
 *     velocity r = (3/7) / (39/27) = 27/91 ⇒ 100·27/118 = 22.8814; conversion r = 6/13 ⇒ 100·6/19 = 31.5789
 *     score = (.25·22.8814 + .2·31.5789)/.45 = 26.7470 ⇒ 26.7; −11.65 % ⇒ 1767 < min 1900 ⇒ 1900 (lower, bound min)
 * Tenant T2, the defined answers: sold-out (capacity 10, 10 sold) ⇒ 100 sold_out, hold; started (starts
 *   −1 d) ⇒ null started; no-data (no events) ⇒ null no_data; brand-new (first view −6 h) ⇒ null brand_new;
 *   dual (catalog EUR, sold only in USD at −3 d) ⇒ an EUR row and a USD row, both insufficient_data.
 * Tenant T4, low confidence: one product, 5 views from −10 d, 1 order × 2 at −8 d ⇒ velocity r = 0 ⇒ 0;
 *   conversion r = (1/5)/(1/5) = 1 ⇒ 50; score = (.25·0 + .2·50)/.45 = 22.2; evidence = (2 + 5/10)/20 =
 *   0.125 ⇒ confidence 0.125 · 0.5 = 0.0625 ⇒ 0.06 < 0.3 ⇒ hold (low_confidence).
 */
import { beforeAll, describe, expect, test } from "bun:test";
import type { Deps } from "../../../src/deps.ts";
import { refreshTenantDemand } from "../../../src/pricing/pricing.queries.ts";
import { ingestAccepted, testApp, token } from "../../helpers/deps.ts";
import { itemUpserted } from "../../helpers/events.ts";
import { fixtures } from "../../helpers/pricing.ts";

let app: Awaited<ReturnType<typeof testApp>>["app"];
let deps: Deps;
const S = new Date(Math.floor((Date.now() - 120_000) / 1000) * 1000);
const T1 = crypto.randomUUID();
const T2 = crypto.randomUUID();
const T3 = crypto.randomUUID();
const T4 = crypto.randomUUID();

const { at, views, orders, show, product } = fixtures(S);

beforeAll(async () => {
  ({ app, deps } = await testApp());
  await ingestAccepted(deps, [
    show(T1, "fast-show", 200, 2, 5000, 4000, 6000),
    ...views(T1, "fast-show", 1, 18),
    ...views(T1, "fast-show", 40, 1),
    ...orders(T1, "fast-show", 17, 5, 5000, 15),
    ...orders(T1, "fast-show", 21, 5, 5000, 2),
    show(T1, "slow-show", 500, 40, 3000, 2000, 4000),
    ...views(T1, "slow-show", 1, 20),
    ...views(T1, "slow-show", 40, 1),
    ...orders(T1, "slow-show", 10, 2, 3000, 19),
    ...orders(T1, "slow-show", 2, 2, 3000, 3),
  ]);
  await ingestAccepted(deps, [
    product(T3, "rising", { max_price_minor: 2150 }),
    ...views(T3, "rising", 1, 27),
    ...views(T3, "rising", 50, 1),
    ...orders(T3, "rising", 5, 2, 2000, 20),
    ...orders(T3, "rising", 10, 3, 2000, 2),
    product(T3, "falling", { min_price_minor: 1900 }),
    ...views(T3, "falling", 1, 27),
    ...views(T3, "falling", 50, 1),
    ...orders(T3, "falling", 12, 3, 2000, 20),
    ...orders(T3, "falling", 3, 1, 2000, 2),
  ]);
  await ingestAccepted(deps, [
    show(T2, "sold-out", 10, 5, 4000, 3000, 5000),
    ...views(T2, "sold-out", 1, 4),
    ...orders(T2, "sold-out", 1, 10, 4000, 3),
    itemUpserted(T2, "started", { time: at(30) }, { capacity: 100, starts_at: at(1) }),
    ...orders(T2, "started", 3, 2, 2500, 5),
    product(T2, "no-data"),
    product(T2, "brand-new"),
    ...views(T2, "brand-new", 1, 0.25),
    product(T2, "dual"),
    ...orders(T2, "dual", 1, 2, 2500, 3, "USD"),
  ]);
  await ingestAccepted(deps, [
    product(T4, "quiet"),
    ...[10, 9, 8, 7, 6].flatMap((d) => views(T4, "quiet", 1, d)),
    ...orders(T4, "quiet", 1, 2, 2000, 8),
  ]);
  for (const t of [T1, T2, T3, T4]) await refreshTenantDemand(deps.sql, t, S);
}, 60_000);

async function get(tenantId: string, path: string) {
  const res = await app.request(path, { headers: { authorization: `Bearer ${await token({ tenantId, roles: ["viewer"] })}` } });
  return { res, body: (await res.json()) as any };
}
async function rowsOf(tenantId: string) {
  const { res, body } = await get(tenantId, "/v1/pricing/recommendations?sort=item_id&order=asc");
  expect(res.status).toBe(200);
  return Object.fromEntries(body.data.map((r: any) => [`${r.item_id}/${r.currency}`, r]));
}

describe("demand scores (refresh_demand_scores) against hand-computed values", () => {
  test("a fast-selling show close to its date scores 62.4 from all four sub-scores and is raised to 5300", async () => {
    const r = (await rowsOf(T1))["fast-show/EUR"];
    expect(r.inputs).toMatchObject({
      days_on_sale: 18,
      selling_window_days: 20,
      sold: 190,
      capacity: 200,
      remaining: 10,
      units_7d: 105,
      units_28d: 190,
      views_14d: 40,
      orders_14d: 21,
      tenant_conversion_14d: 0.2875,
      evidence: 1,
      stability: 0.5,
      recent_scores: [62.4],
    });
    expect(r.inputs.on_sale_since).toBe(at(18));
    expect(r.components.pacing).toEqual({ score: 51.35, weight: 0.4, ratio: 1.0556, elapsed_share: 0.9, sold_share: 0.95 });
    expect(r.components.velocity).toEqual({ score: 58.7, weight: 0.25, ratio: 1.4211, per_day_7d: 15, per_day_28d: 10.5556 });
    expect(r.components.conversion).toEqual({ score: 64.62, weight: 0.2, ratio: 1.8261, rate: 0.525, tenant_rate: 0.2875 });
    expect(r.components.scarcity).toEqual({ score: 95, weight: 0.15, sold_share: 0.95 });
    expect([r.score, r.reason, r.confidence]).toEqual([62.4, "scored", 0.5]);
    expect(r.recommendation).toEqual({
      action: "raise",
      current_price_minor: 5000,
      recommended_price_minor: 5300,
      change_pct: 6,
      bound: "none",
      grid_minor: 50,
      reason: "demand_above_expected",
    });
  });

  test("a slow show far from its date scores 16.8 and is lowered by the 15 % step limit to 2550", async () => {
    const r = (await rowsOf(T1))["slow-show/EUR"];
    expect(r.inputs).toMatchObject({
      days_on_sale: 20,
      selling_window_days: 60,
      sold: 24,
      units_7d: 4,
      units_28d: 24,
      views_14d: 40,
      orders_14d: 2,
    });
    expect([r.components.pacing.score, r.components.velocity.score, r.components.conversion.score, r.components.scarcity.score]).toEqual([
      12.59, 32.26, 14.81, 4.8,
    ]);
    expect([r.score, r.reason, r.confidence]).toEqual([16.8, "scored", 0.5]);
    expect(r.recommendation).toMatchObject({ action: "lower", recommended_price_minor: 2550, change_pct: -15, bound: "step" });
  });

  test("products with a rising and a falling trend score 68.2 and 26.7, clipped to max_price 2150 and min_price 1900", async () => {
    const rows = await rowsOf(T3);
    const rising = rows["rising/EUR"];
    const falling = rows["falling/EUR"];
    expect(rising.components.velocity).toEqual({ score: 74.31, weight: 0.25, ratio: 2.8929, per_day_7d: 4.2857, per_day_28d: 1.4815 });
    expect(rising.components.conversion.score).toBe(60.61);
    expect(rising.components.pacing).toEqual({ score: null, weight: 0.4, note: "only for a ticketed item with capacity and starts_at" });
    expect(rising.components.scarcity).toEqual({ score: null, weight: 0.15, note: "no capacity" });
    expect([rising.score, rising.confidence]).toEqual([68.2, 0.5]);
    expect(rising.recommendation).toMatchObject({ action: "raise", recommended_price_minor: 2150, change_pct: 7.5, bound: "max" });
    expect([falling.components.velocity.score, falling.components.conversion.score]).toEqual([22.88, 31.58]);
    expect([falling.score, falling.confidence]).toEqual([26.7, 0.5]);
    expect(falling.recommendation).toMatchObject({ action: "lower", recommended_price_minor: 1900, change_pct: -5, bound: "min" });
  });

  test("sold out, started, no data, brand new and a second currency each have a defined answer, never a crash or NaN", async () => {
    const rows = await rowsOf(T2);
    expect(Object.keys(rows).sort()).toEqual(["brand-new/EUR", "dual/EUR", "dual/USD", "no-data/EUR", "sold-out/EUR", "started/EUR"]);
    const pick = (k: string) => [
      rows[k].score,
      rows[k].reason,
      rows[k].confidence,
      rows[k].recommendation.action,
      rows[k].recommendation.reason,
    ];
    // sold-out: evidence (10 + 1/10)/20 = 0.505, × 0.5 = 0.2525 ⇒ 0.25
    expect(pick("sold-out/EUR")).toEqual([100, "sold_out", 0.25, "hold", "sold_out"]);
    expect(pick("started/EUR")).toEqual([null, "started", null, "hold", "started"]);
    expect(pick("no-data/EUR")).toEqual([null, "no_data", null, "hold", "no_data"]);
    expect(pick("brand-new/EUR")).toEqual([null, "brand_new", null, "hold", "brand_new"]);
    expect(pick("dual/EUR")).toEqual([null, "insufficient_data", null, "hold", "insufficient_data"]);
    expect(pick("dual/USD")).toEqual([null, "insufficient_data", null, "hold", "insufficient_data"]);
    expect(rows["dual/USD"].inputs).toMatchObject({ units_28d: 2, sold: 2, views_14d: 0, orders_14d: 1 });
    // conversion is the item's: its EUR row counts the USD order too (units stay per currency)
    expect(rows["dual/EUR"].inputs).toMatchObject({ units_28d: 0, sold: 2, orders_14d: 1 });
    expect(rows["no-data/EUR"].inputs).toMatchObject({ on_sale_since: null, days_on_sale: null, sold: 0 });
    expect(rows["brand-new/EUR"].components.velocity).toEqual({ score: null, weight: 0.25, note: "brand_new" });
    expect(JSON.stringify(rows)).not.toContain("NaN");
  });

  test("low evidence gives confidence 0.06, below PRICING_MIN_CONFIDENCE: the recommendation holds", async () => {
    const r = (await rowsOf(T4))["quiet/EUR"];
    expect([r.score, r.confidence, r.inputs.evidence]).toEqual([22.2, 0.06, 0.125]);
    expect(r.recommendation).toMatchObject({ action: "hold", recommended_price_minor: 2000, reason: "low_confidence" });
  });

  test("a second run with the same score is stable: stability 1 and confidence = evidence", async () => {
    const t = crypto.randomUUID();
    await ingestAccepted(deps, [
      product(t, "steady"),
      ...views(t, "steady", 30, 1),
      ...views(t, "steady", 1, 10),
      ...orders(t, "steady", 10, 2, 2000, 2),
    ]);
    await refreshTenantDemand(deps.sql, t, S);
    const first = (await rowsOf(t))["steady/EUR"];
    await refreshTenantDemand(deps.sql, t, S);
    const second = (await rowsOf(t))["steady/EUR"];
    // evidence = min(1, (20 + 31/10)/20) = 1
    expect([first.inputs.stability, first.confidence]).toEqual([0.5, 0.5]);
    expect([second.inputs.stability, second.confidence, second.inputs.recent_scores]).toEqual([1, 1, [first.score, first.score]]);
  });

  test("stability over the last three scores: 1 − (max − min)/25, 0.5 alone, at least 0", async () => {
    const [r] =
      await deps.sql`select demand_stability('{70,60,50,10}'::numeric[])::float8 as a, demand_stability('{70}'::numeric[])::float8 as b,
                                      demand_stability('{90,50}'::numeric[])::float8 as c, demand_stability('{}'::numeric[]) as d`;
    // {70,60,50}: 1 − 20/25 = 0.2 (the 4th is older than the three); {90,50}: 1 − min(1, 40/25) = 0
    expect(r).toEqual({ a: 0.2, b: 0.5, c: 0, d: null });
  });
});

describe("GET /v1/pricing/recommendations", () => {
  test("sorts by score descending by default and pages with next_cursor", async () => {
    const first = await get(T1, "/v1/pricing/recommendations?limit=1");
    expect(first.body.data.map((r: any) => r.item_id)).toEqual(["fast-show"]);
    expect(first.body.scored_at).toBe(S.toISOString());
    const second = await get(T1, `/v1/pricing/recommendations?limit=1&cursor=${first.body.next_cursor}`);
    expect(second.body.data.map((r: any) => r.item_id)).toEqual(["slow-show"]);
    expect(second.body.next_cursor).toBeNull();
  });

  test("filters by score range, reason and kind; null scores sort last", async () => {
    expect((await get(T3, "/v1/pricing/recommendations?min_score=50")).body.data.map((r: any) => r.item_id)).toEqual(["rising"]);
    expect((await get(T2, "/v1/pricing/recommendations?reason=sold_out")).body.data.map((r: any) => r.item_id)).toEqual(["sold-out"]);
    const all = (await get(T2, "/v1/pricing/recommendations")).body.data.map((r: any) => r.item_id);
    expect(all[0]).toBe("sold-out");
    expect(
      (await get(T2, "/v1/pricing/recommendations?kind=ticketed_event&sort=item_id&order=asc")).body.data.map((r: any) => r.item_id),
    ).toEqual(["sold-out", "started"]);
  });

  test("answers 400 naming the field for a bad sort, a bad cursor or min_score above max_score", async () => {
    for (const [q, field] of [
      ["sort=price", "sort"],
      ["cursor=nope", "cursor"],
      ["min_score=70&max_score=20", "min_score"],
    ] as const) {
      const { res, body } = await get(T1, `/v1/pricing/recommendations?${q}`);
      expect(res.status).toBe(400);
      expect(body.errors.map((e: any) => e.path)).toContain(field);
    }
  });
});

describe("GET /v1/pricing/items/{item_id}/demand", () => {
  test("returns the catalog item and its rows (catalog currency first)", async () => {
    const { res, body } = await get(T2, "/v1/pricing/items/dual/demand");
    expect(res.status).toBe(200);
    expect(body.item).toMatchObject({ item_id: "dual", currency: "EUR", base_price_minor: 2000, kind: "product" });
    expect(body.data.map((r: any) => r.currency)).toEqual(["EUR", "USD"]);
    expect(body.data[1].recommendation.reason).toBe("insufficient_data");
  });

  test("answers 404 for an item of another tenant or none", async () => {
    const { res, body } = await get(T2, "/v1/pricing/items/fast-show/demand");
    expect(res.status).toBe(404);
    expect(body.errors[0].path).toBe("item_id");
  });
});

describe("POST /v1/pricing/scores/refresh", () => {
  test("recomputes the tenant's scores now (analyst) and refuses a viewer", async () => {
    const t = crypto.randomUUID();
    await ingestAccepted(deps, [product(t, "p-1"), product(t, "p-2")]);
    const res = await app.request("/v1/pricing/scores/refresh", {
      method: "POST",
      headers: { authorization: `Bearer ${await token({ tenantId: t, roles: ["analyst"] })}` },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.rows).toBe(2);
    expect(Math.abs(Date.parse(body.scored_at) - Date.now())).toBeLessThan(60_000);
    const viewer = await app.request("/v1/pricing/scores/refresh", {
      method: "POST",
      headers: { authorization: `Bearer ${await token({ tenantId: t, roles: ["viewer"] })}` },
    });
    expect(viewer.status).toBe(403);
  });
});

describe("the spec", () => {
  test("every pricing operation's description states the score formula with its weights and the recommendation mapping", async () => {
    type Spec = { paths: Record<string, Record<string, { tags?: string[]; description?: string }>> };
    const spec = (await (await app.request("/openapi.json")).json()) as Spec;
    const ops = Object.values(spec.paths)
      .flatMap((p) => Object.values(p))
      .filter((o) => o.tags?.includes("pricing"));
    expect(ops).toHaveLength(10);
    for (const o of ops) {
      expect(o.description).toContain("weights pacing 0.40, velocity 0.25, conversion 0.20, scarcity 0.15");
      expect(o.description).toContain("change % = (score − 50) / 2");
    }
  });
});
