/**
 * Sales metrics with growth (getSalesMetrics). It reads the revenue figures of revenue.queries.ts, i.e. the daily/hourly/5-minute continuous
 * aggregates chosen by buckets.ts (raw events only when from/to are off every grid).
 *
 * GROWTH — the previous equal period of [from, to) is [from − (to − from), from). For each currency,
 *   growth of a figure = (current − previous) / |previous| (the same as (current − previous) / previous
 *   whenever previous > 0; |·| keeps the sign meaningful for a negative previous net), null when
 *   previous = 0.
 *
 */
import type { TxSql } from "../../db/client.ts";
import { chooseSource } from "../shared/buckets.ts";
import type { AnalyticsRange, Bucket } from "../shared/params.ts";
import { revenueRows, type RevenueRow } from "../revenue/revenue.queries.ts";

// ─── growth ─────────────────────────────────────────────────────────────────────────────────────────

/** (current − previous) / |previous|, null when previous is 0 */
export function growth(current: bigint, previous: bigint): number | null {
  if (previous === 0n) return null;
  const abs = previous < 0n ? -previous : previous;
  return Number(current - previous) / Number(abs);
}

/** [from − (to − from), from): the previous equal period */
export function previousRange(range: AnalyticsRange): AnalyticsRange {
  const span = range.to.getTime() - range.from.getTime();
  return { from: new Date(range.from.getTime() - span), to: range.from, timezone: range.timezone };
}

export interface SalesData {
  buckets: RevenueRow[];
  current: RevenueRow[];
  previous: RevenueRow[];
}

export async function salesData(
  tx: TxSql,
  range: AnalyticsRange,
  bucket: Bucket,
  f: { channel?: string; currency?: string },
): Promise<SalesData> {
  const prev = previousRange(range);
  const buckets = await revenueRows(tx, { range, source: chooseSource(range, bucket), bucket, channel: f.channel, currency: f.currency });
  const current = await revenueRows(tx, { range, source: chooseSource(range), channel: f.channel, currency: f.currency });
  const previous = await revenueRows(tx, { range: prev, source: chooseSource(prev), channel: f.channel, currency: f.currency });
  return { buckets, current, previous };
}
