/**
 * The analytics operations registry (src/analytics/registry.ts): every analytics read of /openapi.json
 * is in it with the route's path and query schema, and its answer function gives exactly the text the
 * API sends for the same parameters (what exports and dashboards rely on).
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { analyticsOperations, findAnalyticsOperation } from "../../../src/analytics/registry.ts";
import { bumpGeneration } from "../../../src/analytics/shared/generation.ts";
import type { Deps } from "../../../src/deps.ts";
import { ingestAccepted, refreshAggregates, testApp, testLogger, token } from "../../helpers/deps.ts";
import { itemUpserted, orderCompleted, pageViewed } from "../../helpers/events.ts";

let app: Awaited<ReturnType<typeof testApp>>["app"];
let deps: Deps;
const T = crypto.randomUUID();
const HOUR = 3_600_000;
const T0 = Math.floor(Date.now() / HOUR) * HOUR - 48 * HOUR;
const iso = (ms: number) => new Date(ms).toISOString();
const RANGE = { from: iso(T0), to: iso(T0 + 24 * HOUR) };

interface Spec {
  paths: Record<string, Record<string, { operationId: string; tags?: string[] }>>;
}

beforeAll(async () => {
  ({ app, deps } = await testApp());
  await ingestAccepted(deps, [
    itemUpserted(T, "show-1", { time: iso(T0) }),
    pageViewed(T, { time: iso(T0 + HOUR) }, { session_id: "s1" }),
    orderCompleted(
      T,
      { time: iso(T0 + 2 * HOUR) },
      { session_id: "s1", discount_minor: 0, total_minor: 4200, lines: [{ item_id: "show-1", quantity: 2, unit_price_minor: 2100 }] },
    ),
    orderCompleted(
      T,
      { time: iso(T0 + 3 * HOUR) },
      { session_id: "s2", discount_minor: 0, total_minor: 900, lines: [{ item_id: "show-1", quantity: 1, unit_price_minor: 900 }] },
    ),
  ]);
  // an earlier test file may have moved the aggregates' watermark past these times
  await refreshAggregates(deps.sql, new Date(T0), new Date(T0 + 24 * HOUR));
});

describe("analytics operations registry", () => {
  test("holds every GET analytics operation of /openapi.json (except the SSE stream) with the route's path", async () => {
    const spec = (await (await app.request("/openapi.json")).json()) as Spec;
    const reads = Object.entries(spec.paths).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([method, op]) => method === "get" && op.tags?.includes("analytics") && op.operationId !== "streamRealtimeMetrics")
        .map(([, op]) => ({ id: op.operationId, path })),
    );
    expect(reads.length).toBe(18);
    expect([...analyticsOperations.keys()].sort()).toEqual(reads.map((r) => r.id).sort());
    for (const r of reads) expect(findAnalyticsOperation(r.id)?.path).toBe(r.path);
    expect(findAnalyticsOperation("ingestEvents")).toBeUndefined();
  });

  test("answer() is the API's body for the same parameters, figures included (gross 4200 + 900 = 5100)", async () => {
    const bearer = await token({ tenantId: T, roles: ["viewer"] });
    const ctx = { deps, tenantId: T, logger: testLogger };
    const cases: Array<[string, Record<string, string>]> = [
      ["getRevenueSummary", RANGE],
      ["getRevenueTimeseries", { ...RANGE, bucket: "hour", timezone: "Europe/Berlin" }],
      ["getItemPerformance", { ...RANGE, limit: "1" }],
      ["getConversionFunnel", RANGE],
      ["listCustomers", { limit: "5" }],
    ];
    for (const [id, params] of cases) {
      const op = findAnalyticsOperation(id)!;
      const res = await app.request(`${op.path}?${new URLSearchParams(params)}`, { headers: { authorization: `Bearer ${bearer}` } });
      expect(res.status).toBe(200);
      const viaApi = await res.json();
      const q = op.query.parse(params);
      const viaRegistry = JSON.parse((await op.answer(ctx, q)).text);
      // as_of is when the answer was computed: equal because both come from the same cached answer
      expect(viaRegistry).toEqual(viaApi);
    }
    const summary = JSON.parse(
      (await findAnalyticsOperation("getRevenueSummary")!.answer(ctx, findAnalyticsOperation("getRevenueSummary")!.query.parse(RANGE)))
        .text,
    );
    expect(summary.data).toEqual([
      { currency: "EUR", gross_minor: 5100, refunds_minor: 0, net_minor: 5100, orders: 2, units: 3, average_order_minor: 2550 },
    ]);
  });

  test("a bulk reader (exports) gets every operation's body as a plain JSON object, the API's figures, and stores nothing in any cache", async () => {
    const bearer = await token({ tenantId: T, roles: ["viewer"] });
    const bulk = { deps, tenantId: T, logger: testLogger, bulk: true };
    const counts = async () =>
      Object.fromEntries((await deps.metrics.cacheRequests.get()).values.map((v) => [String(v.labels.result), v.value]));
    // what an answer's time of computing changes (the rest must be equal): as_of, and a list cursor that carries it
    const timeless = (body: unknown) => JSON.parse(JSON.stringify(body, (k, v) => (k === "as_of" || k === "next_cursor" ? undefined : v)));
    const candidates = [{ ...RANGE, bucket: "hour" }, RANGE, {}];
    // a new generation: nothing is cached, so every bulk answer below is computed as an object (not a cached text parsed)
    await bumpGeneration(deps.cache, [T]);
    await Bun.sleep(deps.config.analytics.generationReuseMs + 50);
    let answered = 0;
    for (const [id, op] of analyticsOperations) {
      const params = candidates.find((p) => op.query.safeParse(p).success);
      expect(params, `${id} accepts one of the candidate parameter sets`).toBeDefined();
      const answer = await op.answer(bulk, op.query.parse(params));
      expect(answer.value, id).toBeDefined();
      // no Date, bigint, undefined, NaN or Infinity: the object is what its JSON text parses back to
      expect(JSON.parse(JSON.stringify(answer.value)), id).toStrictEqual(answer.value);
      const res = await app.request(`${op.path}?${new URLSearchParams(params)}`, { headers: { authorization: `Bearer ${bearer}` } });
      expect(res.status, id).toBe(200);
      expect(timeless(answer.value), id).toEqual(timeless(await res.json()));
      answered += 1;
    }
    expect(answered).toBe(18);
    // stored nothing: after a bulk read, a client's read of the same parameters misses; after the
    // client's (stored) answer, a bulk read takes it as it is, as_of included
    const fresh = crypto.randomUUID();
    const op = findAnalyticsOperation("getRevenueSummary")!;
    const q = op.query.parse(RANGE);
    await op.answer({ ...bulk, tenantId: fresh }, q);
    const misses = (await counts()).miss ?? 0;
    const client = JSON.parse((await op.answer({ deps, tenantId: fresh, logger: testLogger }, q)).text);
    expect(((await counts()).miss ?? 0) - misses).toBe(1);
    expect((await op.answer({ ...bulk, tenantId: fresh }, q)).value).toEqual(client);
  });

  test("list operations say where their rows are and give the next page's cursor", async () => {
    const op = findAnalyticsOperation("getItemPerformance")!;
    const ctx = { deps, tenantId: T, logger: testLogger };
    const body = JSON.parse((await op.answer(ctx, op.query.parse({ ...RANGE, limit: "1" }))).text);
    expect(op.list!.rows(body)).toHaveLength(1);
    expect(op.list!.next(body)).toBeNull(); // one item in the catalog and sold: one page
    expect(findAnalyticsOperation("getRevenueSummary")!.list).toBeUndefined();
    expect(findAnalyticsOperation("listCustomers")!.list).toBeDefined();
  });
});
