/**
 * Customer analytics: the customer_scores job (archive before retention, RFM scores, segments),
 * listCustomers, getRfmSegments, getChurnRisk, getCustomerLtv, getCustomerMetrics and the on-demand
 * refresh, on a hand-made fixture ingested through the real pipeline. Times are relative to now
 * (events older than 90 days are rejected), every expected number is worked out by hand below.
 *
 * Tenant A (d = days before now; every order has one line, no discount):
 *   alice  EUR  a1 −45d 3000, a2 −10d 6500; refund of a2 1000 at −9d  ⇒ F 2, M 9500 − 1000 = 8500
 *   bob    EUR  b1 −45d 2000                                          ⇒ F 1, M 2000 (one order)
 *   carol  EUR  c1 −89d 1000 (older than archive_after_days = 88: archived on the first run) ⇒ F 1, M 1000
 *   dave   EUR  d1 −10d, d2 −5d, d3 −2d, 1500 each                    ⇒ F 3, M 4500
 *   erin   USD  e1 −5d 5000                                           ⇒ F 1, M 5000 (its own population)
 *   frank  EUR  no stored events (dropped by retention): a customer_scores row inserted as the owner,
 *               first order −200d, last −120d, 4 orders, net 12000 (what the job would remember)
 * Tenant B: customer "c-alice" with one 99 999 EUR order −3d (must never show in A).
 * Tenant E: nothing.
 *
 * EUR population (5 rows), scores = 6 − NTILE(5) over DESC order, ties by customer_id:
 *   R by last order: dave −2d, alice −10d, bob −45d, carol −89d, frank −120d ⇒ 5, 4, 3, 2, 1
 *   F by orders:     frank 4, dave 3, alice 2, bob 1, carol 1 (bob < carol) ⇒ 5, 4, 3, 2, 1
 *   M by net:        frank 12000, alice 8500, dave 4500, bob 2000, carol 1000 ⇒ 5, 4, 3, 2, 1
 *   segments (R,F): dave (5,4) champions; alice (4,3) potential_loyalist; bob (3,2) about_to_sleep;
 *                   carol (2,1) hibernating; frank (1,5) cant_lose
 * USD population: erin alone ⇒ NTILE = 1 ⇒ 5/5/5, (5,5) champions.
 * Churn tiers (whole days since last order): dave 2, erin 5, alice 10 ⇒ low 3; bob 45, carol 89 ⇒
 *   medium 2; frank 120 ⇒ high 1.
 * CLV EUR: customers 5, churned 1 ⇒ churn rate 1/5 = 0.2, lifespan 5; orders 4+3+2+1+1 = 11; net
 *   12000+8500+4500+2000+1000 = 28000; AOV 28000/11 = 2545.45 ⇒ 2545; PF 11/5 = 2.2; average CLV
 *   = 28000/1 = 28000; per customer net × 5: frank 60000, alice 42500, dave 22500, bob 10000, carol 5000.
 *   percentile_cont over the sorted nets [1000, 2000, 4500, 8500, 12000] (position p × 4):
 *   p25 → 1 → 2000; p50 → 2 → 4500; p75 → 3 → 8500; p90 → 3.6 → 8500 + 0.6 × 3500 = 10600;
 *   CLV ×5: 10000, 22500, 42500, 53000; min 5000, max 60000.
 * CLV USD: 1 customer, 0 churned ⇒ lifespan and CLV null; AOV 5000; PF 1; net percentiles all 5000.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import type { Deps } from "../../../src/deps.ts";
import { ingestAccepted, testApp, token } from "../../helpers/deps.ts";
import { type CloudEvent, orderCompleted, orderRefunded } from "../../helpers/events.ts";

let app: Awaited<ReturnType<typeof testApp>>["app"];
let deps: Deps;
const A = crypto.randomUUID();
const B = crypto.randomUUID();
const E = crypto.randomUUID();
const DAY = 86_400_000;
const NOW = Date.now();
const ago = (days: number) => new Date(NOW - days * DAY).toISOString();
const utcDay = (iso: string) => `${iso.slice(0, 10)}T00:00:00.000Z`;

const order = (t: string, customer: string, id: string, time: string, total: number, currency = "EUR") =>
  orderCompleted(
    t,
    { time },
    {
      order_id: id,
      customer_id: customer,
      currency,
      lines: [{ item_id: "show-1", quantity: 1, unit_price_minor: total }],
      discount_minor: 0,
      total_minor: total,
    },
  );

const ingest = (events: CloudEvent[]) => ingestAccepted(deps, events);

async function call(path: string, opts: { tenantId?: string; roles?: Array<"viewer" | "analyst" | "admin">; method?: string } = {}) {
  const auth = `Bearer ${await token({ tenantId: opts.tenantId ?? A, roles: opts.roles ?? ["viewer"] })}`;
  const res = await app.request(path, { method: opts.method ?? "GET", headers: { authorization: auth } });
  return { res, body: (await res.json()) as any };
}
const refresh = (tenantId = A) => call("/v1/customers/scores/refresh", { tenantId, roles: ["analyst"], method: "POST" });

const T = {
  a1: ago(45),
  a2: ago(10),
  ar: ago(9),
  b1: ago(45),
  c1: ago(89),
  d1: ago(10),
  d2: ago(5),
  d3: ago(2),
  e1: ago(5),
  frankFirst: ago(200),
  frankLast: ago(120),
};

beforeAll(async () => {
  ({ app, deps } = await testApp());
  await ingest([
    order(A, "c-alice", "a1", T.a1, 3000),
    order(A, "c-alice", "a2", T.a2, 6500),
    orderRefunded(A, "a2", 1000, { time: T.ar }),
    order(A, "c-bob", "b1", T.b1, 2000),
    order(A, "c-carol", "c1", T.c1, 1000),
    order(A, "c-dave", "d1", T.d1, 1500),
    order(A, "c-dave", "d2", T.d2, 1500),
    order(A, "c-dave", "d3", T.d3, 1500),
    order(A, "c-erin", "e1", T.e1, 5000, "USD"),
    order(B, "c-alice", "x1", ago(3), 99999),
  ]);
  // frank's orders are older than retention: only the scores remember them (inserted as the owner)
  await deps.sql`
    insert into customer_scores (tenant_id, customer_id, currency, first_order_at, last_order_at, archived_orders, archived_net_minor)
    values (${A}, 'c-frank', 'EUR', ${T.frankFirst}, ${T.frankLast}, 4, 12000)`;
}, 30_000);

const EXPECTED_A = [
  {
    customer_id: "c-alice",
    currency: "EUR",
    first_order_at: T.a1,
    last_order_at: T.a2,
    days_since_last_order: 10,
    orders: 2,
    net_minor: 8500,
    r_score: 4,
    f_score: 3,
    m_score: 4,
    segment: "potential_loyalist",
    churn_tier: "low",
    clv_minor: 42500,
  },
  {
    customer_id: "c-bob",
    currency: "EUR",
    first_order_at: T.b1,
    last_order_at: T.b1,
    days_since_last_order: 45,
    orders: 1,
    net_minor: 2000,
    r_score: 3,
    f_score: 2,
    m_score: 2,
    segment: "about_to_sleep",
    churn_tier: "medium",
    clv_minor: 10000,
  },
  {
    customer_id: "c-carol",
    currency: "EUR",
    first_order_at: T.c1,
    last_order_at: T.c1,
    days_since_last_order: 89,
    orders: 1,
    net_minor: 1000,
    r_score: 2,
    f_score: 1,
    m_score: 1,
    segment: "hibernating",
    churn_tier: "medium",
    clv_minor: 5000,
  },
  {
    customer_id: "c-dave",
    currency: "EUR",
    first_order_at: T.d1,
    last_order_at: T.d3,
    days_since_last_order: 2,
    orders: 3,
    net_minor: 4500,
    r_score: 5,
    f_score: 4,
    m_score: 3,
    segment: "champions",
    churn_tier: "low",
    clv_minor: 22500,
  },
  {
    customer_id: "c-erin",
    currency: "USD",
    first_order_at: T.e1,
    last_order_at: T.e1,
    days_since_last_order: 5,
    orders: 1,
    net_minor: 5000,
    r_score: 5,
    f_score: 5,
    m_score: 5,
    segment: "champions",
    churn_tier: "low",
    clv_minor: null,
  },
  {
    customer_id: "c-frank",
    currency: "EUR",
    first_order_at: T.frankFirst,
    last_order_at: T.frankLast,
    days_since_last_order: 120,
    orders: 4,
    net_minor: 12000,
    r_score: 1,
    f_score: 5,
    m_score: 5,
    segment: "cant_lose",
    churn_tier: "high",
    clv_minor: 60000,
  },
];

describe("the customer_scores job", () => {
  test("is registered once as an hourly TimescaleDB job that archives orders RETENTION_DAYS − 2 = 88 days old", async () => {
    const jobs = await deps.sql`
      select schedule_interval::text as every, config from timescaledb_information.jobs
       where proc_schema = 'public' and proc_name = 'refresh_customer_scores'`;
    expect([...jobs]).toEqual([{ every: "01:00:00", config: { archive_after_days: 88 } }]);
  });

  test("the on-demand refresh needs analyst or admin: a viewer gets 403", async () => {
    const { res } = await call("/v1/customers/scores/refresh", { roles: ["viewer"], method: "POST" });
    expect(res.status).toBe(403);
  });

  test("an analyst's refresh scores the tenant's 6 (customer, currency) rows and says when", async () => {
    const before = Date.now();
    const { res, body } = await refresh();
    expect(res.status).toBe(200);
    // alice, bob, carol, dave, frank (EUR) + erin (USD)
    expect(body.customers).toBe(6);
    expect(Date.parse(body.scored_at)).toBeGreaterThanOrEqual(before - 1000);
  }, 15_000);

  test("carol's 89-day-old order is archived once: a second refresh counts it once, not twice", async () => {
    await refresh();
    const rows = await deps.sql`
      select customer_id, archived_orders, archived_net_minor::int as archived_net, live_orders, live_net_minor::int as live_net, orders, net_minor::int as net
        from customer_scores where tenant_id = ${A} and customer_id in ('c-alice', 'c-carol') order by customer_id`;
    expect([...rows]).toEqual([
      // alice's orders are 45 and 10 days old: live; refund 1000 of a2 ⇒ 9500 − 1000
      { customer_id: "c-alice", archived_orders: 0, archived_net: 0, live_orders: 2, live_net: 8500, orders: 2, net: 8500 },
      { customer_id: "c-carol", archived_orders: 1, archived_net: 1000, live_orders: 0, live_net: 0, orders: 1, net: 1000 },
    ]);
  }, 15_000);

  test("CALL run_job (what the service does on the embedded engine) scores every tenant with orders, B included", async () => {
    const [job] = await deps.sql`select job_id from timescaledb_information.jobs where proc_name = 'refresh_customer_scores'`;
    await deps.sql`call run_job(${job!.job_id})`;
    const rows = await deps.sql`select customer_id, orders, net_minor::int as net, segment from customer_scores where tenant_id = ${B}`;
    expect([...rows]).toEqual([{ customer_id: "c-alice", orders: 1, net: 99999, segment: "champions" }]);
  }, 30_000);

  test("the on-demand refresh rescores its own tenant only: B's last run is left as it was", async () => {
    const runOf = async (t: string) =>
      (await deps.sql`select scored_at from customer_scores_runs where tenant_id = ${t}`)[0]!.scored_at as Date;
    const bBefore = await runOf(B);
    const aBefore = await runOf(A);
    expect((await refresh(A)).res.status).toBe(200);
    expect((await runOf(A)).getTime()).toBeGreaterThan(aBefore.getTime());
    expect((await runOf(B)).getTime()).toBe(bBefore.getTime());
  }, 30_000);
});

describe("listCustomers", () => {
  test("every customer with R/F/M scores, segment, churn tier, CLV and last order (hand-computed)", async () => {
    const { res, body } = await call("/v1/customers");
    expect(res.status).toBe(200);
    expect(body.data).toEqual(EXPECTED_A);
    expect(body.next_cursor).toBeNull();
    expect(body.watermark).toBe(T.d3); // the newest order in the scores
    expect(typeof body.scored_at).toBe("string");
    expect(typeof body.as_of).toBe("string");
  });

  test("cursor pages of 2 walk the same rows in order, and end with next_cursor null", async () => {
    const seen: any[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const { body }: { body: any } = await call(`/v1/customers?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      seen.push(...body.data);
      cursor = body.next_cursor;
      pages += 1;
    } while (cursor);
    expect(pages).toBe(3); // 6 rows / 2
    expect(seen).toEqual(EXPECTED_A);
  });

  test("every page of one listing is the first page's snapshot: the same as_of, tiers and CLV as of it", async () => {
    const first: any = (await call("/v1/customers?limit=2")).body;
    const second: any = (await call(`/v1/customers?limit=2&cursor=${first.next_cursor}`)).body;
    expect(second.as_of).toBe(first.as_of);
    const tierOnly: any = (await call(`/v1/customers?tier=high&limit=1`)).body;
    expect(tierOnly.data.map((r: any) => [r.customer_id, r.churn_tier])).toEqual([["c-frank", "high"]]);
  });

  test("filters: segment=champions is dave (EUR) and erin (USD); tier=high is frank; currency=USD is erin", async () => {
    expect((await call("/v1/customers?segment=champions")).body.data.map((r: any) => r.customer_id)).toEqual(["c-dave", "c-erin"]);
    expect((await call("/v1/customers?tier=high")).body.data.map((r: any) => r.customer_id)).toEqual(["c-frank"]);
    expect((await call("/v1/customers?currency=USD")).body.data.map((r: any) => r.customer_id)).toEqual(["c-erin"]);
  });

  test("bad input is a 400 naming the field: segment, tier, limit, cursor", async () => {
    for (const [q, field] of [
      ["segment=vip", "segment"],
      ["tier=extreme", "tier"],
      ["limit=0", "limit"],
      ["cursor=not-a-cursor", "cursor"],
      // a cursor whose snapshot instant is beyond any date
      [`cursor=${Buffer.from(JSON.stringify({ c: "c-alice", k: "EUR", t: 9e15 })).toString("base64url")}`, "cursor"],
    ] as const) {
      const { res, body } = await call(`/v1/customers?${q}`);
      expect(res.status).toBe(400);
      expect(body.errors.map((e: any) => e.path)).toContain(field);
    }
  });
});

describe("getRfmSegments, getChurnRisk, getCustomerLtv", () => {
  test("segments: one row per (segment, currency) in the map's order, with customers and net", async () => {
    const { body } = await call("/v1/customers/segments");
    expect(body.data).toEqual([
      { segment: "champions", currency: "EUR", customers: 1, net_minor: 4500 },
      { segment: "champions", currency: "USD", customers: 1, net_minor: 5000 },
      { segment: "potential_loyalist", currency: "EUR", customers: 1, net_minor: 8500 },
      { segment: "about_to_sleep", currency: "EUR", customers: 1, net_minor: 2000 },
      { segment: "cant_lose", currency: "EUR", customers: 1, net_minor: 12000 },
      { segment: "hibernating", currency: "EUR", customers: 1, net_minor: 1000 },
    ]);
  });

  test("churn risk: orders 2/5/10 days old are low, 45/89 medium, the remembered 120-day-old last order high", async () => {
    const { body } = await call("/v1/customers/churn-risk");
    expect(body.data).toEqual({ high: 1, medium: 2, low: 3 });
  });

  test("LTV per currency: inputs (AOV, PF, churn rate, lifespan) and the percentile_cont distribution", async () => {
    const { body } = await call("/v1/customers/ltv");
    expect(body.data).toEqual([
      {
        currency: "EUR",
        customers: 5,
        orders: 11,
        net_minor: 28000,
        churned_customers: 1,
        average_order_minor: 2545,
        purchase_frequency: 2.2,
        churn_rate: 0.2,
        expected_lifespan: 5,
        average_clv_minor: 28000,
        net_distribution: { p25: 2000, p50: 4500, p75: 8500, p90: 10600, min: 1000, max: 12000 },
        clv_distribution: { p25: 10000, p50: 22500, p75: 42500, p90: 53000, min: 5000, max: 60000 },
      },
      {
        currency: "USD",
        customers: 1,
        orders: 1,
        net_minor: 5000,
        churned_customers: 0,
        average_order_minor: 5000,
        purchase_frequency: 1,
        churn_rate: 0,
        expected_lifespan: null,
        average_clv_minor: null,
        net_distribution: { p25: 5000, p50: 5000, p75: 5000, p90: 5000, min: 5000, max: 5000 },
        clv_distribution: null,
      },
    ]);
  });

  test("an empty tenant gets empty lists and zeros, never an error", async () => {
    expect((await call("/v1/customers", { tenantId: E })).body).toMatchObject({
      data: [],
      next_cursor: null,
      watermark: null,
      scored_at: null,
    });
    expect((await call("/v1/customers/segments", { tenantId: E })).body.data).toEqual([]);
    expect((await call("/v1/customers/churn-risk", { tenantId: E })).body.data).toEqual({ high: 0, medium: 0, low: 0 });
    expect((await call("/v1/customers/ltv", { tenantId: E })).body.data).toEqual([]);
    const m = (await call(`/v1/customers/metrics?from=${ago(30)}&to=${new Date(NOW).toISOString()}`, { tenantId: E })).body.data;
    expect(m).toEqual({
      customers: 0,
      new_customers: 0,
      returning_customers: 0,
      orders: 0,
      customers_with_orders: 0,
      repeat_customers: 0,
      repeat_rate: null,
      buckets: [],
    });
  });

  test("a refresh invalidates cached answers: a new order shows after the next refresh, not before", async () => {
    const first = (await call("/v1/customers/churn-risk", { tenantId: B })).body;
    expect(first.data).toEqual({ high: 0, medium: 0, low: 1 });
    await ingest([order(B, "c-zoe", "x2", ago(40), 100)]);
    // scores are recomputed only by a refresh (the ingest bump alone finds the same scores)
    expect((await call("/v1/customers/churn-risk", { tenantId: B })).body.data).toEqual({ high: 0, medium: 0, low: 1 });
    await refresh(B);
    const after = (await call("/v1/customers/churn-risk", { tenantId: B })).body;
    // c-alice −3d low; c-zoe −40d medium
    expect(after.data).toEqual({ high: 0, medium: 1, low: 1 });
    expect(after.as_of >= first.as_of).toBe(true);
  }, 15_000);
});

describe("getCustomerMetrics", () => {
  test("last 30 days: 3 customers, dave and erin new, alice returning; repeat rate 3/6 = 0.5", async () => {
    // in [−30d, now): alice a2 (first order −45d ⇒ returning), dave d1 d2 d3 (first −10d ⇒ new), erin e1 (new)
    // orders 1 + 3 + 1 = 5. Before `to`: ≥ 1 order: alice, bob, carol, dave, erin, frank = 6;
    // ≥ 2: alice 2, dave 3, frank 4 (remembered by the scores) = 3 ⇒ 3/6 = 0.5
    const { res, body } = await call(`/v1/customers/metrics?from=${ago(30)}&to=${new Date(NOW).toISOString()}`);
    expect(res.status).toBe(200);
    expect(body.data).toEqual({
      customers: 3,
      new_customers: 2,
      returning_customers: 1,
      orders: 5,
      customers_with_orders: 6,
      repeat_customers: 3,
      repeat_rate: 0.5,
      buckets: [],
    });
    expect(body.watermark).toBe(T.d3);
  });

  test("daily buckets around the −10d orders: alice returning, dave new; repeat rate as of `to` is 2/5", async () => {
    // range [UTC day of −12d, UTC day of −8d): only a2 (alice) and d1 (dave), both at −10d, same UTC day.
    // Before `to` (between −9d and −8d): alice 2 (−45d, −10d), bob 1, carol 1, dave 1 (−10d; his −5d/−2d
    // orders are after `to`), frank 4 (last −120d); erin's −5d order is after `to` ⇒ 5 customers, 2 repeat ⇒ 0.4
    const from = utcDay(ago(12));
    const to = utcDay(ago(8));
    const { body } = await call(`/v1/customers/metrics?from=${from}&to=${to}&bucket=day`);
    const figures = { customers: 2, new_customers: 1, returning_customers: 1, orders: 2 };
    expect(body.data).toEqual({
      ...figures,
      customers_with_orders: 5,
      repeat_customers: 2,
      repeat_rate: 0.4,
      buckets: [{ bucket_start: utcDay(T.a2), ...figures }],
    });
  });

  test("bad input is a 400 naming the field: from missing, bucket unknown, from after to", async () => {
    const to = new Date(NOW).toISOString();
    for (const [q, field] of [
      [`to=${to}`, "from"],
      [`from=${ago(3)}&to=${to}&bucket=year`, "bucket"],
      [`from=${to}&to=${ago(3)}`, "from"],
    ] as const) {
      const { res, body } = await call(`/v1/customers/metrics?${q}`);
      expect(res.status).toBe(400);
      expect(body.errors.map((e: any) => e.path)).toContain(field);
    }
  });
});

describe("history beyond retention", () => {
  test("when retention drops a customer's raw events, the scores keep their last order, orders and net", async () => {
    // what the retention policy does to carol's chunk (as the owner)
    await deps.sql`delete from order_lines where tenant_id = ${A} and customer_id = 'c-carol'`;
    await deps.sql`delete from events where tenant_id = ${A} and customer_id = 'c-carol'`;
    await refresh();
    const { body } = await call("/v1/customers?tier=medium");
    expect(body.data).toEqual([EXPECTED_A[1], EXPECTED_A[2]]); // bob and carol, unchanged
  }, 15_000);
});
