import { describe, expect, test } from "bun:test";
import { allocateDiscount, orderLines } from "../../src/ingest/write/lines.ts";

describe("order lines and the discount share of each line", () => {
  test("splits the discount in proportion to the line amounts when it divides exactly", () => {
    // lines 3000 and 1000 (total 4000), discount 400 ⇒ 3000·400/4000 = 300 and 1000·400/4000 = 100
    expect(allocateDiscount([3000, 1000], 400)).toEqual([300, 100]);
  });

  test("gives the leftover minor units to the largest remainders, ties to the earlier line", () => {
    // 100 over three equal lines: 33.33 each ⇒ floors 33/33/33, one unit left, all remainders equal ⇒ first line
    expect(allocateDiscount([1000, 1000, 1000], 100)).toEqual([34, 33, 33]);
    // 499 over 5000 and 1999 (total 6999): 5000·499/6999 = 356.48…, 1999·499/6999 = 142.52…
    // floors 356 + 142 = 498, one left ⇒ to the larger remainder (0.52 of line 2) ⇒ 356, 143
    expect(allocateDiscount([5000, 1999], 499)).toEqual([356, 143]);
  });

  test("no discount, or nothing to share it over, gives zero shares", () => {
    expect(allocateDiscount([1200, 800], 0)).toEqual([0, 0]);
    expect(allocateDiscount([0, 0], 50)).toEqual([0, 0]);
  });

  test("net line amounts of an order add up to its total", () => {
    // the fixture order: 2 × 2500 + 1 × 1999 − 499 = 6500
    const lines = orderLines({
      lines: [
        { item_id: "show-1", quantity: 2, unit_price_minor: 2500 },
        { item_id: "tee-1", quantity: 1, unit_price_minor: 1999 },
      ],
      discount_minor: 499,
      total_minor: 6500,
    });
    expect(lines).toEqual([
      { line_no: 1, item_id: "show-1", quantity: 2, unit_price_minor: 2500, line_minor: 5000, net_line_minor: 4644 },
      { line_no: 2, item_id: "tee-1", quantity: 1, unit_price_minor: 1999, line_minor: 1999, net_line_minor: 1856 },
    ]);
    expect(lines.reduce((a, l) => a + l.net_line_minor, 0)).toBe(6500);
  });
});
