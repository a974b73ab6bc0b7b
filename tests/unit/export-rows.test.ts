/**
 * src/exports/rows.ts: instants at a zone's offset (DST both ways), minor → major amounts per
 * currency exponent, formula-injection neutralising, and rows of an unrolled nested list.
 */
import { describe, expect, test } from "bun:test";
import { layoutOf } from "../../src/exports/layout.ts";
import { MajorCell, majorAmount, neutralise, rowsOf, type TimeCell, zonedTime } from "../../src/exports/rows.ts";

describe("zonedTime", () => {
  test("Europe/Berlin: +01:00 in winter, +02:00 in summer, both sides of each change", () => {
    // 2026-03-29 01:00Z: clocks go 02:00 CET → 03:00 CEST
    expect(zonedTime("2026-03-29T00:59:59.000Z", "Europe/Berlin").text).toBe("2026-03-29T01:59:59+01:00");
    expect(zonedTime("2026-03-29T01:00:00.000Z", "Europe/Berlin").text).toBe("2026-03-29T03:00:00+02:00");
    // 2026-10-25 01:00Z: clocks go 03:00 CEST → 02:00 CET (02:30 happens twice)
    expect(zonedTime("2026-10-25T00:30:00.000Z", "Europe/Berlin").text).toBe("2026-10-25T02:30:00+02:00");
    expect(zonedTime("2026-10-25T01:30:00.000Z", "Europe/Berlin").text).toBe("2026-10-25T02:30:00+01:00");
  });

  test("UTC, a negative offset, a 45-minute offset, and milliseconds only when not zero", () => {
    expect(zonedTime("2026-01-01T00:00:00.000Z", "UTC").text).toBe("2026-01-01T00:00:00+00:00");
    // New York in January: UTC−5
    expect(zonedTime("2026-01-01T03:00:00.250Z", "America/New_York").text).toBe("2025-12-31T22:00:00.250-05:00");
    // Kathmandu: UTC+5:45
    expect(zonedTime("2026-06-01T00:00:00.000Z", "Asia/Kathmandu").text).toBe("2026-06-01T05:45:00+05:45");
  });

  test("UTC from ISO text (rewritten without a Date) is what the same instant as a Date gives, milliseconds or not", () => {
    for (const iso of ["2026-01-01T00:00:00.000Z", "2026-07-09T23:59:59.999Z", "2026-03-29T01:00:00.040Z", "1969-12-31T23:59:59.500Z"]) {
      const fromText = zonedTime(iso, "UTC");
      const fromDate = zonedTime(new Date(iso), "UTC");
      expect(fromText.text).toBe(fromDate.text);
      expect(fromText.local.getTime()).toBe(fromDate.local.getTime());
    }
    expect(zonedTime("2026-07-09T23:59:59.999Z", "UTC").text).toBe("2026-07-09T23:59:59.999+00:00");
    expect(zonedTime("2026-03-29T01:00:00.040Z", "UTC").text).toBe("2026-03-29T01:00:00.040+00:00");
    // not the canonical form (a date alone, an offset): parsed, then written in the zone
    expect(zonedTime("2026-03-29", "UTC").text).toBe("2026-03-29T00:00:00+00:00");
    expect(zonedTime("2026-03-29T03:00:00+02:00", "UTC").text).toBe("2026-03-29T01:00:00+00:00");
  });

  test("the local date's UTC fields are the wall-clock time (what a spreadsheet date shows)", () => {
    expect(zonedTime("2026-10-25T01:30:00.000Z", "Europe/Berlin").local.toISOString()).toBe("2026-10-25T02:30:00.000Z");
  });
});

describe("majorAmount", () => {
  test("by the currency's exponent: EUR 2, JPY 0, KWD 3; negatives and amounts under one unit", () => {
    expect(majorAmount(123456, "EUR")!.text).toBe("1234.56");
    expect(majorAmount(-5, "EUR")!.text).toBe("-0.05");
    expect(majorAmount(0, "EUR")!.text).toBe("0.00");
    expect(majorAmount(-4889, "JPY")!.text).toBe("-4889");
    expect(majorAmount(1234, "KWD")!).toEqual(new MajorCell("1.234", 1.234, 3));
    // a fitted (non-integer) minor amount: 1234.6 cents = 12.346 EUR → "12.35" (two decimals)
    expect(majorAmount(1234.6, "EUR")!.text).toBe("12.35");
    expect(majorAmount(100, "XYZ")).toBeUndefined();
  });
});

describe("neutralise", () => {
  test("text starting with = + - @ tab or CR gets a leading ' (OWASP); anything else is unchanged", () => {
    for (const s of ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"]) expect(neutralise(s)).toBe(`'${s}`);
    for (const s of ["a=1", "1-2", "", "東京", " =x"]) expect(neutralise(s)).toBe(s);
  });
});

describe("rowsOf", () => {
  test("an item with two revenue currencies gives two rows, an item without revenue one row with empty revenue cells", () => {
    const body = {
      as_of: "2026-01-01T00:00:00.000Z",
      watermark: null,
      next_cursor: null,
      data: [
        {
          item_id: "a",
          name: "A",
          category: "c",
          kind: "product",
          capacity: null,
          starts_at: "2026-03-29T01:00:00.000Z",
          units: 3,
          revenue: [
            { currency: "EUR", net_minor: 1050 },
            { currency: "JPY", net_minor: 700 },
          ],
          capacity_utilisation: null,
          sold_out: false,
          days_on_sale: 1,
          sell_through_per_day: 3,
          time_to_start_seconds: null,
        },
        {
          item_id: "b",
          name: "B",
          category: "c",
          kind: "product",
          capacity: 5,
          starts_at: null,
          units: 0,
          revenue: [],
          capacity_utilisation: 0,
          sold_out: false,
          days_on_sale: 1,
          sell_through_per_day: 0,
          time_to_start_seconds: null,
        },
      ],
    };
    const layout = layoutOf("getItemPerformance", body, body.data);
    const t = layout.tables[layout.main]!;
    const rows = rowsOf(t, body, "Europe/Berlin");
    const col = (k: string) => t.columns.findIndex((c) => c.key === k);
    expect(rows.length).toBe(3);
    expect(
      rows.map((r) => [
        r[col("item_id")],
        r[col("revenue.currency")],
        r[col("revenue.net_minor")],
        (r[col("revenue.net_major")] as MajorCell | null)?.text ?? null,
      ]),
    ).toEqual([
      ["a", "EUR", 1050, "10.50"],
      ["a", "JPY", 700, "700"],
      ["b", null, null, null],
    ]);
    expect((rows[0]![col("starts_at")] as TimeCell).text).toBe("2026-03-29T03:00:00+02:00");
    expect(rows[2]![col("starts_at")]).toBeNull();
  });
});
