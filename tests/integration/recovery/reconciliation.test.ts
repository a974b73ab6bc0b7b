import { beforeAll, describe, expect, test } from "bun:test";
import type { Deps } from "../../../src/deps.ts";
import { mismatchDays, runReconciliation } from "../../../src/recovery/reconciliation/reconciliation.queries.ts";
import { ingestAccepted, testApp, token } from "../../helpers/deps.ts";
import { envelope, orderCompleted } from "../../helpers/events.ts";

type App = Awaited<ReturnType<typeof testApp>>["app"];

const DAY_MS = 86_400_000;
/** D: a whole local day in Asia/Tokyo (UTC+9, no DST) three days ago: [D−1 15:00Z, D 15:00Z) */
const D = new Date(Date.now() - 3 * DAY_MS).toISOString().slice(0, 10);
const prev = new Date(Date.parse(`${D}T00:00:00Z`) - DAY_MS).toISOString().slice(0, 10);
const next = new Date(Date.parse(`${D}T00:00:00Z`) + DAY_MS).toISOString().slice(0, 10);
const at = (iso: string) => ({ time: iso });
const oneLine = (minor: number) => ({
  lines: [{ item_id: "show-1", quantity: 1, unit_price_minor: minor }],
  discount_minor: 0,
  total_minor: minor,
});

function expectation(tenant: string, date: string, orders: number, gross: number, time: string, currency = "EUR") {
  return envelope(tenant, "reconciliation.expected", { date, timezone: "Asia/Tokyo", orders, gross_minor: gross, currency }, { time });
}

async function reports(app: App, tenant: string, query = "") {
  const res = await app.request(`/v1/reconciliation${query}`, {
    headers: { authorization: `Bearer ${await token({ tenantId: tenant, roles: ["viewer"] })}` },
  });
  return {
    status: res.status,
    body: (await res.json()) as { data: Array<Record<string, unknown>>; next_cursor: string | null; errors?: Array<{ path: string }> },
  };
}

describe("reconciliation against upstream's reconciliation.expected", () => {
  let app: App;
  let deps: Deps;
  const T = crypto.randomUUID();
  // EUR orders of the local day D: 6500 (the helper's order: 2×2500 + 1999 − 499) at 00:00:00 JST, 1000 at 12:00 JST,
  // 2500 at 23:59:59 JST ⇒ 3 orders, 6500 + 1000 + 2500 = 10000
  const o1 = orderCompleted(T, at(`${prev}T15:00:00.000Z`));
  const o2 = orderCompleted(T, at(`${D}T03:00:00.000Z`), oneLine(1000));
  const o3 = orderCompleted(T, at(`${D}T14:59:59.000Z`), oneLine(2500));
  // outside D: the next local day's first second, the previous local day's last second, and D in USD
  const o4 = orderCompleted(T, at(`${D}T15:00:00.000Z`), oneLine(9999));
  const o5 = orderCompleted(T, at(`${prev}T14:59:59.000Z`), oneLine(7777));
  const o6 = orderCompleted(T, at(`${D}T05:00:00.000Z`), { ...oneLine(4000), currency: "USD" });

  beforeAll(async () => {
    ({ app, deps } = await testApp());
    await ingestAccepted(deps, [o1, o2, o3, o4, o5, o6, expectation(T, D, 3, 10_000, `${D}T16:00:00.000Z`)]);
    await runReconciliation(deps.sql, { tenantId: T });
  });

  test("a day whose stored orders equal the expectation is ok; orders outside the local day or currency are not counted", async () => {
    const { status, body } = await reports(app, T);
    expect(status).toBe(200);
    const rows = body.data.map((r) => [
      r.date,
      r.currency,
      r.status,
      r.expected_orders,
      r.expected_gross_minor,
      r.stored_orders,
      r.stored_gross_minor,
    ]);
    // newest day first, then currency; days without an expectation are pending, in the tenant's zone (Asia/Tokyo)
    expect(rows).toEqual([
      [next, "EUR", "pending", null, null, 1, 9999],
      [D, "EUR", "ok", 3, 10_000, 3, 10_000],
      [D, "USD", "pending", null, null, 1, 4000],
      [prev, "EUR", "pending", null, null, 1, 7777],
    ]);
    const ok = body.data[1]!;
    expect(ok).toMatchObject({
      timezone: "Asia/Tokyo",
      missing_orders: 0,
      surplus_orders: 0,
      gross_diff_minor: 0,
      expectation_event_id: expect.any(String),
    });
  });

  test("events deleted through the owner connection: the next run reports exactly the missing count and amount", async () => {
    await deps.sql`delete from order_lines where tenant_id = ${T} and event_id = ${o2.id}`;
    await deps.sql`delete from events where tenant_id = ${T} and event_id = ${o2.id}`;
    await runReconciliation(deps.sql, { tenantId: T });
    const { body } = await reports(app, T, `?from_date=${D}&to_date=${next}`);
    // stored: o1 + o3 = 2 orders, 6500 + 2500 = 9000; missing 3 − 2 = 1 order, gross 9000 − 10000 = −1000
    expect(
      body.data.map((r) => [
        r.date,
        r.currency,
        r.status,
        r.stored_orders,
        r.stored_gross_minor,
        r.missing_orders,
        r.surplus_orders,
        r.gross_diff_minor,
      ]),
    ).toEqual([
      [D, "EUR", "missing", 2, 9000, 1, 0, -1000],
      [D, "USD", "pending", 1, 4000, 0, 0, null],
    ]);
    const missing = await reports(app, T, "?status=missing");
    expect(missing.body.data.map((r) => r.date)).toEqual([D]);
  });

  test("the latest expectation of a day wins; more orders than expected is a surplus", async () => {
    const E = crypto.randomUUID();
    // 2 orders of 1000 on D; the first expectation (3 orders, 3000) is replaced by a later one (1 order, 1000)
    await ingestAccepted(deps, [
      orderCompleted(E, at(`${D}T01:00:00.000Z`), oneLine(1000)),
      orderCompleted(E, at(`${D}T02:00:00.000Z`), oneLine(1000)),
      expectation(E, D, 3, 3000, `${D}T16:00:00.000Z`),
      expectation(E, D, 1, 1000, `${D}T17:00:00.000Z`),
    ]);
    await runReconciliation(deps.sql, { tenantId: E });
    const { body } = await reports(app, E);
    // stored 2 orders, 2000; expected 1, 1000 ⇒ surplus 1, gross +1000
    expect(
      body.data.map((r) => [r.date, r.status, r.expected_orders, r.stored_orders, r.surplus_orders, r.missing_orders, r.gross_diff_minor]),
    ).toEqual([[D, "surplus", 1, 2, 1, 0, 1000]]);
  });

  test("a run scoped to one tenant recomputes that tenant's reports only", async () => {
    const computed = async () =>
      (await deps.sql`select max(computed_at) as at from reconciliation_reports where tenant_id = ${T}`)[0]!.at as Date;
    const before = await computed();
    await runReconciliation(deps.sql, { tenantId: crypto.randomUUID() });
    expect((await computed()).getTime()).toBe(before.getTime());
    await runReconciliation(deps.sql, { tenantId: T });
    expect((await computed()).getTime()).toBeGreaterThan(before.getTime());
  });

  test("a day that is not over yet is pending, even when its figures already agree", async () => {
    const P = crypto.randomUUID();
    const today = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Tokyo" }).format(new Date());
    await ingestAccepted(deps, [expectation(P, today, 0, 0, new Date(Date.now() - 60_000).toISOString())]);
    await runReconciliation(deps.sql, { tenantId: P });
    const { body } = await reports(app, P);
    expect(body.data.map((r) => [r.date, r.status, r.expected_orders, r.stored_orders])).toEqual([[today, "pending", 0, 0]]);
  });

  test("pages by cursor, newest day first, and another tenant sees none of it", async () => {
    const first = await reports(app, T, "?limit=1");
    expect(first.body.data.map((r) => r.date)).toEqual([next]);
    expect(first.body.next_cursor).toBeString();
    const second = await reports(app, T, `?limit=2&cursor=${first.body.next_cursor}`);
    expect(second.body.data.map((r) => [r.date, r.currency])).toEqual([
      [D, "EUR"],
      [D, "USD"],
    ]);
    const other = await reports(app, crypto.randomUUID());
    expect(other.body.data).toEqual([]);
    const bad = await reports(app, T, "?from_date=2026-13-01");
    expect(bad.status).toBe(400);
    expect(bad.body.errors!.map((e) => e.path)).toContain("from_date");
    const cursor = await reports(app, T, "?cursor=bm90LWEtY3Vyc29y");
    expect(cursor.status).toBe(400);
  });

  test("pulse_reconciliation_mismatch_days counts a tenant's missing and surplus days, with bounded labels", async () => {
    const res = await app.request("/metrics");
    const text = await res.text();
    // T has one missing day (D), E one surplus day
    expect(text).toContain(`pulse_reconciliation_mismatch_days{tenant="${T}"} 1`);
    const top1 = await mismatchDays(deps.sql, { lookbackDays: 14, maxTenants: 1 });
    expect(top1.length).toBeLessThanOrEqual(2);
    expect(top1.some((r) => r.tenant === "other")).toBe(true);
    const total = (await mismatchDays(deps.sql, { lookbackDays: 14, maxTenants: 1_000 })).reduce((s, r) => s + r.days, 0);
    expect(top1.reduce((s, r) => s + r.days, 0)).toBe(total);
  });

  test("the hourly TimescaleDB job is registered with the lookback window and reports every tenant when run", async () => {
    const [job] =
      await deps.sql`select job_id, config, schedule_interval from timescaledb_information.jobs where proc_name = 'reconcile_orders'`;
    expect(job!.config).toEqual({ lookback_days: 14 });
    const J = crypto.randomUUID();
    await ingestAccepted(deps, [
      orderCompleted(J, at(`${D}T04:00:00.000Z`), oneLine(500)),
      expectation(J, D, 1, 500, `${D}T16:00:00.000Z`),
    ]);
    await deps.sql`call run_job(${job!.job_id})`;
    const { body } = await reports(app, J);
    expect(body.data.map((r) => [r.date, r.status, r.stored_orders, r.stored_gross_minor])).toEqual([[D, "ok", 1, 500]]);
  });
});
