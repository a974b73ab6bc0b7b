/**
 * The query vocabulary shared by EVERY analytics operation, and the helpers that turn a validated
 * query into normalised parameters (the cache key's input and the query functions' input).
 *
 * How an operation uses it:
 *
 *   const Query = analyticsQuery({ ...bucketShape, ...filterShape });   // from/to/timezone + extras
 *   createRoute({ ..., request: { query: Query } })                       // 400 naming the field
 *   // in the operation's answer function (ctx, q):
 *   const range = rangeOf(ctx, q);                                         // 400 naming `to` if too wide
 *   checkBucketCount(range, q.bucket);                                    // 400 naming `bucket`
 *   const params = normaliseParams({ ...range, bucket: q.bucket, ...filtersOf(q) });
 *   return envelopeAnswer(ctx, "getX", params, (tx) => xQuery(tx, ...));
 *
 * Rules: `from`/`to` are ISO-8601 date-times WITH an offset; the range is half-open [from, to) and
 * from < to; its span is at most ANALYTICS_MAX_SPAN_DAYS (default 400). `timezone` is an IANA name
 * (Intl-validated; offsets such as "+01:00" are refused because they have no DST rules), default UTC,
 * canonicalised ("europe/berlin" ⇒ "Europe/Berlin"). Zod objects carrying refinements cannot be
 * `.extend()`ed, so the pieces are exported as shapes (`rangeShape`, `bucketShape`, `filterShape`,
 * `listShape`) and as ready objects (`RangeQuery`, `BucketQuery`, `FilterQuery`, `ListQuery`).
 */
import { z } from "@hono/zod-openapi";
import { HttpProblem } from "../../http/problem.ts";
import { isoDateTime } from "../../http/query.ts";
import type { ReadContext } from "./read.ts";

/** IANA-looking: starts with a letter; no bare offsets ("+05:45") and no POSIX rules ("<+03>-3") */
const IANA_NAME = /^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+)*$/;

/** answers of canonicalTimeZone (an Intl.DateTimeFormat costs ~50 µs; there are ~600 zone names) */
const zoneNames = new Map<string, string | undefined>();

/** the canonical spelling of an IANA time zone, or undefined when Intl does not know it */
export function canonicalTimeZone(tz: string): string | undefined {
  if (!IANA_NAME.test(tz) || tz.length > 64) return undefined;
  if (zoneNames.has(tz)) return zoneNames.get(tz);
  let canonical: string | undefined;
  try {
    canonical = new Intl.DateTimeFormat("en-US", { timeZone: tz }).resolvedOptions().timeZone;
  } catch {
    canonical = undefined;
  }
  if (zoneNames.size >= 2_000) zoneNames.clear(); // bounded against made-up names
  zoneNames.set(tz, canonical);
  return canonical;
}

export const timezoneParam = z
  .string()
  .default("UTC")
  .transform((tz, ctx) => {
    const canonical = canonicalTimeZone(tz);
    if (!canonical) {
      ctx.addIssue({ code: "custom", message: `'${tz.slice(0, 64)}' is not an IANA time zone (e.g. Europe/Berlin, UTC)` });
      return z.NEVER;
    }
    return canonical;
  })
  .openapi({
    type: "string",
    description: "IANA time zone for local, DST-correct buckets (a local day on a DST change has 23 or 25 hours)",
    example: "Europe/Berlin",
    default: "UTC",
  });

export const rangeShape = {
  from: isoDateTime.openapi({
    description: "inclusive start, ISO-8601 with offset; the range is half-open [from, to)",
    example: "2026-10-01T00:00:00+02:00",
  }),
  to: isoDateTime.openapi({
    description: "exclusive end, ISO-8601 with offset; from < to, span ≤ ANALYTICS_MAX_SPAN_DAYS (default 400)",
    example: "2026-11-01T00:00:00+01:00",
  }),
  timezone: timezoneParam,
};

export const BUCKETS = ["5m", "hour", "day", "week", "month"] as const;
export type Bucket = (typeof BUCKETS)[number];

export const bucketShape = {
  bucket: z.enum(BUCKETS).default("day").openapi({
    description: "bucket width, in `timezone`: 5m, hour, day (local midnight to midnight), week (starts Monday), month (calendar month)",
    example: "day",
  }),
};

export const CHANNEL = /^[a-z0-9_-]{1,32}$/;

export const filterShape = {
  channel: z
    .string()
    .regex(CHANNEL, "a short lowercase token, e.g. web, mobile, box_office")
    .optional()
    .openapi({ description: "only sales in this channel", example: "web" }),
  category: z.string().min(1).max(100).optional().openapi({
    description: "only lines of items in this catalog category ('uncategorised' for items not in the catalog)",
    example: "concert",
  }),
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/, "an ISO-4217 code: three uppercase letters, e.g. EUR")
    .optional()
    .openapi({ description: "only this ISO-4217 currency", example: "EUR" }),
  item_id: z.string().min(1).max(200).optional().openapi({ description: "only lines of this item", example: "show-1" }),
};

export const listShape = {
  limit: z.coerce.number().int().min(1).max(500).default(50).openapi({ description: "page size (1–500)", example: 50 }),
  cursor: z.string().max(512).optional().openapi({ description: "next_cursor of the previous page" }),
};

function rangeCheck(q: { from: string; to: string }, ctx: z.RefinementCtx): void {
  const from = Date.parse(q.from);
  const to = Date.parse(q.to);
  if (Number.isFinite(from) && Number.isFinite(to) && from >= to) {
    ctx.addIssue({ code: "custom", path: ["from"], message: "from must be before to (the range is [from, to))" });
  }
}

/** from/to/timezone plus the given extra fields, with the from < to check */
export function analyticsQuery<S extends z.ZodRawShape>(extra: S) {
  return z.object({ ...rangeShape, ...extra }).superRefine((q, ctx) => rangeCheck(q as { from: string; to: string }, ctx));
}

export const RangeQuery = analyticsQuery({});
export const BucketQuery = z.object(bucketShape);
export const FilterQuery = z.object(filterShape);
export const ListQuery = z.object(listShape);

export interface AnalyticsRange {
  from: Date;
  to: Date;
  /** canonical IANA name */
  timezone: string;
}

const DAY_MS = 86_400_000;

/** from/to as instants, with the configured maximum span (400 naming `to` when wider) */
export function parseRange(q: { from: string; to: string; timezone: string }, maxSpanDays: number): AnalyticsRange {
  const from = new Date(q.from);
  const to = new Date(q.to);
  if (!(from < to))
    throw new HttpProblem(400, "from must be before to", {
      errors: [{ path: "from", message: "from must be before to (the range is [from, to))" }],
    });
  if (to.getTime() - from.getTime() > maxSpanDays * DAY_MS) {
    const message = `the range may span at most ${maxSpanDays} days (ANALYTICS_MAX_SPAN_DAYS)`;
    throw new HttpProblem(400, `to: ${message}`, { errors: [{ path: "to", message }] });
  }
  return { from, to, timezone: q.timezone };
}

/** nominal width of a bucket (month: the shortest month), for counting buckets */
export const BUCKET_NOMINAL_MS: Record<Bucket, number> = {
  "5m": 300_000,
  hour: 3_600_000,
  day: DAY_MS,
  week: 7 * DAY_MS,
  month: 28 * DAY_MS,
};

/** at most this many buckets per answer (e.g. 5-minute buckets over 34 days) */
export const MAX_BUCKETS = 10_000;

export function checkBucketCount(range: AnalyticsRange, bucket: Bucket): void {
  const n = Math.ceil((range.to.getTime() - range.from.getTime()) / BUCKET_NOMINAL_MS[bucket]);
  if (n > MAX_BUCKETS) {
    const wanted = `${bucket} buckets over this range would be ${n} buckets`;
    const message = `${wanted}; at most ${MAX_BUCKETS}: use a wider bucket or a shorter range`;
    throw new HttpProblem(400, `bucket: ${message}`, { errors: [{ path: "bucket", message }] });
  }
}

export type ParamValue = string | number | boolean | null;

declare const normalised: unique symbol;
/** what normaliseParams returns, and the only parameters the read path takes (it hashes them as they are) */
export type NormalisedParams = Readonly<Record<string, ParamValue>> & { readonly [normalised]: true };

/**
 * Normalised parameters: Dates become ISO-8601 UTC strings (so "01:00+01:00" and "00:00Z" are the
 * same key), undefined values are dropped, keys are sorted. The result is what the cache key hashes.
 */
export function normaliseParams(params: Record<string, unknown>): NormalisedParams {
  const out: Record<string, ParamValue> = {};
  for (const key of Object.keys(params).sort()) {
    const v = params[key];
    if (v === undefined) continue;
    if (v instanceof Date) out[key] = v.toISOString();
    else if (v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean") out[key] = v;
    else throw new TypeError(`analytics parameter ${key} must be a scalar or a Date`);
  }
  return out as NormalisedParams;
}

export interface Filters {
  channel?: string;
  category?: string;
  currency?: string;
  item_id?: string;
}

/** the filter fields of a validated query (absent ones omitted) */
export function filtersOf(q: Filters): Filters {
  const f: Filters = {};
  if (q.channel !== undefined) f.channel = q.channel;
  if (q.category !== undefined) f.category = q.category;
  if (q.currency !== undefined) f.currency = q.currency;
  if (q.item_id !== undefined) f.item_id = q.item_id;
  return f;
}

/** parseRange with the service's ANALYTICS_MAX_SPAN_DAYS */
export function rangeOf(ctx: ReadContext, q: { from: string; to: string; timezone: string }): AnalyticsRange {
  return parseRange(q, ctx.deps.config.analytics.maxSpanDays);
}

const DURATION = /^P(?:(\d{1,3})D)?(?:T(?:(\d{1,4})H)?(?:(\d{1,6})M)?(?:(\d{1,7})S)?)?$/;

/** an ISO-8601 duration of days/hours/minutes/seconds (P1D, PT24H, PT90M, P1DT12H) in seconds, or undefined */
export function durationSeconds(text: string): number | undefined {
  const m = DURATION.exec(text);
  if (!m || text === "P" || text.endsWith("T")) return undefined;
  const [d, h, min, s] = m.slice(1).map((x) => (x === undefined ? 0 : Number(x)));
  return d! * 86_400 + h! * 3_600 + min! * 60 + s!;
}

/** a query parameter holding an ISO-8601 duration, parsed to seconds within [minSeconds, maxSeconds] */
export function durationParam(o: { minSeconds: number; maxSeconds: number; default: string; message: string; description: string }) {
  return z
    .string()
    .max(32)
    .default(o.default)
    .transform((v, ctx) => {
      const secs = durationSeconds(v);
      if (secs === undefined || secs < o.minSeconds || secs > o.maxSeconds) {
        ctx.addIssue({ code: "custom", message: o.message });
        return z.NEVER;
      }
      return secs;
    })
    .openapi({ type: "string", description: o.description, example: o.default, default: o.default });
}

/** a bucketed read's range (400 naming `to` or `bucket` when too wide) and its cache-key parameters */
export function bucketedRange(
  ctx: ReadContext,
  q: { from: string; to: string; timezone: string; bucket: Bucket; channel?: string; currency?: string },
): { range: AnalyticsRange; params: NormalisedParams } {
  const range = rangeOf(ctx, q);
  checkBucketCount(range, q.bucket);
  const { from, to, timezone } = range;
  return { range, params: normaliseParams({ from, to, timezone, bucket: q.bucket, channel: q.channel, currency: q.currency }) };
}
