/**
 * GET /v1/operations/fulfillment (getFulfillmentMetrics), /v1/operations/shipping (getShippingMetrics),
 * /v1/marketing/attribution (getMarketingAttribution), /v1/refunds/metrics (getRefundMetrics).
 * Roles: viewer and above, by the role matrix (src/http/roles.ts). They pair events of one order /
 * shipment / session, so they read the raw events (operations.queries.ts has the definitions).
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../http/env.ts";
import { HttpProblem } from "../http/problem.ts";
import { decodeCursor, encodeCursor } from "../http/query.ts";
import {
  attributionFigures,
  type CampaignKey,
  compareCampaign,
  fulfillmentFigures,
  refundFigures,
  shippingFigures,
} from "./operations.queries.ts";
import { analyticsEnvelope, analyticsProblemResponses, analyticsQuery, filterShape, listShape, normaliseParams, parseRange } from "./params.ts";
import { durationSeconds } from "./funnel.routes.ts";
import { analyticsJson } from "./read.ts";

const COMMON =
  "[from, to) is half-open ISO-8601 with an offset; the figures pair events of the same order / shipment / session, so they come from the raw events (percentiles are percentile_cont: continuous, linearly interpolated). Empty data ⇒ zero counts, null percentiles and rates, empty lists. Roles: viewer, analyst, pricing_manager, admin, ops. Cached (ANALYTICS_CACHE_TTL_SECONDS) and invalidated when your data changes; `as_of` says when it was computed and `watermark` the newest event time of the operation's event types in [from, to).";

const count = (description: string) => z.number().int().openapi({ description, example: 12 });
const seconds = (description: string) => z.number().nullable().openapi({ description, example: 14400 });
const share = (description: string) => z.number().nullable().openapi({ description, example: 0.5 });
const currency = z.string().openapi({ description: "ISO-4217", example: "EUR" });
const nextCursor = z.string().nullable().openapi({ description: "pass as `cursor` for the next page; null on the last page" });

/** bigint counts / minor units → JSON number (exact up to 2^53 − 1) */
function int(v: bigint): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new RangeError(`value ${v} is beyond exact JSON numbers`);
  return n;
}
const ratio = (num: bigint, den: bigint): number | null => (den === 0n ? null : Number(num) / Number(den));

const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { "application/json": { schema: analyticsEnvelope(schema) } } });
const rangeOf = (c: Context<AppEnv>, q: { from: string; to: string; timezone: string }) => parseRange(q, c.get("deps").config.analytics.maxSpanDays);

/** a cursor is the JSON of the last row's sort key, base64url; anything else is a 400 naming `cursor` */
function cursorKey(cursor: string | undefined): unknown[] | undefined {
  if (cursor === undefined) return undefined;
  const decoded = decodeCursor(cursor, z.object({ k: z.string() }));
  let key: unknown;
  try {
    key = decoded ? JSON.parse(decoded.k) : undefined;
  } catch {
    key = undefined;
  }
  if (!Array.isArray(key)) {
    throw new HttpProblem(400, "cursor: not a cursor this operation returned", { errors: [{ path: "cursor", message: "not a cursor this operation returned" }] });
  }
  return key;
}

/** the page after `after` (rows sorted by `compare`), and the cursor of the next page */
function page<K, R extends K>(rows: R[], limit: number, after: K | undefined, compare: (a: K, b: K) => number, key: (r: R) => unknown[]) {
  const rest = after === undefined ? rows : rows.filter((r) => compare(r, after) > 0);
  const items = rest.slice(0, limit);
  const last = items[items.length - 1];
  return { items, next_cursor: rest.length > limit && last !== undefined ? encodeCursor({ k: JSON.stringify(key(last)) }) : null };
}

// ─── fulfilment ─────────────────────────────────────────────────────────────────────────────────────

const FulfillmentData = z
  .object({
    orders: count("distinct order_id of order.completed with event time in [from, to)"),
    fulfilled: count("of those, orders with an order.fulfilled of the same order_id at or after placement (up to now)"),
    unfulfilled: count("orders − fulfilled"),
    p50_seconds: seconds("median time to fulfil (first order.fulfilled − order.completed), seconds; null without fulfilled orders"),
    p95_seconds: seconds("95th percentile of the time to fulfil, seconds; null without fulfilled orders"),
  })
  .openapi("FulfillmentMetrics");

const fulfillmentRoute = createRoute({
  method: "get",
  path: "/v1/operations/fulfillment",
  operationId: "getFulfillmentMetrics",
  tags: ["analytics"],
  summary: "Order → fulfilled: p50/p95 time to fulfil, fulfilled and unfulfilled orders placed in [from, to)",
  description: `Orders = distinct order_id of \`order.completed\` with event time in [from, to), placed at their earliest order.completed. An order is fulfilled when an \`order.fulfilled\` of the same order_id exists at or after its placement (also after \`to\`, up to now); time to fulfil = the first such order.fulfilled − placement, in seconds; p50/p95 = percentile_cont(0.5)/percentile_cont(0.95) over the fulfilled orders; unfulfilled = orders − fulfilled. Filters: channel, currency (of the order). ${COMMON}`,
  request: { query: analyticsQuery({ channel: filterShape.channel, currency: filterShape.currency }) },
  responses: { 200: json(FulfillmentData, "fulfilment figures (zero counts and null percentiles without orders)"), ...analyticsProblemResponses },
});

// ─── shipping ───────────────────────────────────────────────────────────────────────────────────────

const CarrierRow = z
  .object({
    carrier: z.string().openapi({ description: "carrier of the dispatch ('unknown' when empty)", example: "dhl" }),
    shipments: count("distinct shipment_id of shipment.dispatched in [from, to)"),
    delivered: count("shipments with a shipment.delivered of the same shipment_id at or after dispatch"),
    undelivered: count("shipments − delivered"),
    p50_seconds: seconds("median dispatch → delivery, seconds; null without deliveries"),
    p95_seconds: seconds("95th percentile dispatch → delivery, seconds; null without deliveries"),
    with_promise: count("shipments whose dispatch carries promised_by"),
    on_time: count("delivered at or before promised_by"),
    late: count("delivered after promised_by, or not delivered while promised_by has passed"),
    pending: count("not delivered, promised_by still in the future"),
    on_time_share: share("on_time / (on_time + late); null when both are 0"),
  })
  .openapi("CarrierMetrics");

const shippingRoute = createRoute({
  method: "get",
  path: "/v1/operations/shipping",
  operationId: "getShippingMetrics",
  tags: ["analytics"],
  summary: "Per carrier: dispatch → delivery p50/p95, on-time share, undelivered shipments",
  description: `Shipments = distinct shipment_id of \`shipment.dispatched\` with event time in [from, to) (the earliest dispatch in range), grouped by that dispatch's carrier. Delivered = a \`shipment.delivered\` of the same shipment_id exists at or after the dispatch (the first one counts; also after \`to\`); p50/p95 = percentile_cont of delivery − dispatch over the delivered shipments, in seconds. On time = delivered at or before the dispatch's promised_by; late = delivered after it, or not delivered while promised_by has passed (as of the query); pending = not delivered with promised_by still ahead; on_time_share = on_time / (on_time + late), null when that is 0 — shipments without promised_by and pending ones are not in the share. Filter: carrier. Rows ordered by carrier, paged with limit + cursor. ${COMMON}`,
  request: {
    query: analyticsQuery({
      carrier: z.string().min(1).max(200).optional().openapi({ description: "only this carrier", example: "dhl" }),
      ...listShape,
    }),
  },
  responses: {
    200: json(z.object({ carriers: z.array(CarrierRow), next_cursor: nextCursor }), "one row per carrier with shipments dispatched in range"),
    ...analyticsProblemResponses,
  },
});

// ─── attribution ────────────────────────────────────────────────────────────────────────────────────

const Revenue = z.array(z.object({ currency, gross_minor: z.number().int().openapi({ description: "Σ total_minor of the credited orders", example: 12000 }) }));

const CampaignRow = z
  .object({
    utm_source: z.string().openapi({ example: "newsletter" }),
    utm_medium: z.string().nullable().openapi({ example: "email" }),
    utm_campaign: z.string().nullable().openapi({ example: "black-friday" }),
    visits: count("distinct sessions with a touch of this source/medium/campaign in [from, to)"),
    orders: count("order.completed in [from, to) credited to this campaign by last touch"),
    revenue: Revenue.openapi({ description: "Σ total_minor of the credited orders, one entry per currency" }),
    conversion: share("orders / visits; null without visits"),
  })
  .openapi("CampaignAttribution");

const MIN_WINDOW_S = 3_600;
const MAX_WINDOW_S = 90 * 86_400;
/** the attribution window: an ISO-8601 duration (the funnel's format), PT1H … P90D, default P7D */
const windowParam = z
  .string()
  .max(32)
  .default("P7D")
  .transform((v, ctx) => {
    const secs = durationSeconds(v);
    if (secs === undefined || secs < MIN_WINDOW_S || secs > MAX_WINDOW_S) {
      ctx.addIssue({ code: "custom", message: "an ISO-8601 duration in days/hours/minutes/seconds between PT1H and P90D, e.g. P7D, PT48H" });
      return z.NEVER;
    }
    return secs;
  })
  .openapi({ type: "string", description: "attribution window: ISO-8601 duration (D, H, M, S parts), PT1H to P90D", example: "P7D", default: "P7D" });
const attributionRoute = createRoute({
  method: "get",
  path: "/v1/marketing/attribution",
  operationId: "getMarketingAttribution",
  tags: ["analytics"],
  summary: "Per utm source/medium/campaign: visits, last-touch orders, revenue per currency, conversion",
  description: `A touch is a \`campaign.touched\`, or a \`page.viewed\` with a non-empty utm_source; its key is (utm_source, utm_medium, utm_campaign), empty values being null. visits = distinct sessions with a touch of that key in [from, to). Last-touch attribution: each \`order.completed\` in [from, to) is credited to the latest touch (ties: the greatest event id) of the same session (the order's session_id) or of the same customer (the order's customer_id) with order time − window ≤ touch time ≤ order time (such a touch may lie before \`from\`); \`window\` is an ISO-8601 duration (D/H/M/S parts, PT1H to P90D, default P7D), as for the funnel. Orders without such a touch are \`unattributed\`. orders = credited orders; revenue = Σ total_minor of them, one entry per currency; conversion = orders / visits (null without visits). Filters: channel, currency (of the orders). Rows ordered by utm_source, utm_medium, utm_campaign (null first), paged with limit + cursor. ${COMMON}`,
  request: {
    query: analyticsQuery({
      window: windowParam,
      channel: filterShape.channel,
      currency: filterShape.currency,
      ...listShape,
    }),
  },
  responses: {
    200: json(
      z.object({
        window_seconds: count("the attribution window used, seconds"),
        campaigns: z.array(CampaignRow),
        unattributed: z.object({ orders: count("orders in range without a touch in the window"), revenue: Revenue }),
        next_cursor: nextCursor,
      }),
      "attribution per campaign",
    ),
    ...analyticsProblemResponses,
  },
});

// ─── refunds ────────────────────────────────────────────────────────────────────────────────────────

const RefundData = z
  .object({
    orders: count("distinct order_id of order.completed in [from, to)"),
    refunded_orders: count("of those, orders with an order.refunded of the same order_id (at or after from, up to now)"),
    refund_rate: share("refunded_orders / orders; null without orders"),
    amounts: z.array(z.object({ currency, refunds: count("order.refunded events in [from, to)"), amount_minor: z.number().int().openapi({ description: "Σ amount_minor", example: 3500 }) })),
    by_reason: z.array(
      z.object({
        reason: z.string().openapi({ description: "the refund's reason; 'unspecified' when missing or empty", example: "damaged" }),
        currency,
        refunds: count("order.refunded events in [from, to) with this reason"),
        amount_minor: z.number().int().openapi({ description: "Σ amount_minor", example: 3000 }),
      }),
    ),
  })
  .openapi("RefundMetrics");

const refundRoute = createRoute({
  method: "get",
  path: "/v1/refunds/metrics",
  operationId: "getRefundMetrics",
  tags: ["analytics"],
  summary: "Refund rate, refunded amount per currency, and refunds by reason",
  description: `orders = distinct order_id of \`order.completed\` in [from, to); refunded_orders = those with an \`order.refunded\` of the same order_id at or after \`from\` (also after \`to\`, up to now); refund_rate = refunded_orders / orders (null without orders). amounts: per currency, the count and Σ amount_minor of \`order.refunded\` with event time in [from, to) (the revenue API's refunds); by_reason: the same per (reason, currency), a missing or empty reason counted as 'unspecified'. Money in integer minor units, one row per currency. Filter: currency. ${COMMON}`,
  request: { query: analyticsQuery({ currency: filterShape.currency }) },
  responses: { 200: json(RefundData, "refund figures"), ...analyticsProblemResponses },
});

const revenueList = (m: Map<string, bigint>) =>
  [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([currency, v]) => ({ currency, gross_minor: int(v) }));

export const operationsRoutes = new OpenAPIHono<AppEnv>()
  .openapi(fulfillmentRoute, async (c) => {
    const q = c.req.valid("query");
    const range = rangeOf(c, q);
    const params = normaliseParams({ from: range.from, to: range.to, channel: q.channel, currency: q.currency });
    return analyticsJson(
      c,
      "getFulfillmentMetrics",
      params,
      async (tx) => {
        const f = await fulfillmentFigures(tx, range, { channel: q.channel, currency: q.currency });
        return { orders: int(f.orders), fulfilled: int(f.fulfilled), unfulfilled: int(f.orders - f.fulfilled), p50_seconds: f.p50_seconds, p95_seconds: f.p95_seconds };
      },
      { watermarkTypes: ["order.completed", "order.fulfilled"] },
    );
  })
  .openapi(shippingRoute, async (c) => {
    const q = c.req.valid("query");
    const range = rangeOf(c, q);
    const after = cursorKey(q.cursor);
    const params = normaliseParams({ from: range.from, to: range.to, carrier: q.carrier, limit: q.limit, cursor: q.cursor });
    return analyticsJson(
      c,
      "getShippingMetrics",
      params,
      async (tx) => {
        const rows = (await shippingFigures(tx, range, { carrier: q.carrier })).map((r) => ({
          carrier: r.carrier,
          shipments: int(r.shipments),
          delivered: int(r.delivered),
          undelivered: int(r.shipments - r.delivered),
          p50_seconds: r.p50_seconds,
          p95_seconds: r.p95_seconds,
          with_promise: int(r.with_promise),
          on_time: int(r.on_time),
          late: int(r.late),
          pending: int(r.pending),
          on_time_share: ratio(r.on_time, r.on_time + r.late),
        }));
        const afterRow = after === undefined ? undefined : { carrier: String(after[0]) };
        const p = page(rows, q.limit, afterRow, (a: { carrier: string }, b: { carrier: string }) => (a.carrier < b.carrier ? -1 : a.carrier > b.carrier ? 1 : 0), (r) => [r.carrier]);
        return { carriers: p.items, next_cursor: p.next_cursor };
      },
      { watermarkTypes: ["shipment.dispatched", "shipment.delivered"] },
    );
  })
  .openapi(attributionRoute, async (c) => {
    const q = c.req.valid("query");
    const range = rangeOf(c, q);
    const after = cursorKey(q.cursor);
    const afterKey: CampaignKey | undefined =
      after === undefined ? undefined : { source: String(after[0]), medium: (after[1] as string | null) ?? null, campaign: (after[2] as string | null) ?? null };
    const params = normaliseParams({ from: range.from, to: range.to, window: q.window, channel: q.channel, currency: q.currency, limit: q.limit, cursor: q.cursor });
    return analyticsJson(
      c,
      "getMarketingAttribution",
      params,
      async (tx) => {
        const a = await attributionFigures(tx, range, q.window, { channel: q.channel, currency: q.currency });
        const p = page(a.campaigns, q.limit, afterKey, compareCampaign, (r) => [r.source, r.medium, r.campaign]);
        return {
          window_seconds: q.window,
          campaigns: p.items.map((r) => ({
            utm_source: r.source,
            utm_medium: r.medium,
            utm_campaign: r.campaign,
            visits: int(r.visits),
            orders: int(r.orders),
            revenue: revenueList(r.revenue),
            conversion: ratio(r.orders, r.visits),
          })),
          unattributed: { orders: int(a.unattributed.orders), revenue: revenueList(a.unattributed.revenue) },
          next_cursor: p.next_cursor,
        };
      },
      { watermarkTypes: ["order.completed", "campaign.touched", "page.viewed"] },
    );
  })
  .openapi(refundRoute, async (c) => {
    const q = c.req.valid("query");
    const range = rangeOf(c, q);
    const params = normaliseParams({ from: range.from, to: range.to, currency: q.currency });
    return analyticsJson(
      c,
      "getRefundMetrics",
      params,
      async (tx) => {
        const r = await refundFigures(tx, range, { currency: q.currency });
        return {
          orders: int(r.orders),
          refunded_orders: int(r.refunded_orders),
          refund_rate: ratio(r.refunded_orders, r.orders),
          amounts: r.by_currency.map((x) => ({ currency: x.currency, refunds: int(x.refunds), amount_minor: int(x.amount) })),
          by_reason: r.by_reason.map((x) => ({ reason: x.reason, currency: x.currency, refunds: int(x.refunds), amount_minor: int(x.amount) })),
        };
      },
      { watermarkTypes: ["order.completed", "order.refunded"] },
    );
  });
