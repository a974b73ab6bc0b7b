/**
 * Typed calls through the client generated from Pulse's /openapi.json (openapi-typescript types +
 * openapi-fetch). tsconfig.json type-checks this file strictly against the generated types, so a spec
 * change that breaks a generated client's callers (a renamed operation, parameter or field, a changed
 * type) fails the check; tests/e2e/generated-client.test.ts then runs these calls against the real
 * service. Imports are type-only from the generated file: it exists only after generation.
 */
import createClient from "openapi-fetch";
import type { components, paths } from "./generated/pulse.d.ts";

export type Problem = components["schemas"]["Problem"];
export type CloudEvent = components["schemas"]["CloudEvent"];

export function pulseClient(baseUrl: string, bearer: string) {
  return createClient<paths>({ baseUrl, headers: { authorization: `Bearer ${bearer}` } });
}
export type PulseClient = ReturnType<typeof pulseClient>;

/** POST /v1/events as a batch: the typed per-event outcome */
export async function ingest(client: PulseClient, events: CloudEvent[]) {
  const { data, error, response } = await client.POST("/v1/events", {
    body: events,
    bodySerializer: (b) => JSON.stringify(b),
    headers: { "content-type": "application/cloudevents-batch+json" },
  });
  if (error) throw new Error(`ingest: ${response.status} ${error.detail ?? error.title}`);
  return { accepted: data.accepted, duplicates: data.duplicates, rejected: data.rejected.map((r) => r.reason) };
}

export interface Range {
  from: string;
  to: string;
  timezone: string;
}

/** one figure per analytics read, each through its typed response (a field access the compiler checks) */
export async function everyAnalyticsRead(client: PulseClient, r: Range) {
  const ok = <T>(name: string, x: { data?: T; error?: unknown; response: Response }): T => {
    if (x.data === undefined) throw new Error(`${name}: ${x.response.status} ${JSON.stringify(x.error)}`);
    return x.data;
  };
  const q = { params: { query: r } };
  const summary = ok("getRevenueSummary", await client.GET("/v1/revenue/summary", q));
  const timeseries = ok(
    "getRevenueTimeseries",
    await client.GET("/v1/revenue/timeseries", { params: { query: { ...r, bucket: "day" as const } } }),
  );
  const byChannel = ok("getRevenueByChannel", await client.GET("/v1/revenue/by-channel", q));
  const byCategory = ok("getRevenueByCategory", await client.GET("/v1/revenue/by-category", q));
  const projection = ok(
    "getRevenueProjection",
    await client.GET("/v1/revenue/projection", { params: { query: { horizon: "30" as const, timezone: r.timezone } } }),
  );
  const sales = ok("getSalesMetrics", await client.GET("/v1/sales/metrics", { params: { query: { ...r, bucket: "day" as const } } }));
  const funnel = ok("getConversionFunnel", await client.GET("/v1/funnel", q));
  const items = ok(
    "getItemPerformance",
    await client.GET("/v1/items/performance", { params: { query: { ...r, sort: "units" as const, order: "desc" as const } } }),
  );
  const realtime = ok("getRealtimeMetrics", await client.GET("/v1/realtime"));
  const fulfilment = ok("getFulfillmentMetrics", await client.GET("/v1/operations/fulfillment", q));
  const shipping = ok("getShippingMetrics", await client.GET("/v1/operations/shipping", q));
  const attribution = ok("getMarketingAttribution", await client.GET("/v1/marketing/attribution", q));
  const refunds = ok("getRefundMetrics", await client.GET("/v1/refunds/metrics", q));
  const customerMetrics = ok("getCustomerMetrics", await client.GET("/v1/customers/metrics", q));
  const customers = ok("listCustomers", await client.GET("/v1/customers", { params: { query: { limit: 50 } } }));
  const segments = ok("getRfmSegments", await client.GET("/v1/customers/segments"));
  const churn = ok("getChurnRisk", await client.GET("/v1/customers/churn-risk"));
  const ltv = ok("getCustomerLtv", await client.GET("/v1/customers/ltv"));
  return {
    getRevenueSummary: summary.data.map((row) => ({
      currency: row.currency,
      gross: row.gross_minor,
      refunds: row.refunds_minor,
      orders: row.orders,
    })),
    getRevenueTimeseries: timeseries.data.map((row) => row.gross_minor),
    getRevenueByChannel: byChannel.data.map((row) => `${row.channel}:${row.net_minor}`),
    getRevenueByCategory: byCategory.data.map((row) => `${row.category}:${row.gross_minor}`),
    getRevenueProjection: projection.data.currencies.length,
    getSalesMetrics: sales.data.totals.map((t) => t.current.orders),
    getConversionFunnel: funnel.data.steps.map((s) => s.count),
    getItemPerformance: items.data.map((i) => `${i.item_id}:${i.units}`),
    getRealtimeMetrics: realtime.data.buckets.length,
    getFulfillmentMetrics: fulfilment.data.orders,
    getShippingMetrics: shipping.data.carriers.map((c) => `${c.carrier}:${c.shipments}`),
    getMarketingAttribution: attribution.data.unattributed.orders,
    getRefundMetrics: refunds.data.refunded_orders,
    getCustomerMetrics: customerMetrics.data.customers,
    listCustomers: customers.data.map((c) => c.customer_id),
    getRfmSegments: segments.data.length,
    getChurnRisk: churn.data.high + churn.data.medium + churn.data.low,
    getCustomerLtv: ltv.data.map((l) => l.customers),
  };
}

/** a problem+json answer, typed as the spec's Problem with its field errors */
export async function invalidRange(client: PulseClient, r: Range): Promise<{ status: number; problem: Problem }> {
  const { error, response } = await client.GET("/v1/revenue/summary", { params: { query: { ...r, from: r.to, to: r.from } } });
  if (!error) throw new Error("an inverted range was accepted");
  return { status: response.status, problem: error };
}
