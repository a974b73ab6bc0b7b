/**
 * SQL building blocks every analytics query uses: the tenant-scoped relation for a source level
 * (buckets.ts chooses the level), the local bucket label, and the watermark. Every relation here is a
 * security_barrier view filtered on app.tenant_id, so the queries must run inside withTenant (which
 * analyticsRead does).
 *
 * Uniform columns, whatever the level:
 *   eventsSource(tx, s) → bucket, type, channel, currency, item_id, events, amount_minor, quantity
 *   linesSource(tx, s)  → bucket, item_id, channel, currency, lines, units, line_minor, net_line_minor
 * For "raw", `bucket` is the event time itself and each row counts once, so the same outer query
 * (sum(events), sum(amount_minor), … where bucket >= from and bucket < to) is exact on every level.
 */
import type postgres from "postgres";
import type { TxSql } from "../../db/client.ts";
import { type Bucket, BUCKET_INTERVAL, type Source } from "./buckets.ts";

type Fragment = postgres.PendingQuery<postgres.Row[]>;

const EVENTS_VIEW: Record<Exclude<Source, "raw">, string> = {
  "5m": "tenant_agg_events_5m",
  "1h": "tenant_agg_events_1h",
  "1d": "tenant_agg_events_1d",
};
const LINES_VIEW: Record<Exclude<Source, "raw">, string> = {
  "5m": "tenant_agg_lines_5m",
  "1h": "tenant_agg_lines_1h",
  "1d": "tenant_agg_lines_1d",
};

/** a FROM item for the events hierarchy at a level (use with an alias: `from ${eventsSource(tx, s)} e`) */
export function eventsSource(tx: TxSql, source: Source): Fragment {
  if (source === "raw") {
    return tx`(select time as bucket, type, channel, currency, item_id, 1::bigint as events,
                      amount_minor::numeric as amount_minor, quantity::numeric as quantity
                 from tenant_events)`;
  }
  return tx`${tx(EVENTS_VIEW[source])}`;
}

/** a FROM item for the order-lines hierarchy at a level */
export function linesSource(tx: TxSql, source: Source): Fragment {
  if (source === "raw") {
    return tx`(select time as bucket, item_id, channel, currency, 1::bigint as lines, quantity::numeric as units,
                      line_minor::numeric as line_minor, net_line_minor::numeric as net_line_minor
                 from tenant_order_lines)`;
  }
  return tx`${tx(LINES_VIEW[source])}`;
}

/**
 * The local bucket start of a row's time (see buckets.ts, LABELS):
 * - day, week, month: time_bucket(interval, t, timezone => tz): local midnight to local midnight;
 * - 5m, hour: time_bucket(interval, t + off(t)) − off(t), off(t) = the zone's UTC offset at t, so the
 *   two local 02:00 hours of an autumn DST change stay two buckets (wall-clock bucketing would merge
 *   them into one labelled with either instant).
 */
export function bucketLabel(tx: TxSql, bucket: Bucket, timezone: string, column: Fragment): Fragment {
  if (bucket === "5m" || bucket === "hour") {
    const off = tx`((${column} at time zone ${timezone}::text) - (${column} at time zone 'UTC'))`;
    return tx`(time_bucket(${BUCKET_INTERVAL[bucket]}::interval, ${column} + ${off}) - ${off})`;
  }
  return tx`time_bucket(${BUCKET_INTERVAL[bucket]}::interval, ${column}, timezone => ${timezone}::text)`;
}

/**
 * The newest event time in [from, to) for the tenant (optionally of the given types), or null.
 * Each type is its own max() so it is answered from the (tenant_id, type, time DESC) index.
 */
export async function eventsWatermark(tx: TxSql, from: Date, to: Date, types?: readonly string[]): Promise<Date | null> {
  const one = (type?: string) =>
    type === undefined
      ? tx`(select max(time) from tenant_events where time >= ${from} and time < ${to})`
      : tx`(select max(time) from tenant_events where type = ${type} and time >= ${from} and time < ${to})`;
  const parts = types && types.length > 0 ? types.map((t) => one(t)) : [one()];
  const list = parts.slice(1).reduce((acc, p) => tx`${acc}, ${p}`, parts[0]!);
  const [row] = await tx`select greatest(${list}) as w`;
  return (row?.w as Date | null) ?? null;
}

/** a database bigint / numeric (as text) → bigint, 0 for null */
export const big = (v: unknown): bigint => (v === null || v === undefined ? 0n : BigInt(String(v)));
/** a database number → number, null kept */
export const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
