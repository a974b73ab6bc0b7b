import { describe, expect, test } from "bun:test";
import { isCurrency, majorToMinor, minorExponent, MoneyConversionError } from "../../src/lib/currency.ts";

describe("isCurrency", () => {
  test("accepts ISO 4217 codes the runtime knows", () => {
    for (const code of ["USD", "EUR", "JPY", "KWD", "GBP", "CHF"]) expect(isCurrency(code), code).toBe(true);
  });

  test("rejects lowercase, wrong length, unknown codes and non-strings", () => {
    for (const code of ["usd", "Usd", "US", "USDD", "ABC", "", " USD", 840, null, undefined])
      expect(isCurrency(code), String(code)).toBe(false);
  });
});

describe("minorExponent", () => {
  test("is 2 for USD and EUR, 0 for JPY, 3 for KWD", () => {
    expect(minorExponent("USD")).toBe(2);
    expect(minorExponent("EUR")).toBe(2);
    expect(minorExponent("JPY")).toBe(0);
    expect(minorExponent("KWD")).toBe(3);
  });

  test("answers the same on repeated (cached) calls", () => {
    expect(minorExponent("KWD")).toBe(3);
    expect(minorExponent("KWD")).toBe(3);
  });

  test("throws a RangeError for an unknown code", () => {
    expect(() => minorExponent("ABC")).toThrow(RangeError);
    expect(() => minorExponent("usd")).toThrow(RangeError);
  });
});

describe("majorToMinor", () => {
  test("converts decimals exactly: 12.5 USD = 1250", () => {
    expect(majorToMinor(12.5, "USD")).toBe(1250);
  });

  test("is exact where float multiplication is not: 19.99 USD = 1999, 0.07 USD = 7, 1.1 EUR = 110", () => {
    // 19.99 * 100 === 1998.9999999999998 and 0.07 * 100 === 7.000000000000001 in IEEE 754
    expect(19.99 * 100).not.toBe(1999);
    expect(majorToMinor(19.99, "USD")).toBe(1999);
    expect(majorToMinor(0.07, "USD")).toBe(7);
    expect(majorToMinor(1.1, "EUR")).toBe(110);
  });

  test("uses the currency's exponent: JPY 1500 = 1500, KWD 1.234 = 1234, KWD 0.5 = 500", () => {
    expect(majorToMinor(1500, "JPY")).toBe(1500);
    expect(majorToMinor(1.234, "KWD")).toBe(1234);
    expect(majorToMinor(0.5, "KWD")).toBe(500);
  });

  test("handles integers and zero: 12 USD = 1200, 0 USD = 0, -0 USD = +0", () => {
    expect(majorToMinor(12, "USD")).toBe(1200);
    expect(majorToMinor(0, "USD")).toBe(0);
    expect(Object.is(majorToMinor(-0, "USD"), 0)).toBe(true);
  });

  test("keeps the sign of negative amounts: -12.5 EUR = -1250", () => {
    expect(majorToMinor(-12.5, "EUR")).toBe(-1250);
  });

  test("rejects more fraction digits than the currency allows: 12.345 USD, 1.5 JPY, 1.2345 KWD", () => {
    expect(() => majorToMinor(12.345, "USD")).toThrow(MoneyConversionError);
    expect(() => majorToMinor(12.345, "USD")).toThrow(/at most 2/);
    expect(() => majorToMinor(1.5, "JPY")).toThrow(MoneyConversionError);
    expect(() => majorToMinor(1.2345, "KWD")).toThrow(MoneyConversionError);
  });

  test("rejects a float artefact instead of rounding it: 0.1 + 0.2 USD", () => {
    expect(() => majorToMinor(0.1 + 0.2, "USD")).toThrow(MoneyConversionError);
  });

  test("reads exponent notation: 1e-7 USD has too many fraction digits, 1e21 USD exceeds the safe range", () => {
    expect(String(1e-7)).toBe("1e-7");
    expect(() => majorToMinor(1e-7, "USD")).toThrow(/fraction digits/);
    expect(String(1e21)).toBe("1e+21");
    expect(() => majorToMinor(1e21, "USD")).toThrow(/safe integer/);
  });

  test("accepts up to Number.MAX_SAFE_INTEGER minor units and rejects beyond", () => {
    expect(majorToMinor(9007199254740991, "JPY")).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => majorToMinor(9007199254740992, "JPY")).toThrow(MoneyConversionError);
    expect(majorToMinor(90071992547409.9, "USD")).toBe(9007199254740990);
    expect(() => majorToMinor(90071992547410, "USD")).toThrow(/safe integer/);
  });

  test("rejects NaN and infinities", () => {
    expect(() => majorToMinor(Number.NaN, "USD")).toThrow(MoneyConversionError);
    expect(() => majorToMinor(Number.POSITIVE_INFINITY, "USD")).toThrow(MoneyConversionError);
  });

  test("rejects an unknown currency with a RangeError", () => {
    expect(() => majorToMinor(1, "ABC")).toThrow(RangeError);
  });
});
