/**
 * getRealtimeMetrics and the server-sent stream (streamRealtimeMetrics) on a hand-made fixture.
 *
 * CB = the start of the current 5-minute bucket (now floored to 5 minutes); the window is
 * [CB − 55 min, CB + 5 min), buckets 0..11 with bucket 11 = [CB, CB + 5 min) the current one.
 * (The fixture waits when it would be seeded in the last 20 s of a bucket, so the tests run in it.)
 *   bucket 11 (at CB):          o1 EUR show-1 2×2500 = 5000, units 2
 *                               page.viewed by cust-1; page.viewed + item.viewed by anonymous visitor X
 *                               (one visitor_id); page.viewed with no ip/ua/customer in session sx
 *   bucket 10 (CB − 4.5 min):   o2 USD mug-1 1×1000 = 1000, units 1; page.viewed by cust-1 again
 *   bucket 0  (CB − 55 min):    o3 EUR tee-1 3×100 = 300, units 3 (no visitors)
 *   outside (CB − 55 min − 1 s): o0 EUR 9999 and a page view by cust-old: not in the window
 * Tenant E: nothing.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import type { Deps } from "../../../src/deps.ts";
import { capturedLogs, ingestAccepted, refreshAggregates, testApp, testConfig, token } from "../../helpers/deps.ts";
import { type CloudEvent, itemViewed, orderCompleted, pageViewed } from "../../helpers/events.ts";

let app: Awaited<ReturnType<typeof testApp>>["app"];
let deps: Deps;
const A = crypto.randomUUID();
const E = crypto.randomUUID();
const MIN = 60_000;
const BUCKET = 5 * MIN;
let CB = 0;
const iso = (ms: number) => new Date(ms).toISOString();

const order = (t: string, time: number, currency: string, item: string, quantity: number, price: number) =>
  orderCompleted(
    t,
    { time: iso(time) },
    { currency, lines: [{ item_id: item, quantity, unit_price_minor: price }], discount_minor: 0, total_minor: quantity * price },
  );

const ingest = (events: CloudEvent[]) => ingestAccepted(deps, events);

const auth = async (tenantId: string) => ({ authorization: `Bearer ${await token({ tenantId, roles: ["viewer"] })}` });

beforeAll(async () => {
  ({ app, deps } = await testApp());
  if (Date.now() % BUCKET > BUCKET - 20_000) await Bun.sleep(BUCKET - (Date.now() % BUCKET) + 500);
  CB = Math.floor(Date.now() / BUCKET) * BUCKET;
  const anon = { ip: "203.0.113.1", user_agent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0" };
  await ingest([
    order(A, CB, "EUR", "show-1", 2, 2500),
    pageViewed(A, { time: iso(CB) }, { session_id: "s-c1", customer_id: "cust-1" }),
    pageViewed(A, { time: iso(CB) }, { session_id: "s-x", ...anon }),
    itemViewed(A, "s-x", "show-1", { time: iso(CB) }, anon),
    pageViewed(
      A,
      { time: iso(CB) },
      { session_id: "sx", ip: undefined, user_agent: undefined, utm_source: undefined, referrer: undefined },
    ),
    order(A, CB - 4.5 * MIN, "USD", "mug-1", 1, 1000),
    pageViewed(A, { time: iso(CB - 4.5 * MIN) }, { session_id: "s-c1b", customer_id: "cust-1" }),
    order(A, CB - 55 * MIN, "EUR", "tee-1", 3, 100),
    order(A, CB - 55 * MIN - 1000, "EUR", "show-1", 1, 9999),
    pageViewed(A, { time: iso(CB - 55 * MIN - 1000) }, { session_id: "s-old", customer_id: "cust-old" }),
  ]);
  // as the refresh policy would (another test file may have moved the 5-minute watermark past CB − 55 min);
  // the current bucket stays real-time
  await refreshAggregates(deps.sql, new Date(CB - 2 * 60 * MIN), new Date(CB));
}, 60_000);

const zero = { revenue: [], orders: 0, units: 0, visitors: 0, conversion_rate: 0 };

describe("getRealtimeMetrics", () => {
  test("12 aligned 5-minute buckets with the current partial one last; totals count visitors once per hour", async () => {
    const res = await app.request("/v1/realtime", { headers: await auth(A) });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.data.window_start).toBe(iso(CB - 55 * MIN));
    expect(body.data.window_end).toBe(iso(CB + 5 * MIN));
    expect(body.data.bucket_minutes).toBe(5);
    expect(body.data.buckets.map((b: any) => b.bucket_start)).toEqual(Array.from({ length: 12 }, (_, i) => iso(CB - (55 - 5 * i) * MIN)));
    // bucket 0: o3 (300 EUR, 3 units), no visitors ⇒ conversion 0
    expect(body.data.buckets[0]).toEqual({
      bucket_start: iso(CB - 55 * MIN),
      revenue: [{ currency: "EUR", gross_minor: 300 }],
      orders: 1,
      units: 3,
      visitors: 0,
      conversion_rate: 0,
    });
    for (let i = 1; i <= 9; i++) expect(body.data.buckets[i]).toEqual({ bucket_start: iso(CB - (55 - 5 * i) * MIN), ...zero });
    // bucket 10: o2 (1000 USD, 1 unit), visitor cust-1 ⇒ 1 / 1 = 1
    expect(body.data.buckets[10]).toEqual({
      bucket_start: iso(CB - 5 * MIN),
      revenue: [{ currency: "USD", gross_minor: 1000 }],
      orders: 1,
      units: 1,
      visitors: 1,
      conversion_rate: 1,
    });
    // bucket 11: o1 (5000 EUR, 2 units); visitors cust-1, X (page + item view: one visitor_id), session sx = 3
    // ⇒ 1 / 3 = 0.3333…  → 0.3333
    expect(body.data.buckets[11]).toEqual({
      bucket_start: iso(CB),
      revenue: [{ currency: "EUR", gross_minor: 5000 }],
      orders: 1,
      units: 2,
      visitors: 3,
      conversion_rate: 0.3333,
    });
    // totals: EUR 5000 + 300 = 5300, USD 1000; orders 3; units 2 + 1 + 3 = 6; visitors distinct over the hour:
    // cust-1 (in two buckets), X, sx = 3 (not 1 + 3 = 4) ⇒ 3 / 3 = 1. o0 and cust-old are 1 s before the window.
    expect(body.data.totals).toEqual({
      revenue: [
        { currency: "EUR", gross_minor: 5300 },
        { currency: "USD", gross_minor: 1000 },
      ],
      orders: 3,
      units: 6,
      visitors: 3,
      conversion_rate: 1,
    });
    expect(body.watermark).toBe(iso(CB)); // newest order/page/item view in the window
  });

  test("a new order shows at once (the cached answer is keyed by the data generation)", async () => {
    const before = (await (await app.request("/v1/realtime", { headers: await auth(A) })).json()) as any;
    await ingest([order(A, CB + 1000, "EUR", "show-1", 1, 700)]);
    const after = (await (await app.request("/v1/realtime", { headers: await auth(A) })).json()) as any;
    // 3 + 1 orders; EUR 5300 + 700 = 6000; bucket 11: 2 orders / 3 visitors = 0.6666… → 0.6667
    expect(before.data.totals.orders).toBe(3);
    expect(after.data.totals.orders).toBe(4);
    expect(after.data.totals.revenue[0]).toEqual({ currency: "EUR", gross_minor: 6000 });
    expect(after.data.buckets[11].conversion_rate).toBe(0.6667);
  });

  test("a tenant without events gets 12 empty buckets", async () => {
    const body = (await (await app.request("/v1/realtime", { headers: await auth(E) })).json()) as any;
    expect(body.data.buckets).toHaveLength(12);
    expect(
      body.data.buckets.every((b: any) => b.orders === 0 && b.visitors === 0 && b.conversion_rate === 0 && b.revenue.length === 0),
    ).toBe(true);
    expect(body.data.totals).toEqual(zero);
    expect(body.watermark).toBeNull();
  });
});

describe("streamRealtimeMetrics", () => {
  test("sends metrics messages every interval with a retry hint, and stops when the client disconnects", async () => {
    const streaming = await testApp({ config: testConfig({ REALTIME_STREAM_INTERVAL_MS: "150" }) });
    const controller = new AbortController();
    const res = await streaming.app.request("/v1/realtime/stream", { headers: await auth(A), signal: controller.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    while (text.split("\n\n").length < 3) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    const messages = text
      .split("\n\n")
      .slice(0, 2)
      .map((m) => Object.fromEntries(m.split("\n").map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 2)])));
    expect(messages.map((m) => [m.event, m.id])).toEqual([
      ["metrics", "1"],
      ["metrics", "2"],
    ]);
    expect(messages[0]!.retry).toBe("150");
    expect(messages[1]!.retry).toBeUndefined();
    const first = JSON.parse(messages[0]!.data!);
    // the same answer as getRealtimeMetrics (after the previous test's extra order: 4 orders)
    expect(first.data.totals.orders).toBe(4);
    expect(first.data.buckets).toHaveLength(12);

    const logsBefore = capturedLogs.length;
    await reader.cancel();
    controller.abort();
    await Bun.sleep(400); // more than two intervals: the loop notices the disconnect
    expect(capturedLogs.slice(logsBefore).some((l) => l.includes("realtime stream closed"))).toBe(true);
  }, 15_000);
});
