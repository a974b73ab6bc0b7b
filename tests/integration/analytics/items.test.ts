/**
 * getItemPerformance on a hand-made fixture ingested through the real pipeline.
 *
 * T0 = the UTC hour three days ago; range [T0, T0 + 48 h) (days_on_sale = 2 for items on sale all range).
 * Catalog (tenant A):
 *   show-1 ticketed, capacity 4, starts in 10 days          gig-0 ticketed, capacity 10, started at T0 + 12 h
 *   hall-9 ticketed, capacity 100, starts in 2 days (no sales)   tee-1 product, no capacity
 * Orders:
 *   o1 T0+1h web        EUR show-1 2×2500 + tee-1 1×1999 − 499 discount = 6500
 *        discount split by largest remainder: 499×5000/6999 = 356.48 → 356, 499×1999/6999 = 142.52 → 143
 *        ⇒ show-1 net 5000 − 356 = 4644, tee-1 net 1999 − 143 = 1856
 *   o2 T0+2h box_office EUR show-1 2×2500 = 5000
 *   o3 T0+3h web        USD mug-1 2×1250 = 2500 (mug-1 is not in the catalog)
 *   o4 T0+4h web        EUR gig-0 1×2500 = 2500
 * Tenant B sells 50 × show-1 (must never show in A). Tenant E has nothing.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { bumpGeneration } from "../../../src/analytics/shared/generation.ts";
import type { Deps } from "../../../src/deps.ts";
import { ingestAccepted, refreshAggregates, testApp, token } from "../../helpers/deps.ts";
import { type CloudEvent, itemUpserted, orderCompleted } from "../../helpers/events.ts";

let app: Awaited<ReturnType<typeof testApp>>["app"];
let deps: Deps;
const A = crypto.randomUUID();
const B = crypto.randomUUID();
const E = crypto.randomUUID();
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Math.floor(Date.now() / HOUR) * HOUR - 72 * HOUR;
const iso = (ms: number) => new Date(ms).toISOString();
const RANGE = { from: iso(T0), to: iso(T0 + 48 * HOUR) };
const SHOW_STARTS = iso(Math.floor(Date.now() / 1000) * 1000 + 10 * DAY);
const HALL_STARTS = iso(Math.floor(Date.now() / 1000) * 1000 + 2 * DAY);
const GIG_STARTS = iso(T0 + 12 * HOUR);
const catalogTime = { time: iso(Date.now() - 600_000) };

const order = (t: string, h: number, channel: string, currency: string, lines: Array<[string, number, number]>, discount = 0) =>
  orderCompleted(
    t,
    { time: iso(T0 + h * HOUR) },
    {
      channel,
      currency,
      lines: lines.map(([item_id, quantity, unit_price_minor]) => ({ item_id, quantity, unit_price_minor })),
      discount_minor: discount,
      total_minor: lines.reduce((s, [, q, p]) => s + q * p, 0) - discount,
    },
  );

const ingest = (events: CloudEvent[]) => ingestAccepted(deps, events);

async function items(params: Record<string, string>, tenantId = A) {
  const res = await app.request(`/v1/items/performance?${new URLSearchParams(params)}`, {
    headers: { authorization: `Bearer ${await token({ tenantId, roles: ["viewer"] })}` },
  });
  return { res, body: (await res.json()) as any };
}
const ids = (body: any) => body.data.map((r: { item_id: string }) => r.item_id);

beforeAll(async () => {
  ({ app, deps } = await testApp());
  await ingest([
    itemUpserted(A, "show-1", catalogTime, { capacity: 4, starts_at: SHOW_STARTS }),
    itemUpserted(A, "gig-0", catalogTime, { name: "Matinee", capacity: 10, starts_at: GIG_STARTS }),
    itemUpserted(A, "hall-9", catalogTime, { name: "Hall", capacity: 100, starts_at: HALL_STARTS }),
    itemUpserted(A, "tee-1", catalogTime, {
      name: "Tee",
      category: "merch",
      kind: "product",
      capacity: undefined,
      starts_at: undefined,
      base_price_minor: 1999,
      min_price_minor: 1500,
      max_price_minor: 2500,
    }),
    order(
      A,
      1,
      "web",
      "EUR",
      [
        ["show-1", 2, 2500],
        ["tee-1", 1, 1999],
      ],
      499,
    ),
    order(A, 2, "box_office", "EUR", [["show-1", 2, 2500]]),
    order(A, 3, "web", "USD", [["mug-1", 2, 1250]]),
    order(A, 4, "web", "EUR", [["gig-0", 1, 2500]]),
    order(B, 1, "web", "EUR", [["show-1", 50, 2500]]),
  ]);
  // as the refresh policies would (another test file may have moved the aggregates' watermarks)
  await refreshAggregates(deps.sql, new Date(T0 - DAY), new Date(T0 + 3 * DAY));
}, 30_000);

describe("getItemPerformance", () => {
  test("per item: units, revenue per currency, utilisation, sold-out, sell-through and time to start, by revenue desc", async () => {
    const { res, body } = await items(RANGE);
    expect(res.status).toBe(200);
    const asOf = Date.parse(body.as_of);
    // revenue keys: show-1 4644 + 5000 = 9644 EUR; gig-0 2500 EUR; mug-1 2500 USD (its only currency);
    // tee-1 1856 EUR; hall-9 0 ⇒ show-1, gig-0 / mug-1 (tie: item_id), tee-1, hall-9
    expect(ids(body)).toEqual(["show-1", "gig-0", "mug-1", "tee-1", "hall-9"]);
    expect(body.next_cursor).toBeNull();
    expect(body.watermark).toBe(iso(T0 + 4 * HOUR)); // o4, the newest order in range
    const [show, gig, mug, tee, hall] = body.data;
    // show-1: units 2 + 2 = 4 = capacity ⇒ utilisation 4/4 = 1, sold out; on sale the whole 2 days ⇒ 4 / 2 = 2 a day
    expect(show).toEqual({
      item_id: "show-1",
      name: "Late show",
      category: "concert",
      kind: "ticketed_event",
      capacity: 4,
      starts_at: SHOW_STARTS,
      units: 4,
      revenue: [{ currency: "EUR", net_minor: 9644 }],
      capacity_utilisation: 1,
      sold_out: true,
      days_on_sale: 2,
      sell_through_per_day: 2,
      time_to_start_seconds: Math.round((Date.parse(SHOW_STARTS) - asOf) / 1000),
    });
    // gig-0 started at T0 + 12 h: on sale [T0, T0 + 12 h) = 0.5 days ⇒ 1 / 0.5 = 2 a day; 1/10 = 0.1; started (negative)
    expect(gig).toMatchObject({
      units: 1,
      revenue: [{ currency: "EUR", net_minor: 2500 }],
      capacity_utilisation: 0.1,
      sold_out: false,
      days_on_sale: 0.5,
      sell_through_per_day: 2,
    });
    expect(gig.time_to_start_seconds).toBe(Math.round((Date.parse(GIG_STARTS) - asOf) / 1000));
    expect(gig.time_to_start_seconds).toBeLessThan(0);
    // mug-1: not in the catalog ⇒ uncategorised, no capacity; 2 / 2 days = 1 a day
    expect(mug).toEqual({
      item_id: "mug-1",
      name: null,
      category: "uncategorised",
      kind: null,
      capacity: null,
      starts_at: null,
      units: 2,
      revenue: [{ currency: "USD", net_minor: 2500 }],
      capacity_utilisation: null,
      sold_out: false,
      days_on_sale: 2,
      sell_through_per_day: 1,
      time_to_start_seconds: null,
    });
    // tee-1: a product (no time to start), 1 unit / 2 days = 0.5
    expect(tee).toMatchObject({
      units: 1,
      revenue: [{ currency: "EUR", net_minor: 1856 }],
      capacity: null,
      capacity_utilisation: null,
      sold_out: false,
      sell_through_per_day: 0.5,
      time_to_start_seconds: null,
    });
    // hall-9: no sales ⇒ zeros, an empty revenue list, utilisation 0/100 = 0
    expect(hall).toMatchObject({
      units: 0,
      revenue: [],
      capacity: 100,
      capacity_utilisation: 0,
      sold_out: false,
      days_on_sale: 2,
      sell_through_per_day: 0,
    });
  });

  test("sort whitelist: utilisation puts items without capacity last, units ascending breaks ties by item_id", async () => {
    // utilisation: show-1 1, gig-0 0.1, hall-9 0, then the null ones (mug-1, tee-1)
    expect(ids((await items({ ...RANGE, sort: "utilisation" })).body)).toEqual(["show-1", "gig-0", "hall-9", "mug-1", "tee-1"]);
    expect(ids((await items({ ...RANGE, sort: "utilisation", order: "asc" })).body)).toEqual([
      "hall-9",
      "gig-0",
      "show-1",
      "mug-1",
      "tee-1",
    ]);
    // units: hall-9 0, gig-0 1, tee-1 1, mug-1 2, show-1 4
    expect(ids((await items({ ...RANGE, sort: "units", order: "asc" })).body)).toEqual(["hall-9", "gig-0", "tee-1", "mug-1", "show-1"]);
    expect(ids((await items({ ...RANGE, sort: "item_id", order: "asc" })).body)).toEqual(["gig-0", "hall-9", "mug-1", "show-1", "tee-1"]);
  });

  test("cursor pages walk the sorted list without gaps or repeats", async () => {
    const p1 = (await items({ ...RANGE, limit: "2" })).body;
    expect(ids(p1)).toEqual(["show-1", "gig-0"]);
    const p2 = (await items({ ...RANGE, limit: "2", cursor: p1.next_cursor })).body;
    expect(ids(p2)).toEqual(["mug-1", "tee-1"]);
    const p3 = (await items({ ...RANGE, limit: "2", cursor: p2.next_cursor })).body;
    expect(ids(p3)).toEqual(["hall-9"]);
    expect(p3.next_cursor).toBeNull();
  });

  test("filters: category, currency, channel and item_id", async () => {
    expect(ids((await items({ ...RANGE, category: "merch" })).body)).toEqual(["tee-1"]);
    // USD: only mug-1 sold in it, and no catalog item is priced in USD
    expect((await items({ ...RANGE, currency: "USD" })).body.data.map((r: any) => [r.item_id, r.units, r.revenue])).toEqual([
      ["mug-1", 2, [{ currency: "USD", net_minor: 2500 }]],
    ]);
    // box office: only o2 (show-1 2 × 2500); the other catalog items are listed with zeros, mug-1 (web only, not in the catalog) is not
    const box = (await items({ ...RANGE, channel: "box_office" })).body.data;
    expect(box.map((r: any) => [r.item_id, r.units, r.revenue])).toEqual([
      ["show-1", 2, [{ currency: "EUR", net_minor: 5000 }]],
      ["gig-0", 0, []],
      ["hall-9", 0, []],
      ["tee-1", 0, []],
    ]);
    expect(box[0].capacity_utilisation).toBe(0.5); // 2 / 4
    expect((await items({ ...RANGE, item_id: "hall-9" })).body.data.map((r: any) => [r.item_id, r.units])).toEqual([["hall-9", 0]]);
  });

  test("a range before any sale lists the catalog with zeros; an empty tenant gets an empty list", async () => {
    const before = { from: iso(T0 - 48 * HOUR), to: iso(T0) };
    const { body } = await items({ ...before, sort: "item_id", order: "asc" });
    expect(body.data.map((r: any) => [r.item_id, r.units, r.revenue.length, r.sold_out])).toEqual([
      ["gig-0", 0, 0, false],
      ["hall-9", 0, 0, false],
      ["show-1", 0, 0, false],
      ["tee-1", 0, 0, false],
    ]);
    const empty = await items(RANGE, E);
    expect(empty.res.status).toBe(200);
    expect(empty.body.data).toEqual([]);
    expect(empty.body.watermark).toBeNull();
  });

  test("the materialised line aggregates give the same figures as the real-time part", async () => {
    for (const level of ["5m", "1h", "1d"]) {
      await deps.sql`call refresh_continuous_aggregate(${`agg_lines_${level}`}::regclass, ${iso(T0 - DAY)}::timestamptz, ${iso(T0 + 3 * DAY)}::timestamptz)`;
    }
    await bumpGeneration(deps.cache, [A]); // a fresh answer, not the cached one
    const { body } = await items(RANGE);
    // as in the first test: show-1 4 units 9644 EUR, gig-0 1 / 2500 EUR, mug-1 2 / 2500 USD, tee-1 1 / 1856 EUR, hall-9 0
    expect(body.data.map((r: any) => [r.item_id, r.units, r.revenue])).toEqual([
      ["show-1", 4, [{ currency: "EUR", net_minor: 9644 }]],
      ["gig-0", 1, [{ currency: "EUR", net_minor: 2500 }]],
      ["mug-1", 2, [{ currency: "USD", net_minor: 2500 }]],
      ["tee-1", 1, [{ currency: "EUR", net_minor: 1856 }]],
      ["hall-9", 0, []],
    ]);
  }, 30_000);

  test("bad sort, order and cursor are 400 problems naming the field", async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ sort: "price" }, "sort"],
      [{ order: "up" }, "order"],
      [{ cursor: "not-a-cursor" }, "cursor"],
      [{ limit: "0" }, "limit"],
      [{ currency: "eur" }, "currency"],
    ];
    for (const [extra, field] of cases) {
      const { res, body } = await items({ ...RANGE, ...extra });
      expect(res.status).toBe(400);
      expect(body.errors.map((e: { path: string }) => e.path)).toContain(field);
    }
    // a cursor of another sort order is refused too
    const p1 = (await items({ ...RANGE, limit: "1" })).body;
    const other = await items({ ...RANGE, limit: "1", sort: "units", cursor: p1.next_cursor });
    expect(other.res.status).toBe(400);
    expect(other.body.errors[0].path).toBe("cursor");
  });
});
