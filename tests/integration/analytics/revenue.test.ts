/**
 * Revenue operations and the analytics read framework (cache, generations, single flight, timeouts),
 * on a hand-made fixture ingested through the real pipeline and read through the continuous
 * aggregates (refreshed here as the owner, as the refresh policies would).
 *
 * Fixture, tenant A (a venue in Europe/Berlin; the clocks went back at 2026-10-25T01:00Z):
 *   local Berlin day 2026-10-25 = [2026-10-24T22:00Z, 2026-10-25T23:00Z): 25 hours
 *   o1 2026-10-24T21:30Z web        EUR  show-1 2×2500 + tee-1 1×1999 − discount 499 = 6500, units 3
 *        lines net of discount (largest remainder): discount shares 499×5000/6999 = 356.48 → 356,
 *        499×1999/6999 = 142.52 → 142, one unit left → tee (.52 > .48) → 143;
 *        show-1 net 5000 − 356 = 4644, tee-1 net 1999 − 143 = 1856 (Σ 6500)
 *   o2 2026-10-25T00:30Z box_office EUR  show-1 1×2500 = 2500, units 1   (local 02:30 CEST)
 *   o3 2026-10-25T01:30Z web        EUR  tee-1 3×1999 = 5997, units 3    (local 02:30 CET, the 2nd one)
 *   o6 2026-10-25T12:00Z web        USD  mug-1 2×1250 = 2500, units 2    (mug-1 not in the catalog)
 *   r1 2026-10-25T15:00Z refund of o3: 1999 EUR
 *   o4 2026-10-25T22:30Z web        EUR  show-1 4×2500 = 10000, units 4  (local 23:30 CET, Oct 25)
 *   o5 2026-10-25T23:10Z mobile     EUR  show-1 1×2500 = 2500, units 1   (local 00:10, Oct 26)
 *   r2 2026-10-26T09:00Z refund of o1: 1000 EUR
 *   catalog: show-1 = concert, tee-1 = merch
 * Tenant B: one 99 999 EUR order on 2026-10-25T12:00Z (must never show in A).
 * Tenant E: nothing.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Cache } from "../../../src/cache/cache.ts";
import { createApp } from "../../../src/app.ts";
import { bumpGeneration } from "../../../src/analytics/shared/generation.ts";
import { normaliseParams } from "../../../src/analytics/shared/params.ts";
import { analyticsRead } from "../../../src/analytics/shared/read.ts";
import type { Deps } from "../../../src/deps.ts";
import type { AppEnv } from "../../../src/http/env.ts";
import { capturedLogs, ingestAccepted, testApp, token } from "../../helpers/deps.ts";
import { type CloudEvent, envelope, itemUpserted, orderCompleted } from "../../helpers/events.ts";

let app: Awaited<ReturnType<typeof testApp>>["app"];
let deps: Deps;
const A = crypto.randomUUID();
const B = crypto.randomUUID();
const E = crypto.randomUUID();

const order = (
  t: string,
  id: string,
  time: string,
  channel: string,
  currency: string,
  lines: Array<[string, number, number]>,
  discount = 0,
) => {
  const total = lines.reduce((s, [, q, p]) => s + q * p, 0) - discount;
  return orderCompleted(
    t,
    { time },
    {
      order_id: id,
      channel,
      currency,
      lines: lines.map(([item_id, quantity, unit_price_minor]) => ({ item_id, quantity, unit_price_minor })),
      discount_minor: discount,
      total_minor: total,
    },
  );
};
const refund = (t: string, orderId: string, time: string, amount: number, currency = "EUR") =>
  envelope(
    t,
    "order.refunded",
    { order_id: orderId, refund_id: `rf-${orderId}-${amount}`, amount_minor: amount, currency, reason: "changed_mind" },
    { time },
  );

const ingest = (events: CloudEvent[]) => ingestAccepted(deps, events);

async function refreshAggregates(from: string, to: string) {
  for (const level of ["5m", "1h", "1d"]) {
    await deps.sql`call refresh_continuous_aggregate(${`agg_events_${level}`}::regclass, ${from}::timestamptz, ${to}::timestamptz)`;
    await deps.sql`call refresh_continuous_aggregate(${`agg_lines_${level}`}::regclass, ${from}::timestamptz, ${to}::timestamptz)`;
  }
}

async function get(path: string, tenantId = A, a = app) {
  const res = await a.request(path, { headers: { authorization: `Bearer ${await token({ tenantId, roles: ["viewer"] })}` } });
  return { res, body: (await res.json()) as any };
}

const qs = (p: Record<string, string>) => new URLSearchParams(p).toString();
// the Berlin local day 2026-10-25 (25 hours)
const BERLIN_DAY = { from: "2026-10-25T00:00:00+02:00", to: "2026-10-26T00:00:00+01:00", timezone: "Europe/Berlin" };
// three whole UTC days
const UTC_DAYS = { from: "2026-10-24T00:00:00Z", to: "2026-10-27T00:00:00Z" };

beforeAll(async () => {
  ({ app, deps } = await testApp());
  await ingest([
    itemUpserted(A, "show-1", { time: new Date(Date.now() - 600_000).toISOString() }, { category: "concert" }),
    itemUpserted(
      A,
      "tee-1",
      { time: new Date(Date.now() - 600_000).toISOString() },
      {
        category: "merch",
        kind: "product",
        capacity: undefined,
        starts_at: undefined,
        base_price_minor: 1999,
        min_price_minor: 1500,
        max_price_minor: 2500,
      },
    ),
    order(
      A,
      "o1",
      "2026-10-24T21:30:00Z",
      "web",
      "EUR",
      [
        ["show-1", 2, 2500],
        ["tee-1", 1, 1999],
      ],
      499,
    ),
    order(A, "o2", "2026-10-25T00:30:00Z", "box_office", "EUR", [["show-1", 1, 2500]]),
    order(A, "o3", "2026-10-25T01:30:00Z", "web", "EUR", [["tee-1", 3, 1999]]),
    order(A, "o6", "2026-10-25T12:00:00Z", "web", "USD", [["mug-1", 2, 1250]]),
    refund(A, "o3", "2026-10-25T15:00:00Z", 1999),
    order(A, "o4", "2026-10-25T22:30:00Z", "web", "EUR", [["show-1", 4, 2500]]),
    order(A, "o5", "2026-10-25T23:10:00Z", "mobile", "EUR", [["show-1", 1, 2500]]),
    refund(A, "o1", "2026-10-26T09:00:00Z", 1000),
    order(B, "b1", "2026-10-25T12:00:00Z", "web", "EUR", [["show-1", 1, 99999]]),
  ]);
  await refreshAggregates("2026-10-20T00:00:00Z", "2026-10-30T00:00:00Z");
}, 60_000);

describe("GET /v1/revenue/summary", () => {
  test("the Berlin local day of 2026-10-25 (25 hours) gives one row per currency with the hand-computed figures", async () => {
    const { res, body } = await get(`/v1/revenue/summary?${qs(BERLIN_DAY)}`);
    expect(res.status).toBe(200);
    // in [22:00Z Oct 24, 23:00Z Oct 25): o2, o3, o4, o6, r1 (not o1 at 21:30Z, not o5 at 23:10Z, not r2)
    // EUR gross 2500 + 5997 + 10000 = 18497; refunds 1999; net 16498; orders 3; units 1 + 3 + 4 = 8;
    //     average 18497 / 3 = 6165.67 → 6166
    // USD gross 2500; units 2; average 2500
    expect(body.data).toEqual([
      { currency: "EUR", gross_minor: 18497, refunds_minor: 1999, net_minor: 16498, orders: 3, units: 8, average_order_minor: 6166 },
      { currency: "USD", gross_minor: 2500, refunds_minor: 0, net_minor: 2500, orders: 1, units: 2, average_order_minor: 2500 },
    ]);
    // newest order/refund inside the range: o4 at 22:30Z
    expect(body.watermark).toBe("2026-10-25T22:30:00.000Z");
    expect(Date.parse(body.as_of)).toBeGreaterThan(Date.now() - 60_000);
  });

  test("three UTC days (daily aggregate) add up all orders and both refunds", async () => {
    const { body } = await get(`/v1/revenue/summary?${qs(UTC_DAYS)}`);
    // EUR gross 6500 + 2500 + 5997 + 10000 + 2500 = 27497; refunds 1999 + 1000 = 2999; net 24498;
    //     orders 5; units 3 + 1 + 3 + 4 + 1 = 12; average 27497 / 5 = 5499.4 → 5499
    expect(body.data).toEqual([
      { currency: "EUR", gross_minor: 27497, refunds_minor: 2999, net_minor: 24498, orders: 5, units: 12, average_order_minor: 5499 },
      { currency: "USD", gross_minor: 2500, refunds_minor: 0, net_minor: 2500, orders: 1, units: 2, average_order_minor: 2500 },
    ]);
  });

  test("a range off the 5-minute grid reads the raw events and gives the same definitions", async () => {
    // [00:31Z, 22:31Z) on Oct 25: o3, o6, r1, o4 (o2 at 00:30Z is before from)
    // EUR gross 5997 + 10000 = 15997; refunds 1999; net 13998; orders 2; units 7; average 7998.5 → 7999
    const { body } = await get(`/v1/revenue/summary?${qs({ from: "2026-10-25T00:31:00Z", to: "2026-10-25T22:31:00Z" })}`);
    expect(body.data).toEqual([
      { currency: "EUR", gross_minor: 15997, refunds_minor: 1999, net_minor: 13998, orders: 2, units: 7, average_order_minor: 7999 },
      { currency: "USD", gross_minor: 2500, refunds_minor: 0, net_minor: 2500, orders: 1, units: 2, average_order_minor: 2500 },
    ]);
  });

  test("channel=web counts web orders and the refunds of web orders; currency=USD keeps USD only", async () => {
    // web in the Berlin day: o3 5997 + o4 10000 = 15997, r1 (of o3, a web order) 1999; o6 USD 2500
    const web = await get(`/v1/revenue/summary?${qs({ ...BERLIN_DAY, channel: "web" })}`);
    expect(web.body.data).toEqual([
      { currency: "EUR", gross_minor: 15997, refunds_minor: 1999, net_minor: 13998, orders: 2, units: 7, average_order_minor: 7999 },
      { currency: "USD", gross_minor: 2500, refunds_minor: 0, net_minor: 2500, orders: 1, units: 2, average_order_minor: 2500 },
    ]);
    const box = await get(`/v1/revenue/summary?${qs({ ...BERLIN_DAY, channel: "box_office" })}`);
    expect(box.body.data).toEqual([
      { currency: "EUR", gross_minor: 2500, refunds_minor: 0, net_minor: 2500, orders: 1, units: 1, average_order_minor: 2500 },
    ]);
    const usd = await get(`/v1/revenue/summary?${qs({ ...BERLIN_DAY, currency: "USD" })}`);
    expect(usd.body.data).toEqual([
      { currency: "USD", gross_minor: 2500, refunds_minor: 0, net_minor: 2500, orders: 1, units: 2, average_order_minor: 2500 },
    ]);
  });

  test("an empty tenant and an empty range answer 200 with no rows and a null watermark", async () => {
    const empty = await get(`/v1/revenue/summary?${qs(UTC_DAYS)}`, E);
    expect(empty.res.status).toBe(200);
    expect(empty.body).toMatchObject({ data: [], watermark: null });
    const none = await get(`/v1/revenue/summary?${qs({ from: "2026-11-01T00:00:00Z", to: "2026-11-02T00:00:00Z" })}`);
    expect(none.body).toMatchObject({ data: [], watermark: null });
  });

  test("tenant B sees only its own order", async () => {
    const { body } = await get(`/v1/revenue/summary?${qs(UTC_DAYS)}`, B);
    expect(body.data).toEqual([
      { currency: "EUR", gross_minor: 99999, refunds_minor: 0, net_minor: 99999, orders: 1, units: 1, average_order_minor: 99999 },
    ]);
  });
});

describe("GET /v1/revenue/timeseries", () => {
  test("Berlin day buckets around the October DST change: the 25-hour day holds exactly its own orders", async () => {
    const { res, body } = await get(
      `/v1/revenue/timeseries?${qs({ from: "2026-10-24T00:00:00+02:00", to: "2026-10-27T00:00:00+01:00", timezone: "Europe/Berlin", bucket: "day" })}`,
    );
    expect(res.status).toBe(200);
    // Oct 24 local (starts 23rd 22:00Z): o1 6500, units 3
    // Oct 25 local (starts 24th 22:00Z, 25 h): EUR o2 + o3 + o4 = 18497, r1 1999, units 8; USD o6 2500
    // Oct 26 local (starts 25th 23:00Z): o5 2500, units 1; r2 1000 → net 1500
    expect(body.data).toEqual([
      {
        bucket_start: "2026-10-23T22:00:00.000Z",
        currency: "EUR",
        gross_minor: 6500,
        refunds_minor: 0,
        net_minor: 6500,
        orders: 1,
        units: 3,
      },
      {
        bucket_start: "2026-10-24T22:00:00.000Z",
        currency: "EUR",
        gross_minor: 18497,
        refunds_minor: 1999,
        net_minor: 16498,
        orders: 3,
        units: 8,
      },
      {
        bucket_start: "2026-10-24T22:00:00.000Z",
        currency: "USD",
        gross_minor: 2500,
        refunds_minor: 0,
        net_minor: 2500,
        orders: 1,
        units: 2,
      },
      {
        bucket_start: "2026-10-25T23:00:00.000Z",
        currency: "EUR",
        gross_minor: 2500,
        refunds_minor: 1000,
        net_minor: 1500,
        orders: 1,
        units: 1,
      },
    ]);
    // the DST day is 25 hours long
    expect(Date.parse("2026-10-25T23:00:00.000Z") - Date.parse("2026-10-24T22:00:00.000Z")).toBe(25 * 3_600_000);
  });

  test("UTC day buckets (daily aggregate) put o4 and o5 on Oct 25 and leave a refund-only day with negative net", async () => {
    const { body } = await get(`/v1/revenue/timeseries?${qs({ ...UTC_DAYS, bucket: "day" })}`);
    // Oct 25 UTC: EUR o2 2500 + o3 5997 + o4 10000 + o5 2500 = 20997, r1 1999 → 18998, orders 4, units 9
    // Oct 26 UTC: r2 only → gross 0, refunds 1000, net −1000
    expect(body.data).toEqual([
      {
        bucket_start: "2026-10-24T00:00:00.000Z",
        currency: "EUR",
        gross_minor: 6500,
        refunds_minor: 0,
        net_minor: 6500,
        orders: 1,
        units: 3,
      },
      {
        bucket_start: "2026-10-25T00:00:00.000Z",
        currency: "EUR",
        gross_minor: 20997,
        refunds_minor: 1999,
        net_minor: 18998,
        orders: 4,
        units: 9,
      },
      {
        bucket_start: "2026-10-25T00:00:00.000Z",
        currency: "USD",
        gross_minor: 2500,
        refunds_minor: 0,
        net_minor: 2500,
        orders: 1,
        units: 2,
      },
      {
        bucket_start: "2026-10-26T00:00:00.000Z",
        currency: "EUR",
        gross_minor: 0,
        refunds_minor: 1000,
        net_minor: -1000,
        orders: 0,
        units: 0,
      },
    ]);
  });

  test("Berlin hour buckets across the change show two distinct 02:00 local hours", async () => {
    // o2 at 00:30Z is in local 02:00 CEST (00:00Z); o3 at 01:30Z in local 02:00 CET (01:00Z)
    const { body } = await get(
      `/v1/revenue/timeseries?${qs({ from: "2026-10-25T00:00:00Z", to: "2026-10-25T02:00:00Z", timezone: "Europe/Berlin", bucket: "hour" })}`,
    );
    expect(body.data).toEqual([
      {
        bucket_start: "2026-10-25T00:00:00.000Z",
        currency: "EUR",
        gross_minor: 2500,
        refunds_minor: 0,
        net_minor: 2500,
        orders: 1,
        units: 1,
      },
      {
        bucket_start: "2026-10-25T01:00:00.000Z",
        currency: "EUR",
        gross_minor: 5997,
        refunds_minor: 0,
        net_minor: 5997,
        orders: 1,
        units: 3,
      },
    ]);
  });

  test("week and month buckets in Berlin start on Monday and on the 1st, local midnight", async () => {
    const week = await get(`/v1/revenue/timeseries?${qs({ ...BERLIN_DAY, bucket: "week", currency: "EUR" })}`);
    // 2026-10-25 is a Sunday: its week starts Monday Oct 19 00:00 CEST = Oct 18 22:00Z
    expect(week.body.data).toEqual([
      {
        bucket_start: "2026-10-18T22:00:00.000Z",
        currency: "EUR",
        gross_minor: 18497,
        refunds_minor: 1999,
        net_minor: 16498,
        orders: 3,
        units: 8,
      },
    ]);
    const month = await get(`/v1/revenue/timeseries?${qs({ ...BERLIN_DAY, bucket: "month", currency: "EUR" })}`);
    expect(month.body.data[0].bucket_start).toBe("2026-09-30T22:00:00.000Z");
  });
});

describe("GET /v1/revenue/by-channel", () => {
  test("groups the Berlin day by channel and attributes the refund to its order's channel", async () => {
    const { body } = await get(`/v1/revenue/by-channel?${qs(BERLIN_DAY)}`);
    // box_office: o2 2500; web EUR: o3 5997 + o4 10000 = 15997, r1 (o3 is web) 1999, avg 7998.5 → 7999; web USD: o6
    expect(body.data).toEqual([
      {
        channel: "box_office",
        currency: "EUR",
        gross_minor: 2500,
        refunds_minor: 0,
        net_minor: 2500,
        orders: 1,
        units: 1,
        average_order_minor: 2500,
      },
      {
        channel: "web",
        currency: "EUR",
        gross_minor: 15997,
        refunds_minor: 1999,
        net_minor: 13998,
        orders: 2,
        units: 7,
        average_order_minor: 7999,
      },
      {
        channel: "web",
        currency: "USD",
        gross_minor: 2500,
        refunds_minor: 0,
        net_minor: 2500,
        orders: 1,
        units: 2,
        average_order_minor: 2500,
      },
    ]);
  });
});

describe("GET /v1/revenue/by-category", () => {
  test("splits three UTC days by category from the order lines, refunds shared by net line amounts", async () => {
    const { body } = await get(`/v1/revenue/by-category?${qs(UTC_DAYS)}`);
    // concert EUR lines: o1 show 4644 (2), o2 2500 (1), o4 10000 (4), o5 2500 (1) → 19644, units 8, 4 lines, 4 orders
    //   refunds: r2 (o1) 1000 × 4644/6500 = 714.46 → 714
    // merch EUR lines: o1 tee 1856 (1), o3 5997 (3) → 7853, units 4, 2 lines, 2 orders
    //   refunds: r1 1999 (o3 all merch) + r2 1000 × 1856/6500 = 285.54 → 285 + the leftover unit (.54 > .46) = 286 → 2285
    // uncategorised USD: o6 mug 2500, units 2
    expect(body.data).toEqual([
      { category: "concert", currency: "EUR", gross_minor: 19644, refunds_minor: 714, net_minor: 18930, orders: 4, units: 8, lines: 4 },
      { category: "merch", currency: "EUR", gross_minor: 7853, refunds_minor: 2285, net_minor: 5568, orders: 2, units: 4, lines: 2 },
      { category: "uncategorised", currency: "USD", gross_minor: 2500, refunds_minor: 0, net_minor: 2500, orders: 1, units: 2, lines: 1 },
    ]);
  });

  test("category filter keeps one category", async () => {
    const { body } = await get(`/v1/revenue/by-category?${qs({ ...BERLIN_DAY, category: "merch" })}`);
    // Berlin day merch: o3 5997 (3 units), r1 1999
    expect(body.data).toEqual([
      { category: "merch", currency: "EUR", gross_minor: 5997, refunds_minor: 1999, net_minor: 3998, orders: 1, units: 3, lines: 1 },
    ]);
  });
});

describe("invalid parameters answer 400 naming the field", () => {
  const cases: Array<[string, Record<string, string>, string]> = [
    ["an unknown time zone", { ...UTC_DAYS, timezone: "Mars/Olympus_Mons" }, "timezone"],
    ["an offset instead of a time zone", { ...UTC_DAYS, timezone: "+02:00" }, "timezone"],
    ["from equal to to", { from: "2026-10-24T00:00:00Z", to: "2026-10-24T00:00:00Z" }, "from"],
    ["from after to", { from: "2026-10-25T00:00:00Z", to: "2026-10-24T00:00:00Z" }, "from"],
    ["a 100-year range", { from: "1926-10-24T00:00:00Z", to: "2026-10-24T00:00:00Z" }, "to"],
    ["a date without offset", { from: "2026-10-24T00:00:00", to: "2026-10-25T00:00:00Z" }, "from"],
    ["a bad bucket", { ...UTC_DAYS, bucket: "fortnight" }, "bucket"],
    ["a lowercase currency", { ...UTC_DAYS, currency: "eur" }, "currency"],
    ["too many 5-minute buckets", { from: "2026-01-01T00:00:00Z", to: "2026-11-01T00:00:00Z", bucket: "5m" }, "bucket"],
  ];
  for (const [what, params, field] of cases) {
    test(`${what} ⇒ 400 naming ${field}`, async () => {
      const { res, body } = await get(`/v1/revenue/timeseries?${qs(params)}`);
      expect(res.status).toBe(400);
      expect(res.headers.get("content-type")).toContain("application/problem+json");
      expect(body.errors.map((e: { path: string }) => e.path)).toContain(field);
    });
  }

  test("a missing token is 401 and an ingest-only token is 403", async () => {
    const res = await app.request(`/v1/revenue/summary?${qs(UTC_DAYS)}`);
    expect(res.status).toBe(401);
    const ingestOnly = await app.request(`/v1/revenue/summary?${qs(UTC_DAYS)}`, {
      headers: { authorization: `Bearer ${await token({ tenantId: A, roles: ["ingest"] })}` },
    });
    expect(ingestOnly.status).toBe(403);
  });
});

describe("freshness: real-time aggregation, cache and generations", () => {
  test("an event ingested after the last refresh shows at once (real-time aggregation; ingest bumps the generation)", async () => {
    const t = crypto.randomUUID();
    const now = Date.now();
    const dayStart = new Date(now - (now % 86_400_000));
    const range = qs({
      from: new Date(dayStart.getTime() - 86_400_000).toISOString(),
      to: new Date(dayStart.getTime() + 86_400_000).toISOString(),
    });
    await ingest([order(t, "early", new Date(now - 3 * 3_600_000).toISOString(), "web", "EUR", [["show-1", 1, 1000]])]);
    // refresh as the policies do: each level up to now − its end_offset (5 min, 1 h, 1 day)
    for (const [level, endOffset] of [
      ["5m", 300_000],
      ["1h", 3_600_000],
      ["1d", 86_400_000],
    ] as const) {
      await deps.sql`call refresh_continuous_aggregate(${`agg_events_${level}`}::regclass, ${new Date(now - 3 * 86_400_000)}::timestamptz, ${new Date(now - endOffset)}::timestamptz)`;
    }
    // the early order is materialised in the 5-minute aggregate: its watermark is past it
    const [mat] = await deps.sql`
      select _timescaledb_functions.to_timestamp(_timescaledb_functions.cagg_watermark(ca.mat_hypertable_id)) as w
        from _timescaledb_catalog.continuous_agg ca where ca.user_view_name = 'agg_events_5m'`;
    expect((mat!.w as Date).getTime()).toBeGreaterThan(now - 3 * 3_600_000);
    const first = await get(`/v1/revenue/summary?${range}`, t);
    expect(first.body.data).toEqual([
      { currency: "EUR", gross_minor: 1000, refunds_minor: 0, net_minor: 1000, orders: 1, units: 1, average_order_minor: 1000 },
    ]);
    expect((await get(`/v1/revenue/summary?${range}`, t)).body).toEqual(first.body); // cached

    // a new order after the refresh: not materialised in any aggregate; its commit bumps the generation
    // (a minute ago, or at the watermark when an earlier test's refresh moved it into the last minute)
    const lateAt = Math.max(now - 60_000, (mat!.w as Date).getTime());
    const late = order(t, "late", new Date(lateAt).toISOString(), "web", "EUR", [["show-1", 2, 1000]]);
    await ingest([late]);
    expect(Date.parse(late.time)).toBeGreaterThanOrEqual((mat!.w as Date).getTime()); // only real-time aggregation can show it
    const fresh = await get(`/v1/revenue/summary?${range}`, t);
    // 1000 + 2 × 1000 = 3000; orders 2; units 3; average 1500
    expect(fresh.body.data).toEqual([
      { currency: "EUR", gross_minor: 3000, refunds_minor: 0, net_minor: 3000, orders: 2, units: 3, average_order_minor: 1500 },
    ]);
    expect(fresh.body.watermark).toBe(new Date(late.time).toISOString());
  });

  test("bumpGeneration makes the next read compute afresh", async () => {
    const url = `/v1/revenue/summary?${qs(BERLIN_DAY)}`;
    const first = await get(url);
    expect((await get(url)).body.as_of).toBe(first.body.as_of);
    await Bun.sleep(5);
    expect(await bumpGeneration(deps.cache, [A, A])).toBe(true);
    const after = await get(url);
    expect(after.body.data).toEqual(first.body.data);
    expect(Date.parse(after.body.as_of)).toBeGreaterThan(Date.parse(first.body.as_of));
  });

  test("a cache hit returns the same body and counts a hit", async () => {
    const url = `/v1/revenue/timeseries?${qs({ ...BERLIN_DAY, bucket: "hour" })}`;
    const hits = async () => (await deps.metrics.cacheRequests.get()).values.find((v) => v.labels.result === "hit")?.value ?? 0;
    const first = await get(url);
    const before = await hits();
    const second = await get(url);
    expect(second.body).toEqual(first.body);
    expect(await hits()).toBe(before + 1);
  });

  test("a hit is the computed answer's JSON text byte for byte, served as application/json", async () => {
    const url = `/v1/revenue/by-channel?${qs(UTC_DAYS)}`;
    const auth = { authorization: `Bearer ${await token({ tenantId: A, roles: ["viewer"] })}` };
    const miss = await app.request(url, { headers: auth });
    const hit = await app.request(url, { headers: auth });
    expect([miss.status, hit.status]).toEqual([200, 200]);
    expect(hit.headers.get("content-type")).toMatch(/^application\/json/);
    const [a, b] = [await miss.text(), await hit.text()];
    expect(b).toBe(a);
    expect(Object.keys(JSON.parse(b))).toEqual(["as_of", "watermark", "data"]);
  });

  test("100 concurrent identical misses run one database query", async () => {
    const t = crypto.randomUUID();
    let queries = 0;
    const ctx = { deps, tenantId: t, logger: deps.logger };
    const params = normaliseParams({ from: "2026-10-24T00:00:00.000Z", to: "2026-10-25T00:00:00.000Z", probe: "single-flight" });
    const results = await Promise.all(
      Array.from({ length: 100 }, () =>
        analyticsRead(ctx, "testSingleFlight", params, async (tx) => {
          queries += 1;
          const [r] = await tx`select pg_sleep(0.05), count(*)::int as n from tenant_events`;
          return r!.n as number;
        }),
      ),
    );
    expect(queries).toBe(1);
    expect(new Set(results.map((r) => JSON.stringify(r))).size).toBe(1);
    expect(results[0]!.data).toBe(0);
  });

  test("100 concurrent identical HTTP requests run the revenue query once", async () => {
    const t = crypto.randomUUID();
    const count = async () =>
      (await deps.metrics.analyticsQuerySeconds.get()).values.find(
        (v) =>
          v.metricName === "pulse_analytics_query_seconds_count" && v.labels.operation === "getRevenueSummary" && v.labels.result === "ok",
      )?.value ?? 0;
    const before = await count();
    const auth = { authorization: `Bearer ${await token({ tenantId: t, roles: ["analyst"] })}` };
    const responses = await Promise.all(
      Array.from({ length: 100 }, () => app.request(`/v1/revenue/summary?${qs(UTC_DAYS)}`, { headers: auth })),
    );
    expect(responses.map((r) => r.status)).toEqual(responses.map(() => 200));
    expect(await count()).toBe(before + 1);
  });
});

describe("cache failures and timeouts", () => {
  const broken = (): Cache => ({
    driver: "memory",
    get: async () => {
      throw new Error("cache on fire");
    },
    getWithTtl: async () => {
      throw new Error("cache on fire");
    },
    set: async () => {
      throw new Error("cache on fire");
    },
    del: async () => {
      throw new Error("cache on fire");
    },
    incr: async () => {
      throw new Error("cache on fire");
    },
    ping: async () => {
      throw new Error("cache on fire");
    },
    close: async () => undefined,
  });

  test("a failing cache ⇒ 200 from the database, one log line for the outage, readiness degraded", async () => {
    const cache = broken();
    const { app: a } = await testApp({ cache });
    const lines = () => capturedLogs.filter((l) => l.includes("analytics cache unavailable")).length;
    const before = lines();
    for (let i = 0; i < 3; i++) {
      const { res, body } = await get(`/v1/revenue/summary?${qs(UTC_DAYS)}`, B, a);
      expect(res.status).toBe(200);
      expect(body.data[0].gross_minor).toBe(99999);
    }
    expect(lines()).toBe(before + 1);
    expect(await bumpGeneration(cache, [B])).toBe(false);
    expect(lines()).toBe(before + 1);
    const ready = await (await a.request("/health/ready")).json();
    expect(ready.checks.analytics_cache).toMatchObject({ status: "down", required: false, details: { degraded: true } });
    expect(ready.status).not.toBe("ok");
  });

  test("a query over the statement timeout answers 504 problem+json", async () => {
    const base = await testApp();
    const slowDeps: Deps = { ...base.deps, config: { ...base.deps.config, db: { ...base.deps.config.db, statementTimeoutMs: 100 } } };
    const probe = new OpenAPIHono<AppEnv>();
    probe.get("/test/slow", async (c) =>
      c.json(
        await analyticsRead(
          { deps: slowDeps, tenantId: A, logger: deps.logger },
          "testSlow",
          normaliseParams({ probe: crypto.randomUUID() }),
          async (tx) => {
            await tx`select pg_sleep(0.6)`;
            return 1;
          },
        ),
      ),
    );
    const a = createApp(slowDeps);
    a.route("/", probe);
    const started = performance.now();
    const res = await a.request("/test/slow");
    expect(res.status).toBe(504);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
    expect(((await res.json()) as any).detail).toContain("100 ms");
    expect(performance.now() - started).toBeLessThan(600);
  });
});

afterAll(async () => {
  // let a query left running by the timeout test finish before the next file uses the connection
  await deps.sql`select 1`;
});
