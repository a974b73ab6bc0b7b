/**
 * A dashboard's date range: a preset (`today`, `7d`, `28d`, `90d`) is that many whole LOCAL days in the
 * dashboard's time zone, ending with today (so `today` = [local midnight, next local midnight), and a
 * day on a DST change has 23 or 25 hours); `custom` is the stored [from, to). Whole local days keep the
 * widgets' cache keys the same all day long, so a dashboard opened twice is answered from the cache.
 */
import { addDays, localDate, localMidnight } from "../analytics/shared/days.ts";

export const RANGE_PRESETS = ["today", "7d", "28d", "90d", "custom"] as const;
export type RangePreset = (typeof RANGE_PRESETS)[number];

/** local days of each preset */
export const PRESET_DAYS: Record<Exclude<RangePreset, "custom">, number> = { today: 1, "7d": 7, "28d": 28, "90d": 90 };

export interface ResolvedRange {
  preset: RangePreset;
  from: Date;
  to: Date;
  timezone: string;
}

/** the [from, to) of a preset at `now`, or of a custom range */
export function resolveRange(
  f: { range: RangePreset; from?: string | undefined; to?: string | undefined; timezone: string },
  now: Date,
): ResolvedRange {
  if (f.range === "custom") return { preset: "custom", from: new Date(f.from!), to: new Date(f.to!), timezone: f.timezone };
  const today = localDate(f.timezone, now);
  const days = PRESET_DAYS[f.range];
  return {
    preset: f.range,
    from: localMidnight(f.timezone, addDays(today, 1 - days)),
    to: localMidnight(f.timezone, addDays(today, 1)),
    timezone: f.timezone,
  };
}

const HOUR = 3_600_000;

/** the bucket a chart gets when its widget names none: hours up to 2 days, days up to 60, else weeks */
export function autoBucket(range: ResolvedRange): "hour" | "day" | "week" {
  const span = range.to.getTime() - range.from.getTime();
  if (span <= 50 * HOUR) return "hour";
  if (span <= 60 * 25 * HOUR) return "day";
  return "week";
}
