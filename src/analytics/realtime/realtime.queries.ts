/**
 * Real-time metrics (getRealtimeMetrics, and each message of streamRealtimeMetrics).
 *
 * WINDOW. The last 60 minutes as 12 five-minute buckets on the UTC 5-minute grid (the same grid as
 * agg_events_5m): the last bucket is the CURRENT, partial one (it starts at now floored to 5 minutes),
 * the first starts 55 minutes before it. So the window is [current − 55 min, current + 5 min): events
 * up to 5 minutes in the future (ingest accepts that much clock skew) fall into the current bucket.
 * Every bucket is present, zeros when empty.
 *
 * How the definitions in the operation's description (the one home of a definition) are computed:
 *   revenue    = Σ total_minor of order.completed per currency (gross; refunds are not subtracted)
 *   orders     = count of order.completed; units = Σ their line quantities
 *   visitors   = distinct coalesce(visitor_id, customer_id, session_id) of page.viewed / item.viewed
 *                (visitor_id is the anonymous daily visitor hash, customer_id a signed-in customer,
 *                session_id the fallback); the window's total is distinct over the whole hour, so it
 *                is not the sum of the buckets' visitors
 *   conversion_rate = orders / visitors, rounded half-up to 4 decimals, 0 without visitors (orders
 *                from other channels, e.g. the box office, can push it above 1)
 * Orders, units and revenue come from tenant_agg_events_5m (real-time aggregation includes events not
 * yet materialised); visitors (a distinct count) from the raw tenant_events.
 */
import type { TxSql } from "../../db/client.ts";
import { ratio } from "../../lib/numbers.ts";

export const REALTIME_BUCKET_MS = 5 * 60_000;
export const REALTIME_BUCKETS = 12;

export interface RealtimeFigures {
  revenue: Array<{ currency: string; gross_minor: number }>;
  orders: number;
  units: number;
  visitors: number;
  conversion_rate: number;
}

export interface RealtimeData {
  window_start: string;
  window_end: string;
  bucket_minutes: number;
  buckets: Array<{ bucket_start: string } & RealtimeFigures>;
  totals: RealtimeFigures;
}

/** [start, end) of the window that contains `now` */
export function realtimeWindow(now: Date): { start: Date; end: Date } {
  const current = Math.floor(now.getTime() / REALTIME_BUCKET_MS) * REALTIME_BUCKET_MS;
  return { start: new Date(current - (REALTIME_BUCKETS - 1) * REALTIME_BUCKET_MS), end: new Date(current + REALTIME_BUCKET_MS) };
}

const num = (v: unknown): number => {
  const n = Number(v ?? 0);
  if (!Number.isSafeInteger(n)) throw new RangeError(`value ${String(v)} is beyond exact JSON numbers`);
  return n;
};

export async function realtimeMetrics(tx: TxSql, window: { start: Date; end: Date }): Promise<RealtimeData> {
  const { start, end } = window;
  const sales = await tx`
    select e.bucket as b, e.currency::text as currency,
           sum(e.events) as orders, coalesce(sum(e.quantity), 0) as units, coalesce(sum(e.amount_minor), 0) as gross
      from tenant_agg_events_5m e
     where e.type = 'order.completed' and e.bucket >= ${start} and e.bucket < ${end}
     group by 1, 2`;
  const visitors = await tx`
    select time_bucket('5 minutes'::interval, time) as b,
           count(distinct coalesce(visitor_id, customer_id, session_id))::int as visitors
      from tenant_events
     where type in ('page.viewed', 'item.viewed') and time >= ${start} and time < ${end}
     group by grouping sets ((1), ())`;

  const empty = (): Omit<RealtimeFigures, "conversion_rate"> => ({ revenue: [], orders: 0, units: 0, visitors: 0 });
  const buckets = new Map<number, Omit<RealtimeFigures, "conversion_rate">>();
  for (let t = start.getTime(); t < end.getTime(); t += REALTIME_BUCKET_MS) buckets.set(t, empty());
  const totals = empty();
  const totalRevenue = new Map<string, number>();
  for (const r of sales) {
    const f = buckets.get((r.b as Date).getTime());
    if (!f) continue;
    const orders = num(r.orders);
    const units = num(r.units);
    const gross = num(r.gross);
    f.orders += orders;
    f.units += units;
    if (r.currency !== null) f.revenue.push({ currency: r.currency, gross_minor: gross });
    totals.orders += orders;
    totals.units += units;
    if (r.currency !== null) totalRevenue.set(r.currency, (totalRevenue.get(r.currency) ?? 0) + gross);
  }
  for (const r of visitors) {
    if (r.b === null) totals.visitors = num(r.visitors);
    else {
      const f = buckets.get((r.b as Date).getTime());
      if (f) f.visitors = num(r.visitors);
    }
  }
  totals.revenue = [...totalRevenue.entries()].map(([currency, gross_minor]) => ({ currency, gross_minor }));
  const finish = (f: Omit<RealtimeFigures, "conversion_rate">): RealtimeFigures => ({
    ...f,
    revenue: f.revenue.sort((a, b) => a.currency.localeCompare(b.currency)),
    conversion_rate: ratio(f.orders, f.visitors),
  });
  return {
    window_start: start.toISOString(),
    window_end: end.toISOString(),
    bucket_minutes: REALTIME_BUCKET_MS / 60_000,
    buckets: [...buckets.entries()].map(([t, f]) => ({ bucket_start: new Date(t).toISOString(), ...finish(f) })),
    totals: finish(totals),
  };
}
