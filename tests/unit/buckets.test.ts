import { describe, expect, test } from "bun:test";
import { chooseSource, zoneOffsets } from "../../src/analytics/shared/buckets.ts";
import { utcOffsetMs } from "../../src/lib/zones.ts";
import { canonicalTimeZone, checkBucketCount, normaliseParams, parseRange } from "../../src/analytics/shared/params.ts";
import { HttpProblem } from "../../src/http/problem.ts";
import { getTestDeps } from "../helpers/deps.ts";

const H = 3_600_000;
const range = (from: string, to: string, timezone = "UTC") => ({ from: new Date(from), to: new Date(to), timezone });

describe("utcOffsetMs", () => {
  test("Europe/Berlin is +2 h before and +1 h after 01:00 UTC on 2026-10-25", () => {
    expect(utcOffsetMs("Europe/Berlin", Date.parse("2026-10-25T00:59:59Z"))).toBe(2 * H);
    expect(utcOffsetMs("Europe/Berlin", Date.parse("2026-10-25T01:00:00Z"))).toBe(1 * H);
  });

  test("Europe/Berlin is +1 h before and +2 h after 01:00 UTC on 2026-03-29", () => {
    expect(utcOffsetMs("Europe/Berlin", Date.parse("2026-03-29T00:59:59Z"))).toBe(1 * H);
    expect(utcOffsetMs("Europe/Berlin", Date.parse("2026-03-29T01:00:00Z"))).toBe(2 * H);
  });

  test("Asia/Kathmandu is +5:45 and UTC is 0", () => {
    expect(utcOffsetMs("Asia/Kathmandu", Date.parse("2026-10-25T12:00:00.500Z"))).toBe(5 * H + 45 * 60_000);
    expect(utcOffsetMs("UTC", Date.parse("2026-10-25T12:00:00Z"))).toBe(0);
  });

  test("zoneOffsets over October 2026 in Berlin finds both offsets", () => {
    const o = zoneOffsets("Europe/Berlin", Date.parse("2026-10-01T00:00:00Z"), Date.parse("2026-11-01T00:00:00Z"));
    expect([...o].sort()).toEqual([1 * H, 2 * H]);
  });
});

describe("chooseSource: the coarsest aggregate whose grid holds from, to and every local bucket boundary", () => {
  test("UTC days, weeks and months over whole UTC days use the daily aggregate", () => {
    const r = range("2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z");
    expect(chooseSource(r, "day")).toBe("1d");
    expect(chooseSource(r, "week")).toBe("1d");
    expect(chooseSource(r, "month")).toBe("1d");
    expect(chooseSource(r)).toBe("1d");
  });

  test("the Berlin local day of 2026-10-25 (25 hours: 22:00Z to 23:00Z next day) uses the hourly aggregate", () => {
    // local 2026-10-25 00:00 CEST = 2026-10-24T22:00Z; local 2026-10-26 00:00 CET = 2026-10-25T23:00Z
    const r = range("2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z", "Europe/Berlin");
    expect(r.to.getTime() - r.from.getTime()).toBe(25 * H);
    expect(chooseSource(r, "day")).toBe("1h");
    expect(chooseSource(r)).toBe("1h");
  });

  test("the Berlin local day of 2026-03-29 (23 hours) uses the hourly aggregate", () => {
    // local 2026-03-29 00:00 CET = 2026-03-28T23:00Z; local 2026-03-30 00:00 CEST = 2026-03-29T22:00Z
    const r = range("2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z", "Europe/Berlin");
    expect(r.to.getTime() - r.from.getTime()).toBe(23 * H);
    expect(chooseSource(r, "day")).toBe("1h");
  });

  test("Berlin days requested over whole UTC days still need the hourly aggregate (local midnights are at 22:00/23:00 UTC)", () => {
    expect(chooseSource(range("2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z", "Europe/Berlin"), "day")).toBe("1h");
    // without buckets only from and to matter
    expect(chooseSource(range("2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z", "Europe/Berlin"))).toBe("1d");
  });

  test("a Kathmandu (+05:45) local day or hour uses the 5-minute aggregate", () => {
    // local 2026-10-25 00:00 +05:45 = 2026-10-24T18:15Z
    const r = range("2026-10-24T18:15:00Z", "2026-10-25T18:15:00Z", "Asia/Kathmandu");
    expect(chooseSource(r, "day")).toBe("5m");
    expect(chooseSource(r, "hour")).toBe("5m");
    expect(chooseSource(r)).toBe("5m");
  });

  test("hourly buckets never use the daily aggregate, 5-minute buckets only the 5-minute one", () => {
    const r = range("2026-10-01T00:00:00Z", "2026-10-03T00:00:00Z");
    expect(chooseSource(r, "hour")).toBe("1h");
    expect(chooseSource(r, "5m")).toBe("5m");
    expect(chooseSource(range("2026-10-01T00:00:00Z", "2026-10-03T00:00:00Z", "Europe/Berlin"), "hour")).toBe("1h");
  });

  test("from or to off the 5-minute grid means the raw rows", () => {
    expect(chooseSource(range("2026-10-01T00:03:00Z", "2026-10-03T00:00:00Z"))).toBe("raw");
    expect(chooseSource(range("2026-10-01T00:00:00Z", "2026-10-03T00:00:01Z"), "day")).toBe("raw");
    expect(chooseSource(range("2026-10-01T00:05:00Z", "2026-10-01T00:10:00Z"))).toBe("5m");
  });
});

describe("local bucket labels on the embedded TimescaleDB (time_bucket with timezone)", () => {
  test("Berlin days around 2026-10-25 are 24, 25 and 24 hours long", async () => {
    const { sql } = await getTestDeps();
    const rows = await sql`
      select distinct time_bucket('1 day'::interval, t, timezone => 'Europe/Berlin') as b
        from generate_series('2026-10-24T00:00:00Z'::timestamptz, '2026-10-26T22:59:00Z'::timestamptz, '1 hour') t
       order by 1`;
    const starts = rows.map((r) => (r.b as Date).toISOString());
    // local midnights: Oct 24 00:00 CEST = 23rd 22:00Z; Oct 25 00:00 CEST = 24th 22:00Z;
    // Oct 26 00:00 CET = 25th 23:00Z; Oct 27 00:00 CET = 26th 23:00Z (not reached: the series ends 22:59Z)
    expect(starts).toEqual(["2026-10-23T22:00:00.000Z", "2026-10-24T22:00:00.000Z", "2026-10-25T23:00:00.000Z"]);
    expect(Date.parse(starts[2]!) - Date.parse(starts[1]!)).toBe(25 * H);
  });

  test("Berlin days around 2026-03-29 include the 23-hour day", async () => {
    const { sql } = await getTestDeps();
    const rows = await sql`
      select distinct time_bucket('1 day'::interval, t, timezone => 'Europe/Berlin') as b
        from generate_series('2026-03-28T00:00:00Z'::timestamptz, '2026-03-30T21:00:00Z'::timestamptz, '1 hour') t
       order by 1`;
    const starts = rows.map((r) => (r.b as Date).toISOString());
    // Mar 28 00:00 CET = 27th 23:00Z; Mar 29 00:00 CET = 28th 23:00Z; Mar 30 00:00 CEST = 29th 22:00Z
    expect(starts).toEqual(["2026-03-27T23:00:00.000Z", "2026-03-28T23:00:00.000Z", "2026-03-29T22:00:00.000Z"]);
    expect(Date.parse(starts[2]!) - Date.parse(starts[1]!)).toBe(23 * H);
  });

  test("weeks start on Monday local midnight and months on the 1st local midnight", async () => {
    const { sql } = await getTestDeps();
    const [r] = await sql`
      select time_bucket('1 week'::interval, '2026-10-25T22:30:00Z'::timestamptz, timezone => 'Europe/Berlin') as w,
             time_bucket('1 month'::interval, '2026-10-25T22:30:00Z'::timestamptz, timezone => 'Europe/Berlin') as m`;
    // 2026-10-25 is a Sunday; its week starts Monday 2026-10-19 00:00 CEST = 2026-10-18T22:00Z
    expect((r!.w as Date).toISOString()).toBe("2026-10-18T22:00:00.000Z");
    // October starts 2026-10-01 00:00 CEST = 2026-09-30T22:00Z
    expect((r!.m as Date).toISOString()).toBe("2026-09-30T22:00:00.000Z");
  });
});

describe("params", () => {
  test("canonicalTimeZone accepts IANA names in any case and refuses offsets and unknown zones", () => {
    expect(canonicalTimeZone("europe/berlin")).toBe("Europe/Berlin");
    expect(canonicalTimeZone("UTC")).toBe("UTC");
    expect(canonicalTimeZone("+05:45")).toBeUndefined();
    expect(canonicalTimeZone("Mars/Olympus_Mons")).toBeUndefined();
  });

  test("parseRange refuses a span over the maximum, naming to", () => {
    try {
      parseRange({ from: "1926-01-01T00:00:00Z", to: "2026-01-01T00:00:00Z", timezone: "UTC" }, 400);
      throw new Error("expected a 400");
    } catch (err) {
      expect(err).toBeInstanceOf(HttpProblem);
      expect((err as HttpProblem).status).toBe(400);
      expect((err as HttpProblem).extra.errors?.[0]?.path).toBe("to");
    }
    // exactly 400 days is allowed
    expect(parseRange({ from: "2025-01-01T00:00:00Z", to: "2026-02-05T00:00:00Z", timezone: "UTC" }, 400).to.toISOString()).toBe(
      "2026-02-05T00:00:00.000Z",
    );
  });

  test("checkBucketCount refuses more than 10 000 buckets, naming bucket", () => {
    // 35 days of 5-minute buckets = 35 × 288 = 10 080 > 10 000
    expect(() => checkBucketCount(range("2026-10-01T00:00:00Z", "2026-11-05T00:00:00Z"), "5m")).toThrow(HttpProblem);
    expect(() => checkBucketCount(range("2026-10-01T00:00:00Z", "2026-11-04T00:00:00Z"), "5m")).not.toThrow();
  });

  test("normaliseParams sorts keys, drops undefined and writes instants in UTC", () => {
    const a = normaliseParams({
      to: new Date("2026-11-01T01:00:00+01:00"),
      from: new Date("2026-10-01T00:00:00Z"),
      channel: undefined,
      bucket: "day",
    });
    expect(JSON.stringify(a)).toBe('{"bucket":"day","from":"2026-10-01T00:00:00.000Z","to":"2026-11-01T00:00:00.000Z"}');
  });
});
