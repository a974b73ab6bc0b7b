/**
 * GET /v1/dashboards/{id}/data: every widget's answer in one call, each equal to the API's answer of
 * its href; view overrides of the range; a failing widget and a slow one get their own entries.
 *
 * Fixture (tenant T, UTC, all orders EUR, no refunds, no discount), D0 = today's UTC midnight:
 *   today       o1: show-1 2 × 2500 = 5000   channel web       (at max(D0 + 30 s, now − 10 min))
 *   D0 − 3 d    o2: tee-1  1 × 1500 = 1500   channel box_office
 *   D0 − 10 d   o3: show-1 1 × 4000 = 4000   channel web       (the previous period of 7d)
 * 7d  = [D0 − 6 d, D0 + 1 d): gross 5000 + 1500 = 6500, 2 orders, 3 units; previous 7 days: 4000, 1 order
 *       growth gross = (6500 − 4000) / 4000 = 0.625; by channel: web 5000, box_office 1500
 * today = [D0, D0 + 1 d): gross 5000, 1 order, 2 units
 */
import { beforeAll, describe, expect, test } from "bun:test";
import type { Deps } from "../../../src/deps.ts";
import { dashboardData } from "../../../src/dashboards/data.ts";
import type { Dashboard } from "../../../src/dashboards/dashboards.schemas.ts";
import { ingestAccepted, refreshAggregates, testApp, testLogger, token } from "../../helpers/deps.ts";
import { orderCompleted } from "../../helpers/events.ts";

let app: Awaited<ReturnType<typeof testApp>>["app"];
let deps: Deps;
const T = crypto.randomUUID();
const DAY = 86_400_000;
const D0 = Math.floor(Date.now() / DAY) * DAY;
const iso = (ms: number) => new Date(ms).toISOString();
let auth: Record<string, string>;
let overview: Dashboard;

const order = (time: number, item: string, quantity: number, price: number, channel: string) =>
  orderCompleted(
    T,
    { time: iso(time) },
    {
      channel,
      currency: "EUR",
      lines: [{ item_id: item, quantity, unit_price_minor: price }],
      discount_minor: 0,
      total_minor: quantity * price,
    },
  );

async function get(path: string) {
  const res = await app.request(path, { headers: auth });
  return { status: res.status, body: (await res.json()) as any };
}

beforeAll(async () => {
  ({ app, deps } = await testApp());
  auth = { authorization: `Bearer ${await token({ tenantId: T, roles: ["viewer"] })}` };
  await ingestAccepted(deps, [
    order(Math.max(D0 + 30_000, Date.now() - 600_000), "show-1", 2, 2500, "web"),
    order(D0 - 3 * DAY + 3_600_000, "tee-1", 1, 1500, "box_office"),
    order(D0 - 10 * DAY + 3_600_000, "show-1", 1, 4000, "web"),
  ]);
  await refreshAggregates(deps.sql, new Date(D0 - 15 * DAY), new Date(D0 + DAY));
  overview = (await get("/v1/dashboards")).body.data[0];
});

describe("GET /v1/dashboards/{id}/data", () => {
  test("answers every widget of the default dashboard, each body equal to the API's answer of its href", async () => {
    const { status, body } = await get(`/v1/dashboards/${overview.id}/data`);
    expect(status).toBe(200);
    expect(body.range).toEqual({ preset: "7d", from: iso(D0 - 6 * DAY), to: iso(D0 + DAY), timezone: "UTC" });
    expect(body.widgets.map((w: { id: string }) => w.id)).toEqual(["sales", "live", "revenue", "channels", "funnel", "items", "customers"]);
    for (const w of body.widgets) {
      expect(w.status, w.id).toBe("ok");
      const api = await get(w.href);
      expect(api.status).toBe(200);
      expect(w.body, w.id).toEqual(api.body);
    }
    const byId = Object.fromEntries(body.widgets.map((w: any) => [w.id, w]));
    expect(byId.sales.body.data.totals).toEqual([
      {
        currency: "EUR",
        current: { orders: 2, units: 3, gross_minor: 6500, refunds_minor: 0, net_minor: 6500 },
        previous: { orders: 1, units: 1, gross_minor: 4000, refunds_minor: 0, net_minor: 4000 },
        growth: { orders: 1, units: 2, gross: 0.625, net: 0.625 },
      },
    ]);
    // a chart without a bucket gets one fitting 7 days: day
    expect(new URL(byId.revenue.href, "http://x").searchParams.get("bucket")).toBe("day");
    expect(byId.channels.body.data.map((r: any) => [r.channel, r.gross_minor])).toEqual([
      ["box_office", 1500],
      ["web", 5000],
    ]);
    expect(byId.items.body.data.map((r: any) => [r.item_id, r.units])).toEqual([
      ["show-1", 2],
      ["tee-1", 1],
    ]);
  });

  test("the query overrides the stored range for this view: today holds only today's order", async () => {
    const { body } = await get(`/v1/dashboards/${overview.id}/data?range=today`);
    expect(body.range).toMatchObject({ preset: "today", from: iso(D0), to: iso(D0 + DAY) });
    const sales = body.widgets.find((w: any) => w.id === "sales");
    expect(sales.body.data.totals[0].current).toEqual({ orders: 1, units: 2, gross_minor: 5000, refunds_minor: 0, net_minor: 5000 });
    expect(new URL(body.widgets.find((w: any) => w.id === "revenue").href, "http://x").searchParams.get("bucket")).toBe("hour");
    const custom = await get(`/v1/dashboards/${overview.id}/data?from=${iso(D0 - 11 * DAY)}&to=${iso(D0 - 9 * DAY)}&channel=web`);
    expect(custom.body.range.preset).toBe("custom");
    expect(custom.body.filters).toEqual({ channel: "web", currency: null });
    expect(custom.body.widgets.find((w: any) => w.id === "sales").body.data.totals[0].current.gross_minor).toBe(4000);
  });

  test("bad view parameters are 400 naming the field", async () => {
    const bad = await get(`/v1/dashboards/${overview.id}/data?range=7d&from=${iso(D0)}`);
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: any) => e.path)).toEqual(["from"]);
    const tz = await get(`/v1/dashboards/${overview.id}/data?timezone=Nowhere%2FLand`);
    expect(tz.status).toBe(400);
    expect(tz.body.errors.map((e: any) => e.path)).toEqual(["timezone"]);
  });

  test("a failing widget gets its own error entry (the API's 400) and the others still answer", async () => {
    const editor = {
      ...auth,
      authorization: `Bearer ${await token({ tenantId: T, roles: ["analyst"] })}`,
      "content-type": "application/json",
    };
    const res = await app.request("/v1/dashboards", {
      method: "POST",
      headers: editor,
      body: JSON.stringify({
        name: "fine grained",
        filters: { range: "7d", timezone: "UTC" },
        widgets: [
          { id: "total", title: "Total", operation: "getRevenueSummary", params: {}, viz: "kpi", position: 0 },
          { id: "fine", title: "Every 5 minutes", operation: "getRevenueTimeseries", params: { bucket: "5m" }, viz: "line", position: 1 },
        ],
      }),
    });
    expect(res.status).toBe(201);
    const d = (await res.json()) as Dashboard;
    // 90 days of 5-minute buckets: 90 × 288 = 25,920 > 10,000 buckets
    const { status, body } = await get(`/v1/dashboards/${d.id}/data?range=90d`);
    expect(status).toBe(200);
    const [total, fine] = body.widgets;
    expect(total.status).toBe("ok");
    expect(total.body.data[0].gross_minor).toBe(4000 + 1500 + 5000);
    expect(fine.status).toBe("error");
    expect(fine.body).toBeUndefined();
    expect(fine.error.status).toBe(400);
    expect(fine.error.errors.map((e: any) => e.path)).toEqual(["bucket"]);
    const api = await get(fine.href);
    expect(api.status).toBe(400);
  });

  test("a widget without an answer within the timeout gets `timeout` while cached widgets answer", async () => {
    const ctx = { deps, tenantId: T, logger: testLogger };
    const base: Dashboard = { ...overview, widgets: overview.widgets.filter((w) => w.id === "sales") };
    const view = { range: "28d" as const, timezone: undefined };
    // warm the cache for the sales widget over 28 days
    const warm = JSON.parse(await dashboardData(ctx, base, view, { concurrency: 2, timeoutMs: 30_000 }));
    expect(warm.widgets[0].status).toBe("ok");
    // the embedded engine's one connection is busy for 1.5 s: an uncached widget cannot answer in 300 ms
    const slow = {
      id: "slow",
      title: "Channels",
      operation: "getRevenueByChannel",
      params: { currency: "EUR" },
      viz: "bar" as const,
      position: 9,
    };
    const busy = deps.sql`select pg_sleep(1.5)`.then(() => undefined);
    await Bun.sleep(50);
    const started = performance.now();
    const out = JSON.parse(
      await dashboardData(ctx, { ...base, widgets: [...base.widgets, slow] }, view, { concurrency: 2, timeoutMs: 300 }),
    );
    const took = performance.now() - started;
    await busy;
    expect(took).toBeLessThan(1_200);
    expect(out.widgets.map((w: any) => [w.id, w.status])).toEqual([
      ["sales", "ok"],
      ["slow", "timeout"],
    ]);
    expect(out.widgets[0].body).toEqual(warm.widgets[0].body);
    expect(out.widgets[1].error).toEqual({
      status: 504,
      detail: "no answer within 300 ms (DASHBOARD_WIDGET_TIMEOUT_MS); the next load may find it cached",
    });
  });

  test("an unknown dashboard is 404", async () => {
    expect((await get(`/v1/dashboards/${crypto.randomUUID()}/data`)).status).toBe(404);
  });
});
