/**
 * Conversion funnel (getConversionFunnel), from the raw `tenant_events` (no aggregate can answer it:
 * it follows each unit's events in time order).
 *
 * DEFINITION. The unit is the session (session_id; default) or the customer (customer_id). Events
 * without the unit's id never count (order.completed's session_id is optional in v2: an order without
 * one counts for no session). A unit reaches step k when it has events e1..ek of the steps 1..k with
 *   e1.time in [from, to),  e1.time ≤ e2.time ≤ … ≤ ek.time  (ties allowed: "in that order"),
 *   ek.time − e1.time ≤ window  (every later step within the conversion window of the first, inclusive).
 * count(step k) = units reaching step k (so the counts never increase along the steps).
 *
 * THE QUERY (one statement, one sort of the unit's events):
 *   ev      the unit's events of the step types in [from, to + window), one pass of window functions
 *           over (unit ORDER BY time RANGE current row .. unbounded following) gives each event
 *           nxt[j] = the earliest time ≥ its own time of an event of step j (peers of equal time
 *           included, hence RANGE, not ROWS);
 *   starts  the step-1 events in [from, to), each with t2 = nxt[2] and the next start of the unit;
 *   kept    a start s is dropped when the unit's next start s' satisfies s < s' ≤ t2(s): then
 *           t2(s') = t2(s) (no step-2 event lies in [s, s')), so both starts build the SAME chain from
 *           step 2 on, and s' has the later window end s' + window ⇒ s' reaches at least as far. What is
 *           left is at most one start per step-2 event (the latest step-1 event before it) plus the
 *           unit's last start: few starts even for sessions with hundreds of page views;
 *   nx      one row per (unit, time) of the events of steps 2..k, with its nxt, MATERIALIZED: computed
 *           once, not again in every iteration of the walk below (inlined, it re-ran its DISTINCT over
 *           every event each step); the walk only ever looks up times of step-2..k events (nxt is the
 *           same for every event of one (unit, time), so leaving the step-1 events out loses nothing);
 *   chain   a recursive walk, one step per iteration, from depth 2 (t2 is known from the start's own
 *           row): t(j+1) = nxt[j+1] of the event at t(j), kept while t(j+1) ≤ s + window; every kept
 *           start reaches depth 1. This is the EARLIEST valid chain from a start: taking the
 *           earliest admissible event for step j leaves every later step the most room (any chain
 *           using a later step-j event can swap in the earliest one and still satisfy ≥ and the
 *           window), so a start fails to reach step k only when no chain from it does;
 *   depth   a unit's depth = the longest chain over its kept starts; count(step k) = units with
 *           depth ≥ k. Since every start that could do better was kept, depth is exactly the
 *           definition's "reaches step k".
 * Custom steps must be distinct types (one event can play only one step).
 */
import type postgres from "postgres";
import type { TxSql } from "../db/client.ts";
import type { AnalyticsRange } from "./params.ts";

type Fragment = postgres.PendingQuery<postgres.Row[]>;

export const DEFAULT_FUNNEL_STEPS = ["page.viewed", "item.viewed", "cart.item_added", "checkout.started", "order.completed"] as const;
export const FUNNEL_UNITS = ["session", "customer"] as const;
export type FunnelUnit = (typeof FUNNEL_UNITS)[number];

export interface FunnelQuery {
  range: AnalyticsRange;
  unit: FunnelUnit;
  /** distinct event types, 2..10 */
  steps: readonly string[];
  /** conversion window in seconds */
  windowSeconds: number;
}

export interface FunnelStep {
  type: string;
  count: number;
  conversion_from_previous: number;
  conversion_from_start: number;
}

/** a / b rounded half-up to 4 decimal places; 0 when b = 0 */
export function ratio(a: number, b: number): number {
  if (b === 0) return 0;
  return Math.round((a * 10_000) / b) / 10_000;
}

/** per step, the number of units reaching it (index 0 = step 1) */
export async function funnelDepthCounts(tx: TxSql, q: FunnelQuery): Promise<number[]> {
  const { from, to } = q.range;
  const k = q.steps.length;
  const unit = q.unit === "session" ? tx`session_id` : tx`customer_id`;
  const horizon = new Date(to.getTime() + q.windowSeconds * 1000);
  const nextOf = q.steps.map((t) => tx`min(time) filter (where type = ${t}) over w`);
  const nxt = nextOf.slice(1).reduce<Fragment>((acc, f) => tx`${acc}, ${f}`, nextOf[0]!);
  const rows = await tx`
    with recursive ev as (
      select ${unit} as unit, time, type, array[${nxt}] as nxt
        from tenant_events
       where type in ${tx(q.steps as string[])}
         and time >= ${from} and time < ${horizon}
         and ${unit} is not null
      window w as (partition by ${unit} order by time range between current row and unbounded following)
    ), nx as materialized (
      select distinct on (unit, time) unit, time, nxt from ev where type <> ${q.steps[0]!}
    ), starts as (
      select unit, time as s, nxt[2] as t2,
             lead(time) over (partition by unit order by time) as next_start
        from (select distinct on (unit, time) unit, time, nxt from ev
               where type = ${q.steps[0]!} and time < ${to}) s1
    ), kept as (
      select unit, s, t2 from starts where next_start is null or (t2 is not null and next_start > t2)
    ), chain as (
      select unit, s, 2 as depth, t2 as t
        from kept
       where t2 <= s + make_interval(secs => ${q.windowSeconds})
      union all
      select c.unit, c.s, c.depth + 1, n.nxt[c.depth + 1]
        from chain c
        join nx n on n.unit = c.unit and n.time = c.t
       where c.depth < ${k} and n.nxt[c.depth + 1] <= c.s + make_interval(secs => ${q.windowSeconds})
    )
    select depth, count(*)::int as units
      from (select unit, max(depth) as depth
              from (select unit, 1 as depth from kept union all select unit, depth from chain) reached
             group by unit) d
     group by depth`;
  const reached = new Array<number>(k).fill(0);
  for (const r of rows) {
    const depth = Number(r.depth);
    for (let i = 0; i < depth && i < k; i++) reached[i] = (reached[i] ?? 0) + Number(r.units);
  }
  return reached;
}

export async function conversionFunnel(tx: TxSql, q: FunnelQuery): Promise<FunnelStep[]> {
  const counts = await funnelDepthCounts(tx, q);
  const start = counts[0] ?? 0;
  return q.steps.map((type, i) => {
    const count = counts[i] ?? 0;
    const previous = i === 0 ? count : (counts[i - 1] ?? 0);
    return { type, count, conversion_from_previous: ratio(count, previous), conversion_from_start: ratio(count, start) };
  });
}
