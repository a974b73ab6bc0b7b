/**
 * DST-correct local bucketing, and which continuous aggregate a read can use.
 *
 * THE RULE. The aggregates are on a UTC grid: `*_1d` buckets start at UTC midnight, `*_1h` on the
 * UTC hour, `*_5m` every 5 minutes. A read may use an aggregate only when every edge it needs lies on
 * that grid, so no aggregate bucket straddles an edge: the range's `from` and `to`, and (for a
 * bucketed answer) every local bucket boundary inside it. So `chooseSource` picks the COARSEST of
 * 1d, 1h, 5m (never coarser than the bucket asked for) whose grid contains from, to and every local
 * boundary, else the raw rows:
 *   - a UTC day, week or month                                    ⇒ 1d
 *   - a Europe/Berlin local day (starts 22:00 or 23:00 UTC)       ⇒ 1h
 *   - an Asia/Kathmandu (+05:45) local day or hour                ⇒ 5m
 *   - from or to not on a 5-minute boundary                       ⇒ raw events / order_lines
 * A local boundary (local midnight, local hour, …) is `wall clock − UTC offset`; the wall clock is on
 * every grid, so the boundary is on a grid exactly when the offset in force is. The offsets in force
 * in [from, to] are found by sampling the zone every 6 hours (and at both ends); zones do not change
 * offset twice within 6 hours.
 *
 * LABELS. Rows are labelled in SQL with `time_bucket(<bucket interval>, <source bucket or time>,
 * timezone => <tz>)` (TimescaleDB ≥ 2.8): local midnight to local midnight for days (so a day on a DST
 * change has 23 or 25 hours), weeks start on Monday, months are calendar months. The label is the
 * bucket's local start as an instant (ISO-8601 UTC in responses). When from/to are not on bucket
 * boundaries the first/last bucket holds only the part inside [from, to).
 */
import { LRUCache } from "lru-cache";
import { utcOffsetMs } from "../../lib/zones.ts";
import { type AnalyticsRange, type Bucket, BUCKET_NOMINAL_MS } from "./params.ts";

export type { Bucket } from "./params.ts";

/** where a read gets its rows: a continuous aggregate level, or the raw hypertable */
export type Source = "1d" | "1h" | "5m" | "raw";

/** the SQL interval of each bucket width (time_bucket's first argument) */
export const BUCKET_INTERVAL: Record<Bucket, string> = {
  "5m": "5 minutes",
  hour: "1 hour",
  day: "1 day",
  week: "1 week",
  month: "1 month",
};

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const GRIDS: ReadonlyArray<readonly [Exclude<Source, "raw">, number]> = [
  ["1d", DAY],
  ["1h", HOUR],
  ["5m", 5 * MINUTE],
];
const SAMPLE_MS = 6 * HOUR;

/** offsets at the 6-hour sample instants, per zone: formatToParts costs ~9 µs, a 400-day range has 1,600 samples */
const sampled = new Map<string, Map<number, number>>();

function sampledOffset(tz: string, at: number): number {
  let zone = sampled.get(tz);
  if (!zone) {
    zone = new Map();
    sampled.set(tz, zone);
  }
  let o = zone.get(at);
  if (o === undefined) {
    o = utcOffsetMs(tz, at);
    if (zone.size >= 100_000) zone.clear(); // bounded: ~70 years of samples of one zone
    zone.set(at, o);
  }
  return o;
}

/** answers of zoneOffsets by (zone, from, to): a repeated read (a cache hit) costs one look-up */
const rangeOffsets = new LRUCache<string, ReadonlySet<number>>({ max: 10_000 });

/** every UTC offset the zone has in [fromMs, toMs] (at both ends and every 6 h on the UTC 6-hour grid) */
export function zoneOffsets(tz: string, fromMs: number, toMs: number): ReadonlySet<number> {
  const key = `${tz}|${fromMs}|${toMs}`;
  const known = rangeOffsets.get(key);
  if (known) return known;
  const out = new Set<number>([utcOffsetMs(tz, fromMs), utcOffsetMs(tz, toMs)]);
  for (let t = Math.ceil(fromMs / SAMPLE_MS) * SAMPLE_MS; t < toMs; t += SAMPLE_MS) out.add(sampledOffset(tz, t));
  rangeOffsets.set(key, out);
  return out;
}

const mod = (a: number, b: number) => ((a % b) + b) % b;

/**
 * The coarsest source whose grid holds from, to and (when bucketed) every local bucket boundary.
 * `bucket` undefined ⇒ an unbucketed total over [from, to) (only from and to matter).
 */
export function chooseSource(range: AnalyticsRange, bucket?: Bucket): Source {
  const from = range.from.getTime();
  const to = range.to.getTime();
  const offsets: ReadonlySet<number> = bucket ? zoneOffsets(range.timezone, from, to) : new Set<number>();
  for (const [source, grid] of GRIDS) {
    if (bucket && grid > Math.min(BUCKET_NOMINAL_MS[bucket], DAY)) continue;
    if (mod(from, grid) !== 0 || mod(to, grid) !== 0) continue;
    if ([...offsets].some((o) => mod(o, grid) !== 0)) continue;
    return source;
  }
  return "raw";
}
