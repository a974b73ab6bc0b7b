/**
 * getConversionFunnel on a hand-made fixture ingested through the real pipeline.
 *
 * T0 = the UTC hour three days ago; range [T0, T0 + 24 h); default window 24 h.
 * Steps P page.viewed → I item.viewed → C cart.item_added → K checkout.started → O order.completed.
 * Times are T0 + hours:minutes.
 *   s1 P 1:00  I 1:05  C 1:10  K 1:15  O 1:20 (session s1, customer cust-1 on every event)   ⇒ 5
 *   s2 P 2:00  C 2:10  K 2:15  O 2:20 (no item.viewed: skips step 2)                         ⇒ 1
 *   s3 I 3:00  P 3:05  C 3:10 (item viewed BEFORE the page: out of order)                    ⇒ 1
 *   s4 P 4:00  I 4:05  C 29:00 (25 h after P: outside the window)                            ⇒ 2
 *   s5 P T0−1:00  I 0:10 (the first step before `from`: no start in range)                   ⇒ not counted
 *   s6 P 6:00  P 12:00  I 31:00  C 32:00 (I is 25 h after the first P, 19 h after the second) ⇒ 3
 *   s7 P 7:00  I 7:00 (same instant: "≥ the previous step's time")                           ⇒ 2
 *   s8 P 8:00  I 8:05  C 8:10  K 8:15, O 8:20 WITHOUT session_id (customer cust-8)            ⇒ 4
 * Tenant B: one complete session (must never show in A). Tenant E: nothing.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import type { Deps } from "../../../src/deps.ts";
import { ingestAccepted, testApp, token } from "../../helpers/deps.ts";
import { mulberry32 } from "../../helpers/random.ts";
import { cartItemAdded, checkoutStarted, type CloudEvent, itemViewed, orderCompleted, pageViewed } from "../../helpers/events.ts";

let app: Awaited<ReturnType<typeof testApp>>["app"];
let deps: Deps;
const A = crypto.randomUUID();
const B = crypto.randomUUID();
const E = crypto.randomUUID();
/** random sessions, checked against a brute-force reading of the definition */
const R = crypto.randomUUID();
/** one very long session (a crawler's thousands of page views) */
const L = crypto.randomUUID();
const HOUR = 3_600_000;
const T0 = Math.floor(Date.now() / HOUR) * HOUR - 72 * HOUR;
const at = (h: number, m = 0) => ({ time: new Date(T0 + h * HOUR + m * 60_000).toISOString() });
const RANGE = { from: new Date(T0).toISOString(), to: new Date(T0 + 24 * HOUR).toISOString() };

const P = (t: string, s: string, time: { time: string }, data: Record<string, unknown> = {}) =>
  pageViewed(t, time, { session_id: s, ...data });
const I = (t: string, s: string, time: { time: string }, data: Record<string, unknown> = {}) => itemViewed(t, s, "show-1", time, data);
const C = (t: string, s: string, time: { time: string }, data: Record<string, unknown> = {}) => cartItemAdded(t, s, "show-1", time, data);
const K = (t: string, s: string, time: { time: string }, data: Record<string, unknown> = {}) => checkoutStarted(t, s, time, data);
const O = (t: string, s: string | undefined, customer: string, time: { time: string }) =>
  orderCompleted(t, time, {
    ...(s ? { session_id: s } : {}),
    customer_id: customer,
    lines: [{ item_id: "show-1", quantity: 1, unit_price_minor: 2500 }],
    discount_minor: 0,
    total_minor: 2500,
  });

const ingest = (events: CloudEvent[]) => ingestAccepted(deps, events);

const STEPS = ["page.viewed", "item.viewed", "cart.item_added", "checkout.started", "order.completed"] as const;
type Step = (typeof STEPS)[number];
const STEP_EVENT: Record<Step, (t: string, s: string, time: { time: string }) => CloudEvent> = {
  "page.viewed": (t, s, time) => P(t, s, time),
  "item.viewed": (t, s, time) => I(t, s, time),
  "cart.item_added": (t, s, time) => C(t, s, time),
  "checkout.started": (t, s, time) => K(t, s, time),
  "order.completed": (t, s, time) => O(t, s, `cust-${s}`, time),
};

interface StepEvent {
  session: string;
  type: Step;
  time: number;
}

/**
 * 80 sessions on a 10-minute grid from T0 − 2 h to T0 + 30 h (so some starts fall before `from` or after
 * `to`, many events share an instant, and steps come in every order): every other one first moves down
 * the five default steps in order (gaps of 0 to 3 hours, stopping at random), then each gets 1-8 events
 * of random steps, weighted towards the early steps as real traffic is.
 */
const randomSessions: StepEvent[] = (() => {
  const next = mulberry32(20261122);
  const out: StepEvent[] = [];
  for (let s = 0; s < 80; s++) {
    const base = T0 - 2 * HOUR + Math.floor(next() * 180) * 10 * 60_000;
    if (s % 2 === 0) {
      // a visit that moves down the funnel (at times in the same instant, at times hours apart), then stops
      let t = base;
      for (const type of STEPS) {
        out.push({ session: `r${s}`, type, time: t });
        t += Math.floor(next() * next() * 18) * 10 * 60_000;
        if (next() < 0.2) break;
      }
    }
    const n = 1 + Math.floor(next() * 8);
    for (let i = 0; i < n; i++) {
      const type = STEPS[Math.min(4, Math.floor(next() * next() * 6))]!;
      out.push({ session: `r${s}`, type, time: base + Math.floor(next() * 24) * 10 * 60_000 });
    }
  }
  return out;
})();

/**
 * The definition read literally, by exhaustive search: a unit reaches step k when some events e1..ek of
 * steps 1..k have e1 in [from, to), e1.time ≤ e2.time ≤ … ≤ ek.time and ek.time − e1.time ≤ window.
 */
function referenceCounts(events: StepEvent[], steps: readonly Step[], from: number, to: number, windowMs: number): number[] {
  const bySession = new Map<string, StepEvent[]>();
  for (const e of events) bySession.set(e.session, [...(bySession.get(e.session) ?? []), e]);
  const reached = new Array<number>(steps.length).fill(0);
  for (const evs of bySession.values()) {
    const deepest = (j: number, start: number, prev: number): number => {
      if (j === steps.length) return j;
      let best = j;
      for (const e of evs) {
        if (e.type === steps[j] && e.time >= prev && e.time - start <= windowMs) best = Math.max(best, deepest(j + 1, start, e.time));
      }
      return best;
    };
    let depth = 0;
    for (const e of evs) {
      if (e.type === steps[0] && e.time >= from && e.time < to) depth = Math.max(depth, deepest(1, e.time, e.time));
    }
    for (let i = 0; i < depth; i++) reached[i] = reached[i]! + 1;
  }
  return reached;
}

const LONG_VIEWS = 3_000;

async function funnel(params: Record<string, string>, tenantId = A) {
  const res = await app.request(`/v1/funnel?${new URLSearchParams(params)}`, {
    headers: { authorization: `Bearer ${await token({ tenantId, roles: ["viewer"] })}` },
  });
  return { res, body: (await res.json()) as any };
}

const counts = (body: any) => body.data.steps.map((s: { count: number }) => s.count);

beforeAll(async () => {
  ({ app, deps } = await testApp());
  const c1 = { customer_id: "cust-1" };
  await ingest([
    P(A, "s1", at(1), c1),
    I(A, "s1", at(1, 5), c1),
    C(A, "s1", at(1, 10), c1),
    K(A, "s1", at(1, 15), c1),
    O(A, "s1", "cust-1", at(1, 20)),
    P(A, "s2", at(2)),
    C(A, "s2", at(2, 10)),
    K(A, "s2", at(2, 15)),
    O(A, "s2", "cust-2", at(2, 20)),
    I(A, "s3", at(3)),
    P(A, "s3", at(3, 5)),
    C(A, "s3", at(3, 10)),
    P(A, "s4", at(4)),
    I(A, "s4", at(4, 5)),
    C(A, "s4", at(29)),
    P(A, "s5", at(-1)),
    I(A, "s5", at(0, 10)),
    P(A, "s6", at(6)),
    P(A, "s6", at(12)),
    I(A, "s6", at(31)),
    C(A, "s6", at(32)),
    P(A, "s7", at(7)),
    I(A, "s7", at(7)),
    P(A, "s8", at(8)),
    I(A, "s8", at(8, 5)),
    C(A, "s8", at(8, 10)),
    K(A, "s8", at(8, 15)),
    O(A, undefined, "cust-8", at(8, 20)),
    P(B, "b1", at(1)),
    I(B, "b1", at(1, 1)),
    C(B, "b1", at(1, 2)),
    K(B, "b1", at(1, 3)),
    O(B, "b1", "cust-b", at(1, 4)),
  ]);
  await ingest(randomSessions.map((e) => STEP_EVENT[e.type](R, e.session, { time: new Date(e.time).toISOString() })));
  await ingest([
    ...Array.from({ length: LONG_VIEWS }, (_, i) => P(L, "crawler", { time: new Date(T0 + HOUR + i * 1000).toISOString() })),
    I(L, "crawler", at(20)),
    C(L, "crawler", at(20, 1)),
    K(L, "crawler", at(20, 2)),
    O(L, "crawler", "cust-l", at(20, 3)),
  ]);
}, 60_000);

describe("getConversionFunnel", () => {
  test("default steps per session: skipped steps, out-of-order steps, late steps and starts before `from` do not count", async () => {
    const { res, body } = await funnel(RANGE);
    expect(res.status).toBe(200);
    // P: s1 s2 s3 s4 s6 s7 s8 = 7 (s5 starts before from); I: s1 s4 s6 s7 s8 = 5 (s2 skipped it, s3 out of
    // order); C: s1 s6 s8 = 3 (s4's cart 25 h late); K: s1 s8 = 2; O: s1 = 1 (s8's order has no session)
    // from previous: 5/7 = 0.714285… → 0.7143, 3/5 = 0.6, 2/3 = 0.6666… → 0.6667, 1/2 = 0.5
    // from start:    5/7 → 0.7143, 3/7 = 0.428571… → 0.4286, 2/7 = 0.285714… → 0.2857, 1/7 = 0.142857… → 0.1429
    expect(body.data).toEqual({
      unit: "session",
      window_seconds: 86_400,
      steps: [
        { type: "page.viewed", count: 7, conversion_from_previous: 1, conversion_from_start: 1 },
        { type: "item.viewed", count: 5, conversion_from_previous: 0.7143, conversion_from_start: 0.7143 },
        { type: "cart.item_added", count: 3, conversion_from_previous: 0.6, conversion_from_start: 0.4286 },
        { type: "checkout.started", count: 2, conversion_from_previous: 0.6667, conversion_from_start: 0.2857 },
        { type: "order.completed", count: 1, conversion_from_previous: 0.5, conversion_from_start: 0.1429 },
      ],
    });
    // newest step event in [T0, T0 + 24 h): s6's second page view at 12:00 (the later ones are past `to`)
    expect(body.watermark).toBe(at(12).time);
    expect(typeof body.as_of).toBe("string");
  });

  test("a later start of the same session can complete a chain the first start's window cannot", async () => {
    // s6 alone: from P 6:00 the item view at 31:00 is 25 h away; from P 12:00 it is 19 h ⇒ I and C count
    const { body } = await funnel({ ...RANGE, steps: "page.viewed,item.viewed,cart.item_added" });
    // P 7 (as above); I 5; C: s1 s6 s8 = 3
    expect(counts(body)).toEqual([7, 5, 3]);
  });

  test("a wider window lets the late cart count", async () => {
    const { body } = await funnel({ ...RANGE, window: "PT30H" });
    // s4's cart at 29:00 is 25 h after its page view: inside 30 h ⇒ C = s1 s4 s6 s8 = 4; s4 has no checkout
    expect(counts(body)).toEqual([7, 5, 4, 2, 1]);
    expect(body.data.window_seconds).toBe(108_000); // 30 × 3600
  });

  test("custom steps skip the steps not asked for", async () => {
    const { body } = await funnel({ ...RANGE, steps: "page.viewed,cart.item_added,order.completed" });
    // P 7; C: s1 s2 s3 s6 s8 = 5 (s4's cart is late; s6's cart at 32:00 is 20 h after its second view);
    // O: s1 s2 = 2 (s8's order has no session). 5/7 → 0.7143; 2/5 = 0.4; 2/7 → 0.2857
    expect(body.data.steps).toEqual([
      { type: "page.viewed", count: 7, conversion_from_previous: 1, conversion_from_start: 1 },
      { type: "cart.item_added", count: 5, conversion_from_previous: 0.7143, conversion_from_start: 0.7143 },
      { type: "order.completed", count: 2, conversion_from_previous: 0.4, conversion_from_start: 0.2857 },
    ]);
  });

  test("two steps, and steps in another order than the default, count by the same rules", async () => {
    // P → I: P 7; I: s1 s4 s6 (from its second view) s7 (same instant) s8 = 5
    const two = await funnel({ ...RANGE, steps: "page.viewed,item.viewed" });
    expect(counts(two.body)).toEqual([7, 5]);
    // I → P → C: starts are the item views in range: s1 1:05, s3 3:00, s4 4:05, s5 0:10, s7 7:00, s8 8:05 = 6
    // (s6's 31:00 is past `to`); a page view at or after it within 24 h: s3 (3:05) and s7 (7:00, the same
    // instant) = 2; then a cart: s3 (3:10) = 1. 2/6 = 0.3333…; 1/2 = 0.5; 1/6 = 0.1666… → 0.1667
    const reordered = await funnel({ ...RANGE, steps: "item.viewed,page.viewed,cart.item_added" });
    expect(reordered.body.data.steps).toEqual([
      { type: "item.viewed", count: 6, conversion_from_previous: 1, conversion_from_start: 1 },
      { type: "page.viewed", count: 2, conversion_from_previous: 0.3333, conversion_from_start: 0.3333 },
      { type: "cart.item_added", count: 1, conversion_from_previous: 0.5, conversion_from_start: 0.1667 },
    ]);
  });

  test("per customer only events carrying a customer_id count", async () => {
    const { body } = await funnel({ ...RANGE, unit: "customer" });
    // cust-1 has all five steps; cust-2 and cust-8 have only an order (no page view) ⇒ not counted
    expect(counts(body)).toEqual([1, 1, 1, 1, 1]);
    expect(body.data.steps[4]).toEqual({ type: "order.completed", count: 1, conversion_from_previous: 1, conversion_from_start: 1 });
  });

  test("a tenant without events gets zero counts and zero ratios", async () => {
    const { res, body } = await funnel(RANGE, E);
    expect(res.status).toBe(200);
    expect(body.data.steps.map((s: any) => [s.count, s.conversion_from_previous, s.conversion_from_start])).toEqual([
      [0, 0, 0],
      [0, 0, 0],
      [0, 0, 0],
      [0, 0, 0],
      [0, 0, 0],
    ]);
    expect(body.watermark).toBeNull();
  });

  test("another tenant's complete session never shows", async () => {
    const { body } = await funnel(RANGE, B);
    expect(counts(body)).toEqual([1, 1, 1, 1, 1]);
  });

  test("random sessions count as an exhaustive search of the definition says, for several windows and step lists", async () => {
    const from = T0;
    const to = T0 + 24 * HOUR;
    const cases: Array<{ steps: readonly Step[]; window: string; windowMs: number }> = [
      { steps: STEPS, window: "PT24H", windowMs: 24 * HOUR },
      { steps: STEPS, window: "PT2H", windowMs: 2 * HOUR },
      { steps: STEPS, window: "PT20M", windowMs: 20 * 60_000 },
      { steps: ["item.viewed", "page.viewed", "order.completed"], window: "PT6H", windowMs: 6 * HOUR },
      { steps: ["checkout.started", "cart.item_added"], window: "PT1H", windowMs: HOUR },
    ];
    for (const c of cases) {
      const expected = referenceCounts(randomSessions, c.steps, from, to, c.windowMs);
      const { res, body } = await funnel(
        { from: new Date(from).toISOString(), to: new Date(to).toISOString(), steps: c.steps.join(","), window: c.window },
        R,
      );
      expect(res.status).toBe(200);
      expect({ steps: c.steps, window: c.window, counts: counts(body) }).toEqual({ steps: c.steps, window: c.window, counts: expected });
    }
    // the fixture does exercise the rules: starts in range, and a window that cuts chains short
    const wide = referenceCounts(randomSessions, STEPS, from, to, 24 * HOUR);
    expect(wide[0]).toBeGreaterThan(40);
    expect(wide[4]).toBeGreaterThan(0);
    expect(referenceCounts(randomSessions, STEPS, from, to, 20 * 60_000)[2]).toBeLessThan(wide[2]!);
  });

  test("a session of thousands of page views counts once, completing its chain from the latest view within the window", async () => {
    // 3,000 page views one second apart from 1:00, then I C K O at 20:00-20:03: every view is within
    // 24 h of the order, so the session reaches every step (the walk is one pass over its events: the
    // earlier walk compared every event with every later one, 14 s for a session of 8,000)
    const { res, body } = await funnel(RANGE, L);
    expect(res.status).toBe(200);
    expect(counts(body)).toEqual([1, 1, 1, 1, 1]);
    // with a 10-hour window only views from 10:00 on could reach the item view: none (the last is at 1:49:59)
    const short = await funnel({ ...RANGE, window: "PT10H" }, L);
    expect(counts(short.body)).toEqual([1, 0, 0, 0, 0]);
  });

  test("bad steps, window and unit are 400 problems naming the field", async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ steps: "page.viewed" }, "steps"],
      [{ steps: "page.viewed,no.such_type" }, "steps"],
      [{ steps: "page.viewed,page.viewed" }, "steps"],
      [{ steps: Array.from({ length: 11 }, () => "page.viewed").join(",") }, "steps"],
      [{ window: "banana" }, "window"],
      [{ window: "PT0S" }, "window"],
      [{ window: "P91D" }, "window"],
      [{ unit: "visitor" }, "unit"],
      [{ to: RANGE.from }, "from"],
    ];
    for (const [extra, field] of cases) {
      const { res, body } = await funnel({ ...RANGE, ...extra });
      expect(res.status).toBe(400);
      expect(res.headers.get("content-type")).toContain("application/problem+json");
      expect(body.errors.map((e: { path: string }) => e.path)).toContain(field);
    }
  });
});
