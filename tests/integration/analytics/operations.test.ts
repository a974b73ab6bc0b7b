/**
 * getFulfillmentMetrics, getShippingMetrics, getMarketingAttribution and getRefundMetrics over HTTP, on
 * a hand-made fixture ingested through the real pipeline. Times are relative to H = the whole hour
 * five days ago ("h3" = H + 3 h). The range is [H − 1 h, H + 24 h).
 *
 * Orders (one line each):            session  customer
 *   o5 h−2  EUR 9000 (before range)    —        c-5
 *   o1 h0   EUR 5000                   s-a      c-1
 *   o2 h1   EUR 7000                   s-b      c-2
 *   o3 h2   EUR 4000                   —        c-3
 *   o4 h3   EUR 3000                   s-x      c-4
 *   o6 h6   USD 3000                   s-e      c-6
 * Fulfilments: o1 h2 (and again h20: the first counts), o2 h5, o3 h12, o5 h5 (order not in range).
 * Shipments:  s0 dhl dispatched h−3 (before range), delivered h2
 *             s1 dhl h1, promised h25, delivered h25 (exactly on the promise ⇒ on time)
 *             s2 dhl h2, promised h26, delivered h38 ⇒ late
 *             s3 ups h3, no promise, delivered h15
 *             s4 ups h4, promised h28 (days ago), never delivered ⇒ late
 *             s5 ups h5, promised now + 10 days, never delivered ⇒ pending
 * Refunds (all in range): o1 1000 EUR "damaged" h4; o1 500 EUR (no reason) h5; o2 2000 EUR "damaged"
 *   h6; o3 250 EUR reason "" h8; o5 400 EUR "damaged" h9; o6 3000 USD "late_delivery" h7.
 * Touches: T1 campaign s-a newsletter/email/nov H−30 min; T10 campaign s-a facebook/social H+10 min
 *   (after o1); T2 page.viewed s-b google/cpc/brand H+30 min; T3 campaign s-b newsletter/email/nov
 *   H+45 min; T4 campaign s-c partner (customer c-3) H − 8 days; T5 campaign s-d google/cpc/brand
 *   (customer c-4) h3 − 6 days; T6 page.viewed s-e google/cpc/brand h5; T7 page.viewed s-f without
 *   utm h1; T8 campaign s-g newsletter/email/nov h8; T9 campaign s-h newsletter/email/nov h30 (after to).
 * Tenant E: nothing.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import type { Deps } from "../../../src/deps.ts";
import { ingestAccepted, testApp, token } from "../../helpers/deps.ts";
import {
  campaignTouched,
  type CloudEvent,
  orderCompleted,
  orderFulfilled,
  orderRefunded,
  pageViewed,
  shipmentDelivered,
  shipmentDispatched,
} from "../../helpers/events.ts";

let app: Awaited<ReturnType<typeof testApp>>["app"];
let deps: Deps;
const A = crypto.randomUUID();
const E = crypto.randomUUID();

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const H = Math.floor((Date.now() - 5 * DAY) / HOUR) * HOUR;
const at = (hours: number) => new Date(H + hours * HOUR).toISOString();
const RANGE = { from: at(-1), to: at(24) };

const order = (id: string, hours: number, total: number, currency: string, customer: string, session?: string) =>
  orderCompleted(
    A,
    { time: at(hours) },
    {
      order_id: id,
      customer_id: customer,
      currency,
      lines: [{ item_id: "show-1", quantity: 1, unit_price_minor: total }],
      discount_minor: 0,
      total_minor: total,
      ...(session ? { session_id: session } : {}),
    },
  );
const touch = (session: string, source: string, time: string, data: Record<string, unknown> = {}) =>
  campaignTouched(A, session, source, { time }, data);
const NOV = { utm_medium: "email", utm_campaign: "nov" };
const BRAND = { utm_medium: "cpc", utm_campaign: "brand" };

const ingest = (events: CloudEvent[]) => ingestAccepted(deps, events);

async function get(path: string, params: Record<string, string>, tenantId = A) {
  const res = await app.request(`${path}?${new URLSearchParams(params)}`, {
    headers: { authorization: `Bearer ${await token({ tenantId, roles: ["viewer"] })}` },
  });
  return { res, body: (await res.json()) as any };
}

beforeAll(async () => {
  ({ app, deps } = await testApp());
  await ingest([
    order("o5", -2, 9000, "EUR", "c-5"),
    order("o1", 0, 5000, "EUR", "c-1", "s-a"),
    order("o2", 1, 7000, "EUR", "c-2", "s-b"),
    order("o3", 2, 4000, "EUR", "c-3"),
    order("o4", 3, 3000, "EUR", "c-4", "s-x"),
    order("o6", 6, 3000, "USD", "c-6", "s-e"),
    orderFulfilled(A, "o1", { time: at(2) }),
    orderFulfilled(A, "o1", { time: at(20) }),
    orderFulfilled(A, "o2", { time: at(5) }),
    orderFulfilled(A, "o3", { time: at(12) }),
    orderFulfilled(A, "o5", { time: at(5) }),
    shipmentDispatched(A, "o5", "s0", "dhl", { time: at(-3) }),
    shipmentDelivered(A, "o5", "s0", "dhl", { time: at(2) }),
    shipmentDispatched(A, "o1", "s1", "dhl", { time: at(1) }, { promised_by: at(25) }),
    shipmentDelivered(A, "o1", "s1", "dhl", { time: at(25) }),
    shipmentDispatched(A, "o2", "s2", "dhl", { time: at(2) }, { promised_by: at(26) }),
    shipmentDelivered(A, "o2", "s2", "dhl", { time: at(38) }),
    shipmentDispatched(A, "o3", "s3", "ups", { time: at(3) }),
    shipmentDelivered(A, "o3", "s3", "ups", { time: at(15) }),
    shipmentDispatched(A, "o4", "s4", "ups", { time: at(4) }, { promised_by: at(28) }),
    shipmentDispatched(A, "o6", "s5", "ups", { time: at(5) }, { promised_by: new Date(Date.now() + 10 * DAY).toISOString() }),
    orderRefunded(A, "o1", 1000, { time: at(4) }, { reason: "damaged" }),
    orderRefunded(A, "o1", 500, { time: at(5) }),
    orderRefunded(A, "o2", 2000, { time: at(6) }, { reason: "damaged" }),
    orderRefunded(A, "o3", 250, { time: at(8) }, { reason: "" }),
    orderRefunded(A, "o5", 400, { time: at(9) }, { reason: "damaged" }),
    orderRefunded(A, "o6", 3000, { time: at(7) }, { reason: "late_delivery", currency: "USD" }),
    touch("s-a", "newsletter", at(-0.5), NOV),
    touch("s-a", "facebook", new Date(H + 10 * 60_000).toISOString(), { utm_medium: "social" }),
    pageViewed(A, { time: at(0.5) }, { session_id: "s-b", utm_source: "google", ...BRAND }),
    touch("s-b", "newsletter", at(0.75), NOV),
    touch("s-c", "partner", new Date(H - 8 * DAY).toISOString(), { customer_id: "c-3" }),
    touch("s-d", "google", new Date(H + 3 * HOUR - 6 * DAY).toISOString(), { customer_id: "c-4", ...BRAND }),
    pageViewed(A, { time: at(5) }, { session_id: "s-e", utm_source: "google", ...BRAND }),
    pageViewed(A, { time: at(1) }, { session_id: "s-f", utm_source: undefined }),
    touch("s-g", "newsletter", at(8), NOV),
    touch("s-h", "newsletter", at(30), NOV),
  ]);
}, 60_000);

describe("fulfilment", () => {
  test("p50/p95 time to fulfil of the orders placed in range, with fulfilled and unfulfilled counts", async () => {
    const { res, body } = await get("/v1/operations/fulfillment", RANGE);
    expect(res.status).toBe(200);
    // orders in range: o1, o2, o3, o4, o6 = 5 (o5 was placed before from); fulfilled o1, o2, o3 = 3
    // durations: o1 h2 − h0 = 7200 s (its second fulfilment at h20 does not count), o2 4 h = 14400, o3 10 h = 36000
    // p50 = 14400; p95: position 0.95 × (3 − 1) = 1.9 ⇒ 14400 + 0.9 × (36000 − 14400) = 33840
    expect(body.data).toEqual({ orders: 5, fulfilled: 3, unfulfilled: 2, p50_seconds: 14400, p95_seconds: 33840 });
    // newest order.completed / order.fulfilled in range: o1's second fulfilment at h20
    expect(body.watermark).toBe(at(20));
    expect(typeof body.as_of).toBe("string");
  });

  test("a currency filter keeps the orders of that currency only", async () => {
    const { body } = await get("/v1/operations/fulfillment", { ...RANGE, currency: "USD" });
    // o6 alone, never fulfilled
    expect(body.data).toEqual({ orders: 1, fulfilled: 0, unfulfilled: 1, p50_seconds: null, p95_seconds: null });
  });
});

describe("shipping", () => {
  test("per carrier: dispatch → delivery p50/p95, on-time share and undelivered shipments", async () => {
    const { res, body } = await get("/v1/operations/shipping", RANGE);
    expect(res.status).toBe(200);
    // dhl: s1 86400 s (delivered exactly at promised_by ⇒ on time), s2 36 h = 129600 s (after its promise ⇒ late);
    //   s0 was dispatched before from. p50 = (86400 + 129600) / 2 = 108000; p95 = 86400 + 0.95 × 43200 = 127440;
    //   share = 1 / (1 + 1) = 0.5
    // ups: s3 12 h = 43200 s (no promise); s4 undelivered past its promise ⇒ late; s5 undelivered, promise ahead ⇒ pending;
    //   share = 0 / (0 + 1) = 0
    expect(body.data).toEqual({
      carriers: [
        {
          carrier: "dhl",
          shipments: 2,
          delivered: 2,
          undelivered: 0,
          p50_seconds: 108000,
          p95_seconds: 127440,
          with_promise: 2,
          on_time: 1,
          late: 1,
          pending: 0,
          on_time_share: 0.5,
        },
        {
          carrier: "ups",
          shipments: 3,
          delivered: 1,
          undelivered: 2,
          p50_seconds: 43200,
          p95_seconds: 43200,
          with_promise: 2,
          on_time: 0,
          late: 1,
          pending: 1,
          on_time_share: 0,
        },
      ],
      next_cursor: null,
    });
  });

  test("carriers page with limit and cursor", async () => {
    const first = await get("/v1/operations/shipping", { ...RANGE, limit: "1" });
    expect(first.body.data.carriers.map((c: { carrier: string }) => c.carrier)).toEqual(["dhl"]);
    expect(typeof first.body.data.next_cursor).toBe("string");
    const second = await get("/v1/operations/shipping", { ...RANGE, limit: "1", cursor: first.body.data.next_cursor });
    expect(second.body.data.carriers.map((c: { carrier: string }) => c.carrier)).toEqual(["ups"]);
    expect(second.body.data.next_cursor).toBeNull();
  });
});

describe("marketing attribution", () => {
  test("orders are credited to the last touch of the session or customer within 7 days", async () => {
    const { res, body } = await get("/v1/marketing/attribution", RANGE);
    expect(res.status).toBe(200);
    // visits in range: facebook s-a (1); google s-b, s-e (2; s-d's touch is before from);
    //   newsletter s-a, s-b, s-g (3; s-h is after to). s-f's page view has no utm_source.
    // o1 (s-a, h0): T1 newsletter (T10 facebook came after the order)
    // o2 (s-b, h1): T3 newsletter at 45 min is later than T2 google at 30 min ⇒ newsletter
    // o3 (c-3): only T4, 8 days earlier: outside 7 days ⇒ unattributed, 4000 EUR
    // o4 (s-x, c-4): T5 google via the customer, 6 days earlier ⇒ google 3000 EUR
    // o6 (s-e, h6): T6 google ⇒ 3000 USD
    // newsletter: 2 orders, 5000 + 7000 = 12000 EUR, conversion 2 / 3; google: 2 orders / 2 visits = 1; facebook 0 / 1 = 0
    expect(body.data.window_seconds).toBe(7 * 86_400);
    expect(body.data.campaigns).toEqual([
      { utm_source: "facebook", utm_medium: "social", utm_campaign: null, visits: 1, orders: 0, revenue: [], conversion: 0 },
      {
        utm_source: "google",
        utm_medium: "cpc",
        utm_campaign: "brand",
        visits: 2,
        orders: 2,
        revenue: [
          { currency: "EUR", gross_minor: 3000 },
          { currency: "USD", gross_minor: 3000 },
        ],
        conversion: 1,
      },
      {
        utm_source: "newsletter",
        utm_medium: "email",
        utm_campaign: "nov",
        visits: 3,
        orders: 2,
        revenue: [{ currency: "EUR", gross_minor: 12000 }],
        conversion: 2 / 3,
      },
    ]);
    expect(body.data.unattributed).toEqual({ orders: 1, revenue: [{ currency: "EUR", gross_minor: 4000 }] });
    expect(body.data.next_cursor).toBeNull();
  });

  test("a 10-day window credits the older partner touch, which has no visits in range", async () => {
    const { body } = await get("/v1/marketing/attribution", { ...RANGE, window: "P10D" });
    // T4 is 8 days and 2 hours before o3: inside 10 days ⇒ partner gets o3; conversion null (0 visits)
    expect(body.data.window_seconds).toBe(10 * 86_400);
    expect(body.data.campaigns.at(-1)).toEqual({
      utm_source: "partner",
      utm_medium: null,
      utm_campaign: null,
      visits: 0,
      orders: 1,
      revenue: [{ currency: "EUR", gross_minor: 4000 }],
      conversion: null,
    });
    expect(body.data.unattributed).toEqual({ orders: 0, revenue: [] });
  });

  test("campaign rows page with limit and cursor in source/medium/campaign order", async () => {
    const first = await get("/v1/marketing/attribution", { ...RANGE, limit: "2" });
    expect(first.body.data.campaigns.map((c: { utm_source: string }) => c.utm_source)).toEqual(["facebook", "google"]);
    const second = await get("/v1/marketing/attribution", { ...RANGE, limit: "2", cursor: first.body.data.next_cursor });
    expect(second.body.data.campaigns.map((c: { utm_source: string }) => c.utm_source)).toEqual(["newsletter"]);
    expect(second.body.data.next_cursor).toBeNull();
  });

  test("a currency filter keeps the orders of that currency; visits are unchanged", async () => {
    const { body } = await get("/v1/marketing/attribution", { ...RANGE, currency: "USD" });
    // only o6 (USD) is credited: google 1 order / 2 visits = 0.5
    const google = body.data.campaigns.find((c: { utm_source: string }) => c.utm_source === "google");
    expect(google).toEqual({
      utm_source: "google",
      utm_medium: "cpc",
      utm_campaign: "brand",
      visits: 2,
      orders: 1,
      revenue: [{ currency: "USD", gross_minor: 3000 }],
      conversion: 0.5,
    });
    expect(body.data.unattributed).toEqual({ orders: 0, revenue: [] });
  });

  test("a window outside PT1H–P90D and a foreign cursor are 400s naming the field", async () => {
    const w = await get("/v1/marketing/attribution", { ...RANGE, window: "PT30M" });
    expect(w.res.status).toBe(400);
    expect(w.body.errors.map((e: { path: string }) => e.path)).toContain("window");
    const c = await get("/v1/marketing/attribution", { ...RANGE, cursor: "not-a-cursor" });
    expect(c.res.status).toBe(400);
    expect(c.body.errors.map((e: { path: string }) => e.path)).toContain("cursor");
  });
});

describe("refunds", () => {
  test("refund rate of the orders placed in range, amounts per currency and by reason", async () => {
    const { res, body } = await get("/v1/refunds/metrics", RANGE);
    expect(res.status).toBe(200);
    // orders in range o1, o2, o3, o4, o6 = 5; refunded o1, o2, o3, o6 = 4 (o5's refund does not count: o5 is
    // not in range) ⇒ 4 / 5 = 0.8
    // EUR refunds in range: 1000 + 500 + 2000 + 250 + 400 = 4150 (5 refunds); USD 3000 (1)
    // by reason: damaged EUR 1000 + 2000 + 400 = 3400 (3); late_delivery USD 3000 (1);
    //   unspecified EUR (missing 500 + empty 250) = 750 (2)
    expect(body.data).toEqual({
      orders: 5,
      refunded_orders: 4,
      refund_rate: 0.8,
      amounts: [
        { currency: "EUR", refunds: 5, amount_minor: 4150 },
        { currency: "USD", refunds: 1, amount_minor: 3000 },
      ],
      by_reason: [
        { reason: "damaged", currency: "EUR", refunds: 3, amount_minor: 3400 },
        { reason: "late_delivery", currency: "USD", refunds: 1, amount_minor: 3000 },
        { reason: "unspecified", currency: "EUR", refunds: 2, amount_minor: 750 },
      ],
    });
  });
});

describe("empty tenant and bad input", () => {
  test("a tenant without events gets zero counts, null percentiles and empty lists", async () => {
    const f = await get("/v1/operations/fulfillment", RANGE, E);
    expect(f.res.status).toBe(200);
    expect(f.body.data).toEqual({ orders: 0, fulfilled: 0, unfulfilled: 0, p50_seconds: null, p95_seconds: null });
    expect(f.body.watermark).toBeNull();
    const s = await get("/v1/operations/shipping", RANGE, E);
    expect(s.body.data).toEqual({ carriers: [], next_cursor: null });
    const a = await get("/v1/marketing/attribution", RANGE, E);
    expect(a.body.data).toEqual({ window_seconds: 604_800, campaigns: [], unattributed: { orders: 0, revenue: [] }, next_cursor: null });
    const r = await get("/v1/refunds/metrics", RANGE, E);
    expect(r.body.data).toEqual({ orders: 0, refunded_orders: 0, refund_rate: null, amounts: [], by_reason: [] });
  });

  test("from not before to is a 400 naming from", async () => {
    const { res, body } = await get("/v1/refunds/metrics", { from: RANGE.to, to: RANGE.from });
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
    expect(body.errors.map((e: { path: string }) => e.path)).toContain("from");
  });
});
