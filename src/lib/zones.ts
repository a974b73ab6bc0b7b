/**
 * Time zones: a zone's UTC offset at an instant, from Intl (the one home of that computation; the
 * analytics buckets and days, and the export's zoned times, use it). No dependencies: the export
 * writer thread loads it without the analytics modules.
 */
const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: tz,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(tz, f);
  }
  return f;
}

/** the zone's UTC offset (local − UTC) in ms at an instant: +3 600 000 for Berlin in winter */
export function utcOffsetMs(tz: string, at: number): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(tz).formatToParts(new Date(at))) if (p.type !== "literal") parts[p.type] = Number(p.value);
  const wall = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
  const whole = at - (((at % 1000) + 1000) % 1000);
  return wall - whole;
}
