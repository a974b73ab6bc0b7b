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
 * THE QUERY (one statement, one sort, then one linear pass per step; the "window funnel" walk):
 *   the unit's events of the step types in [from, to + window) (step-1 events only before `to`: they
 *   are starts), ordered by (unit, time, step): ties of time go in step order, so an event may follow
 *   another of the same instant ("≤");
 *   l1 = the latest start so far (running max of the step-1 times);
 *   lj = the latest start of a chain that reached step j so far: at an event of step j whose time is
 *        within the window of l(j−1) (the latest start that reached step j−1), the chain of l(j−1)
 *        extends to step j, so lj = running max of those l(j−1).
 *   A unit reaches step j when lj is set at its last event. Why the latest start is enough: of the
 *   chains that reached step j−1 before an event, the one with the latest start leaves the most room in
 *   the window, so if it cannot take the event, none can; and every start a chain could use is at or
 *   before the latest one. Each lj is a running aggregate (ROWS UNBOUNDED PRECEDING), computed
 *   incrementally: linear in the unit's events, so a crawler's session of thousands of page views
 *   costs what its events cost (the walk before this one compared every event with every later one:
 *   14 s for a session of 8,000 events, 0.1 s now). tests/integration/analytics.funnel.test.ts checks
 *   it against an exhaustive search of the definition on random sessions.
 * Custom steps must be distinct types (one event can play only one step).
 */
import type postgres from "postgres";
import { ratio } from "../../lib/numbers.ts";
import type { TxSql } from "../../db/client.ts";
import type { AnalyticsRange } from "../shared/params.ts";

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

/** per step, the number of units reaching it (index 0 = step 1) */
export async function funnelDepthCounts(tx: TxSql, q: FunnelQuery): Promise<number[]> {
  const { from, to } = q.range;
  const k = q.steps.length;
  const unit = q.unit === "session" ? tx`session_id` : tx`customer_id`;
  const horizon = new Date(to.getTime() + q.windowSeconds * 1000);
  const conversionWindow = tx`make_interval(secs => ${q.windowSeconds})`;
  const level = (j: number) => tx(`l${j}`);
  // every pass orders the unit's events the same way (the step breaks ties of time), so each WindowAgg
  // reads the one below in order: one sort in all
  let passes: Fragment = tx`
    select unit, time, step, max(time) filter (where step = 1) over w as l1
      from (select ${unit} as unit, time, array_position(${q.steps as string[]}::text[], type) as step
              from tenant_events
             where type in ${tx(q.steps as string[])}
               and time >= ${from} and time < ${horizon}
               and (type <> ${q.steps[0]!} or time < ${to})
               and ${unit} is not null) e
    window w as (partition by unit order by time, step rows unbounded preceding)`;
  for (let j = 2; j <= k; j++) {
    passes = tx`
      select *, max(${level(j - 1)}) filter (where step = ${j}::int and time <= ${level(j - 1)} + ${conversionWindow}) over w as ${level(j)}
        from (${passes}) ${tx(`p${j - 1}`)}
      window w as (partition by unit order by time, step rows unbounded preceding)`;
  }
  // per unit rj = whether it reached step j; then the units per step
  const steps = Array.from({ length: k }, (_, i) => i + 1);
  const list = (fs: Fragment[]) => fs.reduce((acc, f) => tx`${acc}, ${f}`);
  const perUnit = list(steps.map((j) => tx`max(${level(j)}) is not null as ${tx(`r${j}`)}`));
  const counts = list(steps.map((j) => tx`count(*) filter (where ${tx(`r${j}`)})::int`));
  const [row] = await tx`select array[${counts}] as reached from (select ${perUnit} from (${passes}) z group by unit) u`;
  return (row!.reached as number[]).map(Number);
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
