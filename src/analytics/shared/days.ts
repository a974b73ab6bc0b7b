/**
 * Local calendar days in an IANA zone: the local date of an instant, date arithmetic on YYYY-MM-DD,
 * and the instant a local day begins (DST-correct: a day on a change has 23 or 25 hours).
 */
import { utcOffsetMs } from "../../lib/zones.ts";

const dayFormatters = new Map<string, Intl.DateTimeFormat>();
/** the local date (YYYY-MM-DD) of an instant in a zone */
export function localDate(tz: string, at: Date): string {
  let f = dayFormatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" });
    if (dayFormatters.size > 1_000) dayFormatters.clear(); // bounded against made-up zone names
    dayFormatters.set(tz, f);
  }
  return f.format(at);
}

/** the date `days` after a YYYY-MM-DD date */
export function addDays(date: string, days: number): string {
  const [y, m, d] = date.split("-").map(Number);
  return new Date(Date.UTC(y!, m! - 1, d! + days)).toISOString().slice(0, 10);
}

/** the instant local midnight of a YYYY-MM-DD date begins in a zone */
export function localMidnight(tz: string, date: string): Date {
  const [y, m, d] = date.split("-").map(Number);
  const wall = Date.UTC(y!, m! - 1, d!);
  const first = wall - utcOffsetMs(tz, wall);
  return new Date(wall - utcOffsetMs(tz, first));
}
